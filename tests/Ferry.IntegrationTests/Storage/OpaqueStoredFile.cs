using Ferry.Server.Storage;

namespace Ferry.IntegrationTests.Storage;

/// <summary>A stored file that is only what <see cref="IStoredFile"/> promises: no descriptor to send from or to hash by.</summary>
internal sealed class OpaqueStoredFile(IStoredFile inner, bool owned = true) : IStoredFile
{
    public long Length => inner.Length;

    public DateTimeOffset ModifiedTime => inner.ModifiedTime;

    public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, cancellationToken);

    public ValueTask DisposeAsync() => owned ? inner.DisposeAsync() : ValueTask.CompletedTask;
}
