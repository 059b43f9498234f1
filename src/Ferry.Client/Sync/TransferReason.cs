namespace Ferry.Client.Sync;

/// <summary>Why a file is sent.</summary>
internal enum TransferReason
{
    /// <summary>The destination has no file of that name.</summary>
    New,
    /// <summary>The destination's file differs (size, time or, with --checksum, content).</summary>
    Changed,
}
