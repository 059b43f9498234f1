using System.Collections.Concurrent;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Storage;

/// <summary>Files in a folder of the local file system.</summary>
public sealed class LocalFileStore : IFileStore
{
    private readonly PathJail _jail;
    private readonly ConcurrentDictionary<string, byte> _activeUploads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _activeParts = new(StringComparer.Ordinal);

    public LocalFileStore(string root, long? quotaBytes = null, DataOwnership? ownership = null)
    {
        Ownership = ownership ?? DataOwnership.Private;
        Ownership.CreateDirectory(root);
        _jail = new PathJail(root);
        Quota = new QuotaTracker(quotaBytes, quotaBytes is null ? 0 : MeasureUsage(_jail.Root));
    }

    public string Description => _jail.Root;
    public string RootPath => _jail.Root;
    public QuotaTracker Quota { get; }

    /// <summary>Owner and permissions of what the store creates.</summary>
    public DataOwnership Ownership { get; }

    public ValueTask<FileEntry?> StatAsync(string path, CancellationToken cancellationToken)
    {
        var full = _jail.Resolve(path);
        return ValueTask.FromResult(Guard(() => Entry(full, path.Length == 0 ? "" : RemotePath.FileName(path))));
    }

    public ValueTask<IReadOnlyList<FileEntry>> ListAsync(string path, bool recursive, CancellationToken cancellationToken)
    {
        var full = _jail.Resolve(path);
        return ValueTask.FromResult(Guard<IReadOnlyList<FileEntry>>(() =>
        {
            if (File.Exists(full))
                return [Entry(full, RemotePath.FileName(path))!];
            if (!Directory.Exists(full))
                throw NotFound(path);
            var entries = new List<FileEntry>();
            AddEntries(new DirectoryInfo(full), "", recursive, entries, cancellationToken);
            return entries;
        }));
    }

    private void AddEntries(DirectoryInfo directory, string prefix, bool recursive, List<FileEntry> into, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var children = directory.EnumerateFileSystemInfos()
            .Where(i => !i.Name.StartsWith(PathJail.ReservedPrefix, StringComparison.Ordinal))
            .OrderBy(i => i.Name, StringComparer.Ordinal);
        foreach (var child in children)
        {
            var isLink = child.LinkTarget is not null;
            if (isLink && !_jail.LinkStaysInside(child))
                continue; // a link out of the root does not exist as far as the client is concerned
            var name = prefix.Length == 0 ? child.Name : $"{prefix}/{child.Name}";
            var entry = Entry(child.FullName, name);
            if (entry is null)
                continue;
            into.Add(entry);
            if (recursive && entry.Type == "dir")
                AddEntries(new DirectoryInfo(child.FullName), name, recursive, into, cancellationToken);
        }
    }

    public ValueTask CreateDirectoryAsync(string path, bool parents, CancellationToken cancellationToken)
    {
        if (path.Length == 0)
        {
            if (parents)
                return ValueTask.CompletedTask;
            throw new FerryException(FerryErrorCode.AlreadyExists, "The root already exists.");
        }
        if (parents)
        {
            // Resolve each level so that no link on the way leads out, then create what is missing.
            var so = "";
            foreach (var segment in path.Split('/'))
            {
                so = RemotePath.Combine(so, segment);
                var level = _jail.Resolve(so);
                if (File.Exists(level))
                    throw new FerryException(FerryErrorCode.NotADirectory, $"'{so}' is a file, not a directory.");
                if (!Directory.Exists(level))
                    Guard(() => Ownership.CreateDirectory(level));
            }
            return ValueTask.CompletedTask;
        }

        var full = _jail.Resolve(path);
        var parent = _jail.Resolve(RemotePath.Parent(path));
        if (File.Exists(full) || Directory.Exists(full))
            throw new FerryException(FerryErrorCode.AlreadyExists, $"'{path}' already exists.");
        if (!Directory.Exists(parent))
            throw File.Exists(parent) ? NotADirectory(RemotePath.Parent(path)) : NotFound(RemotePath.Parent(path));
        Guard(() => Ownership.CreateDirectory(full));
        return ValueTask.CompletedTask;
    }

