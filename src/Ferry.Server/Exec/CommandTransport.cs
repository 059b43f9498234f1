namespace Ferry.Server.Exec;

/// <summary>The service a command came through; it changes nothing in how the command runs, only how it is counted.</summary>
internal enum CommandTransport
{
    Tcp,
    Udp,
}
