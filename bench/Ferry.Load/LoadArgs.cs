using System.Globalization;

namespace Ferry.Load;

/// <summary>A command-line mistake: reported with exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// The command line: <c>MODE --option value --switch ...</c> (also <c>--option=value</c>). Every option is checked
/// against the mode's list, so a typo fails instead of silently measuring with a default.
/// </summary>
internal sealed class LoadArgs
{
    public const string ExecRtt = "exec-rtt", ExecFresh = "exec-fresh", TermEcho = "term-echo", ConcurrentPut = "concurrent-put", Idle = "idle";

    private static readonly string[] CommonValues = ["--server", "--timeout", "--connect-timeout"];
    private static readonly string[] CommonSwitches = ["--plain"];

    private static readonly Dictionary<string, (string[] Values, string[] Switches)> Modes = new()
    {
        [ExecRtt] = (["--runs", "--warmup"], []),
        [ExecFresh] = (["--runs", "--warmup"], []),
        [TermEcho] = (["--count", "--warmup"], []),
        [ConcurrentPut] = (["--clients", "--size", "--concurrency-limit", "--barrier", "--baseline", "--server-pid", "--put-files"], ["--keep"]),
        [Idle] = (["--server-pid", "--connections", "--parallel", "--settle", "--samples", "--warmup-connections"], []),
    };

    private readonly Dictionary<string, string?> _given = new(StringComparer.Ordinal);

    private LoadArgs(string mode) => Mode = mode;

    public string Mode { get; }

    public static IEnumerable<string> ModeNames => Modes.Keys;

    public static LoadArgs Parse(string[] args)
    {
        if (args.Length == 0)
            throw new UsageException("no mode given.");
        var mode = args[0];
        if (!Modes.TryGetValue(mode, out var known))
            throw new UsageException($"unknown mode '{mode}'; expected one of {string.Join(", ", Modes.Keys)}.");
        var values = CommonValues.Concat(known.Values).ToHashSet(StringComparer.Ordinal);
        var switches = CommonSwitches.Concat(known.Switches).ToHashSet(StringComparer.Ordinal);
        var parsed = new LoadArgs(mode);
        for (var i = 1; i < args.Length; i++)
        {
            var arg = args[i];
            string name;
            string? value = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                name = arg[..eq];
                value = arg[(eq + 1)..];
            }
            else
            {
                name = arg;
            }

            if (switches.Contains(name))
            {
                if (value is not null)
                    throw new UsageException($"{name} takes no value.");
            }
            else if (values.Contains(name))
            {
                if (value is null)
                {
                    if (i + 1 >= args.Length)
                        throw new UsageException($"{name} needs a value.");
                    value = args[++i];
                }
            }
            else
            {
                throw new UsageException($"'{arg}' is not an option of '{mode}' (options: {string.Join(' ', values.Concat(switches).Order(StringComparer.Ordinal))}).");
            }

            if (!parsed._given.TryAdd(name, value))
                throw new UsageException($"{name} is given twice.");
        }
        return parsed;
    }

    public bool Switch(string name) => _given.ContainsKey(name);

    public string? String(string name) => _given.GetValueOrDefault(name);

    public string Required(string name) =>
        _given.GetValueOrDefault(name) ?? throw new UsageException($"'{Mode}' needs {name}.");

    public int Int(string name, int defaultValue, int min, int max)
    {
        if (!_given.TryGetValue(name, out var text))
            return defaultValue;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw new UsageException($"{name} must be a whole number from {min} to {max}, not '{text}'.");
        return value;
    }

    public double Seconds(string name, double defaultValue, double min, double max)
    {
        if (!_given.TryGetValue(name, out var text))
            return defaultValue;
        if (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || !(value >= min && value <= max))
            throw new UsageException($"{name} must be a number of seconds from {min} to {max}, not '{text}'.");
        return value;
    }

    public long Size(string name, long defaultValue, long min, long max)
    {
        if (!_given.TryGetValue(name, out var text))
            return defaultValue;
        if (!TryParseSize(text, out var value) || value < min || value > max)
            throw new UsageException($"{name} must be a size from {min} to {max} bytes (e.g. 4096, 64KiB, 1MiB, 1M, 1MB), not '{text}'.");
        return value;
    }

    /// <summary>
    /// Bytes, or a number with a suffix: K, M, G, KiB, MiB, GiB are powers of 1024 (as bench/transfer.sh reads them);
    /// KB, MB, GB are powers of 1000. Case-insensitive.
    /// </summary>
    public static bool TryParseSize(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        text = text.Trim();
        var digits = 0;
        while (digits < text.Length && char.IsAsciiDigit(text[digits]))
            digits++;
        if (digits == 0 || !long.TryParse(text.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            return false;
        long unit = text[digits..].ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KI" or "KIB" => 1L << 10,
            "M" or "MI" or "MIB" => 1L << 20,
            "G" or "GI" or "GIB" => 1L << 30,
            "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            _ => 0,
        };
        if (unit == 0 || number > long.MaxValue / unit)
            return false;
        bytes = number * unit;
        return true;
    }
}
