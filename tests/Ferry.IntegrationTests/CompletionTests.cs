using System.Diagnostics;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>The script 'ferry completion bash' prints, loaded into a real bash and asked as bash asks on Tab.</summary>
public class CompletionTests
{
    /// <summary>Runs the completion function for <paramref name="line"/> (cursor at its end) and returns COMPREPLY.</summary>
    private static async Task<string[]> CompleteAsync(string script, string line)
    {
        using var work = new TempDirectory("ferry-completion");
        var scriptPath = work.Combine("ferry.bash");
        await File.WriteAllTextAsync(scriptPath, script);
        // 'ferry' is the test's build, as a function; the completion calls whatever the first word names.
        var driver = $$"""
            ferry() { dotnet '{{FerryProcess.FerryDll}}' "$@"; }
            source '{{scriptPath}}'
            COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}
            read -r -a COMP_WORDS <<< "$COMP_LINE"
            [[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
            COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            _ferry_complete
            printf '%s\n' "${COMPREPLY[@]}"
            """;
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(driver);
        info.ArgumentList.Add("bash");
        info.ArgumentList.Add(line);
        info.Environment["DOTNET_NOLOGO"] = "1";
        using var bash = Process.Start(info)!;
        var stdout = bash.StandardOutput.ReadToEndAsync();
        var stderr = bash.StandardError.ReadToEndAsync();
        await bash.WaitForExitAsync(TestTimeouts.Token());
        Assert.True(bash.ExitCode == 0, await stderr);
        return (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public async Task Tab_completes_a_command_an_option_and_a_subcommand()
    {
        var printed = await Cli.RunAsync("completion", "bash");
        printed.AssertSuccess();
        Assert.Contains("complete -o default -F _ferry_complete ferry", printed.Stdout);

        Assert.Equal(["put"], await CompleteAsync(printed.Stdout, "ferry pu"));
        Assert.Equal(["--recursive"], await CompleteAsync(printed.Stdout, "ferry put --re")); // --resume is deprecated and hidden
        Assert.Contains("--json", await CompleteAsync(printed.Stdout, "ferry ls --j"));
        Assert.Equal(["add"], await CompleteAsync(printed.Stdout, "ferry user a"));
    }

    [Fact]
    public async Task Completion_for_another_shell_is_a_usage_error()
    {
        var result = await Cli.RunAsync("completion", "fish");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("fish", result.Stderr);
    }
}
