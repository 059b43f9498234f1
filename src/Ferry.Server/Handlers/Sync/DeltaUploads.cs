using System.Buffers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Diagnostics;
using Ferry.Server.Storage;
using Ferry.Sync.Caching;
using Ferry.Sync.Chunking;
using Ferry.Sync.Delta;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Server.Handlers.Sync;

/// <summary>
/// The delta put (docs/protocol.md §5.9.3): the put carries the new file's chunk list; the server finds the chunks it
/// already has in the named bases, its current copy and the part file it kept, copies them into the new part file, and
/// asks the client only for the rest.
/// </summary>
internal sealed class DeltaUploads(SyncDigests digests, FerryMetrics metrics)
{
    public const int MaxBases = 16;

    private const int CopyBlock = 1024 * 1024;

    /// <summary>Opens the delta put <paramref name="put"/> and answers put_ready with the needed ranges.</summary>
    public async ValueTask BeginAsync(CommandContext context, PutMessage put, long id, UploadRequest request, CancellationToken cancellationToken)
    {
        if (put.Resume || put.Shared)
            throw new FerryException(FerryErrorCode.FieldInvalid, "A put with 'basis' cannot also be 'resume' or 'shared'.");
        if (request.Checksum.Name != ChecksumAlgorithm.Xxh3.Name)
            throw new FerryException(FerryErrorCode.FieldInvalid, "A put with 'basis' uses the xxh3-128 checksum.");
        if (put.AverageChunkSize is not { } average)
            throw new FerryException(FerryErrorCode.FieldInvalid, "A put with 'basis' needs 'avg', the average chunk size of its chunk list.");
        SyncFields.CheckAverageChunkSize(average);
        if (put.Basis!.Length > MaxBases)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"At most {MaxBases} basis files (got {put.Basis.Length}).");
        var bases = put.Basis.Select(RemotePath.Normalize).ToList(); // a basis that climbs above the root: path_escapes_root
        var list = await ReadChunkListAsync(context, put, request.Size, average, cancellationToken).ConfigureAwait(false);

