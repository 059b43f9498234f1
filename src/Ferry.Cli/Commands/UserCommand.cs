using System.CommandLine;
using System.Globalization;
using Ferry.Cli.Rendering;
using Ferry.Protocol.Auth;
using Ferry.Server.Auth;
using Ferry.Server.Hosting;

namespace Ferry.Cli.Commands;

/// <summary><c>ferry user add|list|remove|set</c>: manage the server's users file.</summary>
internal static class UserCommand
{
    public static Command Create()
    {
        var stateDir = new Option<string>("--state-dir") { Description = "The server's state folder (as given to 'ferry serve').", DefaultValueFactory = _ => "ferry-server", Recursive = true };
        var usersFile = new Option<string?>("--users") { Description = "Users file (default: users.json in --state-dir).", Recursive = true };
        var store = new Option<string?>("--store")
        {
            Description = "The users of a NATS store (nats://HOST:PORT[,HOST:PORT...], as given to 'ferry serve --store') instead of the users file; works from any machine that reaches the cluster.",
            Recursive = true,
        };
        var natsReplicas = new Option<int>("--nats-replicas") { Description = "Copies of the users bucket, when this creates it (1 to 5). Default 3.", DefaultValueFactory = _ => 3, Recursive = true };
        Option<string?> NatsFile(string name, string description) => new(name) { Description = description, Recursive = true };
        var natsUser = NatsFile("--nats-user", "User name for a NATS cluster that requires one (as 'ferry serve --nats-user').");
        var natsPasswordFile = NatsFile("--nats-password-file", "File holding the password of --nats-user.");
        var natsCredsFile = NatsFile("--nats-creds-file", "NATS credentials file (user JWT and nkey seed), instead of user and password.");
        var natsTlsCa = NatsFile("--nats-tls-ca", "PEM CA certificate that verifies the NATS servers; turns TLS on.");
        var natsTlsCert = NatsFile("--nats-tls-cert", "PEM client certificate, for a NATS cluster that verifies its clients.");
        var natsTlsKey = NatsFile("--nats-tls-key", "PEM private key of --nats-tls-cert.");
        var json = CommonOptions.Json();
        json.Recursive = true;
        var command = new Command("user", "Manage the users of a Ferry server (run on the server machine, in the folder 'ferry serve' runs in, or with its --state-dir).\n\n"
            + "Examples:\n  ferry user add alice --allow read,write,exec\n  ferry user set alice --allow read,write,exec --quota 10000000000\n  ferry user list --json")
        {
            stateDir, usersFile, store, natsReplicas, natsUser, natsPasswordFile, natsCredsFile, natsTlsCa, natsTlsCert, natsTlsKey, json,
        };

        async Task<IUserAdministration> OpenAsync(ParseResult parse, CancellationToken ct)
        {
            if (parse.GetValue(store) is null
                && new[] { natsUser, natsPasswordFile, natsCredsFile, natsTlsCa, natsTlsCert, natsTlsKey }.FirstOrDefault(o => parse.GetValue(o) is not null) is { } stray)
                throw new ArgumentException($"{stray.Name} applies to a NATS store only: add --store nats://HOST:PORT[,...].");
            return await OpenStoreAsync(parse, ct).ConfigureAwait(false);
        }

        async Task<IUserAdministration> OpenStoreAsync(ParseResult parse, CancellationToken ct) => parse.GetValue(store) is { } nats
            ? await NatsStoreRegistration.ConnectUserAdministrationAsync(new NatsStoreSettings
            {
                Store = nats,
                Replicas = parse.GetValue(natsReplicas),
                User = parse.GetValue(natsUser),
                PasswordFile = parse.GetValue(natsPasswordFile),
                CredsFile = parse.GetValue(natsCredsFile),
                TlsCa = parse.GetValue(natsTlsCa),
                TlsCert = parse.GetValue(natsTlsCert),
                TlsKey = parse.GetValue(natsTlsKey),
            }, ct).ConfigureAwait(false)
            : new UsersFileAdministration(parse.GetValue(usersFile) ?? Path.Combine(parse.GetValue(stateDir)!, "users.json"));

        var name = new Argument<string>("name") { Description = "User name: letters, digits, '.', '_', '-'; up to 32 characters." };
        var home = new Option<string?>("--home") { Description = "Home folder, absolute or relative to the server's --root (default: ROOT/NAME)." };
        var quota = new Option<string?>("--quota") { Description = "Byte quota for the home, or 'none'." };
        var allow = new Option<string?>("--allow") { Description = "Permissions: any of read,write,exec (default read,write), or none." };
        var osUser = new Option<string?>("--os-user")
        {
            Description = "OS account this user's commands run as when the server runs as root (default: the server's exec_user, ferry-exec); 'none' to clear.",
        };
        var keyFile = new Option<string?>("--key-file")
        {
            Description = "Also write the new key to this file (owner-only), to hand to the user: 'ferry login ... < FILE' reads it.",
        };

        var add = new Command("add", "Add a user with a new random key, printed once.\n\nExamples:\n  ferry user add alice\n  ferry user add alice --allow read,write,exec --key-file alice.key\n  ferry user add bob --home shared --quota 1000000000")
        {
            name, home, quota, allow, keyFile, osUser,
        };
        add.SetAction((parse, ct) => RunAsync(parse, json, async () =>
        {
            await using var users = await OpenAsync(parse, ct).ConfigureAwait(false);
            var path = users.Description;
            var userName = parse.GetValue(name)!;
            if (!UserAccount.IsValidName(userName))
                throw new ArgumentException($"'{userName}' is not a valid user name: use letters, digits, '.', '_' and '-', up to 32 characters.");
            if ((await users.ListAsync(ct).ConfigureAwait(false)).Users.Any(u => u.Name == userName))
                throw new ArgumentException($"User '{userName}' already exists; use 'ferry user set {userName} --new-key' for a new key.");
            var account = new UserAccount
            {
                Name = userName,
                Key = Handshake.NewKey(),
                Home = parse.GetValue(home),
                QuotaBytes = ParseQuota(parse.GetValue(quota)),
                Permissions = parse.GetValue(allow) is { } a ? UserAccount.ParsePermissions(a) : Permissions.Read | Permissions.Write,
                OsUser = ParseOsUser(parse.GetValue(osUser)),
            };
            var writtenKey = WriteKeyFile(parse.GetValue(keyFile), account.Key); // first: a key file without its user is harmless, the reverse is a lost key
            await users.AddAsync(account, ct).ConfigureAwait(false);
            if (CommonOptions.JsonOutput(parse, json) is { } lines)
            {
                lines.Write(Describe("user_added", account, path) with { Key = Convert.ToBase64String(account.Key) });
                return;
            }
            var output = parse.InvocationConfiguration.Output;
            output.WriteLine($"Added user '{account.Name}' (allow: {UserAccount.FormatPermissions(account.Permissions)}) to {path}.");
            PrintKey(output, account, writtenKey);
        }));

        var list = new Command("list", "List the users (keys are not shown).\n\nExamples:\n  ferry user list\n  ferry user list --json --state-dir /var/lib/ferry");
        list.SetAction((parse, ct) => RunAsync(parse, json, async () =>
        {
            var output = parse.InvocationConfiguration.Output;
            await using var store = await OpenAsync(parse, ct).ConfigureAwait(false);
            var path = store.Description;
            var (users, unreadable) = await store.ListAsync(ct).ConfigureAwait(false);
            if (CommonOptions.JsonOutput(parse, json) is { } lines)
            {
                foreach (var u in users)
                    lines.Write(Describe("user", u, path));
                foreach (var record in unreadable)
                    lines.Write(new CommandEvent { Event = "user_unreadable", Name = record.Name, Path = path, Message = record.Reason });
                return;
            }
            output.WriteLine($"{"NAME",-20} {"ALLOW",-16} {"QUOTA",-16} HOME");
            foreach (var u in users)
                output.WriteLine($"{u.Name,-20} {UserAccount.FormatPermissions(u.Permissions),-16} {(u.QuotaBytes?.ToString(CultureInfo.InvariantCulture) ?? "none"),-16} {u.Home ?? "(root)/" + u.Name}");
            // Listed apart, on stderr: no server lets such a record log in, and the administrator should remove or rewrite it.
            foreach (var record in unreadable)
                parse.InvocationConfiguration.Error.WriteLine(record.Name is { } named
                    ? $"warning: {record.Reason} No server lets it log in; remove it with 'ferry user remove {named}' and add the user again."
                    : $"warning: {record.Reason} No server lets it log in; its key names no valid user, so remove it with the NATS tools.");
        }));

        var remove = new Command("remove", "Remove a user (their files stay).\n\nExample:\n  ferry user remove alice") { name };
        remove.SetAction((parse, ct) => RunAsync(parse, json, async () =>
        {
            await using var users = await OpenAsync(parse, ct).ConfigureAwait(false);
            var path = users.Description;
            var userName = parse.GetValue(name)!;
            await users.RemoveAsync(userName, ct).ConfigureAwait(false);
            if (CommonOptions.JsonOutput(parse, json) is { } lines)
                lines.Write(new CommandEvent { Event = "user_removed", Name = userName, Path = path });
            else
                parse.InvocationConfiguration.Output.WriteLine($"Removed user '{userName}'. Their files are kept.");
        }));

        var newKey = new Option<bool>("--new-key") { Description = "Replace the key with a new one (printed once)." };
        var set = new Command("set", "Change a user's home, quota, permissions or key.\n\nExamples:\n  ferry user set alice --allow read,write,exec\n  ferry user set alice --quota none\n  ferry user set alice --new-key --key-file alice.key")
        {
            name, home, quota, allow, newKey, keyFile, osUser,
        };
        set.SetAction((parse, ct) => RunAsync(parse, json, async () =>
        {
            if (parse.GetValue(keyFile) is not null && !parse.GetValue(newKey))
                throw new ArgumentException("--key-file writes a new key: add --new-key.");
            await using var users = await OpenAsync(parse, ct).ConfigureAwait(false);
            var path = users.Description;
            var userName = parse.GetValue(name)!;
            var quotaBytes = parse.GetValue(quota) is { } q ? ParseQuota(q) : null;
            var permissions = parse.GetValue(allow) is { } a ? UserAccount.ParsePermissions(a) : (Permissions?)null;
            var os = parse.GetValue(osUser) is { } o ? ParseOsUser(o) : null;
            var key = parse.GetValue(newKey) ? Handshake.NewKey() : null;
            var writtenKey = key is not null ? WriteKeyFile(parse.GetValue(keyFile), key) : null; // first, as for add
            var account = await users.UpdateAsync(userName, current =>
            {
                var changed = current;
                if (parse.GetValue(home) is { } h) changed = changed with { Home = h };
                if (parse.GetValue(quota) is not null) changed = changed with { QuotaBytes = quotaBytes };
                if (permissions is { } p) changed = changed with { Permissions = p };
                if (parse.GetValue(osUser) is not null) changed = changed with { OsUser = os };
                if (key is not null) changed = changed with { Key = key };
                return changed;
            }, ct).ConfigureAwait(false);
            if (CommonOptions.JsonOutput(parse, json) is { } lines)
            {
                var updated = Describe("user_updated", account, path);
                lines.Write(parse.GetValue(newKey) ? updated with { Key = Convert.ToBase64String(account.Key) } : updated);
                return;
            }
            var output = parse.InvocationConfiguration.Output;
            output.WriteLine($"Updated user '{account.Name}' (allow: {UserAccount.FormatPermissions(account.Permissions)}, quota: {account.QuotaBytes?.ToString(CultureInfo.InvariantCulture) ?? "none"}). A running server picks this up within seconds (or at once on SIGHUP).");
            if (parse.GetValue(newKey))
                PrintKey(output, account, writtenKey);
        }));

        command.Subcommands.Add(add);
        command.Subcommands.Add(list);
        command.Subcommands.Add(remove);
        command.Subcommands.Add(set);
        return command;
    }

