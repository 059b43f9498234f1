using System.IO.Pipelines;
using Ferry.Protocol.Framing;
using Ferry.Server.Connections;
using Ferry.Server.Hosting;

namespace Ferry.Server.Handlers;

/// <summary>What a handler sees: the request header, the frame reader positioned at its body, the frame writer, the session.</summary>
public sealed class CommandContext
{
    internal CommandContext(FerryConnection connection, FrameReader reader, FrameWriter writer, Session session, FerryServerOptions options, IReadOnlyList<string> serverFeatures)
    {
        Connection = connection;
        Reader = reader;
        Writer = writer;
        Session = session;
        Options = options;
        ServerFeatures = serverFeatures;
    }

    public FerryConnection Connection { get; }
    public FrameReader Reader { get; }
    public FrameWriter Writer { get; }
    public Session Session { get; }
    public FerryServerOptions Options { get; }

    /// <summary>What this server announces in its hello: one name per command it serves.</summary>
    public IReadOnlyList<string> ServerFeatures { get; }

    /// <summary>The request being served.</summary>
    public FrameHeader Header { get; internal set; }

    /// <summary>
    /// Sends what was written. A peer that stops reading cannot hold the handler forever: past the idle timeout
    /// the flush is cancelled and the connection closes.
    /// </summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        var result = Writer.Output.FlushAsync(cancellationToken);
        if (result.IsCompleted)
        {
            result.GetAwaiter().GetResult();
            return;
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Options.IdleTimeout);
        await using (deadline.Token.UnsafeRegister(static state => ((PipeWriter)state!).CancelPendingFlush(), Writer.Output).ConfigureAwait(false))
        {
            var flushed = await result.ConfigureAwait(false);
            if (flushed.IsCanceled)
            {
                Connection.Abort("the peer stopped reading");
                throw new IOException($"The peer read nothing for {Options.IdleTimeout.TotalSeconds:0.#} s.");
            }
        }
    }
}
