using System.Text;

namespace Ferry.Cli;

/// <summary>Byte streams for command output: the process's own stdout/stderr, or the invocation's text writers in-process.</summary>
internal static class CliStreams
{
    /// <summary>
    /// Standard output (or error) as bytes when <paramref name="writer"/> is the console's, so that a remote command's
    /// bytes reach it untouched; otherwise (tests) a stream that decodes UTF-8 into <paramref name="writer"/>.
    /// </summary>
    public static Stream Open(TextWriter writer, bool isError)
    {
        if (ReferenceEquals(writer, isError ? Console.Error : Console.Out))
        {
            writer.Flush();
            return OpenDescriptor(isError ? 2 : 1) ?? (isError ? Console.OpenStandardError() : Console.OpenStandardOutput());
        }
        return new TextWriterStream(writer);
    }

    /// <summary>errno of a write into a pipe whose reader has gone (Linux and macOS).</summary>
    public const int BrokenPipe = 32;

    /// <summary>
    /// The descriptor as an unbuffered stream when it is a pipe or a terminal. Unlike the console stream, whose writes
    /// pretend to succeed into a closed pipe, it fails with EPIPE (<see cref="BrokenPipe"/>), so that 'ferry exec -- yes | head' stops the remote command.
    /// </summary>
    private static FileStream? OpenDescriptor(int fd)
    {
        if (OperatingSystem.IsWindows())
            return null;
        try
        {
            var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: false), FileAccess.Write, bufferSize: 0);
            if (!stream.CanSeek)
                return stream; // a pipe or a terminal
            // A regular file: FileStream would write at its own offsets (pwrite), past appends and other writers of the
            // shared descriptor; the console stream writes where the descriptor stands.
            stream.Dispose();
            return null;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>True when <paramref name="ex"/> says the output's reader went away (the 'head' of 'ferry exec -- yes | head').</summary>
    public static bool IsBrokenPipe(Exception ex) =>
        !OperatingSystem.IsWindows() && ex is IOException { InnerException: IOException { HResult: BrokenPipe } };

    /// <summary>Writes UTF-8 bytes into a <see cref="TextWriter"/>; a character split between writes is completed by the next one.</summary>
    private sealed class TextWriterStream(TextWriter writer) : Stream
    {
        private readonly Decoder _decoder = new UTF8Encoding(false).GetDecoder();
        private readonly char[] _chars = new char[4096];

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => writer.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer) => Decode(buffer, flush: false);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        private void Decode(ReadOnlySpan<byte> bytes, bool flush)
        {
            do
            {
                _decoder.Convert(bytes, _chars, flush, out var used, out var chars, out _);
                writer.Write(_chars, 0, chars);
                bytes = bytes[used..];
            }
            while (!bytes.IsEmpty);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Decode([], flush: true);
                writer.Flush();
            }
            base.Dispose(disposing);
        }
    }
}
