namespace Ferry.Client.Sync;

/// <summary>A source entry the sync cannot apply: an error that also stops --delete.</summary>
/// <param name="Path">Relative path.</param>
/// <param name="Code">Stable error code (docs/errors.md).</param>
/// <param name="Message">A sentence for the user.</param>
internal sealed record SyncProblem(string Path, string Code, string Message);
