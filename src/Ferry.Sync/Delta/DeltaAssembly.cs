namespace Ferry.Sync.Delta;

/// <summary>
/// Builds a new file from a <see cref="DeltaPlan"/>'s steps in file order: the copies (from the receiver's files and
/// from earlier in the new file) are made as the shipped ranges before them arrive, rather than all at once before any
/// arrives. Written in order, the file can be hashed while it is written (<see cref="AssemblyHash"/>) and a copy of
/// repeated bytes always finds its source written. Used by both receivers: the server's delta put and the client's
/// delta pull (§5.9.3, §5.9.2).
/// </summary>
internal sealed class DeltaAssembly
{
    /// <summary>Bytes moved per read and write when copying. A 4 MiB block was tried: it showed no gain, and the server's
    /// peak RSS was higher with it.</summary>
    public const int CopyBlock = 1024 * 1024;

    private readonly IReadOnlyList<AssemblyStep> _steps;
    private readonly long[] _received;
    private readonly long[] _newStarts;
    private readonly Func<int, long, Memory<byte>, CancellationToken, ValueTask<int>> _readBasis;
    private readonly Func<long, Memory<byte>, CancellationToken, ValueTask<int>> _readTarget;
    private readonly Func<long, ReadOnlyMemory<byte>, CancellationToken, ValueTask> _write;
    private int _next;
    private int _passedNew; // shipped ranges passed so far: the index in _received of the next one

    /// <param name="steps">The steps still to carry out, in target order (a plan's steps, or those of them not done yet).</param>
    /// <param name="readBasis">Reads a receiver's file (basis file id, offset, buffer); 0 at its end.</param>
    /// <param name="readTarget">Reads the new file as written so far (offset, buffer).</param>
    /// <param name="write">Writes into the new file (offset, bytes); it is where the bytes get hashed.</param>
    public DeltaAssembly(IReadOnlyList<AssemblyStep> steps,
        Func<int, long, Memory<byte>, CancellationToken, ValueTask<int>> readBasis,
        Func<long, Memory<byte>, CancellationToken, ValueTask<int>> readTarget,
        Func<long, ReadOnlyMemory<byte>, CancellationToken, ValueTask> write)
    {
        ArgumentNullException.ThrowIfNull(steps);
        _steps = steps;
        _readBasis = readBasis ?? throw new ArgumentNullException(nameof(readBasis));
        _readTarget = readTarget ?? throw new ArgumentNullException(nameof(readTarget));
        _write = write ?? throw new ArgumentNullException(nameof(write));
        var starts = new List<long>();
        foreach (var step in steps)
        {
            if (step is WriteNewChunksStep fresh)
                starts.Add(fresh.TargetOffset);
        }
        _newStarts = [.. starts];
        _received = new long[_newStarts.Length];
    }

    /// <summary>True once every step was carried out or passed.</summary>
    public bool IsDone => _next == _steps.Count;

    /// <summary>
    /// Counts <paramref name="length"/> bytes of shipped data written at <paramref name="offset"/>. A shipped range counts
    /// as arrived once as many bytes as it holds were reported inside it; a sender that repeats data can make that early,
    /// which at worst copies a repeat from a source not yet written: the whole-file check then fails, it cannot pass.
    /// </summary>
    public void Received(long offset, long length)
    {
        var index = Array.BinarySearch(_newStarts, offset);
        if (index < 0)
            index = ~index - 1;
        if (index >= 0)
            _received[index] += length;
    }

    /// <summary>Carries out the copies up to the first shipped range that has not fully arrived.</summary>
    public ValueTask AdvanceAsync(CancellationToken cancellationToken) => RunAsync(all: false, cancellationToken);

    /// <summary>Carries out every copy left, whatever arrived (at the end of the transfer).</summary>
    public ValueTask FinishAsync(CancellationToken cancellationToken) => RunAsync(all: true, cancellationToken);

    private async ValueTask RunAsync(bool all, CancellationToken cancellationToken)
    {
        byte[]? buffer = null;
        try
        {
            for (; _next < _steps.Count; _next++)
            {
                switch (_steps[_next])
                {
                    case WriteNewChunksStep fresh:
                        if (!all && _received[_passedNew] < fresh.Length)
                            return;
                        _passedNew++;
                        break;
                    case CopyFromBasisStep copy:
                        buffer ??= System.Buffers.ArrayPool<byte>.Shared.Rent(CopyBlock);
                        await CopyAsync((o, b, ct) => _readBasis(copy.BasisFileId, o, b, ct), copy.SourceOffset, copy.TargetOffset, copy.Length, buffer, cancellationToken).ConfigureAwait(false);
                        break;
                    case CopyFromTargetStep repeat:
                        buffer ??= System.Buffers.ArrayPool<byte>.Shared.Rent(CopyBlock);
                        await CopyAsync(_readTarget, repeat.SourceOffset, repeat.TargetOffset, repeat.Length, buffer, cancellationToken).ConfigureAwait(false);
                        break;
                }
            }
        }
        finally
        {
            if (buffer is not null)
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Copies a range. A source that ends early (a basis that shrank meanwhile) or cannot be read leaves zeros: the bytes
    /// written are what gets hashed, so the whole-file check then fails and the file is sent whole (§5.9.3).
    /// </summary>
    private async ValueTask CopyAsync(Func<long, Memory<byte>, CancellationToken, ValueTask<int>> read, long from, long to, long length, byte[] buffer,
        CancellationToken cancellationToken)
    {
        for (long done = 0; done < length;)
        {
            var wanted = (int)Math.Min(buffer.Length, length - done);
            var n = 0;
            try
            {
                while (n < wanted)
                {
                    var got = await read(from + done + n, buffer.AsMemory(n, wanted - n), cancellationToken).ConfigureAwait(false);
                    if (got <= 0)
                        break;
                    n += got;
                }
            }
            catch (IOException)
            {
            }
            buffer.AsSpan(n, wanted - n).Clear();
            await _write(to + done, buffer.AsMemory(0, wanted), cancellationToken).ConfigureAwait(false);
            done += wanted;
        }
    }
}
