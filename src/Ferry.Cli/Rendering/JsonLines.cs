using System.Text.Json;

namespace Ferry.Cli.Rendering;

/// <summary>
/// <c>--json</c> output: one compact JSON object per line on standard output. Writes are whole lines even when the
/// stdout and stderr pumps of 'ferry exec' write at once.
/// </summary>
internal sealed class JsonLines(TextWriter output)
{
    private readonly Lock _lock = new();

    public void Write(CommandEvent e)
    {
        var line = JsonSerializer.Serialize(e, CliJsonContext.Output.CommandEvent);
        lock (_lock)
        {
            output.WriteLine(line);
            output.Flush();
        }
    }

    /// <summary>The error event for a failure: its stable code, the exit code ferry ends with, and the sentence shown on stderr.</summary>
    public void WriteError(string code, int exitCode, string message) =>
        Write(new CommandEvent { Event = "error", Code = code, Exit = exitCode, Message = message });
}
