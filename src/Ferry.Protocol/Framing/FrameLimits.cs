namespace Ferry.Protocol.Framing;

/// <summary>Bounds that every frame is checked against before anything waits for or allocates its parts.</summary>
public sealed record FrameLimits
{
    /// <summary>Default maximum header length: 64 KiB.</summary>
    public const int DefaultMaxHeaderBytes = 64 * 1024;

    /// <summary>
    /// Largest header (the JSON object, not counting the 4-byte prefix) accepted, in bytes. A prefix of 0 or above this
    /// is a fatal protocol error, raised as soon as the 4 prefix bytes are present. Default 64 KiB.
    /// </summary>
    public int MaxHeaderBytes { get; init; } = DefaultMaxHeaderBytes;

    /// <summary>Maximum nesting depth of the header JSON. Default 32.</summary>
    public int MaxHeaderDepth { get; init; } = 32;

    /// <summary>The defaults above: 64 KiB headers nested at most 32 deep.</summary>
    public static FrameLimits Default { get; } = new();

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the setting when a value is unusable.</summary>
    public void Validate()
    {
        if (MaxHeaderBytes is < 64 or > 16 * 1024 * 1024)
            throw new ArgumentOutOfRangeException(nameof(MaxHeaderBytes), MaxHeaderBytes, "MaxHeaderBytes must be between 64 bytes and 16 MiB.");
        if (MaxHeaderDepth is < 2 or > 256)
            throw new ArgumentOutOfRangeException(nameof(MaxHeaderDepth), MaxHeaderDepth, "MaxHeaderDepth must be between 2 and 256.");
    }
}
