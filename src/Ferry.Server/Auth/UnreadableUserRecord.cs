namespace Ferry.Server.Auth;

/// <summary>A user record that is nobody: <paramref name="Name"/> is the user its key is for, when the key says.</summary>
public sealed record UnreadableUserRecord(string Key, string? Name, string Reason);
