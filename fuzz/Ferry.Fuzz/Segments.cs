using System.Buffers;

namespace Ferry.Fuzz;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s, as a socket pipe delivers them.</summary>
internal static class Segments
{
    /// <summary>The same bytes cut at <paramref name="cuts"/> (ascending offsets strictly inside the data).</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, IReadOnlyList<int> cuts)
    {
        if (cuts.Count == 0)
            return new ReadOnlySequence<byte>(data);
        var first = new Segment(data.AsMemory(0, cuts[0]));
        var last = first;
        for (var i = 0; i < cuts.Count; i++)
        {
            var end = i + 1 < cuts.Count ? cuts[i + 1] : data.Length;
            last = last.Append(data.AsMemory(cuts[i], end - cuts[i]));
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Cuts every <paramref name="size"/> bytes.</summary>
    public static int[] Every(int length, int size) =>
        Enumerable.Range(1, Math.Max(0, (length - 1) / size)).Select(i => i * size).ToArray();

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
