using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ferry.Server.Hosting;
using Ferry.Server.Logging;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Auth;

/// <summary>
/// Who did what: every login, failed login and command, with user, address and outcome. Goes to the log (category
/// Ferry.Audit) and, when configured, to a JSON-lines file and to the sinks registered (the NATS audit stream).
/// </summary>
public sealed partial class AuditLog : IDisposable
{
    private readonly ILogger _logger;
    private readonly StreamWriter? _file;
    private readonly Lock _gate = new();
    private readonly IAuditSink[] _sinks;

    public AuditLog(FerryServerOptions options, ILoggerFactory loggers, IEnumerable<IAuditSink>? sinks = null)
    {
        _logger = loggers.CreateLogger("Ferry.Audit");
        _sinks = sinks?.ToArray() ?? [];
        if (options.AuditLogPath is { } path)
        {
            var fileOptions = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
            if (!OperatingSystem.IsWindows())
                fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            _file = new StreamWriter(new FileStream(path, fileOptions)) { AutoFlush = true };
        }
    }

    public void LoginSucceeded(string connectionId, IPAddress address, string user)
    {
        user = PeerText.Escape(user)!;
        LoginOk(_logger, user, address);
        Write(new AuditEvent("login", connectionId, address.ToString(), user, null, "ok", null));
    }

    /// <param name="reason">The real reason (unknown_user, wrong_key, throttled, malformed) — for the administrator only; the client is told less.</param>
    public void LoginFailed(string connectionId, IPAddress address, string? user, string reason)
    {
        user = PeerText.Escape(user);
        LoginFailure(_logger, user ?? "(none)", address, reason);
        Write(new AuditEvent("login", connectionId, address.ToString(), user, null, "failed", reason));
    }

    public void Command(string connectionId, IPAddress address, string? user, string command, string outcome, double milliseconds)
    {
        // Names and commands reach here checked, but the audit log is where an administrator looks after an attack:
        // it must not be the one place a peer's control characters get through.
        user = PeerText.Escape(user);
        command = PeerText.Escape(command)!;
        CommandRun(_logger, user ?? "(anonymous)", address, command, outcome);
        Write(new AuditEvent("command", connectionId, address.ToString(), user, command, outcome, null) { Milliseconds = Math.Round(milliseconds, 2) });
    }

    private void Write(AuditEvent e)
    {
        if (_file is null && _sinks.Length == 0)
            return;
        var line = JsonSerializer.Serialize(e with { Time = DateTimeOffset.UtcNow }, AuditJsonContext.Default.AuditEvent);
        if (_file is not null)
        {
            lock (_gate)
                _file.WriteLine(line);
        }
        foreach (var sink in _sinks)
            sink.Write(line);
    }

    public void Dispose() => _file?.Dispose();

    [LoggerMessage(LogEvents.LoginOk, LogLevel.Information, "login ok: {User} from {Address}")]
    private static partial void LoginOk(ILogger logger, string user, IPAddress address);

    [LoggerMessage(LogEvents.LoginFailed, LogLevel.Warning, "login failed: {User} from {Address} ({Reason})")]
    private static partial void LoginFailure(ILogger logger, string user, IPAddress address, string reason);

    // Debug on the console (a tree upload is thousands of commands); the audit file, when configured, has every one.
    [LoggerMessage(LogEvents.AuditedCommand, LogLevel.Debug, "{User} from {Address}: {Command} -> {Outcome}")]
    private static partial void CommandRun(ILogger logger, string user, IPAddress address, string command, string outcome);
}

internal sealed record AuditEvent(
    [property: JsonPropertyName("event")] string Event,
    [property: JsonPropertyName("connection")] string Connection,
    [property: JsonPropertyName("address")] string Address,
    [property: JsonPropertyName("user")] string? User,
    [property: JsonPropertyName("command")] string? Command,
    [property: JsonPropertyName("outcome")] string Outcome,
    [property: JsonPropertyName("reason")] string? Reason)
{
    [JsonPropertyName("time")] public DateTimeOffset Time { get; init; }
    [JsonPropertyName("ms")] public double? Milliseconds { get; init; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AuditEvent))]
internal sealed partial class AuditJsonContext : JsonSerializerContext;
