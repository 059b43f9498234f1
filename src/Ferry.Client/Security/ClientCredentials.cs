using System.Text.Json;
using System.Text.Json.Serialization;
using Ferry.Protocol.Auth;

namespace Ferry.Client.Security;

/// <summary>A user name and the 256-bit key the server's administrator gave out with <c>ferry user add</c>.</summary>
public sealed record ClientCredentials(string User, byte[] Key)
{
    /// <summary>Parses a key as printed by <c>ferry user add</c> (base64, 32 bytes).</summary>
    public static bool TryParseKey(string? text, out byte[] key)
    {
        key = [];
        if (string.IsNullOrWhiteSpace(text))
            return false;
        var trimmed = text.Trim().Replace('-', '+').Replace('_', '/');
        trimmed = trimmed.PadRight(trimmed.Length + (4 - trimmed.Length % 4) % 4, '=');
        try
        {
            key = Convert.FromBase64String(trimmed);
        }
        catch (FormatException)
        {
            return false;
        }
        return key.Length == Handshake.KeyBytes;
    }

    /// <summary>The user name only: the key never appears in logs or exception messages.</summary>
    public override string ToString() => $"{User} (key hidden)";
}

/// <summary>
/// Stored logins (<c>credentials.json</c> in the client config folder, owner-only), one per server; FERRY_USER and
/// FERRY_KEY override them.
/// </summary>
internal sealed class CredentialStore(string path)
{
    public static CredentialStore Default => new(Path.Combine(ClientConfig.Directory, "credentials.json"));

    public string FilePath { get; } = path;

    /// <summary>Credentials for <paramref name="server"/>: the environment first, then the store. Null if none.</summary>
    public ClientCredentials? Find(string server, string? userOverride = null)
    {
        var envUser = userOverride ?? Environment.GetEnvironmentVariable("FERRY_USER");
        var envKey = Environment.GetEnvironmentVariable("FERRY_KEY");
        if (!string.IsNullOrEmpty(envKey))
        {
            if (string.IsNullOrEmpty(envUser))
                throw new InvalidOperationException("FERRY_KEY is set but no user is: set FERRY_USER or pass --user.");
            if (!ClientCredentials.TryParseKey(envKey, out var key))
                throw new InvalidOperationException("FERRY_KEY is not a Ferry key (32 bytes of base64, as 'ferry user add' prints it).");
            return new ClientCredentials(envUser, key);
        }
        var stored = Load().GetValueOrDefault(server);
        if (stored is null || (userOverride is not null && stored.User != userOverride))
            return null;
        return ClientCredentials.TryParseKey(stored.Key, out var storedKey) ? new ClientCredentials(stored.User!, storedKey) : null;
    }

    /// <summary>A stored login for any port of <paramref name="host"/> (UDP uses another port than the TCP login did).</summary>
    public ClientCredentials? FindForHost(string host, string? userOverride = null)
    {
        foreach (var (server, stored) in Load())
        {
            if (ServerAddress.TryParse(server, out var address, out _) && address.Value.Host == host
                && (userOverride is null || stored.User == userOverride) && ClientCredentials.TryParseKey(stored.Key, out var key))
                return new ClientCredentials(stored.User!, key);
        }
        return null;
    }

    public void Save(string server, ClientCredentials credentials)
    {
        var all = Load();
        all[server] = new StoredLogin { User = credentials.User, Key = Convert.ToBase64String(credentials.Key) };
        ClientConfig.WritePrivateFile(FilePath, JsonSerializer.Serialize(all, CredentialsJsonContext.Default.DictionaryStringStoredLogin));
    }

    private Dictionary<string, StoredLogin> Load()
    {
        if (!File.Exists(FilePath))
            return [];
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(FilePath), CredentialsJsonContext.Default.DictionaryStringStoredLogin) ?? [];
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{FilePath} is not valid JSON ({ex.Message}); fix it or delete it and run 'ferry login' again.", ex);
        }
    }
}

internal sealed class StoredLogin
{
    [JsonPropertyName("user")] public string? User { get; set; }
    [JsonPropertyName("key")] public string? Key { get; set; }
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(Dictionary<string, StoredLogin>))]
internal sealed partial class CredentialsJsonContext : JsonSerializerContext;
