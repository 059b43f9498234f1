using System.Globalization;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// Reads one part's object chunk by chunk with direct gets, which any replica of the stream answers. The object store's
/// own reader goes through a new consumer per object instead, which the cluster creates and removes through its meta
/// group: a round trip and a leader election per 4 MiB part, and none at all while a node is away on nats-server 2.9.
/// The bytes are checked end to end by the whole-file checksum the client verifies; the chunk count and length are
/// checked here.
/// </summary>
/// <remarks>
/// One direct get at a time would leave the connection idle for a round trip per chunk, and nats-server 2.9 has no
/// batch get. The first chunk is found by subject ("the next message on this object's chunk subject"); the next chunks
/// are asked for by sequence, up to <see cref="Window"/> at once, because an object's chunks are usually stored one
/// right after the other. Each answer is taken in order and only if it is on the object's subject at the sequence
/// asked: a message of this subject right after the previous chunk is the next chunk (the subject belongs to this one
/// object alone). At the first answer that is not (another put's chunk or the object's record in between, a gap), the
/// guesses still in flight are dropped and the next chunk is found by subject again.
/// </remarks>
internal static class NatsPartReader
{
    /// <summary>Chunks asked for at once per part: 4 x 512 KiB in flight, so at most 2 MiB held per part being read.</summary>
    internal const int Window = 4;

    public static async Task CopyAsync(NatsBuckets buckets, string part, Stream destination, CancellationToken cancellationToken)
    {
        var info = await NatsRetry.RunAsync(c => buckets.Data.GetInfoAsync(part, cancellationToken: c), "reading a file", cancellationToken)
            .ConfigureAwait(false);
        var subject = buckets.ChunkSubject(info.Nuid ?? throw Broken(part, "no chunk id"));
        var guesses = new Queue<(ulong Sequence, Task<NatsMsg<NatsMemoryOwner<byte>>> Answer)>();
        ulong sequence = 0;
        ulong asked = 0; // the highest sequence guessed so far
        long copied = 0;
        try
        {
            for (var chunk = 0; chunk < info.Chunks; chunk++)
            {
                Chunk? found = null;
                if (guesses.TryDequeue(out var guess))
                {
                    var answer = await Settled(guess.Answer).ConfigureAwait(false);
                    if (answer is { } message && IsChunk(message.Headers, subject, guess.Sequence))
                    {
                        found = new Chunk(guess.Sequence, message.Data.Memory, message.Data);
                    }
                    else
                    {
                        answer?.Data.Dispose();
                        await DropAsync(guesses).ConfigureAwait(false);
                    }
                }
                if (found is null)
                {
                    found = await FindBySubjectAsync(buckets, subject, sequence, cancellationToken).ConfigureAwait(false)
                        ?? throw Broken(part, $"chunk {chunk + 1} of {info.Chunks} is missing");
                    asked = 0;
                }
                var (foundAt, data, owner) = found.Value;
                try
                {
                    sequence = foundAt;
                    // Guess the chunks after this one while it is copied, as many as are left, within the window.
                    asked = Math.Max(asked, sequence);
                    var left = info.Chunks - chunk - 1;
                    while (guesses.Count < Math.Min(Window, left))
                    {
                        asked++;
                        var guessed = new StreamMsgGetRequest { Seq = asked };
                        guesses.Enqueue((asked, buckets.DataStream.GetDirectAsync<NatsMemoryOwner<byte>>(guessed, cancellationToken: cancellationToken).AsTask()));
                    }
                    copied += data.Length;
                    if (copied > (long)info.Size)
                        throw Broken(part, "more bytes than its size");
                    await destination.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    owner?.Dispose();
                }
            }
        }
        finally
        {
            await DropAsync(guesses).ConfigureAwait(false);
        }
        if (copied != (long)info.Size)
            throw Broken(part, $"{copied} of {info.Size} bytes");
    }

    /// <summary>
    /// The next message of <paramref name="subject"/> after <paramref name="after"/>, or null when the stream has none.
    /// A direct get is answered by any replica, and a follower may not yet hold a chunk whose put the leader already
    /// acknowledged (a read right after a write, through another server, on a loaded machine): when the direct answer
    /// is not the chunk, the leader, which holds every acknowledged write, is asked.
    /// </summary>
    private static async Task<Chunk?> FindBySubjectAsync(NatsBuckets buckets, string subject, ulong after, CancellationToken cancellationToken)
    {
        var request = new StreamMsgGetRequest { Seq = after + 1, NextBySubj = subject };
        var direct = await NatsRetry.RunAsync(async c =>
        {
            try
            {
                return (NatsMsg<NatsMemoryOwner<byte>>?)await buckets.DataStream.GetDirectAsync<NatsMemoryOwner<byte>>(request, cancellationToken: c).ConfigureAwait(false);
            }
            catch (NatsJSApiException e) when (e.Error.Code == 404)
            {
                return null;
            }
        }, "reading a file", cancellationToken).ConfigureAwait(false);
        if (direct is { } message)
        {
            if (CheckedSequence(message.Headers, subject, after) is { } at)
                return new Chunk(at, message.Data.Memory, message.Data);
            message.Data.Dispose();
        }
        var stored = await NatsRetry.RunAsync(async c =>
        {
            try
            {
                return (await buckets.DataStream.GetAsync(request, c).ConfigureAwait(false)).Message;
            }
            catch (NatsJSApiException e) when (e.Error.Code == 404)
            {
                return null;
            }
        }, "reading a file", cancellationToken).ConfigureAwait(false);
        return stored is { } leaders && leaders.Subject == subject && leaders.Seq > after ? new Chunk(leaders.Seq, leaders.Data, null) : null;
    }

    /// <summary>A chunk found at <paramref name="Sequence"/>; <paramref name="Owner"/> gives its pooled buffer back, when it has one.</summary>
    private readonly record struct Chunk(ulong Sequence, ReadOnlyMemory<byte> Data, IDisposable? Owner);

    /// <summary>A guess's answer, or null when it failed (no message there, a timeout): the chunk is then found by subject.</summary>
    private static async Task<NatsMsg<NatsMemoryOwner<byte>>?> Settled(Task<NatsMsg<NatsMemoryOwner<byte>>> answer)
    {
        try
        {
            return await answer.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Waits for the guesses still in flight and gives their buffers back.</summary>
    private static async Task DropAsync(Queue<(ulong Sequence, Task<NatsMsg<NatsMemoryOwner<byte>>> Answer)> guesses)
    {
        while (guesses.TryDequeue(out var guess))
        {
            if (await Settled(guess.Answer).ConfigureAwait(false) is { } answer)
                answer.Data.Dispose();
        }
    }

    /// <summary>Whether the answer is the message of <paramref name="subject"/> at exactly <paramref name="sequence"/>.</summary>
    private static bool IsChunk(NatsHeaders? headers, string subject, ulong sequence) =>
        CheckedSequence(headers, subject, sequence - 1) == sequence;

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
