namespace Ferry.Server.Storage;

/// <summary>
/// An optional ability of a store whose homes are folders of the local file system: commands run in them. A store
/// without it refuses remote commands with exec_failed and says why (docs/security.md).
/// </summary>
internal interface ILocalFolderStore
{
    /// <summary>
    /// The local folder behind <paramref name="path"/>, resolved beneath the store's root like any other path (a link
    /// that leads out is path_escapes_root); a folder that does not exist is returned as where it would be, for the
    /// caller to report not_found.
    /// </summary>
    string LocalFolder(string path);
}
