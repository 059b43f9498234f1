using System.Text;
using Ferry.Protocol.Errors;

namespace Ferry.Protocol.Files;

/// <summary>
/// The syntax of remote paths (docs/protocol.md §5.1): '/'-separated, relative to the user's root. This is the first of
/// two gates; the server's store also refuses symbolic links that lead out of the root.
/// </summary>
internal static class RemotePath
{
    /// <summary>Longest path accepted, in UTF-8 bytes.</summary>
    public const int MaxPathBytes = 4096;

    /// <summary>Longest single name accepted, in UTF-8 bytes (the common file-system limit).</summary>
    public const int MaxNameBytes = 255;

    /// <summary>
    /// Checks <paramref name="path"/> and returns it normalized: no leading or trailing '/', no empty, "." or ".."
    /// segments; "" means the root itself. Throws <see cref="FerryException"/> with <see cref="FerryErrorCode.PathInvalid"/>
    /// (malformed) or <see cref="FerryErrorCode.PathEscapesRoot"/> (".." above the root).
    /// </summary>
    public static string Normalize(string? path)
    {
        if (path is null)
            throw Invalid("A path is required.");
        if (Encoding.UTF8.GetByteCount(path) > MaxPathBytes)
            throw Invalid($"The path is longer than {MaxPathBytes} bytes.");
        foreach (var c in path)
        {
            if (c == '\0')
                throw Invalid("The path contains a NUL character.");
            if (char.IsControl(c))
                throw Invalid("The path contains a control character.");
            if (c == '\\')
                throw Invalid("The path contains a backslash; use '/' to separate directories.");
            if (char.IsSurrogate(c) && !IsWellFormed(path))
                throw Invalid("The path is not valid Unicode.");
        }
        if (path.StartsWith('/'))
            throw Invalid($"'{path}' is absolute; remote paths are relative to your root (write '{path.TrimStart('/')}').");
        if (StartsWithDriveLetter(path))
            throw Invalid($"'{path}' starts with a drive letter; remote paths are relative to your root.");

        var segments = new List<string>();
        foreach (var segment in path.Split('/'))
        {
            if (segment.Length == 0 || segment == ".")
                continue;
            if (segment == "..")
            {
                if (segments.Count == 0)
                    throw new FerryException(FerryErrorCode.PathEscapesRoot, $"'{path}' leads above your root.");
                segments.RemoveAt(segments.Count - 1);
                continue;
            }
            if (Encoding.UTF8.GetByteCount(segment) > MaxNameBytes)
                throw Invalid($"A name in '{Shorten(path)}' is longer than {MaxNameBytes} bytes.");
            segments.Add(segment);
        }
        // "./C:x" or "a/../C:x" normalizes to a drive-letter path too: refuse it as well, so that what this returns is
        // itself accepted (normalizing is idempotent).
        if (segments.Count > 0 && StartsWithDriveLetter(segments[0]))
            throw Invalid($"'{path}' leads to a name that starts with a drive letter; remote paths are relative to your root.");
        return string.Join('/', segments);
    }

    /// <summary>The last segment of a normalized path ("" for the root).</summary>
    public static string FileName(string normalized) =>
        normalized.LastIndexOf('/') is var i and >= 0 ? normalized[(i + 1)..] : normalized;

    /// <summary>The parent of a normalized path ("" for top-level entries and for the root).</summary>
    public static string Parent(string normalized) =>
        normalized.LastIndexOf('/') is var i and >= 0 ? normalized[..i] : "";

    /// <summary>Joins normalized segments.</summary>
    public static string Combine(string left, string right) =>
        left.Length == 0 ? right : right.Length == 0 ? left : $"{left}/{right}";

    private static bool StartsWithDriveLetter(string s) => s.Length >= 2 && char.IsAsciiLetter(s[0]) && s[1] == ':';

    private static bool IsWellFormed(string s)
    {
        try
        {
            _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetByteCount(s);
            return true;
        }
        catch (EncoderFallbackException)
        {
            return false;
        }
    }

    private static string Shorten(string s) => s.Length <= 80 ? s : string.Concat(s.AsSpan(0, 80), "…");

    private static FerryException Invalid(string message) => new(FerryErrorCode.PathInvalid, message);
}
