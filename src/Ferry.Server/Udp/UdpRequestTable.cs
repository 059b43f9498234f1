using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Ferry.Protocol.Errors;
using Ferry.Server.Hosting;

namespace Ferry.Server.Udp;

/// <summary>
/// The UDP requests a server remembers: each (user, request id) is run at most once, its result is kept for
/// retransmission within a byte budget per user and across users, and old entries are swept.
/// </summary>
internal sealed class UdpRequestTable(FerryServerOptions options, TimeProvider time)
{
    private readonly ConcurrentDictionary<(string User, ulong Id), UdpRequest> _requests = new();
    private readonly Lock _budget = new();
    private readonly Dictionary<string, long> _keptPerUser = new(StringComparer.Ordinal);
    private long _kept;

    // Under _budget: each user's remembered requests, oldest first (for the caps and eviction), and each user's replay
    // floor: the newest client timestamp of a request of that user that was evicted or refused. A new id whose datagram
    // is not newer than the floor could be a replay of one of those, so it does not run (see TryAdd).
    private readonly Dictionary<string, LinkedList<UdpRequest>> _perUser = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _replayFloor = new(StringComparer.Ordinal);

    /// <summary>Requests remembered now (running, kept, delivered or failed).</summary>
    public int Count => _requests.Count;

    /// <summary>Requests of <paramref name="user"/> remembered now.</summary>
    public int CountOf(string user)
    {
        lock (_budget)
            return _perUser.TryGetValue(user, out var list) ? list.Count : 0;
    }

    /// <summary>Result bytes kept now, across users.</summary>
    public long KeptBytes
    {
        get
        {
            lock (_budget)
                return _kept;
        }
    }

    /// <summary>
    /// How long an id is remembered: at least twice the replay window, so that a replay is always caught either here or
    /// by the timestamp check; and at least the result retention.
    /// </summary>
    public TimeSpan Keep => options.UdpResultRetention > 2 * options.UdpReplayWindow ? options.UdpResultRetention : 2 * options.UdpReplayWindow;

    public bool TryGet(string user, ulong id, [NotNullWhen(true)] out UdpRequest? request) => _requests.TryGetValue((user, id), out request);

    /// <summary>
    /// Registers a new request of <paramref name="user"/> whose first taken datagram has <paramref name="timestampMs"/>,
    /// within the caps on remembered requests (<see cref="FerryServerOptions.MaxUdpRequestsPerUser"/> and
    /// <see cref="FerryServerOptions.MaxUdpRequests"/>). At a cap, the user's own oldest finished (delivered or failed)
    /// requests are forgotten to make room; a running or ready request is never evicted, nor another user's. When that
    /// is not enough the request is refused (<see cref="UdpAdmission.Full"/>, with <paramref name="refusal"/> saying why).
    /// </summary>
    /// <remarks>
    /// At most once survives eviction: the evicted request's newest client timestamp becomes the user's replay floor, and
    /// a new id whose datagram is not newer than the floor is not run (<see cref="UdpAdmission.Replayed"/>). A replay of
    /// any datagram of the evicted request carries such a timestamp (its datagrams' timestamps only rise), so it can
    /// never start the command again. A refused request raises the floor too, so a replay of it does not run later
    /// either: refused means not run. A real client retransmits with a newer timestamp, so it is only delayed. Floors older
    /// than the replay window are dropped by <see cref="Sweep"/>: such datagrams are stale anyway.
    /// </remarks>
    public UdpAdmission TryAdd(string user, ulong id, long timestampMs, out UdpRequest? request, out string? refusal)
    {
        var perUser = options.MaxUdpRequestsPerUser;
        var global = options.MaxUdpRequests;
        refusal = null;
        lock (_budget)
        {
            if (_requests.TryGetValue((user, id), out request))
                return UdpAdmission.Known;
            if (_replayFloor.TryGetValue(user, out var floor) && timestampMs <= floor)
                return UdpAdmission.Replayed;
            _perUser.TryGetValue(user, out var mine);
            while (mine is not null && (mine.Count >= perUser || _requests.Count >= global) && OldestFinished(mine) is { } oldest)
                Evict(oldest);
            var userCount = mine?.Count ?? 0;
            if (userCount >= perUser || _requests.Count >= global)
            {
                RaiseFloor(user, timestampMs);
                refusal = userCount >= perUser
                    ? $"User '{user}' already has {userCount} UDP requests running or waiting to be fetched (at most {perUser} are kept per user); " +
                      "wait for some to finish, or run it over TCP (without --udp)."
                    : $"The server already remembers {_requests.Count} UDP requests of all users (at most {global}); try again shortly, or over TCP (without --udp).";
                return UdpAdmission.Full;
            }
            var created = new UdpRequest(user, id, time.GetTimestamp());
            created.TryAdvance(timestampMs);
            _requests[(user, id)] = created;
            // Looked up again: evicting the last entry of a list takes the list out of _perUser.
            if (!_perUser.TryGetValue(user, out mine))
                _perUser[user] = mine = new LinkedList<UdpRequest>();
            created.Entry = mine.AddLast(created);
            request = created;
            return UdpAdmission.Added;
        }
    }

