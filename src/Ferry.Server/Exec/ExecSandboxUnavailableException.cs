namespace Ferry.Server.Exec;

/// <summary>
/// Thrown at start by a server with <see cref="Hosting.FerryServerOptions.AllowExec"/> that cannot confine commands
/// (bubblewrap missing, no user namespaces, no exec account). The message says what to do.
/// </summary>
public sealed class ExecSandboxUnavailableException(string message) : InvalidOperationException(message);
