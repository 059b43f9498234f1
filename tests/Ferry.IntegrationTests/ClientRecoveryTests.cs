using Ferry.Client.Transfers;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// How the client comes out of a lost connection, a full local disk and a retry: connection errors read as such,
/// nothing hidden is left to eat the space, and re-running a finished put is not an error.
/// </summary>
[Collection(LargeTransfers.Name)]
public class ClientRecoveryTests
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task A_server_that_dies_in_the_middle_of_a_file_body_gives_the_connection_error_exit_code()
    {
        await using var dying = FakeServer.Start(async (header, _, writer, ct) =>
        {
            if (header.Command == CommandNames.Hello)
            {
                writer.WriteHeader(new HelloMessage { Version = ProtocolVersion.Current, Features = ["get"] }, FerryJsonContext.Default.HelloMessage);
                return;
            }
            if (header.Command == CommandNames.Stat)
            {
                writer.WriteHeader(new StatResultMessage { Path = "big.bin", Entry = new FileEntry { Name = "big.bin", Type = "file", Size = MiB } },
                    FerryJsonContext.Default.StatResultMessage);
                return;
            }
            // get: a file frame that announces 1 MiB, 1000 bytes of it, then the server is gone (as if killed).
            var get = header.Deserialize(FerryJsonContext.Default.GetMessage);
            writer.WriteHeader(new FileDataMessage { Id = get.Id, Path = get.Path, Size = MiB, BodySize = MiB }, FerryJsonContext.Default.FileDataMessage, MiB);
            writer.WriteBody(new byte[1000]);
            await writer.FlushAsync(ct);
            throw new IOException("killed");
        });
        using var local = new TempDirectory("ferry-lost");

        var result = await Cli.RunAsync("get", "--plain", "--server", dying.Address.ToString(), "big.bin", local.Combine("big.bin"));

        Assert.Equal(Ferry.Cli.ExitCodes.Unreachable, result.ExitCode);
        Assert.Contains("connection", result.Stderr);
        Assert.Contains("lost", result.Stderr);
        Assert.False(File.Exists(local.Combine("big.bin")));
    }

    [Fact]
    public async Task A_server_that_closes_without_answering_gives_the_connection_error_exit_code()
    {
        await using var dying = FakeServer.Start((header, _, _, _) => throw new IOException("killed before answering"));
        var result = await Cli.RunAsync("ls", "--plain", "--json", "--server", dying.Address.ToString());

        Assert.Equal(Ferry.Cli.ExitCodes.Unreachable, result.ExitCode);
        Assert.Contains("\"exit\":3", result.Stdout.Replace(" ", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_download_that_fills_the_local_disk_removes_its_part_file_so_the_next_one_fits()
    {
        using var mount = TmpfsMount.Create(sizeBytes: 4 * MiB);
        using var sandbox = new TempDirectory("ferry-disk-full-part");
        var root = Directory.CreateDirectory(sandbox.Combine("root")).FullName;
        TestFiles.Create(Path.Combine(root, "big.bin"), 8 * MiB, seed: 41);
        var small = TestFiles.Create(Path.Combine(root, "small.bin"), 3 * MiB, seed: 42);
        await using var server = await ServerProcess.StartAsync(root, sandbox.Combine("state"));

        var failed = await FerryProcess.RunAsync("get", "--plain", "--server", server.Address, "-q", "big.bin", Path.Combine(mount.Path, "big.bin"));
        Assert.Equal(Ferry.Cli.ExitCodes.NoSpace, failed.ExitCode);
        Assert.Contains("partial download was removed", failed.Stderr);
        Assert.Empty(Directory.GetFileSystemEntries(mount.Path)); // no hidden part file holds the space

        // Without any cleanup by hand, a file that fits arrives intact.
        var get = await FerryProcess.RunAsync("get", "--plain", "--server", server.Address, "-q", "small.bin", Path.Combine(mount.Path, "small.bin"));
        Assert.True(get.ExitCode == 0, get.Stderr);
        TestFiles.AssertSame(small, Path.Combine(mount.Path, "small.bin"));
    }

    [Fact]
    public async Task Running_a_completed_put_again_reports_it_up_to_date_and_a_different_file_still_needs_force()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-put-again");
        var source = TestFiles.Create(local.Combine("a.bin"), 9 * MiB + 3, seed: 43);
        var empty = TestFiles.CreateText(local.Combine("empty.txt"), "");
        string[] Put(params string[] args) => ["put", "--plain", "--server", server.Address.ToString(), .. args];

        (await Cli.RunAsync(Put(source, empty, "dir/"))).AssertSuccess();
        var again = await Cli.RunAsync(Put(source, empty, "dir/"));
        again.AssertSuccess();
        Assert.Contains("dir/a.bin: already up to date", again.Stdout);
        Assert.Contains("dir/empty.txt: already up to date", again.Stdout);
        var json = await Cli.RunAsync(Put("--json", source, "dir/a.bin"));
        json.AssertSuccess();
        var done = Assert.Single(json.JsonLines(), e => e.GetProperty("event").GetString() == "done");
        Assert.True(done.GetProperty("up_to_date").GetBoolean());

        // Same size, one byte changed in the last chunk: not the same file, so the refusal stands.
        var bytes = File.ReadAllBytes(source);
        bytes[^1] ^= 0xff;
        File.WriteAllBytes(source, bytes);
        var changed = await Cli.RunAsync(Put(source, "dir/a.bin"));
        Assert.Equal(Ferry.Cli.ExitCodes.AlreadyExists, changed.ExitCode);
        Assert.Contains("already_exists", changed.Stderr);
        Assert.NotEqual(bytes, File.ReadAllBytes(Path.Combine(server.Root, "dir", "a.bin")));
    }

    [Fact]
    public async Task A_resumed_download_refetches_from_the_first_chunk_that_differs_as_the_docs_say()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory("ferry-resume-docs");
        var stored = TestFiles.Create(Path.Combine(server.Root, "d.bin"), 16 * MiB, seed: 44);

        // A partial download of 12 MiB whose second 4 MiB chunk was damaged; chunk 3 is right again.
        var part = local.Combine(".ferry-part.d.bin");
        var prefix = new byte[12 * MiB];
        using (var source = File.OpenRead(stored))
            source.ReadExactly(prefix);
        prefix[5 * MiB] ^= 0xff;
        File.WriteAllBytes(part, prefix);

        var result = await client.GetFileAsync("d.bin", local.Combine("d.bin"), new GetOptions { Resume = true }, cancellationToken: TestTimeouts.Token());

        Assert.Equal(4 * MiB, result.ResumedFrom);
        Assert.Equal(12 * MiB, result.BytesTransferred); // chunk 3 matched but comes again: everything after the first bad chunk
        TestFiles.AssertSame(stored, local.Combine("d.bin"));
        var readme = string.Join(' ', File.ReadAllText(Path.Combine(DocsTests.Repo(), "README.md")).Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("fetches from the first chunk that differs", readme);
        Assert.DoesNotContain("An interrupted transfer continues with `--resume`", readme);
    }

    [Fact]
    public async Task The_deprecated_resume_flag_still_works_and_says_that_resuming_is_automatic()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-resume-flag");
        var file = TestFiles.CreateText(local.Combine("r.txt"), "resumable");

        var result = await Cli.RunAsync("put", "--plain", "--server", server.Address.ToString(), "--resume", file);

        result.AssertSuccess();
        Assert.Contains("--resume is not needed", result.Stderr);
        var help = await Cli.RunAsync("put", "--help");
        Assert.DoesNotContain("--resume", help.Stdout);
        Assert.Contains("--no-resume", help.Stdout);
    }
}
