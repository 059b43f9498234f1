using System.Globalization;
using System.Text.Json;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.ObjectStore;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// Reads one part's object chunk by chunk with direct gets, which any replica of the stream answers. The object store's
/// own reader goes through a new consumer per object instead, which the cluster creates and removes through its meta
/// group: a round trip and a leader election per 4 MiB part, and none at all while a node is away on nats-server 2.9.
/// The bytes are checked end to end by the whole-file checksum the client verifies; the chunk count and length are
/// checked here.
/// </summary>
/// <remarks>
/// <para>
/// Where the chunks are: the object's record is read from the stream's leader together with its stream sequence R.
/// The object store writes an object's n chunks one after the other, each acknowledged before the next, on a subject
/// that belongs to that one object (followed by one empty message when the object's size is a multiple of the chunk
/// size), and the record last; so all n chunks lie before R. When nothing else was stored in
/// between, they are exactly R-n .. R-1, and those n sequences are asked for at once (up to <see cref="Window"/> in
/// flight). The guess is taken only when every answer is a message of the object's subject at the sequence asked: n
/// messages of a subject that has only n, so they are all of them, in order. Until then nothing is written, since a
/// first answer that matches alone does not prove that no chunk lies further back, which is why a part is held whole
/// (at most <see cref="MaxHeldBytes"/>) before it is copied.
/// </para>
/// <para>
/// When the guess fails (another put's chunks stored in between, a replica that has not applied them yet), the chunks
/// are looked up by subject ("the next message of this subject after sequence S"), from S = R-2n, then further back by
/// eight times as much each time, until n of them are found before R. nats-server 2.9 answers such a lookup by walking
/// the stream's blocks from S on, so starting near the record keeps its cost to what was stored while the object was
/// put, instead of growing with the whole stream as a lookup from the stream's first sequence would.
/// </para>
/// <para>
/// A part larger than <see cref="MaxHeldBytes"/> (never one of Ferry's 4 MiB parts) is streamed instead: its first
/// chunk found by subject from the stream's start, the next ones guessed by sequence, up to <see cref="Window"/> at once.
/// </para>
/// </remarks>
internal static class NatsPartReader
{
    /// <summary>Chunks asked for at once per part: 8 x 512 KiB, a whole 4 MiB part.</summary>
    internal const int Window = 8;

    /// <summary>The largest part read whole before it is copied (two 4 MiB parts at most are read at once per reader).</summary>
    internal const long MaxHeldBytes = 8L * 1024 * 1024;

    public static async Task CopyAsync(NatsBuckets buckets, string part, Stream destination, CancellationToken cancellationToken)
    {
        var (info, recordSequence) = await ReadRecordAsync(buckets, part, cancellationToken).ConfigureAwait(false);
        var subject = buckets.ChunkSubject(info.Nuid ?? throw Broken(part, "no chunk id"));
        if (info.Size > MaxHeldBytes)
        {
            await StreamAsync(buckets, part, info, subject, destination, cancellationToken).ConfigureAwait(false);
            return;
        }
        var chunks = await GuessAsync(buckets, subject, info.Chunks, recordSequence, cancellationToken).ConfigureAwait(false)
            ?? await SearchAsync(buckets, part, subject, info.Chunks, recordSequence, cancellationToken).ConfigureAwait(false);
        try
        {
            long copied = 0;
            foreach (var chunk in chunks)
            {
                copied += chunk.Data.Length;
                if (copied > info.Size)
                    throw Broken(part, "more bytes than its size");
            }
            if (copied != info.Size)
                throw Broken(part, $"{copied} of {info.Size} bytes");
            for (var i = 0; i < chunks.Count; i++)
            {
                await destination.WriteAsync(chunks[i].Data, cancellationToken).ConfigureAwait(false);
                chunks[i].Owner?.Dispose(); // its buffer given back as soon as it is copied
                chunks[i] = chunks[i] with { Owner = null };
            }
        }
        finally
        {
            Release(chunks);
        }
    }

    /// <summary>
    /// The object's record and its stream sequence, from the stream's leader (which has applied every acknowledged
    /// write, as the object store's own lookup does); a deleted object or none is not found.
    /// </summary>
    private static async Task<(NatsObjectRecord Info, ulong Sequence)> ReadRecordAsync(NatsBuckets buckets, string part, CancellationToken cancellationToken)
    {
        foreach (var padded in PaddingFirst())
        {
            var response = await NatsRetry.RunAsync(async c =>
            {
                try
                {
                    return (StreamMsgGetResponse?)await buckets.DataStream.GetAsync(new StreamMsgGetRequest { LastBySubj = buckets.RecordSubject(part, padded) }, c)
                        .ConfigureAwait(false);
                }
                catch (NatsJSApiException e) when (e.Error.Code == 404)
                {
                    return null;
                }
            }, "reading a file", cancellationToken).ConfigureAwait(false);
            if (response is null)
                continue;
            s_padded = padded;
            var info = JsonSerializer.Deserialize(response.Message.Data.Span, NatsJsonContext.Default.NatsObjectRecord);
            if (info is null || info.Deleted)
                break;
            return (info, response.Message.Seq);
        }
        throw new NatsObjNotFoundException($"Object not found: {part}");
    }

