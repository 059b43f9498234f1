using System.Collections.Frozen;
using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Server.Diagnostics;
using Ferry.Server.Handlers;
using Ferry.Server.Hosting;
using Ferry.Server.Logging;
using Ferry.Server.Storage;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Connections;

/// <summary>
/// The per-connection loop: read a frame, route it to its handler by <c>cmd</c>, turn failures into error frames.
/// Non-fatal errors leave the connection usable; fatal ones (framing lost, timeouts) close it after the error frame.
/// </summary>
internal sealed class ConnectionDispatcher
{
    private readonly FrozenDictionary<string, ICommandHandler> _handlers;
    private readonly string[] _features;
    private readonly FerryServerOptions _options;
    private readonly ILogger _logger;

    private readonly IFileStoreProvider _stores;
    private readonly AuditLog _audit;
    private readonly FerryMetrics _metrics;

    private readonly IUserStore _users;

    public ConnectionDispatcher(IEnumerable<ICommandHandler> handlers, IUserStore users, IFileStoreProvider stores, AuditLog audit, FerryMetrics metrics,
        FerryServerOptions options, ILogger logger)
    {
        _users = users;
        _stores = stores;
        _audit = audit;
        _metrics = metrics;
        _handlers = handlers.ToFrozenDictionary(h => h.Command, StringComparer.Ordinal);
        _features = _handlers.Keys.Concat(_handlers.ContainsKey(CommandNames.Exec) ? [FeatureNames.ExecTerminal] : [])
            .Concat(_handlers.ContainsKey(CommandNames.PutChunks) ? [FeatureNames.ChunkGroups] : [])
            .Order(StringComparer.Ordinal).ToArray();
        _options = options;
        _logger = logger;
    }

    /// <summary>
    /// Commands a client pipelines by the hundred and that answer at once (§3.4): their replies may wait for the next
    /// flush, which comes when the reader finds nothing more buffered, when a slower command begins, or at
    /// <see cref="HeldRepliesLimit"/>.
    /// </summary>
    private static readonly FrozenSet<string> QuickCommands = new[]
    {
        CommandNames.PutFile, CommandNames.PutFiles, CommandNames.Put, CommandNames.PutData, CommandNames.PutEnd, CommandNames.Mkdir,
        CommandNames.SetAttributes, CommandNames.Symlink, CommandNames.Stat,
    }.ToFrozenSet(StringComparer.Ordinal);

    private const int HeldRepliesLimit = 64 * 1024;

