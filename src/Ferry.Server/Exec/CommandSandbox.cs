using System.ComponentModel;
using System.Globalization;
using System.Text;
using Ferry.Server.Hosting;
using Ferry.Server.Interop;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Exec;

/// <summary>
/// Builds the command line that starts a command confined (docs/security.md, "Remote commands"), and checks at start
/// that it works here. The launch is a chain of well-kept tools, each of which ends in exec of the next:
/// <c>bwrap</c> (mount, PID, IPC and UTS namespaces, and a user namespace unless the server is root; a root of its own
/// with read-only system folders, the user's home as the only writable folder, fresh /proc, /dev and /tmp; a cleared
/// environment) → <c>setpriv</c> (only when the server is root: to the command's account, no groups but its own, no
/// capabilities, no new privileges) → <c>prlimit</c> (the resource limits) → <c>setsid</c> (the command leads its own session and group, as without a
/// sandbox) → the command.
/// </summary>
public sealed class CommandSandbox(FerryServerOptions options, ILogger<CommandSandbox> logger) : IHostedService
{
    /// <summary>System folders bound read-only (those that exist; a link such as merged-/usr's /bin → usr/bin is kept as a link).</summary>
    private static readonly string[] SystemFolders = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];

    /// <summary>Files under /etc that hold secrets: hidden behind an empty file.</summary>
    private static readonly string[] SecretFiles = ["/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/security/opasswd"];

    /// <summary>Folders under /etc that hold secrets (TLS keys, Ferry's own settings with their passwords): hidden behind an empty folder.</summary>
    private static readonly string[] SecretFolders = ["/etc/ssl/private", "/etc/ferry"];

    /// <summary>What bwrap, setpriv and prlimit themselves start with; the command's own environment is set by bwrap.</summary>
    private static readonly Dictionary<string, string> LauncherEnvironment = new() { ["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin" };

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Whether commands run confined at all.</summary>
    public bool Confined => !options.ExecUnconfined;

    /// <summary>The command line that runs <paramref name="argv"/> confined to <paramref name="home"/> (null for none: the probe).</summary>
    /// <exception cref="Win32Exception">The program or one of the tools cannot be found.</exception>
    /// <remarks>
    /// On a <paramref name="terminal"/> the command must be able to take the terminal as its controlling terminal, which
    /// bwrap's --new-session would forbid it (it exists against TIOCSTI, pushing input into an outer terminal; this
    /// terminal is the command's own, so only its own input could be pushed): bwrap then keeps the session the server
    /// started it in, which has no controlling terminal, and the command takes the terminal with <c>setsid --ctty</c>.
    /// Nothing is mounted for it: the slave is inherited as 0, 1 and 2 (bwrap shows it as /dev/console for ttyname),
    /// and /dev/tty reaches it as the controlling terminal.
    /// </remarks>
    internal IReadOnlyList<string> Wrap(ExecAccount? account, string? home, string cwd, IReadOnlyList<string> argv, IReadOnlyDictionary<string, string> environment,
        bool terminal = false)
    {
        CheckVisible(argv[0], home, cwd);
        var line = new List<string>(64);
        // A root server starts bubblewrap as root and drops to the account inside, after the mounts are made: root can
        // reach a home below folders the account may not search (a data root in /root or a 0700 temporary folder), and
        // the account then only ever sees the home itself. Any other server runs everything as itself in a user namespace.
        line.Add(Tool(options.ExecSandboxProgram));
        if (account is null)
            line.Add("--unshare-user");
        line.AddRange(["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent"]);
        if (!terminal)
            line.Add("--new-session");
        line.AddRange(["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]);
        foreach (var folder in SystemFolders)
        {
            var info = new DirectoryInfo(folder);
            if (info.LinkTarget is { } target)
                line.AddRange(["--symlink", target, folder]);
            else if (info.Exists)
                line.AddRange(["--ro-bind", folder, folder]);
        }
        foreach (var secret in SecretFiles.Concat(SshHostKeys()))
        {
            if (File.Exists(secret))
                line.AddRange(["--ro-bind", "/dev/null", secret]);
        }
        foreach (var secret in SecretFolders.Concat(ServerSecrets()))
        {
            if (Directory.Exists(secret) && IsUnderSystemFolder(secret))
                line.AddRange(["--tmpfs", secret]);
            else if (File.Exists(secret) && IsUnderSystemFolder(secret))
                line.AddRange(["--ro-bind", "/dev/null", secret]);
        }
        if (home is not null)
        {
            // The folders above the home, made in the sandbox's own root as plain 0755 folders: the command can reach
            // its home by its path (HOME) without anything else of those folders being there.
            foreach (var folder in FoldersAbove(home))
                line.AddRange(["--perms", "0755", "--dir", folder]);
            line.AddRange(["--bind", home, home]);
        }
        line.AddRange(["--chdir", cwd, "--clearenv"]);
        foreach (var (name, value) in environment)
            line.AddRange(["--setenv", name, value]);
        line.Add("--");
        if (account is not null)
        {
            line.AddRange([Tool("setpriv"), $"--reuid={account.Uid}", $"--regid={account.Gid}", "--init-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]);
        }
        line.Add(Tool("prlimit"));
        var limits = options.ExecLimits;
        AddLimit(line, "--nofile", limits.OpenFiles);
        AddLimit(line, "--nproc", limits.Processes);
        AddLimit(line, "--cpu", limits.CpuSeconds);
        AddLimit(line, "--as", limits.AddressSpaceBytes);
        line.AddRange(terminal ? ["--", Tool("setsid"), "--ctty"] : ["--", Tool("setsid")]);
        line.AddRange(argv);
        return line;
    }

    /// <summary>Starts a launch built by <see cref="Wrap"/>.</summary>
    internal static ProcessGroup Start(IReadOnlyList<string> launch, TerminalSize? terminal = null) =>
        ProcessGroup.Start(launch, "/", LauncherEnvironment, sandboxed: true, terminal);

    /// <summary>
    /// Checks that a command can be confined here, by confining one (<c>true</c>) exactly as every command will be.
    /// </summary>
    /// <exception cref="ExecSandboxUnavailableException">It cannot; the message says why and what to do.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.AllowExec)
            return;
        var self = OperatingSystem.IsLinux() ? Libc.LookUpUser(null, Libc.geteuid())?.Name ?? Libc.geteuid().ToString(CultureInfo.InvariantCulture) : Environment.UserName;
        if (!Confined)
        {
            ExecLog.UnconfinedAtStart(logger, self);
            return;
        }
        if (!OperatingSystem.IsLinux())
            throw new ExecSandboxUnavailableException("--allow-exec: commands can only be confined on Linux (bubblewrap). Run them unconfined with --exec-unconfined, knowing that they then run as the server's account.");

        var root = Path.GetFullPath(options.Root).TrimEnd('/');
        foreach (var secret in ServerSecrets().Where(secret => secret != root))
        {
            if (IsInside(secret, root))
                throw new ExecSandboxUnavailableException(
                    $"--allow-exec: {secret} lies inside the data root {root}, where a home can reach it; keep the state folder, users file, TLS certificate and audit log outside the root.");
        }

        ExecAccount? account = null;
        if (ExecAccount.ServerIsRoot)
        {
            if (Libc.LookUpUser(options.ExecUser) is null)
                throw new ExecSandboxUnavailableException($"--allow-exec: {ExecAccount.MissingMessage(options.ExecUser)}");
            try
            {
                account = ExecAccount.For(null, options);
            }
            catch (Protocol.Errors.FerryException ex)
            {
                throw new ExecSandboxUnavailableException($"--allow-exec: {ex.Message}");
            }
        }

        string problem;
        try
        {
            var launch = Wrap(account, home: null, cwd: "/", [Tool("true")], new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" });
            using var probe = Start(launch);
            probe.StandardInput.Dispose();
            var errors = ReadAllAsync(probe.StandardError);
            var output = ReadAllAsync(probe.StandardOutput);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(ProbeTimeout);
            try
            {
                await probe.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                probe.KillTree();
                throw new ExecSandboxUnavailableException($"--allow-exec: a trial command in the sandbox did not end within {ProbeTimeout.TotalSeconds:0} s.");
            }
            probe.KillTree();
            if (probe.ExitCode == 0)
            {
                ExecLog.Confined(logger, Tool(options.ExecSandboxProgram), account?.Name ?? self);
                return;
            }
            problem = $"the trial command ended with exit code {probe.ExitCode}: {(await errors.ConfigureAwait(false)).Trim()} {(await output.ConfigureAwait(false)).Trim()}".TrimEnd();
        }
        catch (Win32Exception ex)
        {
            problem = ex.Message;
        }
        throw new ExecSandboxUnavailableException(
            $"--allow-exec: commands cannot be confined on this machine ({problem}). Ferry runs every command in a bubblewrap sandbox: install it " +
            "(apt-get install bubblewrap), make sure unprivileged user namespaces are allowed (sysctl user.max_user_namespaces > 0; under systemd, " +
            "RestrictNamespaces= must allow user mnt pid ipc uts cgroup, see deploy/ferry.service), or, knowing that commands can then read and change " +
            "everything the server can, run them unconfined with --exec-unconfined.");
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The server's own files that a command must never see, in case the administrator put one under /etc or /usr.</summary>
    private IEnumerable<string> ServerSecrets()
    {
        yield return Path.GetFullPath(options.StateDirectory);
        yield return Path.GetFullPath(options.EffectiveUsersFile);
        yield return Path.GetFullPath(options.Root);
        if (options.TlsCertificatePath is { } certificate)
            yield return Path.GetFullPath(certificate);
        if (options.AuditLogPath is { } audit)
            yield return Path.GetFullPath(audit);
    }

    /// <summary>
    /// Refuses a home that holds the server's state, its users file, key or audit log, or (with logins) the data root
    /// with every other home in it: the sandbox would hand all of that to the command, writable.
    /// </summary>
    internal void CheckHome(string home, bool sharedRoot)
    {
        var full = Path.GetFullPath(home).TrimEnd('/');
        foreach (var secret in ServerSecrets())
        {
            var isRoot = secret == Path.GetFullPath(options.Root);
            if (isRoot && sharedRoot)
                continue;
            if (IsInside(secret, full))
                throw new Protocol.Errors.FerryException(Protocol.Errors.FerryErrorCode.ExecFailed,
                    "Commands cannot run in this home: it holds the server's own files" + (isRoot ? " or every user's home" : "") + ". The administrator should give the user a home of its own.");
        }
    }

    private static bool IsInside(string path, string folder) =>
        folder == "/" || path == folder || path.StartsWith(folder + "/", StringComparison.Ordinal);

    private static bool IsUnderSystemFolder(string path) => SystemFolders.Any(folder => IsInside(path, folder));

    /// <summary>The folders between / and <paramref name="home"/>, outermost first, that the sandbox must make itself.</summary>
    private static IEnumerable<string> FoldersAbove(string home)
    {
        var parts = home.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var folder = "";
        for (var i = 0; i < parts.Length - 1; i++)
        {
            folder += "/" + parts[i];
            if (!IsUnderSystemFolder(folder) && folder is not "/proc" and not "/dev")
                yield return folder;
        }
    }

    private static IEnumerable<string> SshHostKeys() =>
        Directory.Exists("/etc/ssh") ? Directory.EnumerateFiles("/etc/ssh", "*key*") : [];

    /// <summary>A program the command names must exist where the sandbox shows it: the system folders or the home.</summary>
    private static void CheckVisible(string program, string? home, string cwd)
    {
        if (!program.Contains('/'))
        {
            _ = ProcessGroup.Resolve(program); // throws ENOENT with the search path
            return;
        }
        var full = Path.GetFullPath(program, cwd);
        var visible = IsUnderSystemFolder(full) || (home is not null && IsInside(full, Path.GetFullPath(home).TrimEnd('/')));
        if (!visible || !File.Exists(full))
            throw new Win32Exception(Libc.Enoent, visible ? "No such file" : "commands see only the system folders and their home");
    }

    private static void AddLimit(List<string> line, string option, long? value)
    {
        if (value is { } limit)
            line.Add(string.Create(CultureInfo.InvariantCulture, $"{option}={limit}:{limit}"));
    }

    /// <summary>A tool by name: an absolute path as given, else looked up in the system folders.</summary>
    private static string Tool(string name)
    {
        if (name.Contains('/'))
            return File.Exists(name) ? name : throw new Win32Exception(Libc.Enoent, $"'{name}' does not exist");
        foreach (var folder in (ReadOnlySpan<string>)["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"])
        {
            var candidate = Path.Combine(folder, name);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new Win32Exception(Libc.Enoent, $"'{name}' was not found in /usr/bin, /usr/sbin, /bin, /sbin or /usr/local/bin");
    }

    private static async Task<string> ReadAllAsync(Stream stream)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        try
        {
            return await reader.ReadToEndAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            return "";
        }
    }
}
