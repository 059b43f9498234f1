using System.Buffers;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Server.Interop;
using Ferry.Sync.Delta;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Server.Storage;

/// <summary>
/// An upload into <c>.ferry-part.&lt;id&gt;</c> beside its target, described by a <c>.meta</c> file so that a later
/// connection (or a restarted server) can resume it. The whole-file hash is computed while data is written, in file
/// order (<see cref="AssemblyHash"/>: data written ahead is read back once the bytes before it are in); data written
/// again over bytes already hashed (re-sent chunks) makes the commit re-read the file instead. The target's folder stays open
/// for the whole upload (<see cref="JailedEntry"/>): the part file is made, reopened, renamed and deleted in that folder.
/// </summary>
internal sealed class LocalUpload : IUpload
{
    public const string PartPrefix = PathJail.ReservedPrefix + "part.";
    public const string MetaSuffix = ".meta";
    private const int ReadBufferSize = 1024 * 1024;

    /// <summary>Writes up to this size are made on the calling thread (see <see cref="WriteAsync(ReadOnlyMemory{byte}, long, CancellationToken)"/>).</summary>
    private const int InlineWriteBytes = 128 * 1024;

    private readonly LocalFileStore _store;
    private readonly JailedEntry _target;
    private readonly string _partName;
    private readonly string _metaName;

    /// <summary>The part file's path under the root: its key in the <see cref="UploadRegistry"/>.</summary>
    private readonly string _part;

    private readonly SafeFileHandle _handle;
    private AssemblyHash? _hash;
    private bool _ended;

    private LocalUpload(LocalFileStore store, UploadRequest request, JailedEntry target, string partName, string part, SafeFileHandle handle)
    {
        _store = store;
        Request = request;
        _target = target;
        _partName = partName;
        _metaName = partName + MetaSuffix;
        _part = part;
        _handle = handle;
    }

    public UploadRequest Request { get; }
    public long ResumeOffset { get; private set; }
    public ReadOnlyMemory<byte> ResumeChunkHashes { get; private set; }

    /// <summary>The temporary name for a target: fixed-length, so long target names still fit the 255-byte limit.</summary>
    public static string PartNameFor(string targetName) =>
        PartPrefix + Convert.ToHexStringLower(XxHash128.Hash(Encoding.UTF8.GetBytes(targetName)));

