using System.Diagnostics.Metrics;
using System.Text.Json;
using Ferry.Cli.Serving;
using Ferry.Server.Diagnostics;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>docs/deploy.md names every setting and every metric, and the example settings in deploy/ are valid.</summary>
public class DeployDocsTests
{
    private static string Repo()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ferry.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Ferry.slnx not found above the test folder.");
    }

    [Fact]
    public void Every_setting_is_in_the_table_of_docs_deploy_md()
    {
        var text = File.ReadAllText(Path.Combine(Repo(), "docs", "deploy.md"));
        Assert.NotEmpty(ServeSettings.Keys);
        foreach (var key in ServeSettings.Keys)
            Assert.True(text.Contains($"| `{key}` |", StringComparison.Ordinal), $"docs/deploy.md lacks the setting {key}");
    }

    [Fact]
    public void Every_option_of_ferry_serve_is_in_docs_deploy_md_and_docs_cli_md()
    {
        var deploy = File.ReadAllText(Path.Combine(Repo(), "docs", "deploy.md"));
        var cli = File.ReadAllText(Path.Combine(Repo(), "docs", "cli.md"));
        var serve = Ferry.Cli.Program.BuildRootCommand(Ferry.Cli.CliEnvironment.Plain).Subcommands.Single(c => c.Name == "serve");
        var options = serve.Options.Where(o => o is not System.CommandLine.Help.HelpOption && !o.Hidden).Select(o => o.Name).ToList();
        Assert.True(options.Count > 40, string.Join(", ", options));
        foreach (var option in options)
        {
            Assert.True(cli.Contains($"`{option}`", StringComparison.Ordinal), $"docs/cli.md does not name ferry serve {option}");
            // --config and --print-config are not settings; deploy.md describes them in its text.
            Assert.True(deploy.Contains(option is "--config" or "--print-config" ? option : $"`{option}`", StringComparison.Ordinal),
                $"docs/deploy.md does not name ferry serve {option}");
        }
    }

    [Fact]
    public async Task Every_server_instrument_is_in_docs_deploy_md()
    {
        var text = File.ReadAllText(Path.Combine(Repo(), "docs", "deploy.md"));
        var names = new List<string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == FerryMetrics.MeterName)
                    lock (names)
                        names.Add(instrument.Name);
            },
        };
        listener.Start();
        await using (await TestServer.StartAsync())
        {
        }
        Assert.True(names.Count >= 10, string.Join(", ", names));
        foreach (var name in names.Distinct())
            Assert.True(text.Contains($"`{name}`", StringComparison.Ordinal), $"docs/deploy.md lacks the instrument {name}");
    }

    [Fact]
    public async Task The_example_settings_file_is_valid_and_says_what_the_docs_say()
    {
        var example = Path.Combine(Repo(), "deploy", "ferry.json");
        await using var p = FerryProcess.Start(["serve", "--config", example, "--print-config"]);
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, p.Stderr);
        var settings = JsonDocument.Parse(p.Stdout).RootElement;
        Assert.Equal("/var/lib/ferry", settings.GetProperty("state_dir").GetString());
        Assert.Equal("127.0.0.1:9464", settings.GetProperty("metrics_listen").GetString());
    }
}