    /// <param name="connection">The connection to serve.</param>
    /// <param name="stopping">Signalled when the server stops: the loop ends at the next frame boundary.</param>
    public async Task RunAsync(FerryConnection connection, CancellationToken stopping)
    {
        var timeouts = new FrameReadTimeouts(_options.IdleTimeout, _options.HeaderTimeout);
        using var reader = new FrameReader(connection.Input, _options.Frames, timeouts);
        using var writer = new FrameWriter(connection.Output, _options.Frames);
        await using var session = new Session(_options.RequireAuthentication ? null : _stores.ForEveryone());
        var context = new CommandContext(connection, reader, writer, session, _options, _features);
        // Replies held back while more requests were buffered (see DispatchAsync) go out before the reader waits for the
        // next frame. Only there: inside a command, a handler that reads frames (exec's input) writes concurrently.
        Func<CancellationToken, ValueTask> sendHeldReplies = context.FlushAsync;
        var aborted = connection.ConnectionClosed;
        var reason = "peer closed";

        // Waiting for the next frame is the one place where a stopping server may cut in. One linked source per
        // connection, not per frame.
        // The ticket's eviction (login grace time over, or shed to make room) cuts in there too.
        var ticket = connection.Ticket;
        var evicted = ticket?.Evicted ?? CancellationToken.None;
        using var waitForFrame = CancellationTokenSource.CreateLinkedTokenSource(stopping, aborted, evicted);
        try
        {
            while (true)
            {
                FrameHeader header;
                try
                {
                    FrameHeader? next;
                    reader.BeforeWaiting = sendHeldReplies;
                    try
                    {
                        next = await reader.ReadFrameAsync(waitForFrame.Token).ConfigureAwait(false);
                    }
                    finally
                    {
                        reader.BeforeWaiting = null;
                    }
                    if (next is null)
                        break;
                    header = next.Value;
                }
                catch (FerryProtocolException ex)
                {
                    ServerLog.ProtocolError(_logger, ex.Code.ToWire(), reader.Status, PeerText.Escape(ex.Message)!);
                    await SendErrorAsync(writer, ex.Code, ex.Message, ex.IsFatal, aborted).ConfigureAwait(false);
                    if (ex.IsFatal)
                    {
                        reason = ex.Code.ToWire();
                        break;
                    }
                    continue;
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested && !aborted.IsCancellationRequested)
                {
                    await SendErrorAsync(writer, FerryErrorCode.ServerShuttingDown, "The server is shutting down.", fatal: true, aborted)
                        .ConfigureAwait(false);
                    reason = "server stopping";
                    break;
                }
                catch (OperationCanceledException) when (evicted.IsCancellationRequested && !aborted.IsCancellationRequested)
                {
                    ServerLog.ConnectionEvicted(_logger, ticket!.EvictionCode.ToWire(), ticket.EvictionMessage);
                    await SendErrorAsync(writer, ticket.EvictionCode, ticket.EvictionMessage, fatal: true, aborted).ConfigureAwait(false);
                    reason = ticket.EvictionCode.ToWire();
                    break;
                }

                ticket?.SetBusy(true);
                var keepGoing = await DispatchAsync(context, header, aborted).ConfigureAwait(false);
                ticket?.SetBusy(false);
                if (ticket is { IsEstablished: false } && (session.User is not null || (!_options.RequireAuthentication && session.CompletedCommand)))
                    ticket.Establish();
                if (!keepGoing)
                {
                    reason = "fatal command error";
                    break;
                }
                if (session.CloseRequested)
                {
                    reason = "bye";
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            reason = connection.AbortReason ?? "transport error";
            ServerLog.TransportError(_logger, PeerText.Escape(ex.Message)!);
        }
        ServerLog.ConnectionClosed(_logger, reason);
    }

    /// <returns>False when the connection must close.</returns>
    private async ValueTask<bool> DispatchAsync(CommandContext context, FrameHeader header, CancellationToken aborted)
    {
        var writer = context.Writer;
        if (!_handlers.TryGetValue(header.Command, out var handler))
        {
            // The reply quotes the command as sent (the client escapes what it prints); the log gets it escaped.
            var message = $"Unknown command '{Truncate(header.Command)}'.";
            ServerLog.CommandFailed(_logger, PeerText.Escape(Truncate(header.Command))!, FerryErrorCode.CommandUnknown.ToWire(),
                PeerText.Escape(message)!);
            await SendErrorAsync(writer, FerryErrorCode.CommandUnknown, message, fatal: false, aborted).ConfigureAwait(false);
            return true; // the reader skips the declared body before the next frame
        }

        if (!context.Session.HelloReceived && !handler.AllowedBeforeHello && !_options.InsecureNoAuth)
        {
            await SendErrorAsync(writer, FerryErrorCode.HelloRequired, "Send a hello frame first (docs/protocol.md §3).", fatal: false, aborted)
                .ConfigureAwait(false);
            return true;
        }

        var session = context.Session;
        if (session.User is not null && !RefreshUser(session))
        {
            var revoked = $"User '{session.User.Name}' was removed, or their key replaced, since this connection logged in.";
            _audit.Command(context.Connection.Id, context.Connection.RemoteAddress, session.User.Name, header.Command, FerryErrorCode.UserRevoked.ToWire(), 0);
            ServerLog.CommandFailed(_logger, header.Command, FerryErrorCode.UserRevoked.ToWire(), revoked);
            await SendErrorAsync(writer, FerryErrorCode.UserRevoked, revoked, fatal: true, aborted).ConfigureAwait(false);
            return false;
        }
        if (_options.RequireAuthentication && session.User is null && !handler.AllowedBeforeAuth)
        {
            // Nothing but the handshake before login: refuse and hang up.
            await SendErrorAsync(writer, FerryErrorCode.AuthenticationRequired,
                "Log in first (hello, then auth; docs/security.md §3).", fatal: true, aborted).ConfigureAwait(false);
            return false;
        }
        if (session.User is { } user && !user.Allows(handler.RequiredPermission))
        {
            var denied = $"User '{user.Name}' lacks the {UserAccount.FormatPermissions(handler.RequiredPermission)} permission that '{header.Command}' needs.";
            _audit.Command(context.Connection.Id, context.Connection.RemoteAddress, user.Name, header.Command, FerryErrorCode.PermissionDenied.ToWire(), 0);
            await SendErrorAsync(writer, FerryErrorCode.PermissionDenied, denied, fatal: false, aborted).ConfigureAwait(false);
            return true;
        }

        context.Header = header;
        var started = Stopwatch.GetTimestamp();
        var outcome = "ok";
        try
        {
            DispatchLog.CommandStarted(_logger, header.Command);
            // Replies to a pipelined batch of quick file commands are sent together (one write for many, not one each);
            // anything that may take long first sends what earlier commands answered.
            if (!QuickCommands.Contains(header.Command))
                await context.FlushAsync(aborted).ConfigureAwait(false);
            await handler.HandleAsync(context, aborted).ConfigureAwait(false);
            if (!QuickCommands.Contains(header.Command) || writer.Output.UnflushedBytes >= HeldRepliesLimit)
                await context.FlushAsync(aborted).ConfigureAwait(false);
            if (header.Command is not (CommandNames.Hello or CommandNames.Bye))
                session.CompletedCommand = true;
            ServerLog.CommandDone(_logger, header.Command, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return true;
        }
        catch (FerryProtocolException ex) when (ex.IsFatal)
        {
            outcome = ex.Code.ToWire();
            ServerLog.ProtocolError(_logger, ex.Code.ToWire(), context.Reader.Status, PeerText.Escape(ex.Message)!);
            await SendErrorAsync(writer, ex.Code, ex.Message, fatal: true, aborted).ConfigureAwait(false);
            return false;
        }
        catch (FerryException ex)
        {
            outcome = ex.Code.ToWire();
            ServerLog.CommandFailed(_logger, header.Command, ex.Code.ToWire(), PeerText.Escape(ex.Message)!);
            if (writer.BodyRemaining != 0)
            {
                _metrics.Error(ex.Code); // no error frame can follow a body cut short, but it was an error all the same
                return false; // a reply body was cut short: the peer cannot find the next frame
            }
            await SendErrorAsync(writer, ex.Code, ex.Message, fatal: false, aborted).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not (IOException or SocketException or ObjectDisposedException or OperationCanceledException))
        {
            outcome = FerryErrorCode.InternalError.ToWire();
            ServerLog.CommandCrashed(_logger, header.Command, ex);
            if (writer.BodyRemaining != 0)
            {
                _metrics.Error(FerryErrorCode.InternalError);
                return false;
            }
            await SendErrorAsync(writer, FerryErrorCode.InternalError, $"The server failed to run '{header.Command}'.", fatal: false, aborted)
                .ConfigureAwait(false);
            return true;
        }
        catch
        {
            outcome = "transport_error";
            throw;
        }
        finally
        {
            // The handshake audits itself; everything after it is recorded here.
            if (header.Command is not (CommandNames.Hello or CommandNames.Auth))
                _audit.Command(context.Connection.Id, context.Connection.RemoteAddress, session.User?.Name, header.Command, outcome,
                    Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    /// <summary>
    /// Brings the session's user up to date with the users file when it was loaded again since the last look: the
    /// account's permissions, home and quota as they are now. False when the user is gone or has a new key: whatever
    /// the connection proved at login no longer holds.
    /// </summary>
    private bool RefreshUser(Session session)
    {
        if (session.User is not { } user)
            return true;
        var generation = _users.Generation;
        if (generation == session.UserGeneration)
            return true;
        if (!_users.TryGet(user.Name, out var current) || !CryptographicOperations.FixedTimeEquals(current.Key, user.Key))
            return false;
        if (current != user)
        {
            session.User = current;
            session.Store = _stores.ForUser(current);
        }
        session.UserGeneration = generation;
        return true;
    }

    /// <summary>Sends an error frame and counts it by code.</summary>
    internal async ValueTask SendErrorAsync(FrameWriter writer, FerryErrorCode code, string message, bool fatal, CancellationToken cancellationToken)
    {
        _metrics.Error(code);
        try
        {
            writer.WriteHeader(new ErrorMessage { Code = code.ToWire(), Message = message, Fatal = fatal }, FerryJsonContext.Default.ErrorMessage);
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The peer is gone or the pipe is done: there is no one left to tell.
        }
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : string.Concat(s.AsSpan(0, 64), "…");
}