    /// <param name="target">The target's name in its open folder; the upload owns it from here (also when this throws, the caller disposes it).</param>
    /// <param name="partName">The part file's name (<see cref="PartNameFor"/>) in the same folder.</param>
    /// <param name="part">The part file's path, already registered as in use by this upload.</param>
    public static LocalUpload Open(LocalFileStore store, UploadRequest request, JailedEntry target, string partName, string part)
    {
        var info = new PartialUploadInfo(target.Name, request.Size, request.Checksum.Name, request.ChunkSize);

        if (request.Resume && OpenKeptPart(target, partName, info) is { } handle)
        {
            var upload = new LocalUpload(store, request, target, partName, part, handle);
            try
            {
                upload.LoadResumeState();
                return upload;
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }

        // Never through a link a command planted under the part name; the file keeps owner and mode when renamed.
        var partPath = target.PathOf(partName);
        var metaName = partName + MetaSuffix;
        var folder = target.Directory;
        // Only an upload of at least one whole chunk can ever be resumed; smaller ones skip the .meta file, which is most
        // of the cost of a small file.
        var resumable = request.Size >= request.ChunkSize;
        // A part that cannot be resumed and gets the sender's mode at commit (ApplyAttributes, before the rename) keeps
        // the 0600 it is created with until then (the umask can only narrow it): a first fchmod to the store's file mode
        // would be replaced unseen. The owner is still given at once.
        var setMode = resumable || request.Mode is null;
        var fresh = folder is not null
            ? store.Ownership.CreateFileAt(folder, partName, request.Path, setMode)
            : store.Ownership.CreateFile(partPath, FileOptions.Asynchronous);
        try
        {
            var meta = resumable ? JsonSerializer.SerializeToUtf8Bytes(info, StorageJsonContext.Default.PartialUploadInfo) : null;
            if (folder is not null)
            {
                // A .meta left at this name (an earlier big upload of the same target that never ended) is not removed
                // for a small one: it cannot make anything resume from this part. A resume matches only a .meta with the
                // same chunk size, which every upload of this server uses (PutHandler.ChunkSize), and keeps only whole
                // chunks of the part (LoadResumeState); this part never holds one, since writes past Size are refused
                // and Size is below a chunk. The sweep removes the .meta with its part or alone.
                if (meta is not null)
                    store.Ownership.WriteNewFileAt(folder, metaName, meta, request.Path);
            }
            else
            {
                var metaPath = target.PathOf(metaName);
                if (meta is not null)
                    store.Ownership.WriteNewFile(metaPath, meta);
                else if (File.Exists(metaPath) || new FileInfo(metaPath).LinkTarget is not null)
                    File.Delete(metaPath);
            }
            var upload = new LocalUpload(store, request, target, partName, part, fresh)
            {
                // Writes from several connections at once have no order to hash them in: the commit reads the file.
                _hash = request.ConcurrentWrites ? null : new AssemblyHash(request.Checksum.CreateHasher(), request.Size),
            };
            return upload;
        }
        catch
        {
            fresh.Dispose();
            DeleteInFolder(target, partName);
            throw;
        }
    }

    /// <summary>
    /// The part file kept by an earlier attempt, open for writing, when it is a regular file (not a link: it is opened
    /// with O_NOFOLLOW on Linux) and its .meta file describes this same upload; else null.
    /// </summary>
    private static SafeFileHandle? OpenKeptPart(JailedEntry target, string partName, PartialUploadInfo info)
    {
        if (target.Directory is not { } folder)
        {
            var part = target.PathOf(partName);
            if (!File.Exists(part) || new FileInfo(part).LinkTarget is not null || ReadInfo(target.PathOf(partName + MetaSuffix)) != info)
                return null;
            return File.OpenHandle(part, FileMode.Open, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous);
        }
        if (ReadInfo(folder, partName + MetaSuffix) != info)
            return null;
        SafeFileHandle handle;
        try
        {
            handle = Beneath.OpenAt(folder, partName, Libc.OpenReadWrite | Libc.OpenNoFollow, partName);
        }
        catch (IOException)
        {
            return null; // missing, or a link (ELOOP): start afresh, which replaces whatever has the name
        }
        if (Beneath.TypeOf(handle) == Libc.FileTypeRegular)
            return handle;
        handle.Dispose();
        return null;
    }

    private static PartialUploadInfo? ReadInfo(string metaPath)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(metaPath), StorageJsonContext.Default.PartialUploadInfo);
        }
        catch (Exception ex) when (ex is IOException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Reads a .meta file of the open folder without following a link at its name (and at most 64 KiB of it).</summary>
    private static PartialUploadInfo? ReadInfo(SafeFileHandle folder, string metaName)
    {
        const int NonBlocking = 0x800; // O_NONBLOCK: a FIFO at the name cannot hold the server
        const int MaxMetaBytes = 64 * 1024;
        try
        {
            using var meta = Beneath.OpenAt(folder, metaName, Libc.OpenReadOnly | Libc.OpenNoFollow | NonBlocking, metaName);
            if (Beneath.TypeOf(meta) != Libc.FileTypeRegular)
                return null;
            var buffer = new byte[MaxMetaBytes];
            var length = RandomAccess.Read(meta, buffer, 0);
            return JsonSerializer.Deserialize(buffer.AsSpan(0, length), StorageJsonContext.Default.PartialUploadInfo);
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Keeps the whole chunks already on disk, hashing each chunk and the prefix in one read.</summary>
    private void LoadResumeState()
    {
        var chunk = Request.ChunkSize;
        var length = Math.Min(RandomAccess.GetLength(_handle), Request.Size);
        var kept = length / chunk * chunk;
        RandomAccess.SetLength(_handle, kept);

        var algorithm = Request.Checksum;
        var hashes = new byte[kept / chunk * algorithm.HashBytes];
        var hasher = algorithm.CreateHasher();
        using var chunkHasher = algorithm.CreateHasher();
        var buffer = ArrayPool<byte>.Shared.Rent(ReadBufferSize);
        try
        {
            long position = 0;
            var index = 0;
            while (position < kept)
            {
                var inChunk = (int)Math.Min(chunk, kept - position);
                var done = 0;
                while (done < inChunk)
                {
                    var n = RandomAccess.Read(_handle, buffer.AsSpan(0, Math.Min(buffer.Length, inChunk - done)), position + done);
                    if (n == 0)
                        throw new FerryException(FerryErrorCode.ResumeInvalid, "The partial upload changed while being read.");
                    chunkHasher.Append(buffer.AsSpan(0, n));
                    hasher.Append(buffer.AsSpan(0, n));
                    done += n;
                }
                chunkHasher.GetHashAndReset().CopyTo(hashes, index++ * algorithm.HashBytes);
                position += inChunk;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        _hash = new AssemblyHash(hasher, Request.Size, kept);
        ResumeOffset = kept;
        ResumeChunkHashes = hashes;
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken cancellationToken)
    {
        if (offset < 0 || offset > Request.Size - data.Length)
            throw new FerryException(FerryErrorCode.FieldInvalid,
                $"Data at offset {offset} with {data.Length} bytes does not fit a file of {Request.Size} bytes.");
        try
        {
            if (data.Length <= InlineWriteBytes)
            {
                // A small write lands in the page cache in microseconds: handing it to another thread costs more.
                if (Beneath.IsSupported)
                    Beneath.WriteAt(_handle, data.Span, offset, Request.Path);
                else
                    RandomAccess.Write(_handle, data.Span, offset);
                _hash?.Written(data.Span, offset, ReadBack);
                return;
            }
            // The disk write runs while this thread hashes the same bytes.
            // The buffer is not changed before the write ends, so the bytes hashed are the bytes written. Ranges read
            // back by the hash lie beyond this write, and every earlier write has ended.
            var write = RandomAccess.WriteAsync(_handle, data, offset, cancellationToken);
            _hash?.Written(data.Span, offset, ReadBack);
            await write.ConfigureAwait(false);
        }
        catch (Exception ex) when (StorageErrors.TryMap(ex, out var mapped))
        {
            throw mapped;
        }
    }

    public async ValueTask WriteAsync(ReadOnlySequence<byte> data, long offset, CancellationToken cancellationToken)
    {
        if (data.IsSingleSegment)
        {
            await WriteAsync(data.First, offset, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (offset < 0 || offset > Request.Size - data.Length)
            throw new FerryException(FerryErrorCode.FieldInvalid,
                $"Data at offset {offset} with {data.Length} bytes does not fit a file of {Request.Size} bytes.");
        var buffers = new List<ReadOnlyMemory<byte>>();
        foreach (var segment in data)
            buffers.Add(segment);
        try
        {
            // One pwritev for all the pieces, while this thread hashes them.
            var write = RandomAccess.WriteAsync(_handle, buffers, offset, cancellationToken);
            foreach (var segment in buffers)
            {
                _hash?.Written(segment.Span, offset, ReadBack);
                offset += segment.Length;
            }
            await write.ConfigureAwait(false);
        }
        catch (Exception ex) when (StorageErrors.TryMap(ex, out var mapped))
        {
            throw mapped;
        }
    }

    /// <summary>Reads back what this upload wrote, for the hash to take in ranges that were written out of order.</summary>
    private int ReadBack(long offset, Memory<byte> buffer) => RandomAccess.Read(_handle, buffer.Span, offset);

    public async ValueTask<byte[]> CommitAsync(byte[]? expectedHash, CancellationToken cancellationToken)
    {
        try
        {
            // When the running hash took in every byte from 0 to Size from the writes themselves, all of them arrived, and
            // no write goes past Size (WriteAsync refuses it) into a part that began empty or cut to whole chunks
            // (LoadResumeState): the length is Size without asking the file system. Otherwise it is measured.
            var hashedAll = _hash is { IsComplete: true };
            var length = hashedAll ? Request.Size : RandomAccess.GetLength(_handle);
            if (length != Request.Size)
                throw new FerryException(FerryErrorCode.FieldInvalid,
                    $"Only {length} of {Request.Size} bytes of '{Request.Path}' arrived; nothing was committed.");

            var hash = hashedAll
                ? _hash!.GetHash()
                : await RehashAsync(cancellationToken).ConfigureAwait(false);
            if (expectedHash is not null && !hash.AsSpan().SequenceEqual(expectedHash))
            {
                await AbortAsync(keepForResume: false).ConfigureAwait(false);
                throw new FerryException(FerryErrorCode.ChecksumMismatch,
                    $"The data received for '{Request.Path}' does not match the sender's {Request.Checksum.Name} checksum; nothing was committed.");
            }

            ApplyAttributes();
            // fsync before the rename, so a crash never leaves the final name on data that is not on disk. Disposing the
            // stream closes the handle.
            if (Beneath.IsSupported)
                Beneath.FlushToDisk(_handle, Request.Path);
            else
                RandomAccess.FlushToDisk(_handle);
            _handle.Dispose();

            try
            {
                _store.CommitPart(_target, _partName, Request.Path, Request.Size, Request.Force);
            }
            catch (IOException ex) when (!Request.Force && (ex.HResult == Libc.Eexist || File.Exists(_target.Path)))
            {
                await AbortAsync(keepForResume: false).ConfigureAwait(false);
                throw new FerryException(FerryErrorCode.AlreadyExists, $"'{Request.Path}' appeared while it was being uploaded; nothing was replaced.");
            }
            catch (FerryException ex) when (ex.Code == FerryErrorCode.QuotaExceeded)
            {
                // What the upload replaces shrank since it began (moved away meanwhile): the old file stays as it is.
                await AbortAsync(keepForResume: false).ConfigureAwait(false);
                throw;
            }
            if (Request.Size >= Request.ChunkSize) // smaller uploads have no .meta file (Open removed any stale one)
                DeleteInFolder(_target, _metaName);
            _ended = true;
            _target.Dispose();
            _store.UploadEnded(_part, keepForResume: false);
            return hash;
        }
        catch (Exception ex) when (StorageErrors.TryMap(ex, out var mapped))
        {
            if (mapped.Code == FerryErrorCode.DiskFull)
                await AbortAsync(keepForResume: false).ConfigureAwait(false);
            throw mapped;
        }
    }

    /// <summary>Mode and time go on the part file before the rename, so the name never shows the file without them (§5.9.3).</summary>
    private unsafe void ApplyAttributes()
    {
        if (Request.Mode is { } mode && Libc.fchmodHandle(_handle, (uint)(mode & 0x1FF)) != 0)
            throw Beneath.Error(System.Runtime.InteropServices.Marshal.GetLastPInvokeError(), Request.Path);
        if (Request.ModifiedNs is { } ns)
        {
            var times = Libc.TimesFromNanoseconds(ns);
            fixed (Libc.Timespec* t = times)
            {
                if (Libc.futimens(_handle, t) != 0)
                    throw Beneath.Error(System.Runtime.InteropServices.Marshal.GetLastPInvokeError(), Request.Path);
            }
        }
        else if (Request.ModifiedTime is { } mtime)
        {
            File.SetLastWriteTimeUtc(_handle, mtime.UtcDateTime);
        }
    }

    public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken) =>
        RandomAccess.ReadAsync(_handle, buffer, offset, cancellationToken);

    private ValueTask<byte[]> RehashAsync(CancellationToken cancellationToken) =>
        Request.Checksum.HashAsync((buffer, position, ct) => RandomAccess.ReadAsync(_handle, buffer, position, ct), 0, RandomAccess.GetLength(_handle),
            cancellationToken);

    public ValueTask AbortAsync(bool keepForResume)
    {
        if (_ended)
            return ValueTask.CompletedTask;
        _ended = true;
        _handle.Dispose();
        _hash?.Dispose();
        if (!keepForResume)
        {
            TryDeleteInFolder(_target, _partName);
            TryDeleteInFolder(_target, _metaName);
        }
        _target.Dispose();
        // Ended (and a kept part counted) before the reservation goes, so the quota never forgets the bytes in between.
        _store.UploadEnded(_part, keepForResume);
        _store.Quota.Release(Request.Size);
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => AbortAsync(keepForResume: true);

    /// <summary>Removes a file's name in the upload's folder (relative to the open folder on Linux); a missing name is fine.</summary>
    private static void DeleteInFolder(JailedEntry target, string name)
    {
        if (target.Directory is { } folder)
            Beneath.UnlinkFileIfPresent(folder, name, name);
        else
            File.Delete(target.PathOf(name));
    }

    private static void TryDeleteInFolder(JailedEntry target, string name)
    {
        try { DeleteInFolder(target, name); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>The .meta file of a partial upload.</summary>
internal sealed record PartialUploadInfo(
    [property: JsonPropertyName("target")] string Target,
    [property: JsonPropertyName("size")] long Size,
    [property: JsonPropertyName("checksum")] string Checksum,
    [property: JsonPropertyName("chunk_size")] int ChunkSize);

[JsonSerializable(typeof(PartialUploadInfo))]
internal sealed partial class StorageJsonContext : JsonSerializerContext;
