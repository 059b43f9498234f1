using System.Text;
using System.Text.Json;
using Ferry.Protocol.Errors;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;
using NATS.Client.ObjectStore;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// The connection to the cluster and the two buckets every server of it shares: the namespace (key/value) and the file
/// contents (object store), created with the configured replicas on first use. Values are JSON bytes Ferry writes itself.
/// </summary>
internal sealed class NatsBuckets : IAsyncDisposable
{
    private static readonly NatsRawSerializer<byte[]> s_raw = NatsRawSerializer<byte[]>.Default;
    private static readonly TimeSpan s_watchSilence = TimeSpan.FromSeconds(10);

    private readonly NatsConnection _connection;

    private readonly string _chunkPrefix;
    private readonly string _recordPrefix;
    private readonly INatsJSStream _metaStream;
    private readonly string _metaKeyPrefix;

    private NatsBuckets(NatsConnection connection, INatsKVStore meta, INatsJSStream metaStream, INatsKVStore users, INatsObjStore data,
        INatsJSStream dataStream, NatsStoreOptions options)
    {
        _connection = connection;
        Meta = meta;
        _metaStream = metaStream;
        _metaKeyPrefix = $"$KV.{options.MetaBucket}.";
        Users = users;
        Data = data;
        DataStream = dataStream;
        _chunkPrefix = $"$O.{options.DataBucket}.C.";
        _recordPrefix = $"$O.{options.DataBucket}.M.";
    }

    public INatsKVStore Meta { get; }

    /// <summary>The users, one key per user (its name in base64url), the value a users-file entry.</summary>
    public INatsKVStore Users { get; }

    public INatsObjStore Data { get; }

    /// <summary>The stream under <see cref="Data"/>, for direct gets of its chunks (see <see cref="NatsPartReader"/>).</summary>
    public INatsJSStream DataStream { get; }

    /// <summary>The subject an object's chunks are stored under, from the object's chunk id.</summary>
    public string ChunkSubject(string nuid) => _chunkPrefix + nuid;

