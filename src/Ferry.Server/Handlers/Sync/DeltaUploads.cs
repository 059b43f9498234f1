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

    /// <summary>
    /// Delta puts of one connection that may hold their basis files open from put to put_end, to copy from them in file
    /// order as the data arrives. A pipelining client's further delta puts copy everything before put_ready instead (and
    /// their hash then reads the copied ranges back), so one connection never holds more than these files' descriptors.
    /// </summary>
    public const int MaxHoldingPerConnection = 16;

    /// <summary>
    /// Opens the delta put <paramref name="put"/>: with a chunk list, answers put_ready with the needed ranges (§5.9.3);
    /// with a group list (<c>groups</c>, §5.9.6), answers put_groups with the groups the server lacks and waits for
    /// put_chunks.
    /// </summary>
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
        if (put.Groups is { } groupCount)
        {
            var pending = context.Session.GroupedPuts; // the put handler checked the id and the open-upload limit, counting these
            var groups = await ReadGroupListAsync(context, put, request.Size, average, groupCount, cancellationToken).ConfigureAwait(false);
            List<int> missing;
            await using (var held = await LoadHeldAsync(context.Session.Store, bases, request, average, cancellationToken).ConfigureAwait(false))
                missing = held.Groups().Missing(groups);
            pending.Add(id, new GroupedPut(request, bases, average, groups, missing));
            var body = ChunkGroups.EncodeIndices(missing);
            context.Writer.WriteHeader(new PutGroupsMessage { Id = id, Need = missing.Count, BodySize = body.Length }, FerryJsonContext.Default.PutGroupsMessage, body.Length);
            context.Writer.WriteBody(body);
            return;
        }
        var list = await ReadChunkListAsync(context, put, request.Size, average, cancellationToken).ConfigureAwait(false);
        await using (var held = await LoadHeldAsync(context.Session.Store, bases, request, average, cancellationToken).ConfigureAwait(false))
            await OpenAsync(context, id, request, held, list, average, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// put_chunks (§5.9.6): the chunks of the groups put_groups asked for. The whole chunk list is rebuilt from them and
    /// the server's own groups, then the put goes on as a one-level delta put (put_ready with the needed ranges).
    /// </summary>
    public async ValueTask ContinueAsync(CommandContext context, PutChunksMessage message, CancellationToken cancellationToken)
    {
        if (!context.Session.GroupedPuts.Remove(message.Id, out var put))
            throw new FerryException(FerryErrorCode.FieldInvalid, $"No two-level delta put {message.Id} waits for its chunks on this connection.");
        var request = put.Request;
        var expected = put.Missing.Sum(i => (long)put.Groups[i].ChunkCount);
        var length = context.Header.BodyLength;
        if (message.BodySize is { } declared && declared != length)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"'bodysize' {declared} differs from the frame's body length {length}.");
        if (length > ChunkListCodec.MaxEncodedLength((int)expected, ChunkIdWidth.Bits64))
            throw new FerryException(FerryErrorCode.FieldInvalid, $"A chunk list of {length} bytes is longer than any list of the {expected} chunks asked for.");
        IReadOnlyList<Chunk> received;
        try
        {
            received = ChunkListCodec.Decode(await ReadBodyAsync(context, length, cancellationToken).ConfigureAwait(false),
                new ChunkListLimits { MaxChunks = (int)expected, MaxTotalLength = request.Size }).Chunks;
        }
        catch (ChunkListFormatException ex)
        {
            throw new FerryException(FerryErrorCode.FieldInvalid, $"The chunk list of put_chunks {message.Id} is invalid: {ex.Message}");
        }
        await using var held = await LoadHeldAsync(context.Session.Store, put.Bases, request, put.Average, cancellationToken).ConfigureAwait(false);
        ChunkList list;
        try
        {
            list = held.Groups().Assemble(put.Groups, put.Missing, received, request.Size);
        }
        catch (ChunkListFormatException ex) when (ex.Reason == ChunkListFormatError.NotHeld)
        {
            // A basis changed between put and put_chunks: the client sends the file whole (§5.9.6).
            throw new FerryException(FerryErrorCode.ChecksumMismatch, $"A basis of '{request.Path}' changed during the put: {ex.Message}");
        }
        catch (ChunkListFormatException ex)
        {
            throw new FerryException(FerryErrorCode.FieldInvalid, $"The chunks of put {message.Id} do not fit its groups: {ex.Message}");
        }
        await OpenAsync(context, message.Id, request, held, list, put.Average, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>What a two-level delta put remembers between put and put_chunks: no open files, no chunk lists.</summary>
    internal sealed record GroupedPut(UploadRequest Request, List<string> Bases, int Average, List<ChunkGroup> Groups, List<int> Missing);

    /// <summary>The files a delta put may reuse, open, with their chunk lists.</summary>
    private sealed class Held : IAsyncDisposable
    {
        private ChunkGroupIndex? _groups;

        public ChunkIndex Index { get; } = new();
        public List<IStoredFile> Readable { get; } = []; // by basis file id, as the index numbers them
        public List<IAsyncDisposable> Sources { get; } = [];
        public List<IReadOnlyList<Chunk>> Lists { get; } = [];
        public FileDigest? Current { get; set; }

        /// <summary>Hands the open files to whoever copies from them later: disposing this no longer closes them.</summary>
        public List<IAsyncDisposable> TakeSources()
        {
            var taken = new List<IAsyncDisposable>(Sources);
            Sources.Clear();
            return taken;
        }

        public void Add(string name, IStoredFile file, IReadOnlyList<Chunk> chunks)
        {
            Index.AddFile(name, chunks);
            Readable.Add(file);
            Lists.Add(chunks);
        }

        /// <summary>The groups of every held file (§5.9.6), made when first asked for.</summary>
        public ChunkGroupIndex Groups()
        {
            if (_groups is null)
            {
                _groups = new ChunkGroupIndex();
                foreach (var list in Lists)
                    _groups.AddFile(list);
            }
            return _groups;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var source in Sources)
                await source.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Opens and chunks what the server holds for a delta put: the current content of the path first (the likeliest
    /// source), then the named bases, then the part file kept for the path.
    /// </summary>
    private async Task<Held> LoadHeldAsync(IFileStore store, List<string> bases, UploadRequest request, int average, CancellationToken cancellationToken)
    {
        var cache = await digests.ForAsync(store, cancellationToken).ConfigureAwait(false);
        var parameters = ChunkingParameters.ForAverageSize(average);
        var held = new Held();
        try
        {
            foreach (var basis in bases.Prepend(request.Path).Distinct(StringComparer.Ordinal))
            {
                var file = await OpenBasisAsync(store, basis, isTarget: basis == request.Path, cancellationToken).ConfigureAwait(false);
                if (file is null)
                    continue;
                held.Sources.Add(file);
                if (SyncFields.TooManyChunks(file.Length, average))
                    continue; // its chunk list would not fit the server's memory bounds: not used
                var digest = await DigestOrNullAsync(cache, file, parameters, cancellationToken).ConfigureAwait(false);
                if (digest?.Chunks is null)
                    continue;
                held.Add(basis, file, digest.Chunks);
                // A link at the path is replaced by the new file, like any put: only a file there can be kept as it is.
                if (basis == request.Path && !store.IsSymbolicLink(request.Path))
                    held.Current = digest;
            }
            var kept = store.OpenKeptPart(request.Path);
            if (kept is not null)
            {
                held.Sources.Add(kept);
                if (SyncFields.TooManyChunks(kept.Length, average))
                    kept = null;
            }
            if (kept is not null)
            {
                // An in-memory cache: a part file changes under the same inode and is not worth remembering.
                var digest = await DigestOrNullAsync(new HashCache(), kept, parameters, cancellationToken).ConfigureAwait(false);
                if (digest?.Chunks is not null)
                    held.Add(".ferry-part", kept, digest.Chunks);
            }
            await digests.SaveAsync(cache, cancellationToken).ConfigureAwait(false);
            return held;
        }
        catch
        {
            await held.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Plans the new file against what is held and answers put_ready with the needed ranges. The copies of what the server
    /// has are made later, in file order, as put_data brings the ranges before them (the rest at put_end): the new file is
    /// then written front to back and hashed as it is written, with no read of it at put_end.
    /// </summary>
    private async ValueTask OpenAsync(CommandContext context, long id, UploadRequest request, Held held, ChunkList list, int average, CancellationToken cancellationToken)
    {
        var store = context.Session.Store;
        IUpload? upload = null;
        try
        {
            var plan = DeltaPlanner.Plan(list, held.Index);
            // The kept part is held open: beginning the upload replaces its name, not the data being copied.
            upload = new MeteredUpload(await store.BeginUploadAsync(request with { Resume = false }, cancellationToken).ConfigureAwait(false), metrics);
            var starts = new List<long>();
            var ends = new List<long>();
            foreach (var fresh in plan.Steps.OfType<WriteNewChunksStep>())
            {
                if (starts.Count > 0 && ends[^1] == fresh.TargetOffset)
                {
                    ends[^1] += fresh.Length;
                }
                else
                {
                    starts.Add(fresh.TargetOffset);
                    ends.Add(fresh.TargetOffset + fresh.Length);
                }
            }
            var target = upload;
            var readable = held.Readable;
            ValueTask<int> ReadBasis(int file, long offset, Memory<byte> buffer, CancellationToken ct) => readable[file].ReadAsync(buffer, offset, ct);
            ValueTask<int> ReadTarget(long offset, Memory<byte> buffer, CancellationToken ct) => target.ReadAsync(buffer, offset, ct);
            ValueTask Write(long offset, ReadOnlyMemory<byte> data, CancellationToken ct) => target.WriteAsync(data, offset, ct);
            IReadOnlyList<AssemblyStep> steps = plan.Steps;
            List<IAsyncDisposable> sources = [];
            if (context.Session.Uploads.Values.Count(o => o.Delta is { HoldsFiles: true }) < MaxHoldingPerConnection)
            {
                sources = held.TakeSources(); // the copies are made as the data before them arrives
            }
            else
            {
                // Too many puts of this connection hold files: the copies from them are made now.
                await new DeltaAssembly([.. plan.Steps.OfType<CopyFromBasisStep>()], ReadBasis, ReadTarget, Write).FinishAsync(cancellationToken).ConfigureAwait(false);
                steps = [.. plan.Steps.Where(step => step is not CopyFromBasisStep)];
            }
            var state = new DeltaUploadState([.. starts], [.. ends], new DeltaAssembly(steps, ReadBasis, ReadTarget, Write), sources, held.Current, average);
            try
            {
                context.Session.Uploads.Add(id, new OpenUpload(upload) { Delta = state });
            }
            catch
            {
                await state.DisposeAsync().ConfigureAwait(false);
                throw;
            }
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
        }
    }

    /// <summary>
    /// Reads and decodes a two-level put's group list (§5.9.6): exactly <paramref name="count"/> groups, holding no more
    /// chunks in all than a file of <paramref name="size"/> bytes can have.
    /// </summary>
    private static async ValueTask<List<ChunkGroup>> ReadGroupListAsync(CommandContext context, PutMessage put, long size, int average, int count, CancellationToken cancellationToken)
    {
        var length = context.Header.BodyLength;
        if (put.BodySize is { } declared && declared != length)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"'bodysize' {declared} differs from the frame's body length {length}.");
        var mostChunks = MostChunks(size, average);
        if (count < 0 || count > mostChunks)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"'groups' {count} is more than a {size}-byte file can have.");
        if (length > 1 + 10 + (long)count * (10 + 8))
            throw new FerryException(FerryErrorCode.FieldInvalid, $"A group list of {length} bytes is longer than any list of {count} groups.");
        try
        {
            return ChunkGroups.Decode(await ReadBodyAsync(context, length, cancellationToken).ConfigureAwait(false), count, mostChunks);
        }
        catch (ChunkListFormatException ex)
        {
            throw new FerryException(FerryErrorCode.FieldInvalid, $"The group list of put {put.Id} is invalid: {ex.Message}");
        }
    }

    /// <summary>Chunks are at least avg/4 long, except at most one per 64 MiB segment and the last.</summary>
    private static int MostChunks(long size, int average) =>
        (int)Math.Min(ChunkListLimits.Default.MaxChunks, size / Math.Max(1, average / 4) + size / ChunkingParameters.DefaultSegmentLength + 2);

    /// <summary>A frame body of <paramref name="length"/> bytes (already bounded by the caller).</summary>
    private static async ValueTask<byte[]> ReadBodyAsync(CommandContext context, long length, CancellationToken cancellationToken)
    {
        var buffer = new byte[length];
        var filled = 0;
        while (filled < length)
        {
            var n = await context.Reader.ReadBodyAsync(buffer.AsMemory(filled, (int)length - filled), cancellationToken).ConfigureAwait(false);
            if (n == 0)
                throw new FerryException(FerryErrorCode.FieldInvalid, "The body ended early.");
            filled += n;
        }
        return buffer;
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
