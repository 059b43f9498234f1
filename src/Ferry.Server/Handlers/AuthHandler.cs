using System.Text;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Server.Diagnostics;

namespace Ferry.Server.Handlers;

/// <summary>
/// Checks the client's proof and proves the server's knowledge of the key in return (docs/security.md §3).
/// Every failure — unknown user, wrong key, malformed answer — looks the same to the client, arrives after the same
/// delay, and closes the connection. One attempt per connection.
/// </summary>
internal sealed class AuthHandler(IUserStore users, Storage.IFileStoreProvider stores, AuthThrottle throttle, AuditLog audit, ConnectionCounter<string> perUser, FerryMetrics metrics, TimeProvider time)
    : ICommandHandler
{
    // A key for users that do not exist, so that checking them costs what checking a real user costs.
    private static readonly byte[] s_decoyKey = Handshake.NewKey();

    public string Command => CommandNames.Auth;
    public bool AllowedBeforeAuth => true;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var session = context.Session;
        var connection = context.Connection;
        if (!context.Options.RequireAuthentication)
            throw new FerryException(FerryErrorCode.UnexpectedFrame, "This server runs without authentication; no auth is needed.");
        if (session.User is not null)
            throw new FerryException(FerryErrorCode.UnexpectedFrame, "Already authenticated.");
        var serverChallenge = session.ServerChallenge
            ?? throw new FerryException(FerryErrorCode.HelloRequired, "Send hello first: its reply carries the challenge to answer.");
        session.ServerChallenge = null; // one answer per challenge, right or wrong

        if (throttle.IsThrottled(connection.RemoteAddress))
        {
            audit.LoginFailed(connection.Id, connection.RemoteAddress, null, "throttled");
            metrics.AuthThrottled();
            throw new FerryProtocolException(FerryErrorCode.AuthenticationThrottled,
                "Too many failed logins from this network lately; wait a minute and try again.", isFatal: true);
        }

        // Read before the account is: a reload in between makes the first command look the user up again.
        var generation = users.Generation;
        AuthMessage? answer = null;
        string reason;
        UserAccount? account = null;
        byte[]? transcript = null;
        try
        {
            answer = context.Header.Deserialize(FerryJsonContext.Default.AuthMessage);
            reason = Check(answer, serverChallenge, connection.ChannelBinding, out account, out transcript);
        }
        catch (FerryProtocolException ex) when (!ex.IsFatal)
        {
            reason = "malformed";
        }

        if (account is null || transcript is null)
        {
            throttle.RecordFailure(connection.RemoteAddress);
            audit.LoginFailed(connection.Id, connection.RemoteAddress, SafeName(answer?.User), reason);
            metrics.AuthRejected(); // one label whatever the reason: the metrics must not tell which names exist
            await Task.Delay(context.Options.AuthFailureDelay, time, cancellationToken).ConfigureAwait(false);
            throw new FerryProtocolException(FerryErrorCode.AuthenticationFailed,
                "Authentication failed: check the user name and key ('ferry login').", isFatal: true);
        }

        var slot = perUser.TryAcquire(account.Name, context.Options.MaxConnectionsPerUser);
        if (slot is null)
        {
            audit.LoginFailed(connection.Id, connection.RemoteAddress, account.Name, "too many connections");
            metrics.AuthOverConnectionLimit();
            throw new FerryProtocolException(FerryErrorCode.TooManyConnections,
                $"User '{account.Name}' already has {context.Options.MaxConnectionsPerUser} connections open; close one and try again.", isFatal: true);
        }
        session.Resources.Add(slot);
        session.User = account;
        session.UserGeneration = generation;
        session.Store = stores.ForUser(account);
        audit.LoginSucceeded(connection.Id, connection.RemoteAddress, account.Name);
        var frameMac = !connection.IsTls;
        context.Writer.WriteHeader(new AuthOkMessage
        {
            Proof = Handshake.ServerProof(account.Key, transcript),
            Allow = UserAccount.FormatPermissions(account.Permissions).Split(','),
            FrameMac = frameMac,
        }, FerryJsonContext.Default.AuthOkMessage);

        if (frameMac)
        {
            // Plain TCP: from here on every frame in both directions carries a MAC under keys only the two ends know.
            var (clientToServer, serverToClient) = Handshake.SessionKeys(account.Key, transcript);
            context.Reader.EnableMac(clientToServer);
            context.Writer.EnableMac(serverToClient);
        }
    }

    /// <returns>The reason for the audit log when the answer is refused.</returns>
    private string Check(AuthMessage answer, byte[] serverChallenge, byte[] channelBinding, out UserAccount? account, out byte[]? transcript)
    {
        account = null;
        transcript = null;
        if (!IsWellFormed(answer))
            return "malformed";
        if (answer.Challenge.AsSpan().SequenceEqual(serverChallenge))
            return "reflected challenge";

        var known = users.TryGet(answer.User, out var found);
        var key = known ? found.Key : s_decoyKey;
        var candidate = Handshake.Transcript(ProtocolVersion.Current, serverChallenge, answer.Challenge, answer.User, channelBinding);
        var valid = Handshake.Verify(Handshake.ClientProof(key, candidate), answer.Proof);
        if (!known)
            return "unknown user";
        if (!valid)
            return "wrong key";
        account = found;
        transcript = candidate;
        return "ok";
    }

    /// <summary>
    /// A valid user name and a challenge and proof of the right length. The JSON may carry <c>null</c> for any of them:
    /// <c>required</c> only means present, so nothing here may assume a field is set.
    /// </summary>
    internal static bool IsWellFormed(AuthMessage answer) =>
        UserAccount.IsValidName(answer.User)
        && answer.Challenge is { Length: Handshake.ChallengeBytes }
        && answer.Proof is { Length: Handshake.ProofBytes };

    private static string? SafeName(string? name) =>
        name is null ? null : name.Length <= 64 && UserAccount.IsValidName(name) ? name : "(invalid name)";
}
