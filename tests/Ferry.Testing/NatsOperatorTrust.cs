using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using NATS.NKeys;

namespace Ferry.Testing;

/// <summary>
/// A NATS operator made for one test run, as an administrator makes one with <c>nsc</c>: an operator key, a system
/// account, an application account with JetStream, and users of that account as creds files. Every key is new for the
/// run and lives only in the test's folder. The JWTs are the NATS v2 form: an ed25519 nkey signs "header.claims".
/// </summary>
public sealed class NatsOperatorTrust
{
    private readonly KeyPair _operator = KeyPair.CreatePair(PrefixByte.Operator);
    private readonly KeyPair _system = KeyPair.CreatePair(PrefixByte.Account);
    private readonly KeyPair _application = KeyPair.CreatePair(PrefixByte.Account);

    /// <summary>
    /// The lines a nats-server config needs to trust this operator: its JWT, the system account, and both accounts
    /// preloaded into a memory resolver (no account server to run).
    /// </summary>
    public string ServerConfig(string folder)
    {
        var operatorFile = Path.Combine(folder, "operator.jwt");
        File.WriteAllText(operatorFile, Sign(_operator, _operator.GetPublicKey(), "ferry-test-operator", new JsonObject
        {
            ["type"] = "operator",
            ["version"] = 2,
            ["system_account"] = _system.GetPublicKey(),
        }));
        var system = Sign(_operator, _system.GetPublicKey(), "SYS", AccountClaims(jetStream: false));
        var application = Sign(_operator, _application.GetPublicKey(), "ferry", AccountClaims(jetStream: true));
        return $$"""
            operator: "{{operatorFile}}"
            system_account: {{_system.GetPublicKey()}}
            resolver: MEMORY
            resolver_preload: {
              {{_system.GetPublicKey()}}: "{{system}}"
              {{_application.GetPublicKey()}}: "{{application}}"
            }
            """;
    }

    /// <summary>A creds file for a new user of the application account, as <c>nsc generate creds</c> writes it.</summary>
    public string WriteUserCreds(string path, string name) => WriteCreds(path, _application, name);

    /// <summary>
    /// A creds file whose user JWT is signed by an account the operator never signed: well formed, but not trusted
    /// by the cluster.
    /// </summary>
    public static string WriteUntrustedCreds(string path, string name)
    {
        using var stranger = KeyPair.CreatePair(PrefixByte.Account);
        return WriteCreds(path, stranger, name);
    }

    private static string WriteCreds(string path, KeyPair account, string name)
    {
        using var user = KeyPair.CreatePair(PrefixByte.User);
        var jwt = Sign(account, user.GetPublicKey(), name, new JsonObject
        {
            ["pub"] = new JsonObject(),
            ["sub"] = new JsonObject(),
            ["subs"] = -1,
            ["data"] = -1,
            ["payload"] = -1,
            ["type"] = "user",
            ["version"] = 2,
        });
        File.WriteAllText(path, $"""
            -----BEGIN NATS USER JWT-----
            {jwt}
            ------END NATS USER JWT------

            ************************* IMPORTANT *************************
            NKEY Seed printed below can be used to sign and prove identity.
            NKEYs are sensitive and should be treated as secrets.

            -----BEGIN USER NKEY SEED-----
            {user.GetSeed()}
            ------END USER NKEY SEED------

            *************************************************************

            """);
        return path;
    }

    private static JsonObject AccountClaims(bool jetStream) => new()
    {
        ["limits"] = new JsonObject
        {
            ["subs"] = -1,
            ["data"] = -1,
            ["payload"] = -1,
            ["imports"] = -1,
            ["exports"] = -1,
            ["wildcards"] = true,
            ["conn"] = -1,
            ["leaf"] = -1,
            // Any storage limit other than 0 turns JetStream on for the account; the system account must not have it.
            ["mem_storage"] = jetStream ? -1 : 0,
            ["disk_storage"] = jetStream ? -1 : 0,
            ["streams"] = jetStream ? -1 : 0,
            ["consumer"] = jetStream ? -1 : 0,
        },
        ["default_permissions"] = new JsonObject { ["pub"] = new JsonObject(), ["sub"] = new JsonObject() },
        ["type"] = "account",
        ["version"] = 2,
    };

    /// <summary>A v2 JWT: the claims of <paramref name="subject"/> issued and signed by <paramref name="issuer"/>.</summary>
    private static string Sign(KeyPair issuer, string subject, string name, JsonObject nats)
    {
        var header = System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes("""{"typ":"JWT","alg":"ed25519-nkey"}"""));
        var claims = new JsonObject
        {
            // The server does not check the id; a random one keeps two tokens of one run apart.
            ["jti"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)),
            ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["iss"] = issuer.GetPublicKey(),
            ["name"] = name,
            ["sub"] = subject,
            ["nats"] = nats,
        };
        var signed = header + "." + System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var signature = new byte[64];
        issuer.Sign(Encoding.ASCII.GetBytes(signed), signature);
        return signed + "." + System.Buffers.Text.Base64Url.EncodeToString(signature);
    }

}
