using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Diagnostics;
using Ferry.Server.Storage;

namespace Ferry.Server.Handlers.Files;

/// <summary>
/// Stores a whole small file sent in one frame (docs/protocol.md §5.2.2): the same checks, part file, verification and
/// commit as put, without the put_ready round trip and the put_data / put_end frames that dominate small files.
/// </summary>
internal sealed class PutFileHandler(FerryMetrics metrics) : ICommandHandler
{
    public string Command => CommandNames.PutFile;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Write;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        // Everything is checked before any byte of the body is read; after an error the dispatcher skips the body.
        var put = context.Header.Deserialize(FerryJsonContext.Default.PutFileMessage);
        if (put.Id is not { } id)
            throw new FerryException(FerryErrorCode.FieldInvalid, "A put_file needs an integer 'id'.");
        var path = RemotePath.Normalize(put.Path);
        var size = context.Header.BodyLength;
        if (size > PutFileMessage.MaxSize)
            throw new FerryException(FerryErrorCode.FieldInvalid,
                $"A put_file carries at most {PutFileMessage.MaxSize} bytes (got {size}); send larger files with put.");
        var checksum = ChecksumAlgorithm.FromName(put.Checksum);
        var expected = ParseHash(put.Hash, checksum);
        var modified = Sync.SyncFields.ModifiedTime(put.ModifiedUnixSeconds, put.ModifiedNs, "put_file");
        Sync.SyncFields.CheckMode(put.Mode);
        var request = new UploadRequest(path, size, checksum, put.Force, Resume: false, modified, PutHandler.ChunkSize,
            Mode: put.Mode, ModifiedNs: put.ModifiedNs);

        var upload = new MeteredUpload(await context.Session.Store.BeginUploadAsync(request, cancellationToken).ConfigureAwait(false), metrics);
        await using (upload.ConfigureAwait(false))
        {
            var hash = await BodyCopy.ToCommitOrNothingAsync(context.Reader, upload, expected, cancellationToken).ConfigureAwait(false);
            context.Writer.WriteHeader(new TransferDoneMessage
            {
                Id = id,
                Path = path,
                Size = size,
                Checksum = checksum.Name,
                Hash = Convert.ToHexStringLower(hash),
            }, FerryJsonContext.Default.TransferDoneMessage);
        }
    }

    private static byte[] ParseHash(string? hex, ChecksumAlgorithm checksum)
    {
        var digits = checksum.HashBytes * 2;
        if (hex is null || hex.Length != digits || !hex.All(char.IsAsciiHexDigit))
            throw new FerryException(FerryErrorCode.FieldInvalid, $"A put_file needs 'hash': the {digits}-digit hex {checksum.Name} of the body.");
        return Convert.FromHexString(hex);
    }
}
