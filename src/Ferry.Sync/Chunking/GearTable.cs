namespace Ferry.Sync.Chunking;

/// <summary>
/// The 256 random 64-bit values of FastCDC's Gear hash, one per byte value. Both ends of a transfer must use the very
/// same table, or their cut points (and so every chunk id) differ: the table is generated from a fixed seed by SplitMix64,
/// a generator whose output is fully specified, so it never depends on the runtime's <see cref="Random"/>.
/// </summary>
internal static class GearTable
{
    /// <summary>Changing this changes every chunk boundary, which invalidates every cached chunk list on both sides.</summary>
    private const ulong Seed = 0x4665_7272_7953_796E; // "FerrySyn"

    /// <summary>The table, indexed by byte value.</summary>
    public static readonly ulong[] Values = Generate();

    private static ulong[] Generate()
    {
        var values = new ulong[256];
        var state = Seed;
        for (var i = 0; i < values.Length; i++)
        {
            // SplitMix64 (Steele, Lea, Flood 2014): every output is a bijective mix of a counter, so no two entries repeat.
            state += 0x9E37_79B9_7F4A_7C15;
            var z = state;
            z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9;
            z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB;
            values[i] = z ^ (z >> 31);
        }
        return values;
    }
}