    /// <summary>Forgets a request that was not run, so that the client may retry the same id.</summary>
    public void Forget(UdpRequest request)
    {
        lock (_budget)
        {
            if (_requests.TryRemove(new KeyValuePair<(string, ulong), UdpRequest>((request.User, request.Id), request)))
                Untrack(request);
        }
    }

    /// <summary>Marks a request failed; its error is repeated to retransmissions until it is swept.</summary>
    public void Fail(UdpRequest request, FerryErrorCode code, string message)
    {
        lock (_budget)
        lock (request.Gate)
        {
            Release(request);
            request.SetFailed(code, message);
        }
    }

    /// <summary>The client has everything: drop the bytes, keep the id.</summary>
    public void Delivered(UdpRequest request)
    {
        lock (_budget)
        lock (request.Gate)
        {
            if (request.Status != UdpRequestStatus.Ready)
                return;
            Release(request);
            request.SetDelivered();
        }
    }

    /// <summary>
    /// Keeps a finished command's result within the budgets: the user's own oldest results make room for a newer one
    /// (the user chose to run it), but no user's result ever evicts another user's; a result that does not fit is refused
    /// with <see cref="FerryErrorCode.ResultBudgetExceeded"/>. Returns false when refused.
    /// </summary>
    public bool TryKeep(UdpRequest request, byte[][] chunks, long bytes)
    {
        var perUser = options.MaxUdpResultBytesPerUser;
        var global = options.MaxUdpResultBytes;
        lock (_budget)
        {
            if (bytes > perUser || bytes > global)
            {
                Refuse(request, $"The command ran, but its result ({bytes} bytes) is larger than the {Math.Min(perUser, global)} bytes this server keeps for " +
                    "UDP results; run it over TCP (without --udp), or make its output smaller.");
                return false;
            }
            var userKept = _keptPerUser.GetValueOrDefault(request.User);
            while (userKept + bytes > perUser && OldestReadyOf(request.User) is { } oldest)
            {
                lock (oldest.Gate)
                {
                    Release(oldest);
                    oldest.SetFailed(FerryErrorCode.ResultBudgetExceeded,
                        $"The command ran, but its result was dropped to make room for a newer result of user '{request.User}' " +
                        $"(at most {perUser} bytes of UDP results are kept per user); run it again, or over TCP.");
                }
                userKept = _keptPerUser.GetValueOrDefault(request.User);
            }
            if (_kept + bytes > global)
            {
                Refuse(request, $"The command ran, but the server has no room to keep its result ({bytes} bytes): all users' UDP results together " +
                    $"may take {global} bytes. Try again later, or over TCP.");
                return false;
            }
            lock (request.Gate)
            {
                request.SetReady(chunks, bytes);
                _keptPerUser[request.User] = userKept + bytes;
                _kept += bytes;
            }
            return true;
        }

        void Refuse(UdpRequest refused, string message)
        {
            lock (refused.Gate)
            {
                Release(refused);
                refused.SetFailed(FerryErrorCode.ResultBudgetExceeded, message);
            }
        }
    }

