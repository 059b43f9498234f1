namespace Ferry.Cli.Terminal;

/// <summary>
/// Keys typed for a remote terminal, with ssh's escapes taken out: after Enter (or at the very start) a '~' followed by
/// '.' drops the connection, '?' lists the escapes, ':' (when the session has local commands) reads one local command
/// line, and '~' sends one '~'. Any other key after '~' sends both, as typed.
/// </summary>
internal sealed class EscapeInputStream(Stream keys, EscapeActions actions) : Stream
{
    private const byte Tilde = (byte)'~';

    private readonly byte[] _buffer = new byte[4096];
    private bool _atLineStart = true;
    private bool _afterTilde;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            // One output byte per input byte at most, plus a held '~': never more than the caller's room.
            ArgumentOutOfRangeException.ThrowIfLessThan(buffer.Length, 2);
            var room = Math.Min(_buffer.Length, buffer.Length - 1);
            var n = await keys.ReadAsync(_buffer.AsMemory(0, room), cancellationToken).ConfigureAwait(false);
            if (n == 0)
                return 0;
            var written = 0;
            for (var i = 0; i < n; i++)
            {
                var b = _buffer[i];
                if (_afterTilde)
                {
                    _afterTilde = false;
                    switch (b)
                    {
                        case (byte)'.':
                            actions.Drop();
                            return 0;
                        case (byte)'?':
                            await actions.HelpAsync().ConfigureAwait(false);
                            _atLineStart = true;
                            continue;
                        case (byte)':' when actions.HasLocalCommands:
                            await actions.LocalCommandAsync(cancellationToken).ConfigureAwait(false);
                            _atLineStart = true;
                            continue;
                        case Tilde:
                            buffer.Span[written++] = Tilde;
                            _atLineStart = false;
                            continue;
                        default:
                            buffer.Span[written++] = Tilde;
                            break;
                    }
                }
                else if (b == Tilde && _atLineStart)
                {
                    _afterTilde = true;
                    continue;
                }
                buffer.Span[written++] = b;
                _atLineStart = b is (byte)'\r' or (byte)'\n';
            }
            if (written > 0)
                return written;
        }
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
