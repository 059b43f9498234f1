namespace Ferry.Testing;

/// <summary>A node of a starting <see cref="NatsCluster"/> exited instead of reporting JetStream up; the message holds its log.</summary>
public sealed class NatsNodeExitedException(string message) : Exception(message);
