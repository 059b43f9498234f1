using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ferry.Testing;

/// <summary>
/// A throwaway certificate authority, a server certificate it signed for 127.0.0.1 and localhost, and a client
/// certificate it signed, written as PEM files into a test's folder (made afresh each run, deleted with the folder; no
/// key is ever kept in the repository).
/// </summary>
public sealed class NatsTestCertificates
{
    private NatsTestCertificates(string caFile, string certFile, string keyFile, string clientCertFile, string clientKeyFile)
    {
        CaFile = caFile;
        ServerCertFile = certFile;
        ServerKeyFile = keyFile;
        ClientCertFile = clientCertFile;
        ClientKeyFile = clientKeyFile;
    }

    /// <summary>A client certificate (PEM) from the same CA, for a server that verifies its clients.</summary>
    public string ClientCertFile { get; }

    public string ClientKeyFile { get; }

    /// <summary>The CA certificate (PEM) that verifies <see cref="ServerCertFile"/>.</summary>
    public string CaFile { get; }

    public string ServerCertFile { get; }

    public string ServerKeyFile { get; }

    /// <summary>Writes ca.pem, server.pem and server-key.pem under <paramref name="folder"/>, with <paramref name="name"/> in the subjects.</summary>
    public static NatsTestCertificates Create(string folder, string name = "ferry-test")
    {
        Directory.CreateDirectory(folder);
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN={name} CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest($"CN={name} nats-server", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        serverRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var server = serverRequest.Create(ca, now.AddMinutes(-5), now.AddDays(1), RandomNumberGenerator.GetBytes(16));

        using var clientKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var clientRequest = new CertificateRequest($"CN={name} client", clientKey, HashAlgorithmName.SHA256);
        clientRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        clientRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        clientRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        clientRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var client = clientRequest.Create(ca, now.AddMinutes(-5), now.AddDays(1), RandomNumberGenerator.GetBytes(16));

        var caFile = Path.Combine(folder, "ca.pem");
        var certFile = Path.Combine(folder, "server.pem");
        var keyFile = Path.Combine(folder, "server-key.pem");
        File.WriteAllText(caFile, ca.ExportCertificatePem());
        File.WriteAllText(certFile, server.ExportCertificatePem());
        File.WriteAllText(keyFile, serverKey.ExportPkcs8PrivateKeyPem());
        var clientCertFile = Path.Combine(folder, "client.pem");
        var clientKeyFile = Path.Combine(folder, "client-key.pem");
        File.WriteAllText(clientCertFile, client.ExportCertificatePem());
        File.WriteAllText(clientKeyFile, clientKey.ExportPkcs8PrivateKeyPem());
        return new NatsTestCertificates(caFile, certFile, keyFile, clientCertFile, clientKeyFile);
    }
}
