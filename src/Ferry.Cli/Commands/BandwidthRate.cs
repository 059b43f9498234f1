using System.Globalization;

namespace Ferry.Cli.Commands;

/// <summary>
/// Parses <c>--bwlimit</c> as rsync does: a number with an optional unit, the default unit being KiB/s. <c>B</c> is
/// bytes; <c>K</c>, <c>M</c>, <c>G</c> (or <c>KiB</c>, <c>MiB</c>, <c>GiB</c>) are powers of 1024; <c>KB</c>, <c>MB</c>,
/// <c>GB</c> powers of 1000. A fraction is allowed (<c>1.5M</c>); 0 means no limit.
/// </summary>
public static class BandwidthRate
{
    /// <summary>Bytes per second, null for no limit; false with a sentence when the text is not a rate.</summary>
    public static bool TryParse(string text, out long? bytesPerSecond, out string? problem)
    {
        bytesPerSecond = null;
        problem = null;
        var trimmed = text.Trim();
        var split = 0;
        while (split < trimmed.Length && (char.IsAsciiDigit(trimmed[split]) || trimmed[split] == '.'))
            split++;
        if (split == 0 || !double.TryParse(trimmed[..split], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            problem = $"'{text}' is not a rate: write a number with an optional unit, such as 500K, 10M or 1.5G (bytes per second; no unit means KiB).";
            return false;
        }
        double? multiplier = trimmed[split..].ToUpperInvariant() switch
        {
            "" or "K" or "KIB" => 1024,
            "B" => 1,
            "KB" => 1000,
            "M" or "MIB" => 1024 * 1024,
            "MB" => 1000 * 1000,
            "G" or "GIB" => 1024.0 * 1024 * 1024,
            "GB" => 1e9,
            _ => null,
        };
        if (multiplier is null)
        {
            problem = $"'{text}' has an unknown unit: use B, K, M or G (powers of 1024) or KB, MB, GB (powers of 1000).";
            return false;
        }
        var bytes = number * multiplier.Value;
        if (bytes >= long.MaxValue)
        {
            problem = $"'{text}' is too large.";
            return false;
        }
        if (bytes > 0 && bytes < 1)
        {
            problem = $"'{text}' is less than one byte per second.";
            return false;
        }
        bytesPerSecond = bytes == 0 ? null : (long)bytes;
        return true;
    }
}