    /// <summary>Removes what is older than <see cref="Keep"/>; returns how many entries went.</summary>
    public int Sweep()
    {
        var keep = Keep;
        // A request still running after its longest possible run has lost its runner (it cannot finish any more).
        var lostAfter = keep + options.ExecTimeout + TimeSpan.FromMinutes(1);
        var removed = 0;
        foreach (var (key, request) in _requests)
        {
            var age = time.GetElapsedTime(request.Created);
            var status = request.Snapshot().Status;
            if (status == UdpRequestStatus.Running ? age <= lostAfter : age <= keep)
                continue;
            lock (_budget)
            {
                if (!_requests.TryRemove(new KeyValuePair<(string, ulong), UdpRequest>(key, request)))
                    continue;
                Untrack(request);
                lock (request.Gate)
                    Release(request);
            }
            removed++;
        }
        // A floor at or before the oldest fresh timestamp stops nothing the freshness check does not already stop.
        var oldestFresh = time.GetUtcNow().ToUnixTimeMilliseconds() - (long)Math.Min(options.UdpReplayWindow.TotalMilliseconds, TimeSpan.FromDays(365).TotalMilliseconds);
        lock (_budget)
        {
            foreach (var (user, floor) in _replayFloor)
            {
                if (floor < oldestFresh)
                    _replayFloor.Remove(user);
            }
        }
        return removed;
    }

    /// <summary>Returns a request's kept bytes to the budgets. Called under the budget lock and the request's.</summary>
    private void Release(UdpRequest request)
    {
        if (request.KeptBytes == 0)
            return;
        _kept -= request.KeptBytes;
        var left = _keptPerUser.GetValueOrDefault(request.User) - request.KeptBytes;
        if (left <= 0)
            _keptPerUser.Remove(request.User);
        else
            _keptPerUser[request.User] = left;
        request.SetDelivered();
    }

    /// <summary>
    /// Forgets a finished request to make room, raising its user's replay floor first. Called under the budget lock.
    /// A delivered request's newest taken timestamp is its done, which the client sends after every exec of it, so it
    /// covers them all. A failed request's client stopped when the error reached it, and an exec it sent just before
    /// may never have reached this server (lost, or held back by someone on the path to replay later): the floor then
    /// also takes this server's clock, as every such datagram was stamped before now by a clock that is not ahead.
    /// </summary>
    private void Evict(UdpRequest request)
    {
        var floor = request.LastClientTimestamp;
        if (request.Status == UdpRequestStatus.Failed)
            floor = Math.Max(floor, time.GetUtcNow().ToUnixTimeMilliseconds());
        RaiseFloor(request.User, floor);
        _requests.TryRemove(new KeyValuePair<(string, ulong), UdpRequest>((request.User, request.Id), request));
        Untrack(request);
    }

    /// <summary>Called under the budget lock.</summary>
    private void RaiseFloor(string user, long timestampMs)
    {
        if (!_replayFloor.TryGetValue(user, out var floor) || timestampMs > floor)
            _replayFloor[user] = timestampMs;
    }

    /// <summary>Takes a request out of its user's list once it left the table. Called under the budget lock.</summary>
    private void Untrack(UdpRequest request)
    {
        if (request.Entry is not { } entry)
            return;
        var list = entry.List!;
        list.Remove(entry);
        request.Entry = null;
        if (list.Count == 0)
            _perUser.Remove(request.User);
    }

    /// <summary>
    /// The user's oldest delivered or failed request. Status changes only under the budget lock, which the caller holds;
    /// the walk passes at most the user's running and ready requests, so it is bounded by the per-user cap.
    /// </summary>
    private static UdpRequest? OldestFinished(LinkedList<UdpRequest> requests)
    {
        for (var node = requests.First; node is not null; node = node.Next)
        {
            if (node.Value.Status is UdpRequestStatus.Delivered or UdpRequestStatus.Failed)
                return node.Value;
        }
        return null;
    }

    private UdpRequest? OldestReadyOf(string user)
    {
        UdpRequest? oldest = null;
        foreach (var request in _requests.Values)
        {
            if (request.User == user && request.Status == UdpRequestStatus.Ready && (oldest is null || request.Created < oldest.Created))
                oldest = request;
        }
        return oldest;
    }
}
