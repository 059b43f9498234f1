using System.CommandLine;
using System.Globalization;
using Ferry.Client;
using Ferry.Cli.Rendering;
using Ferry.Protocol.Files;

namespace Ferry.Cli.Commands;

/// <summary>
/// <c>ferry stat</c>, <c>mkdir</c>, <c>rm</c> and <c>mv</c>: one request each; silent on success, like their Unix
/// namesakes (stat prints), unless --json asks for a 'done' object.
/// </summary>
internal static class ManagementCommands
{
    public static Command Stat()
    {
        var server = CommonOptions.Server();
        var path = new Argument<string>("path") { Description = "Remote file or directory." };
        var json = CommonOptions.Json();
        var command = new Command("stat", "Show a remote entry's type, size and modification time.\n\nExamples:\n  ferry stat docs/report.pdf\n  ferry stat --json docs/report.pdf")
        {
            server, path, json,
        };
        command.SetAction((parse, ct) => CommonOptions.RunClientAsync(parse, server, async address =>
        {
            await using var client = await ClientConnector.ConnectAsync(parse, address, ct).ConfigureAwait(false);
            var entry = await client.StatEntryAsync(parse.GetValue(path)!, ct).ConfigureAwait(false);
            var remotePath = RemotePath.Normalize(parse.GetValue(path));
            if (CommonOptions.JsonOutput(parse, json) is { } lines)
            {
                lines.Write(new CommandEvent { Event = "entry", Path = remotePath, Name = entry.Name, Type = entry.Type, Size = entry.Size, Modified = entry.ModifiedUnixSeconds });
                return ExitCodes.Success;
            }
            var output = parse.InvocationConfiguration.Output;
            await output.WriteLineAsync($"path:     {remotePath}").ConfigureAwait(false);
            await output.WriteLineAsync($"type:     {Ferry.Protocol.Text.ControlCharacters.Escape(entry.Type)}").ConfigureAwait(false);
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"size:     {entry.Size} ({Sizes.Human(entry.Size)})")).ConfigureAwait(false);
            await output.WriteLineAsync($"modified: {Sizes.Time(entry.ModifiedUnixSeconds)}").ConfigureAwait(false);
            return ExitCodes.Success;
        }, json));
        return command;
    }

    public static Command Mkdir()
    {
        var server = CommonOptions.Server();
        var path = new Argument<string>("path") { Description = "Remote directory to create." };
        var parents = new Option<bool>("--parents", "-p") { Description = "Create missing parents too, and accept a directory that already exists." };
        var json = CommonOptions.Json();
        var command = new Command("mkdir", "Create a remote directory.\n\nExamples:\n  ferry mkdir photos\n  ferry mkdir -p backup/2025/photos") { server, path, parents, json };
        command.SetAction((parse, ct) => CommonOptions.RunClientAsync(parse, server, async address =>
        {
            await using var client = await ClientConnector.ConnectAsync(parse, address, ct).ConfigureAwait(false);
            await client.MkdirAsync(parse.GetValue(path)!, parse.GetValue(parents), ct).ConfigureAwait(false);
            CommonOptions.JsonOutput(parse, json)?.Write(new CommandEvent { Event = "done", Path = RemotePath.Normalize(parse.GetValue(path)) });
            return ExitCodes.Success;
        }, json));
        return command;
    }

    public static Command Remove()
    {
        var server = CommonOptions.Server();
        var path = new Argument<string>("path") { Description = "Remote file or directory to remove." };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "Remove a directory and everything in it." };
        var json = CommonOptions.Json();
        var command = new Command("rm", "Remove a remote file or empty directory (a whole tree with -r).\n\nExamples:\n  ferry rm notes.txt\n  ferry rm -r backup/old")
        {
            server, path, recursive, json,
        };
        command.SetAction((parse, ct) => CommonOptions.RunClientAsync(parse, server, async address =>
        {
            await using var client = await ClientConnector.ConnectAsync(parse, address, ct).ConfigureAwait(false);
            await client.RemoveAsync(parse.GetValue(path)!, parse.GetValue(recursive), ct).ConfigureAwait(false);
            CommonOptions.JsonOutput(parse, json)?.Write(new CommandEvent { Event = "done", Path = RemotePath.Normalize(parse.GetValue(path)) });
            return ExitCodes.Success;
        }, json));
        return command;
    }

    public static Command Move()
    {
        var server = CommonOptions.Server();
        var from = new Argument<string>("from") { Description = "Remote path to move." };
        var to = new Argument<string>("to") { Description = "New remote path." };
        var force = new Option<bool>("--force", "-f") { Description = "Replace an existing file at the new path (never a directory)." };
        var json = CommonOptions.Json();
        var command = new Command("mv", "Rename or move a remote file or directory.\n\nExamples:\n  ferry mv drafts/report.pdf docs/report.pdf\n  ferry mv -f new.cfg app.cfg")
        {
            server, from, to, force, json,
        };
        command.SetAction((parse, ct) => CommonOptions.RunClientAsync(parse, server, async address =>
        {
            await using var client = await ClientConnector.ConnectAsync(parse, address, ct).ConfigureAwait(false);
            await client.MoveAsync(parse.GetValue(from)!, parse.GetValue(to)!, parse.GetValue(force), ct).ConfigureAwait(false);
            CommonOptions.JsonOutput(parse, json)?.Write(new CommandEvent
            {
                Event = "done",
                Path = RemotePath.Normalize(parse.GetValue(from)),
                To = RemotePath.Normalize(parse.GetValue(to)),
            });
            return ExitCodes.Success;
        }, json));
        return command;
    }
}
