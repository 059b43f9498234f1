namespace Ferry.Client.Sync;

/// <summary>One file to send.</summary>
/// <param name="LocalPath">The local file.</param>
/// <param name="RemotePath">Where it goes on the server.</param>
/// <param name="Size">Its size when scanned (a file that changed since fails with a clear error and is retried next run).</param>
/// <param name="Mode">Permission bits to give the remote file.</param>
/// <param name="ModifiedNs">Modification time to give it, nanoseconds since the Unix epoch.</param>
/// <param name="Basis">Remote files it may share content with, best first (its old version, a file it was renamed from); empty for a plain whole-file put.</param>
/// <param name="BasisSize">The size of the first basis (both sides cut chunks for the larger of the two sizes); 0 without a basis.</param>
internal sealed record FilePush(string LocalPath, string RemotePath, long Size, int Mode, long ModifiedNs, IReadOnlyList<string> Basis, long BasisSize);
