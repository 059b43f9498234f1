using Ferry.Server.Auth;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>The ferry user commands, run as the real executable against a real users file.</summary>
public class UserCommandTests
{
    private static async Task<(int Code, string Out, string Err)> Ferry(string workingDirectory, params string[] args)
    {
        await using var p = FerryProcess.Start(args, workingDirectory);
        await p.WaitForExitAsync();
        return (p.ExitCode, p.Stdout, p.Stderr);
    }

    [Fact]
    public async Task Add_list_set_and_remove_manage_an_owner_only_users_file()
    {
        using var work = new TempDirectory("ferry-users");
        var added = await Ferry(work.Path, "user", "add", "alice", "--quota", "1000000", "--allow", "read,exec");
        Assert.True(added.Code == 0, added.Err);
        var path = Path.Combine(work.Path, "ferry-server", "users.json");
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var user = Assert.Single(UsersFile.Load(path));
        Assert.Equal(Permissions.Read | Permissions.Exec, user.Permissions);
        Assert.Equal(1_000_000, user.QuotaBytes);
        Assert.Contains(Convert.ToBase64String(user.Key), added.Out); // printed once, pasteable

        var again = await Ferry(work.Path, "user", "add", "alice");
        Assert.Equal(2, again.Code);
        Assert.Contains("already exists", again.Err);

        var list = await Ferry(work.Path, "user", "list");
        Assert.Contains("alice", list.Out);
        Assert.DoesNotContain(Convert.ToBase64String(user.Key), list.Out); // keys are never listed

        var rotated = await Ferry(work.Path, "user", "set", "alice", "--new-key", "--allow", "read,write");
        Assert.True(rotated.Code == 0, rotated.Err);
        var after = Assert.Single(UsersFile.Load(path));
        Assert.NotEqual(user.Key, after.Key);
        Assert.Equal(Permissions.Read | Permissions.Write, after.Permissions);
        Assert.Contains(Convert.ToBase64String(after.Key), rotated.Out);

        Assert.Equal(2, (await Ferry(work.Path, "user", "add", "bad name")).Code);
        Assert.Equal(2, (await Ferry(work.Path, "user", "set", "alice", "--allow", "root")).Code);
        Assert.Equal(0, (await Ferry(work.Path, "user", "remove", "alice")).Code);
        Assert.Empty(UsersFile.Load(path));
    }

    [Fact]
    public async Task Os_user_maps_a_user_to_an_os_account_and_root_is_refused()
    {
        using var work = new TempDirectory("ferry-users");
        Assert.Equal(0, (await Ferry(work.Path, "user", "add", "alice", "--os-user", "nobody")).Code);
        var path = Path.Combine(work.Path, "ferry-server", "users.json");
        Assert.Equal("nobody", Assert.Single(UsersFile.Load(path)).OsUser);
        Assert.Contains("\"os_user\": \"nobody\"", await File.ReadAllTextAsync(path));
        var root = await Ferry(work.Path, "user", "set", "alice", "--os-user", "root");
        Assert.Equal(2, root.Code);
        Assert.Contains("unprivileged", root.Err);
        Assert.Equal(0, (await Ferry(work.Path, "user", "set", "alice", "--os-user", "none")).Code);
        Assert.Null(Assert.Single(UsersFile.Load(path)).OsUser);
        // A users file edited by hand is checked as strictly.
        await File.WriteAllTextAsync(path, (await File.ReadAllTextAsync(path)).Replace("\"allow\"", "\"os_user\": \"root\", \"allow\"", StringComparison.Ordinal));
        Assert.Throws<InvalidDataException>(() => UsersFile.Load(path));
    }

    [Fact]
    public async Task A_malformed_users_file_stops_ferry_serve_with_a_clear_message()
    {
        using var work = new TempDirectory("ferry-users");
        Directory.CreateDirectory(Path.Combine(work.Path, "ferry-server"));
        await File.WriteAllTextAsync(Path.Combine(work.Path, "ferry-server", "users.json"), "{ not json");
        var result = await Ferry(work.Path, "serve", "--listen", "127.0.0.1:0");
        Assert.Equal(2, result.Code);
        Assert.Contains("users file", result.Err);
        Assert.Contains("not valid JSON", result.Err);
    }
}
