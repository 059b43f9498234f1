namespace Ferry.Server.Storage.Nats;

/// <summary>Where a path's name lives in the namespace: its folder, its key, and what is there now (with its revision) if anything.</summary>
internal sealed record NatsLocation(string Path, string FolderId, string Name, string Key, NatsEntry? Entry, ulong Revision)
{
    public bool Exists => Entry is not null;
}
