using Ferry.Server.Storage.Nats;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Nats;

/// <summary>The server-wide bound on bytes held in parts: waits in order, never leaks a reservation, never deadlocks a lone big part.</summary>
public sealed class NatsPartMemoryTests
{
    [Fact]
    public async Task Reservations_past_the_budget_wait_in_order_and_each_release_grants_the_next()
    {
        var memory = new NatsPartMemory(10);
        await memory.ReserveAsync(6, TestTimeouts.Token());
        await memory.ReserveAsync(4, TestTimeouts.Token());
        var third = memory.ReserveAsync(5, TestTimeouts.Token()).AsTask();
        var fourth = memory.ReserveAsync(1, TestTimeouts.Token()).AsTask(); // fits, but waits behind the third: arrival order
        Assert.False(third.IsCompleted);
        Assert.False(fourth.IsCompleted);

        memory.Release(4); // grants run inside Release: 4 free, the head of the line needs 5, so nothing moves
        Assert.False(third.IsCompleted);
        Assert.False(fourth.IsCompleted);
        memory.Release(6);
        await third.WaitAsync(TestTimeouts.Token());
        await fourth.WaitAsync(TestTimeouts.Token());
    }

    [Fact]
    public async Task A_cancelled_wait_takes_nothing_and_a_part_larger_than_the_budget_still_goes_alone()
    {
        var memory = new NatsPartMemory(10);
        await memory.ReserveAsync(10, TestTimeouts.Token());
        using var cancel = new CancellationTokenSource();
        var cancelled = memory.ReserveAsync(3, cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        memory.Release(10);

        await memory.ReserveAsync(100, TestTimeouts.Token()); // counted as the whole budget
        var next = memory.ReserveAsync(1, TestTimeouts.Token()).AsTask();
        Assert.False(next.IsCompleted);
        memory.Release(100);
        await next.WaitAsync(TestTimeouts.Token());
        await memory.ReserveAsync(9, TestTimeouts.Token()); // 10 - 1: the cancelled 3 was never taken
    }
}
