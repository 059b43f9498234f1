using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Sync.Chunking;
using Ferry.Sync.Delta;

namespace Ferry.Server.Handlers.Sync;

/// <summary>
/// Answers a file's FastCDC chunk list, the recipe a client pulls the file by (docs/protocol.md §5.9.2); or in two
/// levels (§5.9.6): its group list, then the chunks of the groups the client picks.
/// </summary>
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

        var hash = SyncDigests.Hex(digest.ContentHash);
        int? groupCount = null;
        byte[] body;
        if (request.Pick is { } pick)
        {
            if (request.Groups is not null)
                throw new FerryException(FerryErrorCode.FieldInvalid, "A chunks request asks for 'groups' or 'pick', not both.");
            var length = context.Header.BodyLength;
            if (request.BodySize is { } declared && declared != length)
                throw new FerryException(FerryErrorCode.FieldInvalid, $"'bodysize' {declared} differs from the frame's body length {length}.");
            var groups = ChunkGroups.Split(digest.Chunks!);
            // Each index is at least one byte and at most five (an int): bound the body before reading it.
            if (pick < 0 || pick > groups.Count || length < pick || length > 5L * pick)
                throw new FerryException(FerryErrorCode.FieldInvalid, $"'pick' {pick} with a body of {length} bytes does not fit a file of {groups.Count} groups.");
            var encoded = new byte[length];
            for (var filled = 0; filled < length;)
            {
                var n = await context.Reader.ReadBodyAsync(encoded.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    throw new FerryException(FerryErrorCode.FieldInvalid, "The body ended early.");
                filled += n;
            }
            // The groups picked are those of the version the client saw: a file that changed since is checksum_mismatch.
            if (!string.Equals(request.Hash, hash, StringComparison.OrdinalIgnoreCase))
                throw new FerryException(FerryErrorCode.ChecksumMismatch, $"'{path}' is no longer the version whose groups were picked.");
            int[] picked;
            try
            {
                picked = ChunkGroups.DecodeIndices(encoded, pick, groups.Count);
            }
            catch (ChunkListFormatException ex)
            {
                throw new FerryException(FerryErrorCode.FieldInvalid, $"The group indices of chunks {request.Id} are invalid: {ex.Message}");
            }
            var chunks = new List<Chunk>();
            foreach (var index in picked)
            {
                for (var k = 0; k < groups[index].ChunkCount; k++)
                {
                    var chunk = digest.Chunks![groups[index].FirstChunk + k];
                    chunks.Add(chunk with { Offset = chunks.Count == 0 ? 0 : chunks[^1].End });
                }
            }
            body = ChunkListCodec.Encode(new ChunkList(chunks, ChunkIdWidth.Bits64));
        }
        else if (request.Groups == true)
        {
            if (context.Header.BodyLength != 0)
                throw new FerryException(FerryErrorCode.FieldInvalid, "A chunks request without 'pick' carries no body.");
            var groups = ChunkGroups.Split(digest.Chunks!);
            groupCount = groups.Count;
            body = ChunkGroups.Encode(groups);
        }
        else
        {
            if (context.Header.BodyLength != 0)
                throw new FerryException(FerryErrorCode.FieldInvalid, "A chunks request without 'pick' carries no body.");
            body = ChunkListCodec.Encode(new ChunkList(digest.Chunks!, ChunkIdWidth.Bits64));
        }
        context.Writer.WriteHeader(new ChunkListMessage
        {
            Id = request.Id,
            Size = digest.Identity.Size,
            ModifiedNs = digest.Identity.ModifiedNs,
            Hash = hash,
            AverageSize = request.AverageSize,
            BodySize = body.Length,
            Groups = groupCount,
        }, FerryJsonContext.Default.ChunkListMessage, body.Length);
        context.Writer.WriteBody(body);
    }
}
