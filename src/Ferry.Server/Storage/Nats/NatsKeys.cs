using System.Buffers.Text;
using System.Text;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// Keys of the namespace bucket: <c>e.{user}.{folder id}.{name}</c>, user and name in unpadded base64url, since a key may
/// only hold <c>[-/_=.a-zA-Z0-9]</c> and a dot separates tokens (so <c>e.{user}.{folder id}.*</c> lists a folder).
/// </summary>
internal static class NatsKeys
{
    /// <summary>The id of a home's root folder.</summary>
    public const string RootId = "r";

    /// <summary>The user token of a server without logins (never an encoded name: base64url has no '=' when unpadded).</summary>
    public const string EveryoneToken = "=";

    public static string Token(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));

    public static string NameOf(string token) => Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token));

    public static string Entry(string user, string folderId, string name) => $"e.{user}.{folderId}.{Token(name)}";

    public static string Children(string user, string folderId) => $"e.{user}.{folderId}.*";

    /// <summary>The state of the upload in progress to <paramref name="path"/> in one home.</summary>
    public static string Upload(string user, string path) => $"u.{user}.{Token(path)}";

    /// <summary>Every upload in progress of every user, for the sweep.</summary>
    public const string AllUploads = "u.>";

    /// <summary>A quota reservation of an upload in progress.</summary>
    public static string Reservation(string user, string id) => $"q.{user}.{id}";

    /// <summary>Every reservation of every user, for the sweep of expired ones.</summary>
    public const string AllReservations = "q.>";

    /// <summary>Everything that counts against one user's quota: their entries and their reservations.</summary>
    public static string QuotaScope(string user) => $"*.{user}.>";

    /// <summary>Whether <paramref name="key"/> is a reservation (else an entry).</summary>
    public static bool IsReservation(string key) => key.StartsWith("q.", StringComparison.Ordinal);

    /// <summary>Whether <paramref name="key"/> is a name (else a reservation or an upload in progress).</summary>
    public static bool IsEntry(string key) => key.StartsWith("e.", StringComparison.Ordinal);

    /// <summary>Every entry of every home, for the sweep that finds objects nothing points to.</summary>
    public const string AllEntries = "e.>";

    /// <summary>The last token of a key: an entry's encoded name.</summary>
    public static string LastToken(string key) => key[(key.LastIndexOf('.') + 1)..];

    public static string NewId() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
}
