using System.Text.Json;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Client;

// File management (docs/protocol.md §5.5).
public sealed partial class FerryClient
{
    /// <summary>Largest listing body accepted (a JSON array of entries). About 4 million entries.</summary>
    internal const long MaxListingBytes = 512L * 1024 * 1024;

    /// <summary>
    /// Lists a directory, or the one entry of a file (§5.5). With <paramref name="recursive"/> every entry below
    /// <paramref name="path"/>, named relative to it, directories before their contents. Sorted by name (ordinal).
    /// Throws <see cref="FerryRemoteException"/> (<c>not_found</c>, <c>path_*</c>) or, for a malformed path,
    /// <see cref="FerryException"/> before anything is sent.
    /// </summary>
    public async Task<IReadOnlyList<RemoteEntry>> ListAsync(string path, bool recursive = false, CancellationToken cancellationToken = default) =>
        (await ListEntriesAsync(path, recursive, cancellationToken).ConfigureAwait(false)).Select(RemoteEntry.From).ToList();

    /// <summary>
    /// One entry's kind, size and modification time. Throws <see cref="FerryRemoteException"/> with <c>not_found</c> when
    /// absent, <see cref="FerryException"/> with <c>path_invalid</c> for a malformed path before anything is sent.
    /// </summary>
    public async Task<RemoteEntry> StatAsync(string path, CancellationToken cancellationToken = default) =>
        RemoteEntry.From(await StatEntryAsync(path, cancellationToken).ConfigureAwait(false));

    /// <summary><see cref="ListAsync"/> as the wire has it: the CLI prints these fields unchanged.</summary>
    internal async Task<IReadOnlyList<FileEntry>> ListEntriesAsync(string path, bool recursive = false, CancellationToken cancellationToken = default)
    {
        var normalized = RemotePath.Normalize(path);
        return await RunAsync(async ct =>
        {
            _writer.WriteHeader(new ListMessage { Path = normalized, Recursive = recursive }, FerryJsonContext.Default.ListMessage);
            await _writer.FlushAsync(ct).ConfigureAwait(false);
            var header = await ReadReplyAsync(CommandNames.Listing, ct).ConfigureAwait(false);
            if (header.BodyLength > MaxListingBytes)
                throw Break(new FerryProtocolException(FerryErrorCode.BodyTooLarge,
                    $"The listing of '{normalized}' is {header.BodyLength} bytes, more than this client accepts ({MaxListingBytes}).", isFatal: true));
            if (header.BodyLength == 0)
                return [];
            try
            {
                var entries = await JsonSerializer.DeserializeAsync(_reader.OpenBodyStream(), FerryJsonContext.Default.ListFileEntry, ct).ConfigureAwait(false);
                return (IReadOnlyList<FileEntry>?)entries ?? [];
            }
            catch (JsonException ex)
            {
                throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The server sent a listing that is not a JSON array of entries: {ex.Message}", isFatal: true, ex));
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary><see cref="StatAsync"/> as the wire has it.</summary>
    internal async Task<FileEntry> StatEntryAsync(string path, CancellationToken cancellationToken = default)
    {
        var normalized = RemotePath.Normalize(path);
        return await RunAsync(async ct =>
        {
            _writer.WriteHeader(new StatMessage { Path = normalized }, FerryJsonContext.Default.StatMessage);
            await _writer.FlushAsync(ct).ConfigureAwait(false);
            var header = await ReadReplyAsync(CommandNames.StatResult, ct).ConfigureAwait(false);
            var reply = header.Deserialize(FerryJsonContext.Default.StatResultMessage);
            return reply.Entry ?? throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid, "The server's stat_result has no entry.", isFatal: true));
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Creates a directory. Without <paramref name="parents"/>: <c>already_exists</c> if it exists, <c>not_found</c> if its
    /// parent does not. With it (mkdir -p): creates what is missing and accepts an existing directory.
    /// </summary>
    public Task MkdirAsync(string path, bool parents = false, CancellationToken cancellationToken = default)
    {
        var normalized = RemotePath.Normalize(path);
        return SimpleAsync(w => w.WriteHeader(new MkdirMessage { Path = normalized, Parents = parents }, FerryJsonContext.Default.MkdirMessage), cancellationToken);
    }

    /// <summary>Removes a file or an empty directory (<c>directory_not_empty</c> otherwise); a whole tree with <paramref name="recursive"/>.</summary>
    public Task RemoveAsync(string path, bool recursive = false, CancellationToken cancellationToken = default)
    {
        var normalized = RemotePath.Normalize(path);
        return SimpleAsync(w => w.WriteHeader(new RemoveMessage { Path = normalized, Recursive = recursive }, FerryJsonContext.Default.RemoveMessage), cancellationToken);
    }

    /// <summary>Renames or moves; <c>already_exists</c> when <paramref name="to"/> exists, unless <paramref name="force"/> and it is a file.</summary>
    public Task MoveAsync(string from, string to, bool force = false, CancellationToken cancellationToken = default)
    {
        var source = RemotePath.Normalize(from);
        var target = RemotePath.Normalize(to);
        return SimpleAsync(w => w.WriteHeader(new MoveMessage { From = source, To = target, Force = force }, FerryJsonContext.Default.MoveMessage), cancellationToken);
    }

    private Task SimpleAsync(Action<FrameWriter> write, CancellationToken cancellationToken) => RunAsync(async ct =>
    {
        write(_writer);
        await _writer.FlushAsync(ct).ConfigureAwait(false);
        await ReadReplyAsync(CommandNames.Ok, ct).ConfigureAwait(false);
        return true;
    }, cancellationToken);
}
