using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ferry.Cli.Rendering;

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TransferEvent))]
[JsonSerializable(typeof(CommandEvent))]
[JsonSerializable(typeof(SyncEvent))]
internal sealed partial class CliJsonContext : JsonSerializerContext
{
    /// <summary>
    /// The context --json writes with: text as it is (中文, quotes, apostrophes) rather than \u escapes, which a terminal
    /// reader and jq both prefer; the output is never embedded in HTML.
    /// </summary>
    public static CliJsonContext Output { get; } = new(new JsonSerializerOptions
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
