using System.Globalization;

namespace Ferry.NatsBaseline;

/// <summary>The command line of one run; every value is checked before anything connects.</summary>
internal sealed record BaselineOptions(string Mode, string Url, string Bucket, int Replicas, string File, string Name, int TimeoutSeconds)
{
    public static BaselineOptions Parse(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("put" or "get" or "delete" or "purge"))
            throw new UsageException("usage: ferry-nats-baseline put|get|delete|purge --url nats://127.0.0.1:P[,...] --bucket NAME --replicas N --file PATH [--name OBJECT] [--timeout SECONDS]");
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i < args.Length; i += 2)
        {
            if (args[i] is not ("--url" or "--bucket" or "--replicas" or "--file" or "--name" or "--timeout") || i + 1 >= args.Length)
                throw new UsageException($"unknown option or missing value: '{args[i]}'");
            values[args[i]] = args[i + 1];
        }
        string Required(string key) => values.TryGetValue(key, out var v) ? v : throw new UsageException($"{key} is required");
        int Number(string key, int fallback, int min, int max) =>
            !values.TryGetValue(key, out var v) ? fallback
            : int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max ? n
            : throw new UsageException($"{key} must be a whole number from {min} to {max}, not '{v}'");

        var url = Required("--url");
        // A benchmark on loopback only: it never sends a file to another machine by mistake.
        foreach (var server in url.Split(','))
        {
            var host = server.Replace("nats://", "", StringComparison.Ordinal).Split(':')[0];
            if (host is not ("127.0.0.1" or "localhost"))
                throw new UsageException($"only loopback NATS servers are accepted, not '{server}'");
        }
        var file = args[0] is "put" or "get" ? Required("--file") : "";
        return new BaselineOptions(args[0], url, Required("--bucket"), Number("--replicas", 3, 1, 5), file,
            values.GetValueOrDefault("--name", "baseline.bin"), Number("--timeout", 600, 1, 86_400));
    }
}
