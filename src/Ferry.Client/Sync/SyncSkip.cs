namespace Ferry.Client.Sync;

/// <summary>A source entry the sync leaves alone, and why (said once, the same in a dry run).</summary>
/// <param name="Path">Relative path.</param>
/// <param name="Reason">A sentence for the user.</param>
internal sealed record SyncSkip(string Path, string Reason);
