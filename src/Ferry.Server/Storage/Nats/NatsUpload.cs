using System.Buffers;
using System.Text.Json;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using NATS.Client.Core;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// A file on its way into the NATS store, in parts of <see cref="UploadRequest.ChunkSize"/> bytes (the resume chunk): each
/// part gathers in memory (room for it reserved in the server's part memory first) and goes to a new object while the
/// next one arrives, so at most two parts per upload are held and a fast client waits for the cluster instead of filling
/// memory; once stored, it is recorded in the upload's state in the namespace bucket (<see cref="NatsUploadState"/>). A connection that drops leaves the stored parts for a resume through any server. The
/// commit checks the whole-file checksum and only then points the file's name at the parts; nothing is visible before.
/// </summary>
internal sealed class NatsUpload : IUpload
{
    private readonly NatsFileStore _store;
    private readonly NatsBuckets _buckets;
    private readonly string _stateKey;
    private readonly NatsQuotaReservation? _reservation;
    private readonly string _owner = NatsKeys.NewId();
    private readonly List<string> _parts;
    private readonly List<string> _partHashes;
    private readonly long _partSize;
    private ulong _stateRevision;
    private ChecksumAlgorithm.Hasher? _hasher; // null after a resume: the commit then reads the stored parts back
    private readonly CancellationTokenSource _abort = new();
    private NatsPartWriter? _part;
    private (NatsPartWriter Part, Task<byte[]> Stored)? _storing;
    private long _written;
    private bool _ended;

    private NatsUpload(NatsFileStore store, NatsBuckets buckets, UploadRequest request, string stateKey, NatsUploadState state, ulong stateRevision,
        NatsQuotaReservation? reservation)
    {
        _store = store;
        _buckets = buckets;
        Request = request;
        _stateKey = stateKey;
        _stateRevision = stateRevision;
        _reservation = reservation;
        _partSize = state.PartSize;
        _parts = [.. state.Parts];
        _partHashes = [.. state.PartHashes];
        _written = _parts.Count * _partSize;
        _hasher = _parts.Count == 0 ? request.Checksum.CreateHasher() : null;
        ResumeOffset = _written;
        ResumeChunkHashes = _partHashes.SelectMany(Convert.FromHexString).ToArray();
    }

    /// <summary>
    /// Begins (or with <see cref="UploadRequest.Resume"/>, continues from the parts a matching earlier upload stored) an
    /// upload; its state key names this connection as the owner from now on.
    /// </summary>
    public static async Task<NatsUpload> StartAsync(NatsFileStore store, NatsBuckets buckets, string stateKey, UploadRequest request,
        NatsQuotaReservation? reservation, CancellationToken cancellationToken)
    {
        var partSize = request.ChunkSize > 0 ? request.ChunkSize : 4 * 1024 * 1024;
        var fresh = new NatsUploadState { Owner = "", Size = request.Size, Checksum = request.Checksum.Name, PartSize = partSize };
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var existing = await buckets.GetRawAsync(stateKey, cancellationToken).ConfigureAwait(false);
            var kept = existing is { } found ? JsonSerializer.Deserialize(found.Value, NatsJsonContext.Default.NatsUploadState) : null;
            var resumable = request.Resume && kept is not null && kept.Size == request.Size && kept.Checksum == request.Checksum.Name
                && kept.PartSize == partSize && kept.Parts.Count == kept.PartHashes.Count && kept.Parts.Count * partSize < Math.Max(1, request.Size);
            var state = (resumable ? kept! : fresh) with { UpdatedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
            var upload = new NatsUpload(store, buckets, request, stateKey, state, 0, reservation);
            state = state with { Owner = upload._owner };
            var bytes = JsonSerializer.SerializeToUtf8Bytes(state, NatsJsonContext.Default.NatsUploadState);
            // Taking over is always allowed (the old connection may be dead or stuck); the old owner's next record fails.
            var revision = existing is { } previous
                ? await buckets.TryUpdateRawAsync(stateKey, bytes, previous.Revision, cancellationToken).ConfigureAwait(false)
                : await buckets.TryCreateRawAsync(stateKey, bytes, cancellationToken).ConfigureAwait(false);
            if (revision is { } taken)
            {
                upload._stateRevision = taken;
                return upload;
            }
        }
        throw new FerryException(FerryErrorCode.AlreadyExists, $"Another upload to '{request.Path}' keeps starting at the same moment; try again.");
    }

    public UploadRequest Request { get; }

    public long ResumeOffset { get; }