    private static void PrintKey(TextWriter output, UserAccount account, string? keyFile)
    {
        output.WriteLine("Key (shown only now; give it to the user over a safe channel):");
        output.WriteLine($"  {Convert.ToBase64String(account.Key)}");
        if (keyFile is null)
            output.WriteLine($"On the client: ferry login --server HOST:PORT --user {account.Name}   (and paste the key)");
        else
            output.WriteLine($"It is also in {keyFile}. On the client: ferry login --server HOST:PORT --user {account.Name} < {keyFile}");
    }

    /// <summary>Writes the key to <paramref name="path"/> (owner-only, replacing an older key file); returns the path, or null when none was asked for.</summary>
    private static string? WriteKeyFile(string? path, byte[] key)
    {
        if (path is null)
            return null;
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var writer = new StreamWriter(path, System.Text.Encoding.ASCII, options))
            writer.WriteLine(Convert.ToBase64String(key));
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite); // an existing file keeps its mode on open
        return path;
    }

    /// <summary>A user as --json shows it; the key only where the text output prints it too.</summary>
    private static CommandEvent Describe(string eventName, UserAccount account, string usersFile) => new()
    {
        Event = eventName,
        Name = account.Name,
        Allow = UserAccount.FormatPermissions(account.Permissions),
        Quota = account.QuotaBytes,
        Home = account.Home,
        Path = usersFile,
    };

    private static long? ParseQuota(string? text) =>
        text is null or "none" ? null
        : long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) ? bytes
        : throw new ArgumentException($"--quota '{text}' is not a number of bytes (or 'none').");

    private static string? ParseOsUser(string? text) =>
        text is null || text == "none" ? null
        : UserAccount.IsValidOsUser(text) && text != "root" ? text
        : throw new ArgumentException($"--os-user '{text}' is not the name of an unprivileged OS account (or 'none').");

    private static async Task<int> RunAsync(ParseResult parse, Option<bool> json, Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
            return ExitCodes.Success;
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            var exitCode = ex is IOException or UnauthorizedAccessException ? ExitCodes.LocalIo : ExitCodes.Usage;
            parse.InvocationConfiguration.Error.WriteLine($"ferry user: {ex.Message}");
            CommonOptions.JsonOutput(parse, json)?.WriteError(ExitCodes.ErrorCode(exitCode), exitCode, ex.Message);
            return exitCode;
        }
    }
}
