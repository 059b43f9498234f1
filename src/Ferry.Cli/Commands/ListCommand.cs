using System.CommandLine;
using Ferry.Client;
using Ferry.Cli.Rendering;
using Ferry.Protocol.Messages;
using Ferry.Protocol.Text;
using Spectre.Console;

namespace Ferry.Cli.Commands;

/// <summary><c>ferry ls [PATH]</c>: name, size, modified time and type of each entry.</summary>
internal static class ListCommand
{
    public static Command Create(CliEnvironment environment)
    {
        var server = CommonOptions.Server();
        var path = new Argument<string>("path") { Description = "Remote directory or file. Default: the root.", Arity = ArgumentArity.ZeroOrOne, DefaultValueFactory = _ => "" };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "List everything below PATH, with paths relative to it." };
        var json = CommonOptions.Json();
        var command = new Command("ls", "List a remote directory: name, size, modification time and type. A table on a terminal, aligned plain text (sizes in bytes) when redirected.\n\n"
            + "Examples:\n  ferry ls\n  ferry ls -r docs\n  ferry ls --json docs")
        {
            server, path, recursive, json,
        };
        command.SetAction((parse, ct) => CommonOptions.RunClientAsync(parse, server, async address =>
        {
            await using var client = await ClientConnector.ConnectAsync(parse, address, ct).ConfigureAwait(false);
            var listed = parse.GetValue(path) ?? "";
            var entries = await client.ListEntriesAsync(listed, parse.GetValue(recursive), ct).ConfigureAwait(false);
            if (CommonOptions.JsonOutput(parse, json) is { } lines)
            {
                foreach (var e in entries)
                    lines.Write(new CommandEvent { Event = "entry", Name = e.Name, Type = e.Type, Size = e.Size, Modified = e.ModifiedUnixSeconds });
            }
            else if (environment.Terminal is { } terminal)
                terminal.Write(Table(entries));
            else
                await WritePlainAsync(parse.InvocationConfiguration.Output, entries).ConfigureAwait(false);
            return ExitCodes.Success;
        }, json));
        return command;
    }

    private static Table Table(IReadOnlyList<FileEntry> entries)
    {
        var table = new Table().Border(TableBorder.Simple)
            .AddColumn("Name")
            .AddColumn(new TableColumn("Size").RightAligned())
            .AddColumn("Modified")
            .AddColumn("Type");
        foreach (var e in entries)
        {
            var safe = Markup.Escape(ControlCharacters.Escape(e.Name)); // a name may carry ESC sequences from the server
            var name = e.Type == "dir" ? $"[blue]{safe}/[/]" : safe;
            table.AddRow(name, e.Type == "dir" ? "-" : Sizes.Human(e.Size), Sizes.Time(e.ModifiedUnixSeconds), e.Type);
        }
        return table;
    }

    /// <summary>
    /// One line per entry: name, size in bytes, modified time, type, in aligned columns; no header (easy to cut and sort).
    /// Control characters in names are shown escaped (\x1b), so a listing cannot drive the terminal.
    /// </summary>
    internal static async Task WritePlainAsync(TextWriter output, IReadOnlyList<FileEntry> entries)
    {
        var names = entries.Select(e => ControlCharacters.Escape(e.Name)).ToList();
        var nameWidth = names.Count == 0 ? 0 : names.Max(n => n.Length);
        var sizeWidth = entries.Count == 0 ? 0 : entries.Max(e => e.Size.ToString(System.Globalization.CultureInfo.InvariantCulture).Length);
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            var size = e.Size.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await output.WriteLineAsync($"{names[i].PadRight(nameWidth)}  {size.PadLeft(sizeWidth)}  {Sizes.Time(e.ModifiedUnixSeconds)}  {e.Type}").ConfigureAwait(false);
        }
    }
}