    public ReadOnlyMemory<byte> ResumeChunkHashes { get; }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken cancellationToken)
    {
        if (offset != _written)
            throw new FerryException(FerryErrorCode.FieldInvalid,
                $"This server's NATS store takes a file's bytes in order: {_written} bytes of '{Request.Path}' are stored, data came for offset {offset}.");
        if (data.Length > Request.Size - _written)
            throw new FerryException(FerryErrorCode.FieldInvalid,
                $"Data at offset {offset} with {data.Length} bytes does not fit a file of {Request.Size} bytes.");
        if (_reservation is not null)
            await _reservation.RenewIfDueAsync(Request.Size, cancellationToken).ConfigureAwait(false);
        while (data.Length > 0)
        {
            _part ??= await NatsPartWriter.ReserveAsync(_buckets, "p." + _owner + "." + (_parts.Count + (_storing is null ? 0 : 1)),
                (int)Math.Min(_partSize, Request.Size - _written), Request.Checksum, cancellationToken).ConfigureAwait(false);
            var piece = data[..Math.Min(data.Length, _part.Room)];
            _hasher?.Append(piece.Span);
            _part.Append(piece.Span);
            _written += piece.Length;
            data = data[piece.Length..];
            if (_part.Room == 0)
                await StorePartAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask WriteAsync(ReadOnlySequence<byte> data, long offset, CancellationToken cancellationToken)
    {
        foreach (var segment in data)
        {
            await WriteAsync(segment, offset, cancellationToken).ConfigureAwait(false);
            offset += segment.Length;
        }
    }

    /// <summary>Sends the full part to its object in the background, once the part before it is stored and recorded.</summary>
    private async ValueTask StorePartAsync(CancellationToken cancellationToken)
    {
        await RecordStoredPartAsync(cancellationToken).ConfigureAwait(false);
        var part = _part!;
        _part = null;
        _storing = (part, part.StoreAsync(_buckets, _abort.Token));
    }

    /// <summary>Waits for the part in flight and records it in the upload's state (compare-and-set: still the owner?).</summary>
    private async ValueTask RecordStoredPartAsync(CancellationToken cancellationToken)
    {
        if (_storing is not { } storing)
            return;
        byte[] hash;
        try
        {
            hash = await storing.Stored.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (storing.Stored.IsCompleted)
            {
                _storing = null;
                storing.Part.Dispose();
            }
        }
        var part = storing.Part;
        _parts.Add(part.Name);
        _partHashes.Add(Convert.ToHexStringLower(hash));
        var state = new NatsUploadState
        {
            Owner = _owner,
            Size = Request.Size,
            Checksum = Request.Checksum.Name,
            PartSize = _partSize,
            Parts = _parts,
            PartHashes = _partHashes,
            UpdatedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        var bytes = JsonSerializer.SerializeToUtf8Bytes(state, NatsJsonContext.Default.NatsUploadState);
        _stateRevision = await _buckets.TryUpdateRawAsync(_stateKey, bytes, _stateRevision, cancellationToken).ConfigureAwait(false)
            ?? throw await LostStateAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Why this upload's state changed under it: another connection resumed the upload (the state is then someone
    /// else's), or the state is gone: the sweep of unfinished uploads gave it up as older than the partial-upload TTL,
    /// or a connection that resumed it also finished it. Either way this connection stops; the words say which case it
    /// is, since a sweep is avoided with a longer TTL.
    /// </summary>
    private async Task<FerryException> LostStateAsync(CancellationToken cancellationToken)
    {
        var now = await _buckets.GetRawAsync(_stateKey, cancellationToken).ConfigureAwait(false);
        return now is null
            ? new FerryException(FerryErrorCode.AlreadyExists,
                $"The upload of '{Request.Path}' is no longer open: the sweep of unfinished uploads removed it (nothing was stored for longer than the partial-upload TTL), or another connection resumed and finished it; this one stops.")
            : new FerryException(FerryErrorCode.AlreadyExists, $"The upload of '{Request.Path}' was taken over by another connection; this one stops.");
    }

    public async ValueTask<byte[]> CommitAsync(byte[]? expectedHash, CancellationToken cancellationToken)
    {
        if (_written != Request.Size)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"Only {_written} of {Request.Size} bytes of '{Request.Path}' arrived; nothing was committed.");
        if (_part is not null)
            await StorePartAsync(cancellationToken).ConfigureAwait(false);
        await RecordStoredPartAsync(cancellationToken).ConfigureAwait(false);
        // A resumed upload did not see its first parts go by: its checksum is taken from what the store holds.
        var hash = _hasher?.GetHashAndReset() ?? await HashStoredAsync(cancellationToken).ConfigureAwait(false);
        if (expectedHash is not null && !hash.AsSpan().SequenceEqual(expectedHash))
        {
            await AbortAsync(keepForResume: false).ConfigureAwait(false);
            throw new FerryException(FerryErrorCode.ChecksumMismatch,
                $"The data received for '{Request.Path}' does not match the sender's {Request.Checksum.Name} checksum; nothing was committed.");
        }
        await _store.PublishAsync(Request, _parts, _partSize, hash, cancellationToken).ConfigureAwait(false);
        _ended = true;
        await _buckets.TryDeleteAsync(_stateKey, _stateRevision, CancellationToken.None).ConfigureAwait(false);
        if (_reservation is not null)
            await _reservation.ReleaseAsync().ConfigureAwait(false); // after the name points to it: the file now counts itself
        return hash;
    }

    private async ValueTask<byte[]> HashStoredAsync(CancellationToken cancellationToken)
    {
        await using var stored = new NatsStoredFile(_buckets, _parts, _partSize, Request.Size, DateTimeOffset.UtcNow);
        return await Request.Checksum.HashAsync(stored.ReadAsync, 0, Request.Size, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Ends without committing. Kept for resume: the stored parts and the state stay (a part cut short is dropped).
    /// Otherwise the state goes, and the parts are left to the sweep.
    /// </summary>
    public async ValueTask AbortAsync(bool keepForResume)
    {
        if (_ended)
            return;
        _ended = true;
        await _abort.CancelAsync().ConfigureAwait(false);
        _part?.Dispose();
        _part = null;
        if (_storing is { } storing)
        {
            _storing = null;
            // The part in flight is not recorded: a resume sends it again, and the sweep removes its object.
            await storing.Stored.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)
                .ConfigureAwait(false);
            storing.Part.Dispose();
        }
        if (!keepForResume)
            await _buckets.TryDeleteAsync(_stateKey, _stateRevision, CancellationToken.None).ConfigureAwait(false);
        if (_reservation is not null)
            await _reservation.ReleaseAsync().ConfigureAwait(false);
    }

    /// <summary>A connection that ends mid-upload keeps what it stored for a resume, as on the local store.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await AbortAsync(keepForResume: true).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException)
        {
            // The cluster is away: the state stays as last recorded, the lease and the sweep do the rest.
        }
        _hasher?.Dispose();
        _abort.Dispose();
    }
}
