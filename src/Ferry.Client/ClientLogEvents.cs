namespace Ferry.Client;

/// <summary>
/// Event ids of the client library's log lines. They belong to the project's one list (Ferry.Server's LogEvents, block
/// 7000-7099), which this assembly cannot reference; a test checks that every id here is listed there.
/// </summary>
internal static class ClientLogEvents
{
    public const int Connected = 7000;
    public const int ConnectRetry = 7001;
    public const int PinnedOnFirstUse = 7002;
}