    public ValueTask DeleteAsync(string path, bool recursive, CancellationToken cancellationToken)
    {
        if (path.Length == 0)
            throw new FerryException(FerryErrorCode.PathInvalid, "The root cannot be removed.");
        // Resolve the parent, not the entry: removing a link removes the link, never what it points to.
        var full = _jail.ResolveEntry(path);
        Guard(() =>
        {
            var info = new FileInfo(full);
            if (info.LinkTarget is not null || File.Exists(full))
            {
                var size = info.LinkTarget is null ? info.Length : 0;
                File.Delete(full);
                Quota.Freed(size);
                return 0;
            }
            if (!Directory.Exists(full))
                throw NotFound(path);
            if (!recursive && Directory.EnumerateFileSystemEntries(full).Any())
                throw new FerryException(FerryErrorCode.DirectoryNotEmpty, $"'{path}' is not empty; use recursive removal (rm -r).");
            var size2 = recursive ? MeasureUsage(full) : 0;
            Directory.Delete(full, recursive);
            Quota.Freed(size2);
            return 0;
        });
        return ValueTask.CompletedTask;
    }

    public ValueTask MoveAsync(string from, string to, bool force, CancellationToken cancellationToken)
    {
        if (from.Length == 0 || to.Length == 0)
            throw new FerryException(FerryErrorCode.PathInvalid, "The root cannot be moved or replaced.");
        var source = _jail.ResolveEntry(from);
        var target = _jail.ResolveEntry(to);
        var targetParent = Path.GetDirectoryName(target)!;
        Guard(() =>
        {
            var sourceIsDir = Directory.Exists(source) && new FileInfo(source).LinkTarget is null;
            if (!sourceIsDir && !File.Exists(source) && new FileInfo(source).LinkTarget is null)
                throw NotFound(from);
            if (!Directory.Exists(targetParent))
                throw NotFound(RemotePath.Parent(to));
            if (Directory.Exists(target))
                throw new FerryException(FerryErrorCode.AlreadyExists, $"'{to}' is an existing directory.");
            if (sourceIsDir && (to + "/").StartsWith(from + "/", StringComparison.Ordinal))
                throw new FerryException(FerryErrorCode.PathInvalid, $"'{from}' cannot be moved inside itself.");
            var replaced = File.Exists(target) ? new FileInfo(target).Length : 0;
            if (File.Exists(target) && !force)
                throw new FerryException(FerryErrorCode.AlreadyExists, $"'{to}' already exists; use --force to replace it.");
            if (sourceIsDir)
            {
                if (File.Exists(target))
                    throw new FerryException(FerryErrorCode.NotADirectory, $"'{to}' is a file; a directory cannot replace it.");
                Directory.Move(source, target);
            }
            else
            {
                File.Move(source, target, overwrite: force);
                Quota.Freed(replaced);
            }
            return 0;
        });
        return ValueTask.CompletedTask;
    }

    public ValueTask<IStoredFile> OpenReadAsync(string path, CancellationToken cancellationToken)
    {
        var full = _jail.Resolve(path);
        return ValueTask.FromResult(Guard<IStoredFile>(() =>
        {
            if (Directory.Exists(full))
                throw new FerryException(FerryErrorCode.IsADirectory, $"'{path}' is a directory; use recursive get (get -r).");
            if (!File.Exists(full))
                throw NotFound(path);
            return new LocalStoredFile(full);
        }));
    }

    public ValueTask<IUpload> BeginUploadAsync(UploadRequest request, CancellationToken cancellationToken)
    {
        var path = request.Path;
        if (path.Length == 0)
            throw new FerryException(FerryErrorCode.IsADirectory, "The root is a directory; name a file.");
        var parentPath = RemotePath.Parent(path);
        var directory = _jail.Resolve(parentPath);
        var target = _jail.Resolve(path);
        if (!Directory.Exists(directory))
            throw File.Exists(directory) ? NotADirectory(parentPath) : NotFound(parentPath);
        if (Directory.Exists(target))
            throw new FerryException(FerryErrorCode.IsADirectory, $"'{path}' is a directory.");
        var replaced = File.Exists(target) ? new FileInfo(target).Length : 0;
        if (File.Exists(target) && !request.Force)
            throw new FerryException(FerryErrorCode.AlreadyExists, $"'{path}' already exists; use --force to replace it.");
        if (!_activeUploads.TryAdd(target, 0))
            throw new FerryException(FerryErrorCode.TransferInProgress, $"Another upload to '{path}' is in progress.");
        try
        {
            Quota.Reserve(request.Size, replaced);
            try
            {
                return ValueTask.FromResult<IUpload>(Guard(() => LocalUpload.Open(this, request, directory, target, replaced)));
            }
            catch
            {
                Quota.Release(request.Size);
                throw;
            }
        }
        catch
        {
            _activeUploads.TryRemove(target, out _);
            throw;
        }
    }

    internal void UploadEnded(string target, string part)
    {
        _activeUploads.TryRemove(target, out _);
        _activeParts.TryRemove(part, out _);
    }

