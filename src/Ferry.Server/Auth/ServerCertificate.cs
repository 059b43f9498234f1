using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ferry.Server.Auth;

/// <summary>The server's TLS certificate: self-signed on first start, kept in the state folder and reused after.</summary>
public static class ServerCertificate
{
    public const string FileName = "tls.pfx";

    /// <summary>
    /// Loads a certificate the administrator supplies (PKCS#12 with its private key), for example one issued by a CA
    /// that clients trust with <c>--trust-ca</c>.
    /// </summary>
    /// <exception cref="InvalidDataException">The file cannot be read or has no private key; the message says which.</exception>
    public static X509Certificate2 Load(string path, string? password)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(path, password);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"tls_certificate: {path} cannot be read ({ex.Message}); check the file and tls_certificate_password.", ex);
        }
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new InvalidDataException($"tls_certificate: {path} holds no private key; export the certificate together with its key.");
        }
        return certificate;
    }

    /// <summary>Loads the certificate from <paramref name="stateDirectory"/>, creating it first if there is none.</summary>
    public static X509Certificate2 LoadOrCreate(string stateDirectory)
    {
        var path = Path.Combine(stateDirectory, FileName);
        if (File.Exists(path))
            return Load(path);

        Directory.CreateDirectory(stateDirectory);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=ferry-server {Environment.MachineName}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddDnsName(Environment.MachineName);
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(20));
        var pfx = created.Export(X509ContentType.Pkcs12);

        // Written aside and moved into place without replacing: a crash never leaves half a certificate, and of two
        // servers started at once on one state folder, the second adopts the first one's certificate.
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(pfx);
            stream.Flush(flushToDisk: true);
        }
        if (!PlaceWithoutReplacing(temporary, path))
            return Load(path);
        return X509CertificateLoader.LoadPkcs12(pfx, password: null);
    }

    /// <summary>
    /// Moves <paramref name="temporary"/> to <paramref name="path"/> unless something is there already (false then).
    /// On Linux a hard link does it atomically: File.Move without overwrite checks and renames in two steps, so two
    /// servers racing both "win" and each keeps its own certificate.
    /// </summary>
    private static bool PlaceWithoutReplacing(string temporary, string path)
    {
        if (OperatingSystem.IsLinux())
        {
            var linked = Interop.Libc.link(temporary, path) == 0;
            var error = Marshal.GetLastPInvokeError();
            File.Delete(temporary);
            if (linked || error == Interop.Libc.Eexist)
                return linked;
            throw new IOException($"Cannot write the TLS certificate {path}: {Marshal.GetPInvokeErrorMessage(error)}");
        }
        try
        {
            File.Move(temporary, path, overwrite: false);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temporary);
            return false;
        }
    }

    private static X509Certificate2 Load(string path)
    {
        try
        {
            return X509CertificateLoader.LoadPkcs12FromFile(path, password: null);
        }
        catch (CryptographicException ex)
        {
            throw new InvalidDataException($"The TLS certificate {path} cannot be read ({ex.Message}). Delete it to have a new one made (clients will see a changed fingerprint).", ex);
        }
    }

    /// <summary>The fingerprint users compare: SHA-256 of the certificate, as "SHA256:" and base64 without padding (like ssh).</summary>
    public static string Fingerprint(X509Certificate2 certificate) =>
        "SHA256:" + Convert.ToBase64String(SHA256.HashData(certificate.RawData)).TrimEnd('=');
}