    /// <summary>Whether the records' subjects were last found padded: tried first next time.</summary>
    private static volatile bool s_padded = true;

    private static bool[] PaddingFirst() => s_padded ? [true, false] : [false, true];

    /// <summary>
    /// The chunks at R-n .. R-1, when every one of those sequences holds a message of <paramref name="subject"/>; else
    /// null (and nothing held). NATS.Net's put ends an object whose size is a multiple of its chunk size with one empty
    /// message on the chunk subject (not counted in the record's chunks): when R-1 holds that, the chunks are at
    /// R-n-1 .. R-2.
    /// </summary>
    private static async Task<List<Chunk>?> GuessAsync(NatsBuckets buckets, string subject, int count, ulong recordSequence, CancellationToken cancellationToken)
    {
        if (count == 0 || recordSequence <= (ulong)count + 1)
            return count == 0 ? [] : null;
        var held = new List<Chunk>(count + 1);
        var asked = new Queue<(ulong Sequence, Task<NatsMsg<NatsMemoryOwner<byte>>> Answer)>();
        var next = recordSequence - (ulong)count;
        try
        {
            while (held.Count < count)
            {
                while (asked.Count < Window && next < recordSequence)
                {
                    asked.Enqueue((next, Ask(buckets, next, cancellationToken)));
                    next++;
                }
                var (sequence, pending) = asked.Dequeue();
                if (await TakeAsync(pending, subject, sequence).ConfigureAwait(false) is not { } chunk
                    || (chunk.Data.IsEmpty && sequence != recordSequence - 1))
                {
                    Release(held);
                    return null;
                }
                held.Add(chunk);
            }
            if (held[^1].Data.IsEmpty)
            {
                var sequence = recordSequence - (ulong)count - 1;
                if (await TakeAsync(Ask(buckets, sequence, cancellationToken), subject, sequence).ConfigureAwait(false) is not { Data.IsEmpty: false } first)
                {
                    Release(held);
                    return null;
                }
                held[^1].Owner?.Dispose();
                held.RemoveAt(held.Count - 1);
                held.Insert(0, first);
            }
            return held;
        }
        finally
        {
            await DropAsync(asked).ConfigureAwait(false);
        }
    }

    private static Task<NatsMsg<NatsMemoryOwner<byte>>> Ask(NatsBuckets buckets, ulong sequence, CancellationToken cancellationToken) =>
        buckets.DataStream.GetDirectAsync<NatsMemoryOwner<byte>>(new StreamMsgGetRequest { Seq = sequence }, cancellationToken: cancellationToken).AsTask();

    /// <summary>The answer as a chunk, when it is a message of <paramref name="subject"/> at <paramref name="sequence"/>; else null (its buffer given back).</summary>
    private static async Task<Chunk?> TakeAsync(Task<NatsMsg<NatsMemoryOwner<byte>>> pending, string subject, ulong sequence)
    {
        var answer = await Settled(pending).ConfigureAwait(false);
        if (answer is { } message && IsChunk(message.Headers, subject, sequence))
            return new Chunk(sequence, message.Data.Memory, message.Data);
        answer?.Data.Dispose();
        return null;
    }

    /// <summary>
    /// All <paramref name="count"/> chunks, looked up by subject from R-2n, then from further back each time fewer
    /// than n lie between there and the record (see the remarks above). A subject with fewer than n messages before the
    /// record, even counted from the stream's start, is a broken part.
    /// </summary>
    private static async Task<List<Chunk>> SearchAsync(NatsBuckets buckets, string part, string subject, int count, ulong recordSequence,
        CancellationToken cancellationToken)
    {
        var reach = 2 * (ulong)Math.Max(1, count);
        while (true)
        {
            var from = recordSequence > reach ? recordSequence - reach : 1;
            var held = new List<Chunk>(count);
            try
            {
                var after = from - 1;
                while (held.Count < count && await FindBySubjectAsync(buckets, subject, after, cancellationToken).ConfigureAwait(false) is { } found)
                {
                    if (found.Sequence >= recordSequence)
                    {
                        found.Owner?.Dispose();
                        break;
                    }
                    after = found.Sequence;
                    if (found.Data.IsEmpty)
                        found.Owner?.Dispose(); // the empty message a put may end with (see GuessAsync), not a chunk
                    else
                        held.Add(found);
                }
            }
            catch
            {
                Release(held);
                throw;
            }
            if (held.Count == count)
                return held;
            Release(held);
            if (from == 1)
                throw Broken(part, $"{held.Count} of {count} chunks");
            reach = reach > ulong.MaxValue / 8 ? ulong.MaxValue : reach * 8;
        }
    }

    private static void Release(List<Chunk> chunks)
    {
        foreach (var chunk in chunks)
            chunk.Owner?.Dispose();
        chunks.Clear();
    }

    /// <summary>A part too large to hold: copied chunk by chunk as found, the first found by subject from the stream's start.</summary>
    private static async Task StreamAsync(NatsBuckets buckets, string part, NatsObjectRecord info, string subject, Stream destination,
        CancellationToken cancellationToken)
    {
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
                    if (copied > info.Size)
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
        if (copied != info.Size)
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
