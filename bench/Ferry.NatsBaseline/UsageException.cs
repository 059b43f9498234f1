namespace Ferry.NatsBaseline;

/// <summary>A bad command line: exit status 2, the message on stderr.</summary>
internal sealed class UsageException(string message) : Exception(message);
