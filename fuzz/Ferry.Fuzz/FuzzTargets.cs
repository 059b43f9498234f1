using System.Diagnostics.CodeAnalysis;

namespace Ferry.Fuzz;

/// <summary>The fuzz targets by name. Each takes one input and throws only when it found a bug.</summary>
internal static class FuzzTargets
{
    private static readonly Dictionary<string, Action<byte[]>> s_targets = new(StringComparer.Ordinal)
    {
        ["frame"] = FrameTarget.Run,
        ["path"] = PathTarget.Run,
        ["handshake"] = HandshakeTarget.Run,
        ["datagram"] = DatagramTarget.Run,
    };

    public static IEnumerable<string> Names => s_targets.Keys;

    public static bool TryGet(string name, [NotNullWhen(true)] out Action<byte[]>? target)
    {
        return s_targets.TryGetValue(name, out target);
    }
}
