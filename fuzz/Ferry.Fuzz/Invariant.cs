namespace Ferry.Fuzz;

/// <summary>A property the code under test promises was broken; the fuzzer records the input as a crash.</summary>
internal sealed class InvariantViolatedException(string message) : Exception(message);

internal static class Invariant
{
    public static void That(bool condition, string what)
    {
        if (!condition)
            throw new InvariantViolatedException(what);
    }

    public static void Equal<T>(IReadOnlyList<T> expected, IReadOnlyList<T> actual, string what)
    {
        if (!expected.SequenceEqual(actual))
            throw new InvariantViolatedException(
                $"{what}{Environment.NewLine}  expected: [{string.Join(", ", expected)}]{Environment.NewLine}  actual:   [{string.Join(", ", actual)}]");
    }
}
