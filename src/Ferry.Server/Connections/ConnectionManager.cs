using System.Collections.Concurrent;

namespace Ferry.Server.Connections;

/// <summary>Tracks live connections so that shutdown can wait for them and then abort the rest.</summary>
public sealed class ConnectionManager
{
    private readonly ConcurrentDictionary<string, (FerryConnection Connection, Task Work)> _live = new();

    /// <summary>Connections now open.</summary>
    public int Count => _live.Count;

    internal void Add(FerryConnection connection) => _live[connection.Id] = (connection, Task.CompletedTask);

    /// <summary>Records the connection's task, unless the connection already finished and left.</summary>
    internal void SetWork(FerryConnection connection, Task work)
    {
        if (_live.TryGetValue(connection.Id, out var entry))
            _live.TryUpdate(connection.Id, (connection, work), entry);
    }

    internal void Remove(FerryConnection connection) => _live.TryRemove(connection.Id, out _);

    internal Task[] Work => _live.Values.Select(v => v.Work).ToArray();

    internal int AbortAll(string reason)
    {
        var n = 0;
        foreach (var (connection, _) in _live.Values)
        {
            connection.Abort(reason);
            n++;
        }
        return n;
    }
}
