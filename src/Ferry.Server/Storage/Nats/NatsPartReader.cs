using System.Globalization;
using NATS.Client.Core;
using NATS.Client.JetStream.Models;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// Reads one part's object chunk by chunk with direct gets ("the next message on this object's chunk subject after
/// sequence N"), which any replica of the stream answers. The object store's own reader goes through a new consumer per
/// object instead, which the cluster creates and removes through its meta group: a round trip and a leader election per
/// 4 MiB part, and none at all while a node is away on nats-server 2.9. The bytes are checked end to end by the
/// whole-file checksum the client verifies; the chunk count and length are checked here.
/// </summary>
internal static class NatsPartReader
{
    public static async Task CopyAsync(NatsBuckets buckets, string part, Stream destination, CancellationToken cancellationToken)
    {
        var info = await NatsRetry.RunAsync(c => buckets.Data.GetInfoAsync(part, cancellationToken: c), "reading a file", cancellationToken)
            .ConfigureAwait(false);
        var subject = buckets.ChunkSubject(info.Nuid ?? throw Broken(part, "no chunk id"));
        ulong sequence = 0;
        long copied = 0;
        for (var chunk = 0; chunk < info.Chunks; chunk++)
        {
            var request = new StreamMsgGetRequest { Seq = sequence + 1, NextBySubj = subject };
            var message = await NatsRetry.RunAsync(c => buckets.DataStream.GetDirectAsync<NatsMemoryOwner<byte>>(request, cancellationToken: c),
                "reading a file", cancellationToken).ConfigureAwait(false);
            var data = message.Data;
            try
            {
                sequence = CheckedSequence(message.Headers, subject, sequence) ?? throw Broken(part, $"chunk {chunk + 1} of {info.Chunks} is missing");
                copied += data.Length;
                if (copied > (long)info.Size)
                    throw Broken(part, "more bytes than its size");
                await destination.WriteAsync(data.Memory, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                data.Dispose();
            }
        }
        if (copied != (long)info.Size)
            throw Broken(part, $"{copied} of {info.Size} bytes");
    }

    /// <summary>The chunk's sequence, when the answer is a message of <paramref name="subject"/> after <paramref name="after"/>; else null.</summary>
    private static ulong? CheckedSequence(NatsHeaders? headers, string subject, ulong after)
    {
        if (headers is null || !headers.TryGetValue("Nats-Sequence", out var sequence) || !headers.TryGetValue("Nats-Subject", out var on)
            || on.ToString() != subject || !ulong.TryParse(sequence.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var found) || found <= after)
            return null;
        return found;
    }

    private static Ferry.Protocol.Errors.FerryException Broken(string part, string what) =>
        new(Ferry.Protocol.Errors.FerryErrorCode.IoError, $"The NATS store holds a broken part ({part}: {what}).");
}
