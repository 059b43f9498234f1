namespace Ferry.Server.Exec;

/// <summary>Which of a command's outputs a piece of output came from.</summary>
internal enum CommandOutputStream
{
    Stdout,
    Stderr,
}
