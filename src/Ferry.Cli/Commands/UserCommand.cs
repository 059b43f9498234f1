using System.CommandLine;
using System.Globalization;
using Ferry.Protocol.Auth;
using Ferry.Server.Auth;

namespace Ferry.Cli.Commands;

/// <summary><c>ferry user add|list|remove|set</c>: manage the server's users file.</summary>
internal static class UserCommand
{
    public static Command Create()
    {
        var stateDir = new Option<string>("--state-dir") { Description = "The server's state folder (as given to 'ferry serve').", DefaultValueFactory = _ => "ferry-server", Recursive = true };
        var usersFile = new Option<string?>("--users") { Description = "Users file (default: users.json in --state-dir).", Recursive = true };
        var command = new Command("user", "Manage the users of a Ferry server (run on the server machine).\n\nExamples:\n  ferry user add alice\n  ferry user set alice --allow read,write,exec --quota 10000000000\n  ferry user list")
        {
            stateDir, usersFile,
        };

        string PathOf(ParseResult parse) => parse.GetValue(usersFile) ?? Path.Combine(parse.GetValue(stateDir)!, "users.json");

        var name = new Argument<string>("name") { Description = "User name: letters, digits, '.', '_', '-'; up to 32 characters." };
        var home = new Option<string?>("--home") { Description = "Home folder, absolute or relative to the server's --root (default: ROOT/NAME)." };
        var quota = new Option<string?>("--quota") { Description = "Byte quota for the home, or 'none'." };
        var allow = new Option<string?>("--allow") { Description = "Permissions: any of read,write,exec (default read,write), or none." };

        var add = new Command("add", "Add a user with a new random key, printed once.") { name, home, quota, allow };
        add.SetAction(parse => Run(parse, () =>
        {
            var path = PathOf(parse);
            var users = UsersFile.Load(path).ToList();
            var userName = parse.GetValue(name)!;
            if (!UserAccount.IsValidName(userName))
                throw new ArgumentException($"'{userName}' is not a valid user name: use letters, digits, '.', '_' and '-', up to 32 characters.");
            if (users.Any(u => u.Name == userName))
                throw new ArgumentException($"User '{userName}' already exists; use 'ferry user set {userName} --new-key' for a new key.");
            var account = new UserAccount
            {
                Name = userName,
                Key = Handshake.NewKey(),
                Home = parse.GetValue(home),
                QuotaBytes = ParseQuota(parse.GetValue(quota)),
                Permissions = parse.GetValue(allow) is { } a ? UserAccount.ParsePermissions(a) : Permissions.Read | Permissions.Write,
            };
            users.Add(account);
            UsersFile.Save(path, users);
            var output = parse.InvocationConfiguration.Output;
            output.WriteLine($"Added user '{account.Name}' (allow: {UserAccount.FormatPermissions(account.Permissions)}) to {path}.");
            PrintKey(output, account);
        }));

        var list = new Command("list", "List the users (keys are not shown).");
        list.SetAction(parse => Run(parse, () =>
        {
            var output = parse.InvocationConfiguration.Output;
            var users = UsersFile.Load(PathOf(parse));
            output.WriteLine($"{"NAME",-20} {"ALLOW",-16} {"QUOTA",-16} HOME");
            foreach (var u in users)
                output.WriteLine($"{u.Name,-20} {UserAccount.FormatPermissions(u.Permissions),-16} {(u.QuotaBytes?.ToString(CultureInfo.InvariantCulture) ?? "none"),-16} {u.Home ?? "(root)/" + u.Name}");
        }));

        var remove = new Command("remove", "Remove a user (their files stay).") { name };
        remove.SetAction(parse => Run(parse, () =>
        {
            var path = PathOf(parse);
            var users = UsersFile.Load(path).ToList();
            var userName = parse.GetValue(name)!;
            if (users.RemoveAll(u => u.Name == userName) == 0)
                throw new ArgumentException($"There is no user '{userName}'.");
            UsersFile.Save(path, users);
            parse.InvocationConfiguration.Output.WriteLine($"Removed user '{userName}'. Their files are kept.");
        }));

        var newKey = new Option<bool>("--new-key") { Description = "Replace the key with a new one (printed once)." };
        var set = new Command("set", "Change a user's home, quota, permissions or key.") { name, home, quota, allow, newKey };
        set.SetAction(parse => Run(parse, () =>
        {
            var path = PathOf(parse);
            var users = UsersFile.Load(path).ToList();
            var userName = parse.GetValue(name)!;
            var index = users.FindIndex(u => u.Name == userName);
            if (index < 0)
                throw new ArgumentException($"There is no user '{userName}'; add it with 'ferry user add {userName}'.");
            var account = users[index];
            if (parse.GetValue(home) is { } h) account = account with { Home = h };
            if (parse.GetValue(quota) is { } q) account = account with { QuotaBytes = ParseQuota(q) };
            if (parse.GetValue(allow) is { } a) account = account with { Permissions = UserAccount.ParsePermissions(a) };
            if (parse.GetValue(newKey)) account = account with { Key = Handshake.NewKey() };
            users[index] = account;
            UsersFile.Save(path, users);
            var output = parse.InvocationConfiguration.Output;
            output.WriteLine($"Updated user '{account.Name}' (allow: {UserAccount.FormatPermissions(account.Permissions)}, quota: {account.QuotaBytes?.ToString(CultureInfo.InvariantCulture) ?? "none"}). A running server picks this up within seconds (or at once on SIGHUP).");
            if (parse.GetValue(newKey))
                PrintKey(output, account);
        }));

        command.Subcommands.Add(add);
        command.Subcommands.Add(list);
        command.Subcommands.Add(remove);
        command.Subcommands.Add(set);
        return command;
    }

    private static void PrintKey(TextWriter output, UserAccount account)
    {
        output.WriteLine("Key (shown only now; give it to the user over a safe channel):");
        output.WriteLine($"  {Convert.ToBase64String(account.Key)}");
        output.WriteLine($"On the client: ferry login --server HOST:PORT --user {account.Name}   (and paste the key)");
    }

    private static long? ParseQuota(string? text) =>
        text is null or "none" ? null
        : long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) ? bytes
        : throw new ArgumentException($"--quota '{text}' is not a number of bytes (or 'none').");

    private static int Run(ParseResult parse, Action action)
    {
        try
        {
            action();
            return ExitCodes.Success;
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            parse.InvocationConfiguration.Error.WriteLine($"ferry user: {ex.Message}");
            return ex is IOException or UnauthorizedAccessException ? ExitCodes.LocalIo : ExitCodes.Usage;
        }
    }
}
