using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;

namespace Ferry.Client.Sync;

/// <summary>
/// Checks a server's scan (§5.9.1) before anything acts on it: a listing that lies could otherwise make a pull write or
/// delete outside the local folder.
/// </summary>
internal static class ScanValidator
{
    /// <summary>
    /// Throws unless every name is a safe relative path (<see cref="SyncPaths.IsSafeRelative"/>), named once, below a
    /// listed folder, with a known type, a size that is not negative, a mode within 0..0o7777 and, for a link, a target.
    /// </summary>
    /// <exception cref="FerryException"><see cref="FerryErrorCode.FieldInvalid"/>: the listing is malformed.</exception>
    public static void Validate(IReadOnlyList<ScanEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var types = new Dictionary<string, string>(entries.Count, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (entry is null || entry.Name is null || !SyncPaths.IsSafeRelative(entry.Name))
                throw Invalid($"an entry name that is not a safe relative path ('{entry?.Name}')");
            if (!types.TryAdd(entry.Name, entry.Type))
                throw Invalid($"'{entry.Name}' twice");
            if (entry.Type is not (ScanEntryTypes.File or ScanEntryTypes.Directory or ScanEntryTypes.Link or ScanEntryTypes.Other))
                throw Invalid($"'{entry.Name}' with the unknown type '{entry.Type}'");
            if (entry.Size < 0)
                throw Invalid($"'{entry.Name}' with a negative size");
            if (entry.Mode is < 0 or > 0xFFF)
                throw Invalid($"'{entry.Name}' with the mode {entry.Mode}");
            if (entry.Type == ScanEntryTypes.Link && (string.IsNullOrEmpty(entry.Target) || entry.Target.Contains('\0')))
                throw Invalid($"the link '{entry.Name}' without a usable target");
        }
        foreach (var entry in entries)
        {
            var parent = SyncPaths.Parent(entry.Name);
            if (parent.Length > 0 && (!types.TryGetValue(parent, out var parentType) || parentType != ScanEntryTypes.Directory))
                throw Invalid($"'{entry.Name}' below '{parent}', which is not a listed folder");
        }
    }

    private static FerryException Invalid(string what) =>
        new(FerryErrorCode.FieldInvalid, $"The server's scan listed {Ferry.Protocol.Text.ControlCharacters.Escape(what)}; nothing was changed.");
}
