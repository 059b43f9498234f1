using System.Globalization;
using System.Text;

namespace Ferry.Client.Sync;

/// <summary>
/// One step of a sync plan. <see cref="Path"/> is relative to both roots, '/'-separated ("" is the destination root
/// itself). The itemized <see cref="Line"/> is what both a dry run and the real run print for it.
/// </summary>
internal sealed record SyncAction
{
    public required SyncActionKind Kind { get; init; }

    public required string Path { get; init; }

    /// <summary>For <see cref="SyncActionKind.TransferFile"/>: new or changed.</summary>
    public TransferReason Reason { get; init; }

    /// <summary>The source file's size (transfers).</summary>
    public long Size { get; init; }

    /// <summary>Permission bits to give the destination entry; null to leave them.</summary>
    public int? Mode { get; init; }

    /// <summary>Modification time to give the destination entry (ns since the Unix epoch); null to leave it.</summary>
    public long? ModifiedNs { get; init; }

    /// <summary>A link's target text.</summary>
    public string? Target { get; init; }

    /// <summary>Destination files (relative paths) the new content may share data with, best first.</summary>
    public IReadOnlyList<string> Basis { get; init; } = [];

    /// <summary>The size of the first basis; 0 without one.</summary>
    public long BasisSize { get; init; }

    /// <summary>The entry is (deletes, attributes) or becomes (mkdir) a folder.</summary>
    public bool IsDirectory { get; init; }

    /// <summary>For <see cref="SyncActionKind.MakeDirectory"/>: a file or link of that name is removed first.</summary>
    public bool ReplacesEntry { get; init; }

    /// <summary>
    /// For <see cref="SyncActionKind.Delete"/>: a parent folder is deleted too, so this entry goes with it and needs no
    /// call of its own.
    /// </summary>
    public bool RemovedWithParent { get; init; }

    /// <summary>False for the silent follow-up of another step (the mode and time of a folder just created).</summary>
    public bool Itemized { get; init; } = true;

    /// <summary>
    /// The itemized line: an 8-character word, a space, the path (folders end in '/'), and for links " -> target", for
    /// attribute changes " (mode)", " (time)" or " (mode, time)".
    /// </summary>
    public string Line
    {
        get
        {
            var shown = Path.Length == 0 ? "." : Path;
            var line = new StringBuilder();
            line.Append(Kind switch
            {
                SyncActionKind.MakeDirectory => "mkdir   ",
                SyncActionKind.TransferFile => Reason == TransferReason.New ? "new     " : "changed ",
                SyncActionKind.CreateLink => "link    ",
                SyncActionKind.SetAttributes => "attrs   ",
                _ => "deleted ",
            });
            line.Append(shown);
            if (IsDirectory || Kind == SyncActionKind.MakeDirectory)
                line.Append('/');
            if (Kind == SyncActionKind.CreateLink)
                line.Append(" -> ").Append(Target);
            if (Kind == SyncActionKind.SetAttributes)
                line.Append(Mode is not null && ModifiedNs is not null ? " (mode, time)" : Mode is not null ? " (mode)" : " (time)");
            return line.ToString();
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Line}");
}
