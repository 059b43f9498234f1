using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Ferry.Protocol.Errors;

namespace Ferry.Load;

/// <summary>
/// The figures of one run, written as exactly one JSON line on stdout: <c>{"mode":…,"ok":…,["error":…,]…}</c>. Figures
/// gathered before a failure are kept, so a failed run still says how far it got.
/// </summary>
internal sealed class Report(string mode)
{
    private static int s_emitted;
    private readonly List<KeyValuePair<string, object?>> _fields = [];
    private readonly Lock _lock = new();

    public string Mode { get; } = mode;

    /// <summary>Adds or replaces a field; values are string, bool, int, long, double (non-finite → null), string lists or null.</summary>
    public void Set(string key, object? value)
    {
        lock (_lock)
        {
            var index = _fields.FindIndex(f => f.Key == key);
            if (index >= 0)
                _fields[index] = new(key, value);
            else
                _fields.Add(new(key, value));
        }
    }

    /// <summary>Writes the JSON line unless one was already written (the watchdog and the normal path may race).</summary>
    public bool Emit(bool ok, string? error)
    {
        string line;
        lock (_lock)
            line = ToJson(ok, error);
        if (Interlocked.Exchange(ref s_emitted, 1) != 0)
            return false;
        var stdout = Console.Out;
        stdout.WriteLine(line);
        stdout.Flush();
        return true;
    }

    private string ToJson(bool ok, string? error)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping: quotes and apostrophes stay readable; the line is still strict JSON (for jq, python -m json.tool).
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("mode", Mode);
            w.WriteBoolean("ok", ok);
            if (error is not null)
                w.WriteString("error", error);
            foreach (var (key, value) in _fields)
            {
                switch (value)
                {
                    case null: w.WriteNull(key); break;
                    case string s: w.WriteString(key, s); break;
                    case bool b: w.WriteBoolean(key, b); break;
                    case int i: w.WriteNumber(key, i); break;
                    case long l: w.WriteNumber(key, l); break;
                    case double d when double.IsFinite(d): w.WriteNumber(key, Math.Round(d, 3)); break;
                    case double: w.WriteNull(key); break;
                    case IEnumerable<string> list:
                        w.WriteStartArray(key);
                        foreach (var item in list)
                            w.WriteStringValue(item);
                        w.WriteEndArray();
                        break;
                    default: w.WriteString(key, value.ToString()); break;
                }
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>One line for an exception: type, Ferry error code, message, and the inner exceptions that say more.</summary>
    public static string Describe(Exception ex)
    {
        if (ex is AggregateException { InnerExceptions.Count: > 0 } aggregate)
            ex = aggregate.InnerExceptions[0];
        var text = new StringBuilder();
        for (var (e, depth) = (ex, 0); e is not null && depth < 4; e = e.InnerException, depth++)
        {
            if (depth > 0)
                text.Append(" <- ");
            text.Append(e.GetType().Name);
            switch (e)
            {
                case FerryRemoteException remote: text.Append('(').Append(remote.WireCode).Append(')'); break;
                case FerryException ferry: text.Append('(').Append(ferry.Code.ToWire()).Append(')'); break;
                case SocketException socket: text.Append('(').Append(socket.SocketErrorCode).Append(')'); break;
            }
            text.Append(": ").Append(e.Message);
            if (e.InnerException is { } inner && e.Message.Contains(inner.Message, StringComparison.Ordinal))
                break; // already told
        }
        return text.ToString();
    }
}

/// <summary>Order statistics of a sample of durations.</summary>
internal static class Stats
{
    /// <summary>Percentile by linear interpolation between the closest ranks (numpy's default, R type 7).</summary>
    public static double Percentile(double[] sorted, double p)
    {
        if (sorted.Length == 0)
            return double.NaN;
        var rank = p / 100.0 * (sorted.Length - 1);
        var low = (int)Math.Floor(rank);
        var high = (int)Math.Ceiling(rank);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return Percentile(sorted, 50);
    }

    /// <summary>Adds PREFIXmedian_ms, p90, p99, min, max and mean of <paramref name="ms"/> to the report.</summary>
    public static void AddMilliseconds(Report report, string prefix, IEnumerable<double> ms, bool tails = true)
    {
        var sorted = ms.Order().ToArray();
        report.Set(prefix + "median_ms", Percentile(sorted, 50));
        if (tails)
        {
            report.Set(prefix + "p90_ms", Percentile(sorted, 90));
            report.Set(prefix + "p99_ms", Percentile(sorted, 99));
        }
        report.Set(prefix + "min_ms", sorted.Length > 0 ? sorted[0] : double.NaN);
        report.Set(prefix + "max_ms", sorted.Length > 0 ? sorted[^1] : double.NaN);
        report.Set(prefix + "mean_ms", sorted.Length > 0 ? sorted.Average() : double.NaN);
    }
}