    internal void UploadStarted(string part) => _activeParts[part] = 0;

    public string? LocalDirectory(string path) => _jail.Resolve(path);

    public int SweepPartialUploads(TimeSpan maxAge)
    {
        var cutoff = DateTime.UtcNow - maxAge;
        var removed = 0;
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        // Parts with or without a .meta file, and .meta files whose part is gone.
        foreach (var file in Directory.EnumerateFiles(_jail.Root, LocalUpload.PartPrefix + "*", options))
        {
            try
            {
                var isMeta = file.EndsWith(LocalUpload.MetaSuffix, StringComparison.Ordinal);
                var part = isMeta ? file[..^LocalUpload.MetaSuffix.Length] : file;
                if (isMeta && File.Exists(part))
                    continue; // handled with its part
                if (_activeParts.ContainsKey(part) || File.GetLastWriteTimeUtc(file) >= cutoff)
                    continue;
                File.Delete(part);
                File.Delete(part + LocalUpload.MetaSuffix);
                removed++;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    private static long MeasureUsage(string directory)
    {
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        return new DirectoryInfo(directory).EnumerateFiles("*", options)
            .Where(f => !f.Name.StartsWith(PathJail.ReservedPrefix, StringComparison.Ordinal))
            .Sum(f => f.Length);
    }

    private static FileEntry? Entry(string fullPath, string name)
    {
        var info = new FileInfo(fullPath);
        if (info.LinkTarget is not null)
        {
            var target = info.ResolveLinkTarget(returnFinalTarget: true);
            if (target is null || !target.Exists)
                return new FileEntry { Name = name, Type = "link", Size = 0, ModifiedUnixSeconds = info.LastWriteTimeUtc.ToUnixSeconds() };
            return new FileEntry
            {
                Name = name,
                Type = target is DirectoryInfo ? "dir" : "file",
                Size = target is FileInfo f ? f.Length : 0,
                ModifiedUnixSeconds = target.LastWriteTimeUtc.ToUnixSeconds(),
            };
        }
        if (info.Exists)
            return new FileEntry { Name = name, Type = "file", Size = info.Length, ModifiedUnixSeconds = info.LastWriteTimeUtc.ToUnixSeconds() };
        var dir = new DirectoryInfo(fullPath);
        if (dir.Exists)
            return new FileEntry { Name = name, Type = "dir", Size = 0, ModifiedUnixSeconds = dir.LastWriteTimeUtc.ToUnixSeconds() };
        return null;
    }

    internal static FerryException NotFound(string path) =>
        new(FerryErrorCode.NotFound, path.Length == 0 ? "The root does not exist." : $"'{path}' does not exist.");

    private static FerryException NotADirectory(string path) => new(FerryErrorCode.NotADirectory, $"'{path}' is a file, not a directory.");

    /// <summary>Runs a file-system operation and maps OS errors to Ferry codes.</summary>
    internal static T Guard<T>(Func<T> operation)
    {
        try
        {
            return operation();
        }
        catch (Exception ex) when (StorageErrors.TryMap(ex, out var mapped))
        {
            throw mapped;
        }
    }
}

internal static class StorageErrors
{
    private const int Enospc = 28;
    private const int Edquot = 122;
    private const int WindowsDiskFull = unchecked((int)0x80070070);

    public static bool IsDiskFull(Exception ex) =>
        ex is IOException io && (io.HResult is Enospc or Edquot or WindowsDiskFull || io.HResult == (Enospc | unchecked((int)0x80070000)));

    public static bool TryMap(Exception ex, out FerryException mapped)
    {
        mapped = ex switch
        {
            FerryException => null!,
            _ when IsDiskFull(ex) => new FerryException(FerryErrorCode.DiskFull, "The server's disk is full; nothing was stored.", ex),
            FileNotFoundException or DirectoryNotFoundException => new FerryException(FerryErrorCode.NotFound, "No such file or directory.", ex),
            UnauthorizedAccessException => new FerryException(FerryErrorCode.PermissionDenied, "The server's file system refused access.", ex),
            PathTooLongException => new FerryException(FerryErrorCode.PathInvalid, "The path is too long for the server's file system.", ex),
            IOException io => new FerryException(FerryErrorCode.IoError, $"The server's file system failed: {io.Message}", ex),
            _ => null!,
        };
        return mapped is not null;
    }
}

internal static class TimeExtensions
{
    public static long ToUnixSeconds(this DateTime utc) => new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)).ToUnixTimeSeconds();
}
