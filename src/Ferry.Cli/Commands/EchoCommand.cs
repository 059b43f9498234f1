using System.CommandLine;
using System.Text;
using Ferry.Client;
using Ferry.Cli.Rendering;

namespace Ferry.Cli.Commands;

internal static class EchoCommand
{
    public static Command Create()
    {
        var server = CommonOptions.Server();
        var words = new Argument<string[]>("text") { Description = "Text to send; the server answers it upper-cased.", Arity = ArgumentArity.OneOrMore };
        var json = CommonOptions.Json();
        var command = new Command("echo", "Send text to the server and print its upper-cased answer (a connectivity check).\n\nExamples:\n  ferry echo hello\n  ferry echo --server 127.0.0.1:7447 --json hello")
        {
            server, words, json,
        };
        command.SetAction((parse, ct) => CommonOptions.RunClientAsync(parse, server, async address =>
        {
            var text = string.Join(' ', parse.GetValue(words)!);
            await using var client = await ClientConnector.ConnectAsync(parse, address, ct).ConfigureAwait(false);
            var reply = await client.EchoAsync(Encoding.UTF8.GetBytes(text), ct).ConfigureAwait(false);
            var answer = Encoding.UTF8.GetString(reply);
            if (CommonOptions.JsonOutput(parse, json) is { } lines)
                lines.Write(new CommandEvent { Event = "echo", Server = address.ToString(), Text = answer });
            else
                await parse.InvocationConfiguration.Output.WriteLineAsync(answer).ConfigureAwait(false);
            return ExitCodes.Success;
        }, json));
        return command;
    }
}
