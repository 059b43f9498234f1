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
}
