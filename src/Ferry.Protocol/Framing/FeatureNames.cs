namespace Ferry.Protocol.Framing;

/// <summary>Features a server announces in its hello besides the commands it serves (docs/protocol.md §3).</summary>
internal static class FeatureNames
{
    /// <summary>exec takes "tty" and window_change: commands run on a pseudo-terminal (§6.4).</summary>
    public const string ExecTerminal = "exec_tty";

    /// <summary>Delta puts and chunk lists in two levels, groups then chunks (§5.9.6).</summary>
    public const string ChunkGroups = "chunk_groups";
}
