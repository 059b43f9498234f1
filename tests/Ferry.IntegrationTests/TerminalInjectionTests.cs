using System.Text;
using System.Text.Json;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Protocol.Text;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// A hostile server's error messages and file names reach the user's terminal with their control characters escaped
/// (docs/security.md, "Terminal injection"): ESC, OSC, BEL, CR and bidi overrides show up as \x1b, \u202e.
/// </summary>
public class TerminalInjectionTests
{
    private const string Osc = "\u001b]0;you have been pwned\u0007";
    private const string HostileName = "report\u001b[2J\u202etxt.exe";

    private static void AssertNothingRaw(CliResult result)
    {
        foreach (var text in new[] { result.Stdout, result.Stderr })
            Assert.DoesNotContain(text.Replace("\n", "", StringComparison.Ordinal), ControlCharacters.IsUnsafe);
    }

    private static Task HelloThen(FrameHeader header, FrameWriter writer, Action reply)
    {
        if (header.Command == CommandNames.Hello)
            writer.WriteHeader(new HelloMessage { Version = ProtocolVersion.Current, Features = ["get", "ls"] }, FerryJsonContext.Default.HelloMessage);
        else
            reply();
        return Task.CompletedTask;
    }

    private static void WriteListing(FrameWriter writer, string path, params FileEntry[] entries)
    {
        var listing = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(entries.ToList(), FerryJsonContext.Default.ListFileEntry));
        writer.WriteHeader(new ListingMessage { Path = path, Count = entries.Length, BodySize = listing.Length }, FerryJsonContext.Default.ListingMessage, listing.Length);
        writer.WriteBody(listing);
    }

    [Fact]
    public async Task An_error_frame_sent_instead_of_hello_is_printed_escaped()
    {
        await using var impostor = FakeServer.Start((header, _, writer, _) =>
        {
            writer.WriteHeader(new ErrorMessage { Code = "server_busy\u001b[31m", Message = $"{Osc}try later\r\u009b2K" }, FerryJsonContext.Default.ErrorMessage);
            return Task.CompletedTask;
        });
        var result = await Cli.RunAsync("ls", "--plain", "--server", impostor.Address.ToString());

        Assert.NotEqual(0, result.ExitCode);
        AssertNothingRaw(result);
        Assert.Contains("\\x1b]0;you have been pwned\\x07try later\\x0d\\x9b2K", result.Stderr);
    }

    [Fact]
    public async Task Names_in_a_listing_are_printed_escaped()
    {
        await using var impostor = FakeServer.Start((header, _, writer, _) => HelloThen(header, writer, () =>
            WriteListing(writer, "", new FileEntry { Name = HostileName, Type = "file", Size = 3 }, new FileEntry { Name = Osc, Type = "dir" })));
        var result = await Cli.RunAsync("ls", "--plain", "--server", impostor.Address.ToString());

        result.AssertSuccess();
        AssertNothingRaw(result);
        Assert.Contains("report\\x1b[2J\\u{202E}txt.exe", result.Stdout);
        Assert.Contains("\\x1b]0;you have been pwned\\x07", result.Stdout);
    }

    [Fact]
    public async Task Names_in_a_tree_download_and_its_error_lines_are_printed_escaped()
    {
        await using var impostor = FakeServer.Start((header, _, writer, _) => HelloThen(header, writer, () =>
        {
            if (header.Command == CommandNames.Stat)
                writer.WriteHeader(new StatResultMessage { Path = "d", Entry = new FileEntry { Name = "d", Type = "dir" } }, FerryJsonContext.Default.StatResultMessage);
            else if (header.Command == CommandNames.List)
                WriteListing(writer, "d", new FileEntry { Name = HostileName, Type = "file", Size = 3 });
        }));
        using var local = new TempDirectory("ferry-injection-get");
        var result = await Cli.RunAsync("get", "-r", "--plain", "--server", impostor.Address.ToString(), "d", local.Combine("d"));

        Assert.NotEqual(0, result.ExitCode);
        AssertNothingRaw(result);
        Assert.Contains("report\\x1b[2J\\u{202E}txt.exe", result.Stderr);
    }
}
