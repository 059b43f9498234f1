namespace Ferry.Client.Sync;

/// <summary>Which way a sync goes.</summary>
internal enum SyncDirection
{
    /// <summary>A local folder onto the server.</summary>
    Push,
    /// <summary>A folder on the server onto a local folder.</summary>
    Pull,
}
