using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ferry.Server.Auth;

/// <summary>
/// The server's users file (JSON). Read strictly: a file that exists but cannot be understood stops the server with a
/// message naming the problem, never a silent empty user list. Written atomically (temporary file, then rename) with
/// owner-only permissions, because it holds the keys.
/// </summary>
public static class UsersFile
{
    public const int FormatVersion = 1;

    /// <summary>Loads the users; a missing file means no users yet.</summary>
    /// <exception cref="InvalidDataException">The file is malformed; the message says where.</exception>
    public static IReadOnlyList<UserAccount> Load(string path)
    {
        if (!File.Exists(path))
            return [];
        UsersDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(File.ReadAllBytes(path), UsersJsonContext.Default.UsersDocument);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The users file {path} is not valid JSON ({ex.Message}). Fix it or restore it from a backup.", ex);
        }
        if (document is null || document.Users is null)
            throw new InvalidDataException($"The users file {path} has no \"users\" list.");
        if (document.Version != FormatVersion)
            throw new InvalidDataException($"The users file {path} has format version {document.Version}; this server reads version {FormatVersion}.");

        var users = new List<UserAccount>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < document.Users.Count; i++)
        {
            var account = ToAccount(document.Users[i], $"The users file {path}, entry {i + 1}");
            if (!seen.Add(account.Name))
                throw new InvalidDataException($"The users file {path}, entry {i + 1}: user '{account.Name}' appears twice.");
            users.Add(account);
        }
        return users;
    }

    /// <summary>Writes the users atomically, readable and writable by the owner only.</summary>
    public static void Save(string path, IEnumerable<UserAccount> users)
    {
        var document = new UsersDocument
        {
            Version = FormatVersion,
            Users = users.OrderBy(u => u.Name, StringComparer.Ordinal).Select(ToEntry).ToList(),
        };
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(temporary, options))
        {
            JsonSerializer.Serialize(stream, document, UsersJsonContext.Default.UsersDocument);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>
    /// One user as stored (in this file, or as one value in a shared user store), checked as strictly as the file:
    /// <paramref name="where"/> starts the message of what is wrong.
    /// </summary>
    internal static UserAccount ToAccount(UserEntry entry, string where)
    {
        if (!UserAccount.IsValidName(entry.Name))
            throw new InvalidDataException($"{where}: '{entry.Name}' is not a valid user name.");
        byte[] key;
        try
        {
            key = Convert.FromBase64String(entry.Key ?? "");
        }
        catch (FormatException)
        {
            key = [];
        }
        if (key.Length != Ferry.Protocol.Auth.Handshake.KeyBytes)
            throw new InvalidDataException($"{where}: the key of '{entry.Name}' is not 32 bytes of base64.");
        if (entry.QuotaBytes is < 0)
            throw new InvalidDataException($"{where}: the quota of '{entry.Name}' is negative.");
        Permissions permissions;
        try
        {
            permissions = UserAccount.ParsePermissions(string.Join(',', entry.Allow ?? ["read", "write"]));
        }
        catch (FormatException ex)
        {
            throw new InvalidDataException($"{where}: {ex.Message}");
        }
        if (entry.OsUser is not null && (!UserAccount.IsValidOsUser(entry.OsUser) || entry.OsUser == "root"))
            throw new InvalidDataException($"{where}: the os_user of '{entry.Name}' ('{entry.OsUser}') is not the name of an unprivileged OS account.");
        return new UserAccount { Name = entry.Name!, Key = key, Home = entry.Home, QuotaBytes = entry.QuotaBytes, Permissions = permissions, OsUser = entry.OsUser };
    }

    internal static UserEntry ToEntry(UserAccount user) => new()
    {
        Name = user.Name,
        Key = Convert.ToBase64String(user.Key),
        Home = user.Home,
        QuotaBytes = user.QuotaBytes,
        Allow = UserAccount.FormatPermissions(user.Permissions).Split(','),
        OsUser = user.OsUser,
    };

    internal sealed class UsersDocument
    {
        [JsonPropertyName("version")] public int Version { get; set; }
        [JsonPropertyName("users")] public List<UserEntry>? Users { get; set; }
    }

    internal sealed class UserEntry
    {
        [JsonPropertyName("name")] public string? Name { get; set; }
        [JsonPropertyName("key")] public string? Key { get; set; }
        [JsonPropertyName("home")] public string? Home { get; set; }
        [JsonPropertyName("quota")] public long? QuotaBytes { get; set; }
        [JsonPropertyName("allow")] public string[]? Allow { get; set; }
        [JsonPropertyName("os_user")] public string? OsUser { get; set; }
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(UsersFile.UsersDocument))]
[JsonSerializable(typeof(UsersFile.UserEntry))]
internal sealed partial class UsersJsonContext : JsonSerializerContext;
