using System.Buffers;
using System.IO.Hashing;
using System.Security.Cryptography;
using Ferry.Protocol.Errors;

namespace Ferry.Protocol.Files;

/// <summary>
/// The checksums a transfer can name (docs/protocol.md §5.4): <c>xxh3-128</c> (default; fast enough never to limit a
/// transfer) and <c>sha256</c> (for comparing with published digests). Values travel as lower-case hex.
/// </summary>
internal sealed class ChecksumAlgorithm
{
    public const string Xxh3Name = "xxh3-128";
    public const string Sha256Name = "sha256";

    public static ChecksumAlgorithm Xxh3 { get; } = new(Xxh3Name, 16, () => new Xxh3Hasher());
    public static ChecksumAlgorithm Sha256 { get; } = new(Sha256Name, 32, () => new Sha256Hasher());
    public static ChecksumAlgorithm Default => Xxh3;

    private readonly Func<Hasher> _factory;

    private ChecksumAlgorithm(string name, int hashBytes, Func<Hasher> factory)
    {
        Name = name;
        HashBytes = hashBytes;
        _factory = factory;
    }

    /// <summary>Wire name.</summary>
    public string Name { get; }

    /// <summary>Length of one hash in bytes.</summary>
    public int HashBytes { get; }

    public Hasher CreateHasher() => _factory();

    /// <summary>Finds an algorithm by wire name; null or empty means the default. Unknown names throw checksum_unsupported.</summary>
    public static ChecksumAlgorithm FromName(string? name) => name switch
    {
        null or "" or Xxh3Name => Xxh3,
        Sha256Name => Sha256,
        _ => throw new FerryException(FerryErrorCode.ChecksumUnsupported,
            $"Checksum '{name}' is not supported; use {Xxh3Name} or {Sha256Name}."),
    };

    /// <summary>Hashes one buffer.</summary>
    public byte[] Hash(ReadOnlySpan<byte> data)
    {
        using var hasher = CreateHasher();
        hasher.Append(data);
        return hasher.GetHashAndReset();
    }

    /// <summary>
    /// Hashes <paramref name="count"/> bytes from <paramref name="offset"/> of whatever <paramref name="read"/> reads
    /// (a stored file, a local handle), a megabyte at a time; a source that ends early is an <see cref="IOException"/>.
    /// </summary>
    public async ValueTask<byte[]> HashAsync(ReadAt read, long offset, long count, CancellationToken cancellationToken)
    {
        using var hasher = CreateHasher();
        var buffer = ArrayPool<byte>.Shared.Rent(1024 * 1024);
        try
        {
            var position = offset;
            var end = offset + count;
            while (position < end)
            {
                var n = await read(buffer.AsMemory(0, (int)Math.Min(buffer.Length, end - position)), position, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    throw new IOException("The file ended early while being hashed.");
                hasher.Append(buffer.AsSpan(0, n));
                position += n;
            }
            return hasher.GetHashAndReset();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads into <c>buffer</c> at <c>position</c>; returns the count read, 0 at the end.</summary>
    public delegate ValueTask<int> ReadAt(Memory<byte> buffer, long position, CancellationToken cancellationToken);

    public override string ToString() => Name;

    /// <summary>An incremental hash.</summary>
    public abstract class Hasher : IDisposable
    {
        public abstract void Append(ReadOnlySpan<byte> data);
        public abstract byte[] GetHashAndReset();
        public virtual void Dispose() { }
    }

    private sealed class Xxh3Hasher : Hasher
    {
        private readonly XxHash128 _hash = new();
        public override void Append(ReadOnlySpan<byte> data) => _hash.Append(data);
        public override byte[] GetHashAndReset() => _hash.GetHashAndReset();
    }

    private sealed class Sha256Hasher : Hasher
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        public override void Append(ReadOnlySpan<byte> data) => _hash.AppendData(data);
        public override byte[] GetHashAndReset() => _hash.GetHashAndReset();
        public override void Dispose() => _hash.Dispose();
    }
}
