using System.Diagnostics;
using System.Globalization;
using System.Net;
using Ferry.Client;
using Ferry.Client.Security;

namespace Ferry.Load;

/// <summary>
/// What every mode shares: the server address (loopback only), TLS or plain, the login from FERRY_USER/FERRY_KEY, a
/// private temporary folder (certificate pins, test data), the stop token of --timeout and of SIGINT/SIGTERM, and notes
/// on stderr.
/// </summary>
internal sealed class RunContext : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly long _started = Stopwatch.GetTimestamp();
    private string? _tempDirectory;
    private FerryClientOptions? _clientOptions;

    public RunContext(LoadArgs args, Report report)
    {
        Args = args;
        Report = report;
        Timeout = TimeSpan.FromSeconds(args.Seconds("--timeout", 300, 1, 86_400));
        ConnectTimeout = TimeSpan.FromSeconds(args.Seconds("--connect-timeout", 60, 0.1, 3_600));
        UseTls = !args.Switch("--plain");
        Address = ParseLoopback(args.Required("--server"));
        Credentials = CredentialsFromEnvironment();
        report.Set("server", Address.ToString());
        report.Set("tls", UseTls);
        report.Set("user", Credentials?.User);
    }

    public LoadArgs Args { get; }
    public Report Report { get; }
    public ServerAddress Address { get; }
    public bool UseTls { get; }
    public ClientCredentials? Credentials { get; }
    public TimeSpan Timeout { get; }
    public TimeSpan ConnectTimeout { get; }

    /// <summary>Cancelled at --timeout, or on SIGINT/SIGTERM; every wait observes it.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>Why <see cref="Token"/> was cancelled ("timeout", "SIGINT", "SIGTERM"), or null.</summary>
    public string? StopReason { get; private set; }

    public void StartClock() => _stop.CancelAfter(Timeout);

    public void Stop(string reason)
    {
        if (StopReason is null)
            StopReason = reason;
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>True when the timeout fired (CancelAfter does not go through <see cref="Stop"/>).</summary>
    public bool Stopped => _stop.IsCancellationRequested;

    public string StopDescription => StopReason is { } r && r != "timeout"
        ? $"interrupted by {r}"
        : $"stopped after --timeout {Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s before the run finished";

    public double ElapsedSeconds => Stopwatch.GetElapsedTime(_started).TotalSeconds;

    public void Note(string text) =>
        Console.Error.WriteLine($"ferry-load {Args.Mode} [{ElapsedSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s] {text}");

    /// <summary>
    /// A private folder (mode 700) for this run, on tmpfs (/dev/shm) when there is one, so test data never touches a
    /// disk; removed on dispose.
    /// </summary>
    public string TempDirectory
    {
        get
        {
            if (_tempDirectory is not null)
                return _tempDirectory;
            var parent = Directory.Exists("/dev/shm") && IsWritable("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
            var path = Path.Combine(parent, $"ferry-load-{Environment.ProcessId}-{Guid.NewGuid():N}"[..32]);
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            _tempDirectory = path;
            return path;
        }
    }

    /// <summary>
    /// Client options: TLS with trust on first use, pinned in a known_servers file inside <see cref="TempDirectory"/> (the
    /// user's own ~/.config/ferry is never read or written), or plain TCP; the generous --connect-timeout.
    /// </summary>
    public FerryClientOptions ClientOptions => _clientOptions ??= new FerryClientOptions
    {
        UseTls = UseTls,
        Credentials = Credentials,
        ConnectTimeout = ConnectTimeout,
        TrustStore = new KnownServers(Path.Combine(TempDirectory, "known_servers")),
        TrustOnFirstUse = true,
        OnFirstUse = (server, fingerprint) => Note($"first connection to {server}: pinned its certificate {fingerprint} for this run."),
        Agent = $"ferry-load/{typeof(RunContext).Assembly.GetName().Version?.ToString(3)}",
    };

    public Task<FerryClient> ConnectAsync(CancellationToken cancellationToken) =>
        FerryClient.ConnectAsync(Address, ClientOptions, cancellationToken);

    /// <summary>
    /// The first connection of a run: pins the certificate (before any concurrent connection could race to pin it) and
    /// turns the usual mistakes into clear messages.
    /// </summary>
    public async Task<FerryClient> ConnectFirstAsync(CancellationToken cancellationToken)
    {
        try
        {
            var client = await ConnectAsync(cancellationToken).ConfigureAwait(false);
            Note($"connected to {Address} ({(client.IsTls ? "TLS" : "plain TCP")}, {(client.User is null ? "no login: the server runs --insecure-no-auth" : $"logged in as {client.User}")}).");
            return client;
        }
        catch (Exception ex) when (!Stopped && UseTls && ex is IOException or System.Security.Authentication.AuthenticationException)
        {
            throw new InvalidOperationException(
                $"TLS with {Address} failed ({Report.Describe(ex)}); if the server runs --plain or --insecure-no-auth, pass --plain.", ex);
        }
        catch (Exception ex) when (!Stopped && !UseTls && ex is IOException or Ferry.Protocol.Errors.FerryProtocolException)
        {
            throw new InvalidOperationException(
                $"{Address} did not answer the hello on plain TCP ({Report.Describe(ex)}); if the server uses TLS (started without --plain or --insecure-no-auth), drop --plain.", ex);
        }
    }

    /// <summary>When the server refused connections at one of its limits, says which server options raise them.</summary>
    public void HintAtLimits(IEnumerable<string> errors, int needed)
    {
        if (errors.Any(e => e.Contains("too_many_connections", StringComparison.Ordinal) || e.Contains("server_busy", StringComparison.Ordinal)))
            Note($"the server refused connections at its limits: start it with --max-connections, --max-connections-per-user and --max-connections-per-address of at least {needed + 1}.");
    }

    /// <summary>Checks that the process may open <paramref name="sockets"/> more files, with room to spare.</summary>
    public void RequireOpenFiles(long sockets, string what)
    {
        var needed = sockets + 256;
        var limit = ProcInfo.OpenFilesLimit();
        Report.Set("open_files_limit", limit);
        if (limit >= 0 && limit < needed)
            throw new UsageException($"{what} needs about {needed} open files but this process may open {limit}: run 'ulimit -n 65536' in the shell before starting ferry-load (and the server).");
    }

    private static ServerAddress ParseLoopback(string text)
    {
        if (!ServerAddress.TryParse(text, out var parsed, out var error))
            throw new UsageException($"--server: {error}");
        var address = parsed.Value;
        if (address.Port == 0)
            throw new UsageException("--server: port 0 is not a server's port.");
        IPAddress[] resolved;
        if (IPAddress.TryParse(address.Host, out var ip))
            resolved = [ip];
        else if (string.Equals(address.Host, "localhost", StringComparison.OrdinalIgnoreCase))
            resolved = Dns.GetHostAddresses(address.Host);
        else
            throw new UsageException($"--server: '{address.Host}' is not a loopback address; ferry-load only targets 127.0.0.0/8, ::1 or localhost.");
        if (resolved.Length == 0 || !resolved.All(IPAddress.IsLoopback))
            throw new UsageException($"--server: '{address.Host}' is not a loopback address ({string.Join(", ", resolved.Select(a => a.ToString()))}); ferry-load only targets 127.0.0.0/8, ::1 or localhost.");
        return address;
    }

    /// <summary>FERRY_USER and FERRY_KEY (base64, as 'ferry user add' prints it), both or neither.</summary>
    private static ClientCredentials? CredentialsFromEnvironment()
    {
        var user = Environment.GetEnvironmentVariable("FERRY_USER");
        var key = Environment.GetEnvironmentVariable("FERRY_KEY");
        if (string.IsNullOrEmpty(user) && string.IsNullOrEmpty(key))
            return null;
        if (string.IsNullOrEmpty(user) || string.IsNullOrEmpty(key))
            throw new UsageException("set both FERRY_USER and FERRY_KEY (or neither, for a server in --insecure-no-auth mode).");
        if (!ClientCredentials.TryParseKey(key, out var bytes))
            throw new UsageException("FERRY_KEY is not a Ferry key (32 bytes of base64, as 'ferry user add' prints it).");
        return new ClientCredentials(user, bytes);
    }

    private static bool IsWritable(string directory)
    {
        try
        {
            var probe = Path.Combine(directory, $".ferry-load-probe-{Environment.ProcessId}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync()
    {
        if (_tempDirectory is not null)
        {
            try
            {
                Directory.Delete(_tempDirectory, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Note($"could not remove {_tempDirectory}: {ex.Message}");
            }
        }
        _stop.Dispose();
        return ValueTask.CompletedTask;
    }
}
