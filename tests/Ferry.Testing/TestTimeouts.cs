namespace Ferry.Testing;

/// <summary>One place for test deadlines, so a hung test fails instead of hanging CI.</summary>
public static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);

    public static CancellationToken Token() => Token(Default);

    /// <summary>A deadline for work known to be long (hundreds of MiB through a replicated cluster).</summary>
    public static CancellationToken Token(TimeSpan deadline) => new CancellationTokenSource(deadline).Token;
}