        var store = context.Session.Store;
        var cache = await digests.ForAsync(store, cancellationToken).ConfigureAwait(false);
        var parameters = ChunkingParameters.ForAverageSize(average);
        var index = new ChunkIndex();
        var sources = new List<IAsyncDisposable>();
        var readable = new List<IStoredFile>(); // by basis file id, as the index numbers them
        IUpload? upload = null;
        try
        {
            // The current content of the path first (the likeliest source), then the named bases, then the kept part.
            FileDigest? current = null;
            foreach (var basis in bases.Prepend(request.Path).Distinct(StringComparer.Ordinal))
            {
                var file = await OpenBasisAsync(store, basis, isTarget: basis == request.Path, cancellationToken).ConfigureAwait(false);
                if (file is null)
                    continue;
                sources.Add(file);
                if (SyncFields.TooManyChunks(file.Length, average))
                    continue; // its chunk list would not fit the server's memory bounds: not used
                var digest = await DigestOrNullAsync(cache, file, parameters, cancellationToken).ConfigureAwait(false);
                if (digest?.Chunks is null)
                    continue;
                index.AddFile(basis, digest.Chunks);
                readable.Add(file);
                // A link at the path is replaced by the new file, like any put: only a file there can be kept as it is.
                if (basis == request.Path && !store.IsSymbolicLink(request.Path))
                    current = digest;
            }
            var kept = store.OpenKeptPart(request.Path);
            if (kept is not null)
            {
                sources.Add(kept);
                if (SyncFields.TooManyChunks(kept.Length, average))
                    kept = null;
            }
            if (kept is not null)
            {
                // An in-memory cache: a part file changes under the same inode and is not worth remembering.
                var digest = await DigestOrNullAsync(new HashCache(), kept, parameters, cancellationToken).ConfigureAwait(false);
                if (digest?.Chunks is not null)
                {
                    index.AddFile(".ferry-part", digest.Chunks);
                    readable.Add(kept);
                }
            }
            await digests.SaveAsync(cache, cancellationToken).ConfigureAwait(false);

            var plan = DeltaPlanner.Plan(list, index);
            // The kept part is held open above: beginning the upload replaces its name, not the data being copied.
            upload = new MeteredUpload(await store.BeginUploadAsync(request with { Resume = false }, cancellationToken).ConfigureAwait(false), metrics);
            var starts = new List<long>();
            var ends = new List<long>();
            var targetCopies = new List<CopyFromTargetStep>();
            foreach (var step in plan.Steps)
            {
                switch (step)
                {
                    case CopyFromBasisStep copy:
                        await CopyAsync(readable[copy.BasisFileId], copy.SourceOffset, upload, copy.TargetOffset, copy.Length, cancellationToken).ConfigureAwait(false);
                        break;
                    case CopyFromTargetStep repeat:
                        targetCopies.Add(repeat);
                        break;
                    case WriteNewChunksStep fresh when starts.Count > 0 && ends[^1] == fresh.TargetOffset:
                        ends[^1] += fresh.Length;
                        break;
                    case WriteNewChunksStep fresh:
                        starts.Add(fresh.TargetOffset);
                        ends.Add(fresh.TargetOffset + fresh.Length);
                        break;
                }
            }
            var state = new DeltaUploadState([.. starts], [.. ends], targetCopies, current);
            context.Session.Uploads.Add(id, new OpenUpload(upload) { Delta = state });
            var body = state.EncodeRanges();
            context.Writer.WriteHeader(new PutReadyMessage { Id = id, Offset = 0, ChunkSize = 0, NeededRanges = state.NeededCount, BodySize = body.Length },
                FerryJsonContext.Default.PutReadyMessage, body.Length);
            context.Writer.WriteBody(body);
            upload = null; // the session owns it now
        }
        finally
        {
            if (upload is not null)
            {
                await upload.AbortAsync(keepForResume: false).ConfigureAwait(false);
                await upload.DisposeAsync().ConfigureAwait(false);
            }
            foreach (var source in sources)
                await source.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads and decodes the put's body: a chunk list within limits that follow from the declared size (no list of a
    /// small file can declare millions of chunks), describing exactly <paramref name="size"/> bytes.
    /// </summary>
    private static async ValueTask<ChunkList> ReadChunkListAsync(CommandContext context, PutMessage put, long size, int average, CancellationToken cancellationToken)
    {
        var length = context.Header.BodyLength;
        if (put.BodySize is { } declared && declared != length)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"'bodysize' {declared} differs from the frame's body length {length}.");
        // Chunks are at least avg/4 long, except at most one per 64 MiB segment and the last.
        var minChunk = Math.Max(1, average / 4);
        var mostChunks = Math.Min((long)ChunkListLimits.Default.MaxChunks, size / minChunk + size / ChunkingParameters.DefaultSegmentLength + 2);
        var limits = new ChunkListLimits { MaxChunks = (int)mostChunks, MaxTotalLength = size };
        if (length > ChunkListCodec.MaxEncodedLength(limits.MaxChunks, ChunkIdWidth.Bits128))
            throw new FerryException(FerryErrorCode.FieldInvalid, $"A chunk list of {length} bytes is longer than any list of a {size}-byte file.");
        var buffer = ArrayPool<byte>.Shared.Rent((int)length);
        try
        {
            var filled = 0;
            while (filled < length)
            {
                var n = await context.Reader.ReadBodyAsync(buffer.AsMemory(filled, (int)length - filled), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    throw new FerryException(FerryErrorCode.FieldInvalid, "The chunk list ended early.");
                filled += n;
            }
            var list = ChunkListCodec.Decode(buffer.AsSpan(0, (int)length), limits);
            if (list.TotalLength != size)
                throw new FerryException(FerryErrorCode.FieldInvalid, $"The chunk list describes {list.TotalLength} bytes, not the put's size of {size}.");
            return list;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A basis file open for reading; null when it is missing, not a regular file or unreadable (§5.9.3: ignored).</summary>
    private static async ValueTask<IStoredFile?> OpenBasisAsync(IFileStore store, string path, bool isTarget, CancellationToken cancellationToken)
    {
        try
        {
            return await store.OpenReadAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (FerryException ex) when (ex.Code is FerryErrorCode.NotFound or FerryErrorCode.IsADirectory or FerryErrorCode.NotADirectory
            or FerryErrorCode.IoError or FerryErrorCode.PermissionDenied || (isTarget && ex.Code != FerryErrorCode.PathEscapesRoot))
        {
            return null;
        }
    }

    /// <summary>A basis's digest; null when it cannot be read (or its store cannot digest files): it is then not used.</summary>
    private async Task<FileDigest?> DigestOrNullAsync(HashCache cache, IStoredFile file, ChunkingParameters parameters, CancellationToken cancellationToken)
    {
        try
        {
            return await digests.DigestAsync(cache, file, parameters, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or FerryException { Code: FerryErrorCode.IoError })
        {
            return null;
        }
    }

    /// <summary>
    /// Copies a range of a basis into the upload. A basis that shrank meanwhile leaves zeros: the whole-file hash at put_end
    /// then fails and the client sends the file whole (§5.9.3).
    /// </summary>
    private static async ValueTask CopyAsync(IStoredFile source, long sourceOffset, IUpload upload, long targetOffset, long length, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBlock);
        try
        {
            for (long done = 0; done < length;)
            {
                var wanted = (int)Math.Min(buffer.Length, length - done);
                var n = await source.ReadAsync(buffer.AsMemory(0, wanted), sourceOffset + done, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    buffer.AsSpan(0, wanted).Clear();
                    n = wanted;
                }
                await upload.WriteAsync(buffer.AsMemory(0, n), targetOffset + done, cancellationToken).ConfigureAwait(false);
                done += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>At put_end: copies the chunks the new file repeats from where they first occur in it.</summary>
    public static async ValueTask CopyRepeatsAsync(IUpload upload, DeltaUploadState state, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBlock);
        try
        {
            foreach (var step in state.TargetCopies)
            {
                for (long done = 0; done < step.Length;)
                {
                    var wanted = (int)Math.Min(buffer.Length, step.Length - done);
                    var n = await upload.ReadAsync(buffer.AsMemory(0, wanted), step.SourceOffset + done, cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        buffer.AsSpan(0, wanted).Clear();
                        n = wanted;
                    }
                    await upload.WriteAsync(buffer.AsMemory(0, n), step.TargetOffset + done, cancellationToken).ConfigureAwait(false);
                    done += n;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// When the new file is exactly what the path holds now (§5.9.3), nothing is rewritten: the upload is dropped and only
    /// mode and time are set. True when that was the case.
    /// </summary>
    public static async ValueTask<bool> TryKeepCurrentAsync(IFileStore store, IUpload upload, DeltaUploadState state, byte[] expectedHash, CancellationToken cancellationToken)
    {
        var request = upload.Request;
        if (state.Current is not { } current || current.Identity.Size != request.Size
            || !expectedHash.AsSpan().SequenceEqual(ToBytes(current.ContentHash)))
            return false;
        // Still the same file (same inode, size and times) as when it was digested?
        try
        {
            await using var file = await store.OpenReadAsync(request.Path, cancellationToken).ConfigureAwait(false);
            if (file is not ILocalFileAccess { Handle: var handle } || !FileStat.IsSupported || FileStat.Get(handle) != current.Identity)
                return false;
        }
        catch (FerryException)
        {
            return false;
        }
        await upload.AbortAsync(keepForResume: false).ConfigureAwait(false);
        var modifiedNs = request.ModifiedNs ?? (request.ModifiedTime is { } time ? (time - DateTimeOffset.UnixEpoch).Ticks * 100 : (long?)null);
        if (request.Mode is not null || modifiedNs is not null)
            await store.SetAttributesAsync(request.Path, request.Mode, modifiedNs, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public static byte[] ToBytes(UInt128 hash)
    {
        var bytes = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(bytes, hash);
        return bytes;
    }

}
