namespace Ferry.Client.Sync;

/// <summary>One file to fetch.</summary>
/// <param name="RemotePath">The file on the server.</param>
/// <param name="LocalPath">Where it goes locally (its folder exists).</param>
/// <param name="Size">Its size when scanned.</param>
/// <param name="Mode">Permission bits to give the local file.</param>
/// <param name="ModifiedNs">Modification time to give it, nanoseconds since the Unix epoch.</param>
/// <param name="Basis">Local files it may share content with, best first (its old version, a file it was renamed from); empty for a whole-file get.</param>
/// <param name="BasisSize">The size of the first basis; 0 without a basis.</param>
internal sealed record FilePull(string RemotePath, string LocalPath, long Size, int Mode, long ModifiedNs, IReadOnlyList<string> Basis, long BasisSize);
