namespace Ferry.Testing;

/// <summary>One place for test deadlines, so a hung test fails instead of hanging CI.</summary>
public static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);

    public static CancellationToken Token() => new CancellationTokenSource(Default).Token;
}
