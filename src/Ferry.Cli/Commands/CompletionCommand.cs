using System.CommandLine;

namespace Ferry.Cli.Commands;

/// <summary>
/// <c>ferry completion bash</c>: prints a bash completion function. It asks ferry itself through System.CommandLine's
/// <c>[suggest:POSITION]</c> directive, so completions always match the installed version's commands and options.
/// </summary>
internal static class CompletionCommand
{
    /// <summary>
    /// The function hands bash's line, up to the cursor, to the ferry that is being completed (the first word, as typed),
    /// and keeps the suggestions that start with the word being typed (the directive also offers names that merely
    /// contain it); with no suggestion bash falls back to file names.
    /// </summary>
    public const string BashScript = """
        # bash completion for ferry. Load it in this shell:  source <(ferry completion bash)
        # or for every shell:  ferry completion bash > ~/.local/share/bash-completion/completions/ferry
        _ferry_complete()
        {
            local line="${COMP_LINE:0:COMP_POINT}" word="${COMP_WORDS[COMP_CWORD]}" suggestion
            local IFS=$'\n'
            COMPREPLY=()
            for suggestion in $("${COMP_WORDS[0]}" "[suggest:${#line}]" "$line" 2>/dev/null); do
                [[ "$suggestion" == "$word"* ]] && COMPREPLY+=("$suggestion")
            done
        }
        complete -o default -F _ferry_complete ferry

        """;

    public static Command Create()
    {
        var shell = new Argument<string>("shell") { Description = "The shell to complete in (bash)." }.AcceptOnlyFromAmong("bash");
        var command = new Command("completion", "Print a tab-completion script for commands and options.\n\n"
            + "Examples:\n  source <(ferry completion bash)\n  ferry completion bash > ~/.local/share/bash-completion/completions/ferry")
        {
            shell,
        };
        command.SetAction(async (parse, ct) =>
        {
            await parse.InvocationConfiguration.Output.WriteAsync(BashScript.AsMemory(), ct).ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }
}
