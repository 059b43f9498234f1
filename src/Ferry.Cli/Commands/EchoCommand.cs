using System.CommandLine;
using System.Text;
using Ferry.Client;

namespace Ferry.Cli.Commands;

internal static class EchoCommand
{
    public static Command Create()
    {
        var server = CommonOptions.Server();
        var words = new Argument<string[]>("text") { Description = "Text to send; the server answers it upper-cased.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("echo", "Send text to the server and print its upper-cased answer (a connectivity check).\n\nExample:\n  ferry echo --server 127.0.0.1:7447 hello")
        {
            server, words,
        };
        command.SetAction((parse, ct) => CommonOptions.RunClientAsync(parse, server, async address =>
        {
            var text = string.Join(' ', parse.GetValue(words)!);
            await using var client = await ClientConnector.ConnectAsync(parse, address, ct).ConfigureAwait(false);
            var reply = await client.EchoAsync(Encoding.UTF8.GetBytes(text), ct).ConfigureAwait(false);
            await parse.InvocationConfiguration.Output.WriteLineAsync(Encoding.UTF8.GetString(reply)).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return command;
    }
}
