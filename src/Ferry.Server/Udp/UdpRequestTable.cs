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

    /// <summary>Requests remembered now (running, kept, delivered or failed).</summary>
    public int Count => _requests.Count;

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

    /// <summary>Registers a new request; false (with the existing one) when the id is already known.</summary>
    public bool TryAdd(string user, ulong id, out UdpRequest request)
    {
        var created = new UdpRequest(user, id, time.GetTimestamp());
        request = _requests.GetOrAdd((user, id), created);
        return ReferenceEquals(request, created);
    }

    /// <summary>Forgets a request that was not run, so that the client may retry the same id.</summary>
    public void Forget(UdpRequest request) => _requests.TryRemove(new KeyValuePair<(string, ulong), UdpRequest>((request.User, request.Id), request));

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
            if (!_requests.TryRemove(new KeyValuePair<(string, ulong), UdpRequest>(key, request)))
                continue;
            lock (_budget)
            lock (request.Gate)
                Release(request);
            removed++;
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
