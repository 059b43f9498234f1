namespace Ferry.Client.Sync;

/// <summary>What one step of a sync plan does to the destination.</summary>
internal enum SyncActionKind
{
    /// <summary>Create a folder (replacing a file or link of the same name).</summary>
    MakeDirectory,
    /// <summary>Send a file's content, mode and time (a new file, or one whose content changed).</summary>
    TransferFile,
    /// <summary>Create or replace a symbolic link.</summary>
    CreateLink,
    /// <summary>Set the mode and/or modification time of an existing file or folder whose content is unchanged.</summary>
    SetAttributes,
    /// <summary>Remove an entry the source lacks (only with --delete); a folder goes with everything in it.</summary>
    Delete,
}
