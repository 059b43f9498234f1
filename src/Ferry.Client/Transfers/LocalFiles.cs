using Ferry.Protocol.Errors;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Client.Transfers;

/// <summary>Local file-system helpers for transfers: partial-download names, exact reads, tree walks.</summary>
internal static class LocalFiles
{
    /// <summary>
    /// Prefix of temporary files, the same on both sides (docs/protocol.md §5.2): a download goes to
    /// <c>.ferry-part.NAME</c> beside its target and is renamed into place only once its checksum matched.
    /// </summary>
    public const string PartPrefix = ".ferry-part.";

    /// <summary>Names starting with this are Ferry's own temporary files; tree uploads skip them (the server refuses them anyway).</summary>
    public const string ReservedPrefix = ".ferry-";

    /// <summary>
    /// The partial-download file for <paramref name="localPath"/>: <c>.ferry-part.NAME</c> in the same directory, or,
    /// when that would pass the usual 255-byte name limit, <c>.ferry-part.</c> and a hash of the name.
    /// </summary>
    public static string PartPathFor(string localPath)
    {
        var full = Path.GetFullPath(localPath);
        var name = Path.GetFileName(full);
        var partName = PartPrefix + name;
        if (System.Text.Encoding.UTF8.GetByteCount(partName) > 255)
            partName = PartPrefix + Convert.ToHexStringLower(System.IO.Hashing.XxHash128.Hash(System.Text.Encoding.UTF8.GetBytes(name)));
        return Path.Combine(Path.GetDirectoryName(full)!, partName);
    }

    /// <summary>ENOSPC or EDQUOT (Linux numbers, as .NET reports them in HResult), or Windows' ERROR_DISK_FULL.</summary>
    public static bool IsDiskFull(IOException ex) => ex.HResult is 28 or 122 or unchecked((int)0x80070070);

    /// <summary>Unix seconds (UTC), as <c>mtime</c> travels.</summary>
    public static long ToUnixSeconds(DateTime utc) => new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)).ToUnixTimeSeconds();

    /// <summary>
    /// Reads until <paramref name="buffer"/> is full or the file ends; returns the bytes read. (A regular file returns
    /// short reads only at its end, but the contract of a single read does not promise that.)
    /// </summary>
    internal static async ValueTask<int> ReadFullyAsync(SafeFileHandle handle, Memory<byte> buffer, long offset, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = await RandomAccess.ReadAsync(handle, buffer[total..], offset + total, cancellationToken).ConfigureAwait(false);
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }

    /// <summary>
    /// <see cref="ReadFullyAsync"/> on the calling thread: what the data path reads, a block at a time before sending it.
    /// Sending waits for each read anyway, and an asynchronous read of a regular file is a blocking read on a pool thread
    /// (RandomAccess on Unix), so it only added a hand-off and a wake-up per block.
    /// </summary>
    internal static int ReadFully(SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = RandomAccess.Read(handle, buffer[total..], offset + total);
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }

    /// <summary>
    /// Reads the whole of a small file that is to go in one frame, expected to hold <paramref name="size"/> bytes, into
    /// <paramref name="buffer"/> (at least size + 1 long). Throws <see cref="FerryException"/> (io_error) when the file
    /// no longer has that size.
    /// </summary>
    internal static void ReadWholeSmallFile(string path, Span<byte> buffer, int size)
    {
        // One byte more than expected shows a file that grew as surely as a short read shows one that shrank.
        var read = OperatingSystem.IsLinux() ? ReadPlain(path, buffer[..(size + 1)]) : ReadManaged(path, buffer[..(size + 1)]);
        if (read != size)
            throw new FerryException(FerryErrorCode.IoError, $"'{path}' changed size while waiting to be uploaded; try again.");

        static int ReadManaged(string path, Span<byte> buffer)
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            return ReadFully(handle, buffer, 0);
        }
    }

    /// <summary>
    /// Reads a whole small file with open, pread and close only: File.OpenHandle adds an fstat and an advisory flock
    /// taken and dropped (FileShare), three calls on a 4 KiB file that costs four. O_NONBLOCK keeps a FIFO swapped in
    /// since the scan from holding the upload; reading anything but a regular file or a folder's contents fails.
    /// </summary>
    private static unsafe int ReadPlain(string path, Span<byte> buffer)
    {
        var fd = Interop.Libc.Open(path, Interop.Libc.OpenReadOnlyNonBlocking);
        if (fd < 0)
            throw ReadError(System.Runtime.InteropServices.Marshal.GetLastPInvokeError(), path);
        try
        {
            var total = 0;
            fixed (byte* start = buffer)
            {
                while (total < buffer.Length)
                {
                    var n = Interop.Libc.PRead(fd, start + total, (nuint)(buffer.Length - total), total);
                    if (n < 0)
                    {
                        var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                        if (errno == 4) // EINTR
                            continue;
                        throw ReadError(errno, path);
                    }
                    if (n == 0)
                        break;
                    total += (int)n;
                }
            }
            return total;
        }
        finally
        {
            Interop.Libc.Close(fd);
        }
    }

    private static Exception ReadError(int errno, string path)
    {
        var message = System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno);
        return errno switch
        {
            2 => new FileNotFoundException($"Could not find file '{path}'.", path), // ENOENT
            1 or 13 => new UnauthorizedAccessException($"Access to the path '{path}' is denied: {message}."), // EPERM, EACCES
            _ => new IOException($"Could not read '{path}': {message}.", errno),
        };
    }

    /// <summary>
    /// Lists a local tree for an upload: every directory (relative, '/'-separated, parents first) and every file, in
    /// ordinal order. Symbolic links are never followed, to files or to directories (like rsync without -L): a link
    /// inside the tree may point anywhere, e.g. at a credentials file, and uploading its target would publish it. They
    /// are listed in <c>Links</c> so the caller can say they were skipped. Ferry's own temporary files are skipped.
    /// </summary>
    public static (IReadOnlyList<string> Directories, IReadOnlyList<string> Files, IReadOnlyList<string> Links) WalkTree(string root)
    {
        var directories = new List<string>();
        var files = new List<string>();
        var links = new List<string>();
        var pending = new Stack<(string Full, string Relative)>();
        pending.Push((Path.GetFullPath(root), ""));
        var options = new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false, RecurseSubdirectories = false };
        while (pending.Count > 0)
        {
            var (full, relative) = pending.Pop();
            var children = new DirectoryInfo(full).EnumerateFileSystemInfos("*", options)
                .Where(i => !i.Name.StartsWith(ReservedPrefix, StringComparison.Ordinal))
                .OrderBy(i => i.Name, StringComparer.Ordinal)
                .ToList();
            var subdirectories = new List<(string, string)>();
            foreach (var child in children)
            {
                var childRelative = relative.Length == 0 ? child.Name : $"{relative}/{child.Name}";
                if (child.LinkTarget is not null)
                {
                    links.Add(childRelative);
                }
                else if (child is DirectoryInfo)
                {
                    directories.Add(childRelative);
                    subdirectories.Add((child.FullName, childRelative));
                }
                else
                {
                    files.Add(childRelative);
                }
            }
            for (var i = subdirectories.Count - 1; i >= 0; i--)
                pending.Push(subdirectories[i]);
        }
        return (directories, files, links);
    }

    /// <summary>Joins a validated, normalized relative remote path onto a local directory.</summary>
    internal static string Combine(string localDirectory, string relativeRemote) =>
        Path.Combine([localDirectory, .. relativeRemote.Split('/')]);
}
