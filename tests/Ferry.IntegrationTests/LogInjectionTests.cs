using Ferry.Protocol.Auth;
using Ferry.Server.Auth;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// Text a peer chooses reaches the server log and the audit log with its control characters escaped
/// (docs/security.md, "Log injection"): a forged line, a terminal escape or a bidi override stays visible as text.
/// </summary>
public class LogInjectionTests
{
    private static bool HasRawControl(string text) =>
        text.Any(c => c is '\u001b' or '\u0007' or '\r' or '\n' or '\u009b' or '\u202e' or '\0');

    [Fact]
    public async Task A_hostile_agent_unknown_command_and_user_name_are_logged_escaped()
    {
        // Logins and an audit file: the hostile user name reaches both logs.
        await using var login = await LoginServer.StartAsync([("alice", null)],
            o => o with { AuthFailureDelay = TimeSpan.Zero, AuditLogPath = Path.Combine(o.StateDirectory, "audit.jsonl") });
        var server = login.Server;

        await using (var raw = await server.ConnectRawAsync())
        {
            await raw.SendAsync(FrameBytes.Frame("""{"cmd":"hello","version":1,"agent":"evil\r\n2026-12-02 INFO forged\u001b]0;owned\u0007\u202Egnp.exe"}"""));
            Assert.Equal("hello", (await raw.ReadAsync())!.Command);
            await raw.SendAsync(FrameBytes.Frame("""{"cmd":"\u001b[2J\u001b[31mX\rY\u009b"}"""));
            Assert.Equal(("command_unknown", false), await raw.ReadErrorAsync());
            await raw.SendAsync(FrameBytes.Frame("""{"cmd":"auth","user":"a\u001b[8mlice\n","challenge":"AAAA","proof":"AAAA"}"""));
            Assert.Equal(("authentication_failed", true), await raw.ReadErrorAsync());
        }
        await HostTests.WaitUntilAsync(() => server.Logs.Lines.Any(l => l.Message.Contains("login failed", StringComparison.Ordinal)));

        var lines = server.Logs.Lines.ToList();
        Assert.All(lines, l => Assert.False(HasRawControl(l.Message), $"raw control character in: {l.Message}"));
        Assert.Contains(lines, l => l.Message.Contains(@"evil\x0d\x0a2026-12-02 INFO forged\x1b]0;owned\x07\u{202E}gnp.exe", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Message.Contains(@"\x1b[2J\x1b[31mX\x0dY\x9b", StringComparison.Ordinal));

        var audit = await File.ReadAllTextAsync(server.Options.AuditLogPath!);
        Assert.False(HasRawControl(audit.TrimEnd('\n')), audit);
        Assert.DoesNotContain("\\u001b", audit, StringComparison.OrdinalIgnoreCase); // not even JSON-escaped: the name was not taken as given
    }
}
