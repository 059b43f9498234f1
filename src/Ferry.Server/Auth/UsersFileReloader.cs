using Ferry.Server.Diagnostics;
using Ferry.Server.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ferry.Server.Auth;

/// <summary>
/// Loads the users file again when it changes, or at once when asked (<c>ferry serve</c> asks on SIGHUP), so that
/// adding, removing or changing a user needs no restart. New logins see the new list, and connections already logged in
/// see it at their next command (<see cref="UserDirectory.Generation"/>): a removed user's connections are closed with
/// <c>user_revoked</c>, taken permissions are refused. A file that cannot be read is logged and the users loaded before
/// stay in force.
/// </summary>
/// <remarks>
/// The file is checked by polling its size and modification time rather than with a file-system watcher: 'ferry user'
/// and editors replace the file by renaming a new one over it, which a watcher on the old file misses; polling also
/// works on network file systems and costs no inotify instance per server.
/// </remarks>
public sealed partial class UsersFileReloader(UserDirectory users, IUserStore inUse, IOptions<FerryServerOptions> options, FerryMetrics metrics, ILogger<UsersFileReloader> logger)
    : BackgroundService
{
    private readonly Lock _gate = new();

    // The file as it was when a reload last failed: a broken file is reported once, not at every check.
    private UsersFileStamp? _failed;

    /// <summary>Loads the users file now; <paramref name="trigger"/> says why, for the log.</summary>
    /// <returns>False when the file could not be loaded (the previous users stay).</returns>
    public bool Reload(string trigger)
    {
        if (!ReferenceEquals(inUse, users))
            return true; // SIGHUP on a server whose users are elsewhere: nothing to read
        var path = Path.GetFullPath(options.Value.EffectiveUsersFile);
        lock (_gate)
        {
            var attempted = UsersFileStamp.Of(path);
            try
            {
                users.Reload();
                _failed = null;
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                _failed = attempted;
                metrics.UsersReloaded(ok: false);
                ReloadFailed(logger, path, trigger, ex.Message, users.Count);
                return false;
            }
            metrics.UsersReloaded(ok: true);
            Reloaded(logger, users.Count, path, trigger);
            return true;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.UsersFileCheckInterval;
        // Users from another store (NATS) are kept current by that store; the users file is then not read at all.
        if (!options.Value.RequireAuthentication || interval <= TimeSpan.Zero || !ReferenceEquals(inUse, users))
            return;
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                bool changed;
                lock (_gate)
                    changed = UsersFileStamp.Of(options.Value.EffectiveUsersFile) != (_failed ?? users.Loaded);
                if (changed)
                    Reload("file changed");
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Logging.LogEvents.UsersReloaded, LogLevel.Information, "Users reloaded: {Count} user(s) from {UsersFile} ({Trigger})")]
    private static partial void Reloaded(ILogger logger, int count, string usersFile, string trigger);

    [LoggerMessage(Logging.LogEvents.UsersReloadFailed, LogLevel.Error, "Users file {UsersFile} not reloaded ({Trigger}): {Message} The {Count} user(s) loaded before stay in force.")]
    private static partial void ReloadFailed(ILogger logger, string usersFile, string trigger, string message, int count);
}

/// <summary>What tells one version of the users file from the next without reading it: existence, modification time, size.</summary>
public sealed record UsersFileStamp(bool Exists, DateTime Modified, long Length)
{
    public static UsersFileStamp Missing { get; } = new(false, default, 0);

    public static UsersFileStamp Of(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? new UsersFileStamp(true, info.LastWriteTimeUtc, info.Length) : Missing;
    }
}