    /// <summary>
    /// The subject of an object's record: its name in base64url, padded as the object store's other clients write it
    /// (Go's <c>base64.URLEncoding</c>) when <paramref name="padded"/>, else without the padding some versions of NATS.Net
    /// leave out.
    /// </summary>
    public string RecordSubject(string name, bool padded)
    {
        var encoded = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(name)).Replace('+', '-').Replace('/', '_');
        return _recordPrefix + (padded ? encoded : encoded.TrimEnd('='));
    }

    /// <summary>
    /// Parts being put into <see cref="Data"/> at once over this connection. Without a bound, hundreds of uploads
    /// publish at once and their acknowledgements time out; with it, the rest wait their turn (and their clients with
    /// them, through TCP) while each put gets the cluster's full attention.
    /// </summary>
    public SemaphoreSlim PartPuts { get; } = new(MaxPartPuts);

    private const int MaxPartPuts = 8;

    /// <summary>Bytes all uploads of this server may hold in parts not yet stored (see <see cref="NatsPartMemory"/>).</summary>
    public NatsPartMemory PartMemory { get; } = new(256L * 1024 * 1024);

    /// <summary>The version the server we are connected to reports (e.g. "2.9.10").</summary>
    public string ServerVersion => _connection.ServerInfo?.Version ?? "";

    /// <summary>Connects and opens (or creates) the buckets; an unreachable cluster is io_error naming it.</summary>
    public static async Task<NatsBuckets> OpenAsync(NatsStoreOptions options, CancellationToken cancellationToken)
    {
        var connection = new NatsConnection(options.ToNatsOpts("ferry-server"));
        try
        {
            await connection.ConnectAsync().ConfigureAwait(false);
            var js = new NatsJSContext(connection);
            // A cluster that has just started answers nothing until it has elected its leaders: wait for that here, so
            // that servers and their cluster can be started together.
            var meta = await NatsRetry.RunAsync(c => new NatsKVContext(js).CreateOrUpdateStoreAsync(new NatsKVConfig(options.MetaBucket)
            {
                NumberOfReplicas = options.Replicas,
                History = 1,
                Storage = NatsKVStorageType.File,
            }, c), "opening the names bucket", cancellationToken).ConfigureAwait(false);
            var users = await NatsRetry.RunAsync(c => new NatsKVContext(js).CreateOrUpdateStoreAsync(new NatsKVConfig(options.UsersBucket)
            {
                NumberOfReplicas = options.Replicas,
                History = 1,
                Storage = NatsKVStorageType.File,
            }, c), "opening the users bucket", cancellationToken).ConfigureAwait(false);
            var data = await NatsRetry.RunAsync(c => new NatsObjContext(js).CreateObjectStoreAsync(new NatsObjConfig(options.DataBucket)
            {
                NumberOfReplicas = options.Replicas,
                Storage = NatsObjStorageType.File,
            }, c), "opening the data bucket", cancellationToken).ConfigureAwait(false);
            var dataStream = await NatsRetry.RunAsync(c => js.GetStreamAsync("OBJ_" + options.DataBucket, cancellationToken: c), "opening the data bucket",
                cancellationToken).ConfigureAwait(false);
            var metaStream = await NatsRetry.RunAsync(c => js.GetStreamAsync("KV_" + options.MetaBucket, cancellationToken: c), "opening the names bucket",
                cancellationToken).ConfigureAwait(false);
            return new NatsBuckets(connection, meta, metaStream, users, data, dataStream, options);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException or FerryException or IOException or System.Security.Authentication.AuthenticationException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new FerryException(FerryErrorCode.IoError, $"The NATS store {options.Url} cannot be used: {Reasons(ex)}{Hint(ex, options)}", ex);
        }
    }

    /// <summary>
    /// The message and those of its causes, once each: NATS.Net says "can not connect uris" and keeps the reason (an
    /// authorization violation, a certificate that does not verify) in the inner exceptions.
    /// </summary>
    private static string Reasons(Exception ex)
    {
        var messages = new List<string>();
        for (Exception? e = ex; e is not null && messages.Count < 4; e = e.InnerException)
        {
            if (!messages.Any(m => m.Contains(e.Message, StringComparison.Ordinal)))
                messages.Add(e.Message.TrimEnd('.'));
        }
        return string.Join(": ", messages) + ".";
    }

    /// <summary>Which settings to look at when the cluster refused the credentials or the certificate.</summary>
    private static string Hint(Exception ex, NatsStoreOptions options)
    {
        var text = Reasons(ex);
        if (text.Contains("Authorization Violation", StringComparison.OrdinalIgnoreCase) || text.Contains("Authentication Expired", StringComparison.OrdinalIgnoreCase))
            return options.Access is { User: not null } or { CredsFile: not null }
                ? " Check nats_user and nats_password_file, or nats_creds_file."
                : " The cluster requires credentials: set nats_user and nats_password_file, or nats_creds_file.";
        if (text.Contains("TLS", StringComparison.Ordinal) || text.Contains("certificate", StringComparison.OrdinalIgnoreCase))
            return options.Access?.TlsCa is not null
                ? " Check that nats_tls_ca is the CA that signed the NATS servers' certificates."
                : " Set nats_tls_ca to the CA that signed the NATS servers' certificates.";
        return "";
    }

    /// <summary>The JetStream context of the connection, for the audit stream.</summary>
    public NatsJSContext JetStream => new(_connection);

    /// <summary>The entry under <paramref name="key"/> with its revision, or null when there is none (or it was deleted).</summary>
    public async ValueTask<(NatsEntry Entry, ulong Revision)?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var found = await GetRawAsync(key, cancellationToken).ConfigureAwait(false);
        return found is { } raw ? (Decode(raw.Value), raw.Revision) : null;
    }

    /// <summary>Creates <paramref name="key"/> only if nothing is there (a create-only write: safe on every server version); false when something was.</summary>
    public async ValueTask<bool> TryCreateAsync(string key, NatsEntry entry, CancellationToken cancellationToken) =>
        await TryCreateRawAsync(key, Encode(entry), cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>Replaces <paramref name="key"/> if it is still at <paramref name="revision"/>; false when it changed meanwhile.</summary>
    public async ValueTask<bool> TryUpdateAsync(string key, NatsEntry entry, ulong revision, CancellationToken cancellationToken) =>
        await TryUpdateRawAsync(key, Encode(entry), revision, cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>Deletes <paramref name="key"/> if it is still at <paramref name="revision"/>; false when it changed meanwhile.</summary>
    public async ValueTask<bool> TryDeleteAsync(string key, ulong revision, CancellationToken cancellationToken)
    {
        var result = await NatsRetry.RunAsync(async c => Checked(await Meta.TryDeleteAsync(key, new NatsKVDeleteOpts { Revision = revision }, c).ConfigureAwait(false)),
            "removing a name", cancellationToken).ConfigureAwait(false);
        return result.Success;
    }

    /// <summary>The value under <paramref name="key"/> as stored, with its revision; null when there is none.</summary>
    public async ValueTask<(byte[] Value, ulong Revision)?> GetRawAsync(string key, CancellationToken cancellationToken)
    {
        return await NatsRetry.RunAsync(c => ReadNewestAsync(key, c), "reading a name", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates <paramref name="key"/> only if nothing is there; the new revision, or null when something was.</summary>
    public async ValueTask<ulong?> TryCreateRawAsync(string key, byte[] value, CancellationToken cancellationToken)
    {
        var result = await NatsRetry.RunAsync(async c => Checked(await Meta.TryCreateAsync(key, value, s_raw, c).ConfigureAwait(false)),
            "recording a name", cancellationToken).ConfigureAwait(false);
        return result.Success ? result.Value : null;
    }

    /// <summary>Replaces <paramref name="key"/> if still at <paramref name="revision"/>; the new revision, or null when it changed.</summary>
    public async ValueTask<ulong?> TryUpdateRawAsync(string key, byte[] value, ulong revision, CancellationToken cancellationToken)
    {
        var result = await NatsRetry.RunAsync(async c => Checked(await Meta.TryUpdateAsync(key, value, revision, s_raw, c).ConfigureAwait(false)),
            "changing a name", cancellationToken).ConfigureAwait(false);
        return result.Success ? result.Value : null;
    }

    /// <summary>Every live entry whose key matches <paramref name="filter"/>, with its key; read once, not watched.</summary>
    public async Task<List<(string Key, NatsEntry Entry)>> ListAsync(string filter, CancellationToken cancellationToken) =>
        (await ListRawAsync(filter, cancellationToken).ConfigureAwait(false)).Select(f => (f.Key, Decode(f.Value))).ToList();

    /// <summary>
    /// Every live value of the namespace under <paramref name="filter"/>, read in one pass of a watch (a consumer that
    /// pushes them all): for the sweep, which reads every key of the cluster and may fail while a node is away (it then
    /// runs again at its next period). Listings of a folder use <see cref="ListRawAsync"/>, which needs no consumer.
    /// </summary>
    public Task<List<(string Key, byte[] Value, ulong Revision)>> ReadBulkRawAsync(string filter, CancellationToken cancellationToken) =>
        ReadAllAsync(Meta, filter, cancellationToken);

    /// <summary>Every live value of the namespace whose key matches <paramref name="filter"/>, as stored, with key and revision.</summary>
    public async Task<List<(string Key, byte[] Value, ulong Revision)>> ListRawAsync(string filter, CancellationToken cancellationToken) =>
        await NatsRetry.RunAsync(c => new ValueTask<List<(string, byte[], ulong)>>(ScanNewestAsync(filter, c)), "listing names", cancellationToken)
            .ConfigureAwait(false);

    /// <summary>
    /// Every live value of the namespace under <paramref name="filter"/> as the stream's leader has it, read one message
    /// after the other ("the next message on a matching subject after sequence N"). Not a watch: a watch is a consumer,
    /// which nats-server 2.9.10 could not place for minutes while a node was away, so listings (and everything built
    /// on them) failed then; the leader answers as long as the stream has one. Reading from the leader also means a
    /// listing sees every write any server had acknowledged before it started. A key changed while the pass runs shows
    /// up again further on (history 1: its older message is gone), and its newest message wins.
    /// </summary>
    private async Task<List<(string Key, byte[] Value, ulong Revision)>> ScanNewestAsync(string filter, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, (byte[] Value, ulong Revision)>(StringComparer.Ordinal);
        await ReadBySubjectAsync(_metaStream, _metaKeyPrefix, filter, ulong.MaxValue, "a listing", message =>
        {
            var key = message.Subject[_metaKeyPrefix.Length..];
            var value = message.Data.ToArray();
            if (IsMarker(message.Hdrs) || value.Length == 0)
                found.Remove(key);
            else
                found[key] = (value, message.Seq);
        }, cancellationToken).ConfigureAwait(false);
        return found.Select(f => (f.Key, f.Value.Value, f.Value.Revision)).ToList();
    }

    /// <summary>
    /// Hands every message of <paramref name="stream"/> on <paramref name="prefix"/> + <paramref name="filter"/> to
    /// <paramref name="onMessage"/>, in sequence order up to <paramref name="last"/>, each asked of the stream's leader as
    /// "the next message on a matching subject after sequence N". A message out of order or on another subject means
    /// the leader changed in between: the pass is given up as a timeout, which the retry around it starts over.
    /// </summary>
    private static async Task ReadBySubjectAsync(INatsJSStream stream, string prefix, string filter, ulong last, string what,
        Action<StoredMessage> onMessage, CancellationToken cancellationToken)
    {
        var subjects = prefix + filter;
        ulong after = 0;
        while (after < last)
        {
            StreamMsgGetResponse response;
            try
            {
                response = await stream.GetAsync(new StreamMsgGetRequest { Seq = after + 1, NextBySubj = subjects }, cancellationToken).ConfigureAwait(false);
            }
            catch (NatsJSApiException e) when (e.Error.Code == 404)
            {
                return; // nothing more after that sequence
            }
            var message = response.Message;
            if (message.Seq <= after || !message.Subject.StartsWith(prefix, StringComparison.Ordinal))
                throw new TimeoutException($"The cluster answered {what} out of order.");
            after = message.Seq;
            if (after > last)
                return;
            onMessage(message);
        }
    }

    /// <summary>Whether a stored message's headers (base64, as the stream API sends them) make it a delete or purge marker.</summary>
    private static bool IsMarker(string? headers) =>
        headers is { Length: > 0 } && Encoding.ASCII.GetString(Convert.FromBase64String(headers)).Contains("KV-Operation", StringComparison.Ordinal);

    /// <summary>Every live value of <paramref name="bucket"/> whose key matches <paramref name="filter"/>, read once (not watched).</summary>
    public static async Task<List<(string Key, byte[] Value, ulong Revision)>> ReadAllAsync(INatsKVStore bucket, string filter, CancellationToken cancellationToken) =>
        await NatsRetry.RunAsync(c => new ValueTask<List<(string, byte[], ulong)>>(ReadAllOnceAsync(bucket, filter, c)), "listing names", cancellationToken)
            .ConfigureAwait(false);

    /// <summary>
    /// One pass of a watch. The client library sets its consumer up again for as long as the cluster refuses it (without
    /// quorum: forever), so a pass that receives nothing for <see cref="s_watchSilence"/> is given up as a timeout, which
    /// the retry around it counts against its patience.
    /// </summary>
    private static async Task<List<(string Key, byte[] Value, ulong Revision)>> ReadAllOnceAsync(INatsKVStore bucket, string filter, CancellationToken cancellationToken)
    {
        var found = new List<(string, byte[], ulong)>();
        var opts = new NatsKVWatchOpts { IgnoreDeletes = true, OnNoData = _ => ValueTask.FromResult(true) };
        using var silence = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        silence.CancelAfter(s_watchSilence);
        try
        {
            await foreach (var entry in bucket.WatchAsync(filter, s_raw, opts, silence.Token).ConfigureAwait(false))
            {
                silence.CancelAfter(s_watchSilence);
                if (entry.Operation == NatsKVOperation.Put && entry.Value is { Length: > 0 } bytes)
                    found.Add((entry.Key, bytes, entry.Revision));
                if (entry.Delta == 0)
                    break;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The cluster sent nothing for {s_watchSilence.TotalSeconds:0} s while listing.");
        }
        return found;
    }

    /// <summary>
    /// Every object of <see cref="Data"/> that is not deleted, read from the data stream's leader one record after the
    /// other ("the next message on <c>$O.{bucket}.M.&gt;</c> after sequence N"), up to the stream's last sequence when
    /// the pass began.
    /// </summary>
    /// <remarks>
    /// Not the object store's own listing: that is an ordered push consumer which, once it has handed over the last
    /// record, is disposed only after its internal loop has passed on every message the consumer delivered meanwhile,
    /// one at a time into a queue of one that nobody reads any more (NATS.Net 3.3). Two records stored while a listing
    /// runs (the sweep's own deletes each store one; so does every part another server puts) left the listing hung until
    /// its cancellation token fired, and then ended without an error. A record stored after the pass began is younger
    /// than any cutoff in the past and is left to the next sweep; the bound also ends a pass that writes keep extending.
    /// Like <see cref="ListRawAsync"/>, this needs no consumer, so it works while a node is away.
    /// </remarks>
    public async Task<List<NatsStoredObject>> ListObjectsAsync(CancellationToken cancellationToken) =>
        await NatsRetry.RunAsync(c => new ValueTask<List<NatsStoredObject>>(ScanObjectsAsync(c)), "listing the stored parts", cancellationToken)
            .ConfigureAwait(false);

    private async Task<List<NatsStoredObject>> ScanObjectsAsync(CancellationToken cancellationToken)
    {
        await DataStream.RefreshAsync(cancellationToken).ConfigureAwait(false); // stream info comes from the leader
        var found = new Dictionary<string, NatsStoredObject>(StringComparer.Ordinal);
        await ReadBySubjectAsync(DataStream, _recordPrefix, ">", DataStream.Info.State.LastSeq, "a listing of the stored parts", message =>
        {
            var record = JsonSerializer.Deserialize(message.Data.Span, NatsJsonContext.Default.NatsObjectRecord);
            if (record is { Deleted: false, Name: { } name })
                found[name] = new NatsStoredObject(name, record.Nuid, message.Time);
            else if (record?.Name is { } gone)
                found.Remove(gone);
        }, cancellationToken).ConfigureAwait(false);
        return [.. found.Values];
    }

    /// <summary>
    /// Purges the chunks of objects that never got their metadata record (a server killed in the middle of a part's put:
    /// the object store writes the record last), once their newest chunk is older than <paramref name="cutoff"/>; a
    /// younger one may be a put under way. Returns how many such objects were purged.
    /// </summary>
    public async Task<int> SweepOrphanChunksAsync(string dataBucket, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var live = new HashSet<string>(StringComparer.Ordinal);
        foreach (var stored in await ListObjectsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (stored.Nuid is { } nuid)
                live.Add(nuid);
        }
        var chunkPrefix = $"$O.{dataBucket}.C.";
        var js = new NatsJSContext(_connection);
        var stream = await js.GetStreamAsync("OBJ_" + dataBucket, new StreamInfoRequest { SubjectsFilter = chunkPrefix + ">" }, cancellationToken)
            .ConfigureAwait(false);
        var purged = 0;
        foreach (var subject in stream.Info.State.Subjects?.Keys ?? (ICollection<string>)[])
        {
            if (live.Contains(subject[chunkPrefix.Length..]))
                continue;
            var newest = await stream.GetAsync(new StreamMsgGetRequest { LastBySubj = subject }, cancellationToken).ConfigureAwait(false);
            if (newest.Message.Time > cutoff)
                continue;
            await stream.PurgeAsync(new StreamPurgeRequest { Filter = subject }, cancellationToken).ConfigureAwait(false);
            purged++;
        }
        return purged;
    }

    /// <summary>
    /// The newest value of <paramref name="key"/> as the stream's leader has it, or null when there is none or it was
    /// deleted. Not the key/value store's own get: that is a direct get, which any replica answers, and a replica may not
    /// yet have applied a write another server already had acknowledged, so a client that stored a file through one
    /// server could read the old one through another. The leader has applied every acknowledged write.
    /// </summary>
    private async ValueTask<(byte[] Value, ulong Revision)?> ReadNewestAsync(string key, CancellationToken cancellationToken)
    {
        StreamMsgGetResponse response;
        try
        {
            response = await _metaStream.GetAsync(new StreamMsgGetRequest { LastBySubj = _metaKeyPrefix + key }, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            return null;
        }
        var message = response.Message;
        if (IsMarker(message.Hdrs))
            return null; // a delete or purge marker
        var value = message.Data.ToArray();
        return value.Length > 0 ? (value, message.Seq) : null;
    }

    private static NatsResult<T> Checked<T>(NatsResult<T> result)
    {
        if (!result.Success)
            ThrowUnlessConflict(result.Error);
        return result;
    }

    private static NatsResult Checked(NatsResult result)
    {
        if (!result.Success)
            ThrowUnlessConflict(result.Error);
        return result;
    }

    /// <summary>
    /// A write that was not applied because the key had changed is the one refusal callers handle (another client's
    /// write won). Anything else is raised, so that a failure is never mistaken for that: a create the cluster did not
    /// apply although the key is absent (no quorum; the client library then reports "not found") is raised as a timeout,
    /// which the retry waits out.
    /// </summary>
    private static void ThrowUnlessConflict(Exception error)
    {
        switch (error)
        {
            case NatsKVWrongLastRevisionException or NatsKVCreateException:
                return;
            case NatsKVKeyNotFoundException or NatsKVKeyDeletedException:
                throw new TimeoutException("The cluster did not apply the write (" + error.Message + ").", error);
            default:
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
                break;
        }
    }

    private static byte[] Encode(NatsEntry entry) => JsonSerializer.SerializeToUtf8Bytes(entry, NatsJsonContext.Default.NatsEntry);

    private static NatsEntry Decode(byte[] bytes) =>
        JsonSerializer.Deserialize(bytes, NatsJsonContext.Default.NatsEntry)
        ?? throw new FerryException(FerryErrorCode.IoError, "The NATS store holds an empty entry.");

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
