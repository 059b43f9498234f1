using System.Reflection;
using System.Text.RegularExpressions;
using Ferry.Server.Logging;
using Microsoft.Extensions.Logging;

namespace Ferry.IntegrationTests;

/// <summary>
/// Every log line's event id comes from <see cref="LogEvents"/>, and no two lines or names share one: operators filter
/// on these numbers, so a duplicate would mix two events and a literal would escape the list.
/// </summary>
public partial class LogEventsTests
{
    private static readonly Assembly[] s_ferryAssemblies =
        [typeof(LogEvents).Assembly, typeof(Ferry.Cli.ExitCodes).Assembly, typeof(Ferry.Client.FerryClient).Assembly];

    private static IReadOnlyList<(string Name, int Id)> Constants() => typeof(LogEvents)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(int))
        .Select(f => (f.Name, (int)f.GetRawConstantValue()!))
        .ToList();

    private static IReadOnlyList<(string Method, LoggerMessageAttribute Attribute)> LoggerMessages() => s_ferryAssemblies
        .SelectMany(a => a.GetTypes())
        .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
        .Select(m => (Method: $"{m.DeclaringType!.FullName}.{m.Name}", Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
        .Where(m => m.Attribute is not null)
        .Select(m => (m.Method, m.Attribute!))
        .ToList();

    [Fact]
    public void The_ids_in_the_list_are_unique_and_none_is_retired()
    {
        var constants = Constants();
        Assert.True(constants.Count >= 40, $"only {constants.Count} ids in LogEvents");
        var shared = constants.GroupBy(c => c.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(c => c.Name))}").ToList();
        Assert.True(shared.Count == 0, "ids given to several names: " + string.Join("; ", shared));
        var reused = constants.Where(c => LogEvents.Retired.Contains(c.Id)).Select(c => $"{c.Name} = {c.Id}").ToList();
        Assert.True(reused.Count == 0, "retired ids in use again: " + string.Join(", ", reused));
    }

    [Fact]
    public void Every_log_line_of_the_ferry_assemblies_has_its_own_id_from_the_list()
    {
        var listed = Constants().ToDictionary(c => c.Id, c => c.Name);
        var messages = LoggerMessages();
        Assert.True(messages.Count >= 40, $"only {messages.Count} [LoggerMessage] methods found");

        var unlisted = messages.Where(m => !listed.ContainsKey(m.Attribute.EventId)).Select(m => $"{m.Method} ({m.Attribute.EventId})").ToList();
        Assert.True(unlisted.Count == 0, "event ids missing from LogEvents: " + string.Join(", ", unlisted));
        var shared = messages.GroupBy(m => m.Attribute.EventId).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Method))}").ToList();
        Assert.True(shared.Count == 0, "event ids shared by several log lines: " + string.Join("; ", shared));
        var unused = listed.Keys.Except(messages.Select(m => m.Attribute.EventId)).Select(id => $"{listed[id]} = {id}").ToList();
        Assert.True(unused.Count == 0, "ids in LogEvents that no log line uses (move them to Retired): " + string.Join(", ", unused));
    }

    [Fact]
    public void The_client_library_ids_repeat_the_list()
    {
        // Ferry.Client cannot reference the server's list, so it keeps its own copy of its block; the two must agree.
        var client = typeof(Ferry.Client.ClientLogEvents)
            .GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(int))
            .ToDictionary(f => "Client" + f.Name, f => (int)f.GetRawConstantValue()!);
        Assert.NotEmpty(client);
        var listed = Constants().ToDictionary(c => c.Name, c => c.Id);
        foreach (var (name, id) in client)
            Assert.True(listed.TryGetValue(name, out var listedId) && listedId == id, $"ClientLogEvents: {name} = {id} is not LogEvents.{name}");
    }

    [Fact]
    public void No_log_line_in_the_sources_writes_its_id_as_a_number()
    {
        // Reflection sees only the value; a literal that happens to equal a listed id would pass the test above.
        var src = Path.Combine(DocsTests.Repo(), "src");
        var literals = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .SelectMany(file => File.ReadLines(file).Select((line, i) => (file, line, i)))
            .Where(l => LiteralId().IsMatch(l.line))
            .Select(l => $"{Path.GetRelativePath(src, l.file)}:{l.i + 1}")
            .ToList();
        Assert.True(literals.Count == 0, "[LoggerMessage] with a literal id instead of a LogEvents constant: " + string.Join(", ", literals));
    }

    [Fact]
    public void Docs_deploy_md_lists_every_event_id_with_its_level()
    {
        var text = File.ReadAllText(Path.Combine(DocsTests.Repo(), "docs", "deploy.md"));
        foreach (var (method, attribute) in LoggerMessages())
            Assert.True(text.Contains($"| {attribute.EventId} | {attribute.Level} |", StringComparison.Ordinal),
                $"docs/deploy.md does not list event id {attribute.EventId} ({method}) at level {attribute.Level}");
    }

    [GeneratedRegex(@"LoggerMessage\s*\(\s*(EventId\s*=\s*)?[0-9]")]
    private static partial Regex LiteralId();
}
