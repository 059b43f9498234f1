using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Sync.Chunking;
using Ferry.Sync.Delta;

namespace Ferry.Server.Handlers.Sync;

/// <summary>Answers a file's FastCDC chunk list, the recipe a client pulls the file by (docs/protocol.md §5.9.2).</summary>
internal sealed class ChunksHandler(SyncDigests digests) : ICommandHandler
{
    public string Command => CommandNames.Chunks;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Read;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var request = context.Header.Deserialize(FerryJsonContext.Default.ChunksMessage);
        var path = RemotePath.Normalize(request.Path);
        SyncFields.CheckAverageChunkSize(request.AverageSize);
        var store = context.Session.Store;
        await using var file = await store.OpenReadAsync(path, cancellationToken).ConfigureAwait(false);
        if (SyncFields.TooManyChunks(file.Length, request.AverageSize))
            throw new FerryException(FerryErrorCode.FieldInvalid,
                $"'{path}' would have more than {SyncFields.MaxExpectedChunks} chunks of {request.AverageSize} bytes; ask with a larger 'avg'.");
        var cache = await digests.ForAsync(store, cancellationToken).ConfigureAwait(false);
        var digest = await digests.DigestAsync(cache, file, ChunkingParameters.ForAverageSize(request.AverageSize), cancellationToken).ConfigureAwait(false);
        await digests.SaveAsync(cache, cancellationToken).ConfigureAwait(false);

        var body = ChunkListCodec.Encode(new ChunkList(digest.Chunks!, ChunkIdWidth.Bits64));
        context.Writer.WriteHeader(new ChunkListMessage
        {
            Id = request.Id,
            Size = digest.Identity.Size,
            ModifiedNs = digest.Identity.ModifiedNs,
            Hash = SyncDigests.Hex(digest.ContentHash),
            AverageSize = request.AverageSize,
            BodySize = body.Length,
        }, FerryJsonContext.Default.ChunkListMessage, body.Length);
        context.Writer.WriteBody(body);
    }
}
