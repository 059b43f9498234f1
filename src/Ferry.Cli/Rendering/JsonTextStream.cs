using System.Text;

namespace Ferry.Cli.Rendering;

/// <summary>
/// A remote command's output under <c>--json</c>: every write becomes one <c>{"event":"stdout"|"stderr","text":...}</c>
/// line, decoded as UTF-8; a character split between writes is completed by the next one.
/// </summary>
internal sealed class JsonTextStream(JsonLines lines, string eventName) : Stream
{
    private readonly Decoder _decoder = new UTF8Encoding(false).GetDecoder();

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer) => Emit(buffer, flush: false);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Emit(buffer.Span, flush: false);
        return ValueTask.CompletedTask;
    }

    private void Emit(ReadOnlySpan<byte> bytes, bool flush)
    {
        var chars = new char[_decoder.GetCharCount(bytes, flush)];
        var count = _decoder.GetChars(bytes, chars, flush);
        if (count > 0)
            lines.Write(new CommandEvent { Event = eventName, Text = new string(chars, 0, count) });
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            Emit([], flush: true);
        base.Dispose(disposing);
    }
}
