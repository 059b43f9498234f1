using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Exec;

/// <summary>What a command is started with: its argv (from a shell line or a list) and its environment.</summary>
internal static class CommandEnvironment
{
    /// <summary>The program and arguments to start for a request (shell line or argv), checked.</summary>
    internal static List<string> ArgvOf(ExecMessage request)
    {
        if (request.Terminal is not null && request.Shell is null && request.Argv is null)
            return [LoginShell, "-l"];
        if (request.Shell is { Length: > 0 } shell)
        {
            if (request.Argv is { Count: > 0 })
                throw new FerryException(FerryErrorCode.FieldInvalid, "Give either 'argv' or 'shell', not both.");
            return ["/bin/sh", "-c", shell];
        }
        if (request.Argv is not { Count: > 0 } argv || string.IsNullOrEmpty(argv[0]))
            throw new FerryException(FerryErrorCode.FieldInvalid, "exec needs 'argv' (a non-empty list) or 'shell' (a command line).");
        if (argv.Any(a => a.Contains('\0')))
            throw new FerryException(FerryErrorCode.FieldInvalid, "Arguments cannot contain NUL characters.");
        return [.. argv];
    }

    /// <summary>What a terminal without a command runs: bash where there is one, else sh, as a login shell.</summary>
    internal static string LoginShell => File.Exists("/bin/bash") ? "/bin/bash" : "/bin/sh";

    /// <summary>The documented minimal environment (docs/protocol.md §6.3), for TCP and UDP commands alike.</summary>
    internal static Dictionary<string, string> For(string? user, string home, string? term = null) => new()
    {
        ["PATH"] = "/usr/local/bin:/usr/bin:/bin",
        ["HOME"] = home,
        ["LANG"] = "C.UTF-8",
        ["LC_ALL"] = "C.UTF-8",
        ["USER"] = user ?? "ferry",
        ["LOGNAME"] = user ?? "ferry",
        ["SHELL"] = "/bin/sh",
        ["TERM"] = term ?? "dumb",
        ["FERRY"] = "1",
    };
}
