using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ferry.Cli.Serving;

/// <summary>The settings <c>ferry serve</c> runs with, or why it cannot run; <see cref="ConfigFile"/> is the file read, if any.</summary>
public sealed record ServeConfigurationResult(ServeSettings? Settings, string? ConfigFile, IReadOnlyList<string> Errors);

/// <summary>
/// Gathers the settings of <c>ferry serve</c> from, in rising precedence: the JSON configuration file, FERRY_
/// environment variables (<c>__</c> separates levels: FERRY_LISTEN__0), and the options given on the command line.
/// </summary>
public static partial class ServeConfiguration
{
    /// <summary>The configuration file of a server run as root (a system service).</summary>
    public const string SystemConfigPath = "/etc/ferry/ferry.json";

    public const string EnvironmentPrefix = "FERRY_";

    /// <summary>
    /// The configuration file read when --config is not given (and only if it exists): <see cref="SystemConfigPath"/>
    /// for root, else ferry.json in $XDG_CONFIG_HOME/ferry or ~/.config/ferry.
    /// </summary>
    public static string DefaultPath(bool privileged, Func<string, string?> environment, string home) =>
        privileged
            ? SystemConfigPath
            : Path.Combine(environment("XDG_CONFIG_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(home, ".config"), "ferry", "ferry.json");

    /// <param name="configPath">The file named by --config (it must exist), or null for the default file if there is one.</param>
    /// <param name="commandLine">Applies the options given on the command line, and only those.</param>
    public static ServeConfigurationResult Load(string? configPath, Action<ServeSettings> commandLine)
    {
        string? file;
        if (configPath is not null)
        {
            if (!File.Exists(configPath))
                return Failed(null, $"--config: {configPath} does not exist.");
            file = Path.GetFullPath(configPath);
        }
        else
        {
            var fallback = DefaultPath(Environment.IsPrivilegedProcess, Environment.GetEnvironmentVariable,
                Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));
            file = File.Exists(fallback) ? fallback : null;
        }

        var builder = new ConfigurationBuilder();
        if (file is not null)
            builder.AddJsonFile(file, optional: false, reloadOnChange: false);
        builder.AddEnvironmentVariables(EnvironmentPrefix);
        IConfigurationRoot configuration;
        try
        {
            configuration = builder.Build();
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException or UnauthorizedAccessException)
        {
            return Failed(file, $"{file}: {ex.Message} {ex.InnerException?.Message}".TrimEnd());
        }

        if (file is not null)
        {
            // A misspelt key would otherwise be ignored without a word. The environment is not checked: the client's
            // FERRY_USER, FERRY_KEY and FERRY_SERVER share the prefix.
            var unknown = configuration.Providers.First().GetChildKeys([], parentPath: null)
                .Distinct(StringComparer.OrdinalIgnoreCase)
                .Where(k => !ServeSettings.Keys.Contains(k))
                .ToList();
            if (unknown.Count > 0)
                return new ServeConfigurationResult(null, file,
                    unknown.Select(k => $"{k}: not a setting (in {file}); the settings are listed in docs/deploy.md.").ToList());
        }

        var services = new ServiceCollection();
        services.AddOptions<ServeSettings>()
            .Bind(configuration)
            .PostConfigure(commandLine)
            .PostConfigure(s => s.Listen = s.Listen is { Length: > 0 } ? s.Listen : [ServeSettings.DefaultListen]);
        services.AddSingleton<IValidateOptions<ServeSettings>, ServeSettingsValidator>();
        using var provider = services.BuildServiceProvider();
        try
        {
            return new ServeConfigurationResult(provider.GetRequiredService<IOptions<ServeSettings>>().Value, file, []);
        }
        catch (OptionsValidationException ex)
        {
            return new ServeConfigurationResult(null, file, ex.Failures.ToList());
        }
        catch (InvalidOperationException ex) when (ConversionFailure().Match(ex.Message) is { Success: true } m)
        {
            return Failed(file, $"{m.Groups["key"].Value}: '{m.Groups["value"].Value}' is not {Describe(m.Groups["type"].Value)}.");
        }
    }

    private static ServeConfigurationResult Failed(string? file, string error) => new(null, file, [error]);

    private static string Describe(string type) => type switch
    {
        "System.Int32" or "System.Int64" or "System.Nullable`1[System.Int64]" => "a whole number",
        "System.Double" => "a number",
        "System.Boolean" => "true or false",
        _ => string.Create(CultureInfo.InvariantCulture, $"a valid {type}"),
    };

    // The binder's wording: Failed to convert configuration value 'abc' at 'max_connections' to type 'System.Int32'.
    [GeneratedRegex("value '(?<value>.*)' at '(?<key>[^']*)' to type '(?<type>[^']*)'", RegexOptions.Singleline)]
    private static partial Regex ConversionFailure();
}
