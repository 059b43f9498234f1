using System.Diagnostics;

namespace Ferry.Testing;

/// <summary>
/// Waiting for a condition instead of sleeping for a guessed time: a test then goes as fast as the machine allows and
/// still passes on a loaded one. The deadline is generous because reaching it means failure, never success.
/// </summary>
public static class Eventually
{
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(20);

    /// <summary>Polls <paramref name="condition"/> until it holds; throws <see cref="TimeoutException"/> after the deadline.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what = "the condition", TimeSpan? deadline = null)
    {
        var limit = deadline ?? TestTimeouts.Default;
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > limit)
                throw new TimeoutException($"Waited {limit.TotalSeconds:0.#} s for {what}.");
            await Task.Delay(s_poll);
        }
    }

    /// <summary>As <see cref="UntilAsync(Func{bool}, string, TimeSpan?)"/>, for a condition that has to wait for an answer itself.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what = "the condition", TimeSpan? deadline = null)
    {
        var limit = deadline ?? TestTimeouts.Default;
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > limit)
                throw new TimeoutException($"Waited {limit.TotalSeconds:0.#} s for {what}.");
            await Task.Delay(s_poll);
        }
    }

    /// <summary>
    /// A negative check: fails as soon as <paramref name="condition"/> holds during <paramref name="window"/>. The window
    /// is the time given to something that must not happen; a slow machine can only make the check weaker, never fail it.
    /// </summary>
    public static async Task NeverWithinAsync(Func<bool> condition, TimeSpan window, string what)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < window)
        {
            if (condition())
                throw new Xunit.Sdk.XunitException($"{what} happened after {clock.Elapsed.TotalMilliseconds:0} ms.");
            await Task.Delay(s_poll);
        }
        if (condition())
            throw new Xunit.Sdk.XunitException($"{what} happened.");
    }
}
