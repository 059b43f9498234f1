using System.CommandLine;
using Ferry.Client;
using Ferry.Client.Security;
using Spectre.Console;

namespace Ferry.Cli.Commands;

/// <summary><c>ferry login</c>: check a user's key against the server once, then store it for every later command.</summary>
internal static class LoginCommand
{
    public static Command Create()
    {
        var server = CommonOptions.Server();
        var keyStdin = new Option<bool>("--key-stdin") { Description = "Read the key from standard input instead of asking for it." };
        var command = new Command("login", "Store a user name and key for a server, after checking them by logging in once.\n\nExample:\n  ferry login --server 127.0.0.1:7447 --user alice")
        {
            server, keyStdin,
        };
        command.SetAction((parse, ct) => CommonOptions.RunClientAsync(parse, server, async address =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var user = parse.GetValue(ClientConnector.User) ?? Environment.GetEnvironmentVariable("FERRY_USER");
            if (string.IsNullOrWhiteSpace(user))
            {
                await error.WriteLineAsync("ferry: name the user with --user NAME.").ConfigureAwait(false);
                return ExitCodes.Usage;
            }

            string? keyText;
            if (parse.GetValue(keyStdin) || Console.IsInputRedirected)
                keyText = await Console.In.ReadLineAsync(ct).ConfigureAwait(false);
            else
                keyText = AnsiConsole.Prompt(new TextPrompt<string>($"Key for [bold]{Markup.Escape(user)}[/] at {Markup.Escape(address.ToString())}:").Secret());
            if (!ClientCredentials.TryParseKey(keyText, out var key))
            {
                await error.WriteLineAsync("ferry: that is not a Ferry key; paste the key 'ferry user add' printed (44 characters of base64).").ConfigureAwait(false);
                return ExitCodes.Usage;
            }

            var credentials = new ClientCredentials(user, key);
            await using (var client = await FerryClient.ConnectAsync(address, ClientConnector.OptionsFor(parse, address, credentials), ct).ConfigureAwait(false))
            {
                if (client.User is null)
                    await error.WriteLineAsync($"ferry: {address} runs without authentication; the key is stored anyway.").ConfigureAwait(false);
            }
            CredentialStore.Default.Save(address.ToString(), credentials);
            await output.WriteLineAsync($"Logged in to {address} as {user}; the key is stored in {CredentialStore.Default.FilePath}.").ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return command;
    }
}
