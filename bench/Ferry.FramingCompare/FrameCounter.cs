namespace Ferry.FramingCompare;

/// <summary>Frames echoed by a server, counted across its connections.</summary>
internal sealed class FrameCounter
{
    private long _frames;

    public long Frames => Interlocked.Read(ref _frames);

    public void Add() => Interlocked.Increment(ref _frames);
}
