using System.Buffers;

namespace Ferry.Testing;

/// <summary>
/// Builds a <see cref="ReadOnlySequence{T}"/> whose segments are exactly the given pieces, the way a pipe hands over
/// data that arrived in several reads. Compiled into the tests and the benchmarks (linked, not referenced), so that
/// both exercise the decoder on the same shapes.
/// </summary>
internal static class SegmentedSequence
{
    public static ReadOnlySequence<byte> Of(IReadOnlyList<ReadOnlyMemory<byte>> pieces)
    {
        if (pieces.Count == 0)
            return ReadOnlySequence<byte>.Empty;
        if (pieces.Count == 1)
            return new ReadOnlySequence<byte>(pieces[0]);
        var first = new Segment(pieces[0], 0);
        var last = first;
        for (var i = 1; i < pieces.Count; i++)
            last = last.Append(pieces[i]);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
