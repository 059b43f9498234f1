namespace Ferry.Cli.Terminal;

/// <summary>What the escapes of <see cref="EscapeInputStream"/> do.</summary>
internal abstract class EscapeActions
{
    /// <summary>Whether '~:' reads a local command line.</summary>
    public abstract bool HasLocalCommands { get; }

    /// <summary>'~.': drop the connection now.</summary>
    public abstract void Drop();

    /// <summary>'~?': show the escapes.</summary>
    public abstract Task HelpAsync();

    /// <summary>'~:': read one local command line and run it.</summary>
    public abstract Task LocalCommandAsync(CancellationToken cancellationToken);
}
