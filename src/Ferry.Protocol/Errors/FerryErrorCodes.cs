using System.Collections.Frozen;
using System.Text;

namespace Ferry.Protocol.Errors;

/// <summary>Maps <see cref="FerryErrorCode"/> to and from its wire name (snake_case).</summary>
public static class FerryErrorCodes
{
    private static readonly FrozenDictionary<FerryErrorCode, string> s_toWire =
        Enum.GetValues<FerryErrorCode>().ToFrozenDictionary(c => c, c => ToSnakeCase(c.ToString()));

    private static readonly FrozenDictionary<string, FerryErrorCode> s_fromWire =
        s_toWire.ToFrozenDictionary(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal);

    /// <summary>The wire name, for example <c>header_too_large</c>.</summary>
    public static string ToWire(this FerryErrorCode code) =>
        s_toWire.TryGetValue(code, out var name) ? name : "internal_error";

    /// <summary>Parses a wire name; unknown names (from a newer peer) map to <see cref="FerryErrorCode.InternalError"/>.</summary>
    public static FerryErrorCode FromWire(string? name) =>
        name is not null && s_fromWire.TryGetValue(name, out var code) ? code : FerryErrorCode.InternalError;

    /// <summary>
    /// Whether an operation that failed with <paramref name="code"/> may succeed when tried again unchanged, a little
    /// later: the server or a user was at a limit (server_busy, too_many_connections, too_many_uploads,
    /// exec_limit_reached, udp_request_limit, transfer_in_progress, authentication_throttled), the server was shutting
    /// down, or the connection timed out or dropped mid-frame (login_timeout, idle_timeout, header_timeout,
    /// truncated_frame). Everything else repeats the same way until something changes.
    /// </summary>
    public static bool IsTransient(this FerryErrorCode code) => code is
        FerryErrorCode.ServerBusy or FerryErrorCode.ServerShuttingDown or FerryErrorCode.TooManyConnections
        or FerryErrorCode.TooManyUploads or FerryErrorCode.ExecLimitReached or FerryErrorCode.UdpRequestLimit
        or FerryErrorCode.TransferInProgress or FerryErrorCode.AuthenticationThrottled or FerryErrorCode.LoginTimeout
        or FerryErrorCode.IdleTimeout or FerryErrorCode.HeaderTimeout or FerryErrorCode.TruncatedFrame
        or FerryErrorCode.ConnectFailed;

    /// <summary>All codes with their wire names, in numeric order (docs/errors.md is generated from the same list).</summary>
    public static IEnumerable<(FerryErrorCode Code, string Wire)> All =>
        s_toWire.OrderBy(kv => (int)kv.Key).Select(kv => (kv.Key, kv.Value));

    private static string ToSnakeCase(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 8);
        for (var i = 0; i < pascal.Length; i++)
        {
            var c = pascal[i];
            if (char.IsUpper(c))
            {
                if (i > 0) sb.Append('_');
                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }
}
