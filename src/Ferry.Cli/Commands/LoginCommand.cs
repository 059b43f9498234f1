using System.CommandLine;
using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Cli.Rendering;
using Spectre.Console;

namespace Ferry.Cli.Commands;

/// <summary><c>ferry login</c>: check a user's key against the server once, then store it for every later command.</summary>
internal static class LoginCommand
{
    public static Command Create()
    {
        var server = CommonOptions.Server();
        var keyStdin = new Option<bool>("--key-stdin") { Description = "Read the key from standard input instead of asking for it." };
        var json = CommonOptions.Json();
        var command = new Command("login", "Store a user name and key for a server, after checking them by logging in once. The key is asked for, "
            + "or read from standard input when that is redirected.\n\n"
            + "Examples:\n  ferry login --server 127.0.0.1:7447 --user alice\n  ferry login --server 127.0.0.1:7447 --user alice < alice.key")
        {
            server, keyStdin, json,
        };
        command.SetAction((parse, ct) => CommonOptions.RunClientAsync(parse, server, async address =>
        {
            var output = parse.InvocationConfiguration.Output;
            var user = parse.GetValue(ClientConnector.User) ?? Environment.GetEnvironmentVariable("FERRY_USER");
            if (string.IsNullOrWhiteSpace(user))
                return await CommonOptions.FailAsync(parse, json, ExitCodes.Usage, ExitCodes.ErrorCode(ExitCodes.Usage),
                    $"name the user to log in as: ferry login --server {address} --user NAME.").ConfigureAwait(false);

            string? keyText;
            if (parse.GetValue(keyStdin) || Console.IsInputRedirected)
                keyText = await Console.In.ReadLineAsync(ct).ConfigureAwait(false);
            else
                keyText = AnsiConsole.Prompt(new TextPrompt<string>($"Key for [bold]{Markup.Escape(user)}[/] at {Markup.Escape(address.ToString())}:").Secret());
            if (!ClientCredentials.TryParseKey(keyText, out var key))
                return await CommonOptions.FailAsync(parse, json, ExitCodes.Usage, ExitCodes.ErrorCode(ExitCodes.Usage),
                    "that is not a Ferry key; paste the key 'ferry user add' printed (44 characters of base64).").ConfigureAwait(false);

            var credentials = new ClientCredentials(user, key);
            // A server that does not ask for a login cannot prove that it knows the key, so the connection is refused
            // (server_not_authenticated) and nothing is stored: a stored key would make every later command refuse it too.
            await using (await FerryClient.ConnectAsync(address, ClientConnector.OptionsFor(parse, address, credentials), ct).ConfigureAwait(false))
            {
            }
            CredentialStore.Default.Save(address.ToString(), credentials);
            if (CommonOptions.JsonOutput(parse, json) is { } lines)
                lines.Write(new CommandEvent { Event = "login", Server = address.ToString(), User = user, Path = CredentialStore.Default.FilePath });
            else
                await output.WriteLineAsync($"Logged in to {address} as {user}; the key is stored in {CredentialStore.Default.FilePath}.").ConfigureAwait(false);
            return ExitCodes.Success;
        }, json));
        return command;
    }
}
