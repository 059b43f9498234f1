using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ferry.Client.Security;

/// <summary>
/// Certificate pins, like ssh's known_hosts: one line per server, <c>HOST:PORT SHA256:fingerprint</c>. The first
/// connection to a server records its fingerprint (trust on first use); later connections must present the same one.
/// The ferry command's store; a library's default is <see cref="InMemoryServerTrustStore"/>.
/// </summary>
internal sealed class KnownServers(string path) : IServerTrustStore
{
    public static KnownServers Default => new(System.IO.Path.Combine(ClientConfig.Directory, "known_servers"));

    public string Path { get; } = path;

    /// <summary>SHA-256 of the certificate, written "SHA256:" + base64 without padding (the form ssh prints).</summary>
    public static string Fingerprint(X509Certificate certificate) => InMemoryServerTrustStore.Fingerprint(certificate);

    /// <summary>The pinned fingerprint for <paramref name="server"/>, or null if none.</summary>
    public string? Find(string server)
    {
        if (!File.Exists(Path))
            return null;
        foreach (var line in File.ReadLines(Path))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && !line.StartsWith('#') && parts[0] == server)
                return parts[1];
        }
        return null;
    }

    /// <summary>Pins <paramref name="fingerprint"/> for <paramref name="server"/>, replacing an older pin.</summary>
    public void Pin(string server, string fingerprint)
    {
        var lines = File.Exists(Path)
            ? File.ReadAllLines(Path).Where(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is not [var s, ..] || s != server).ToList()
            : [];
        lines.Add($"{server} {fingerprint}");
        ClientConfig.WritePrivateFile(Path, string.Join('\n', lines) + "\n");
    }

    public override string ToString() => Path;
}
