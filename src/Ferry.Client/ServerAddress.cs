using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace Ferry.Client;

/// <summary>A <c>HOST:PORT</c> as users type it: <c>127.0.0.1:7447</c>, <c>[::1]:7447</c>, <c>localhost:7447</c>, or a host alone (default port).</summary>
public readonly record struct ServerAddress(string Host, int Port)
{
    /// <summary>The port a Ferry server listens on unless told otherwise: 7447.</summary>
    public const int DefaultPort = 7447;

    /// <summary><c>HOST:PORT</c>, with an IPv6 host in brackets: the form trust stores and messages use.</summary>
    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <summary>Parses <paramref name="text"/>; the error names what was wrong with it.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out ServerAddress? address, [NotNullWhen(false)] out string? error)
    {
        address = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "The address is empty; expected HOST:PORT, for example 127.0.0.1:7447.";
            return false;
        }
        text = text.Trim();
        string host;
        string? port = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']');
            if (close < 0)
            {
                error = $"'{text}' opens '[' without closing it; write IPv6 addresses as [::1]:7447.";
                return false;
            }
            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    error = $"'{text}' has text after ']' that is not ':PORT'.";
                    return false;
                }
                port = rest[1..];
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon >= 0 && text.IndexOf(':') != colon)
            {
                error = $"'{text}' looks like a bare IPv6 address; write it as [{text}]:{DefaultPort}.";
                return false;
            }
            host = colon >= 0 ? text[..colon] : text;
            port = colon >= 0 ? text[(colon + 1)..] : null;
        }

        if (host.Length == 0)
        {
            error = $"'{text}' has no host.";
            return false;
        }
        var portNumber = DefaultPort;
        if (port is not null && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out portNumber) || portNumber is < 0 or > 65535))
        {
            error = $"'{port}' in '{text}' is not a port number (0-65535).";
            return false;
        }
        address = new ServerAddress(host, portNumber);
        error = null;
        return true;
    }

    /// <summary>Parses an address to listen on: the host must be an IP literal.</summary>
    internal static bool TryParseListen(string? text, [NotNullWhen(true)] out IPEndPoint? endPoint, [NotNullWhen(false)] out string? error)
    {
        endPoint = null;
        if (!TryParse(text, out var address, out error))
            return false;
        var host = address.Value.Host;
        if (host == "localhost")
            host = "127.0.0.1";
        if (!IPAddress.TryParse(host, out var ip))
        {
            error = $"'{address.Value.Host}' is not an IP address; listen addresses are IP literals such as 127.0.0.1 or [::1].";
            return false;
        }
        endPoint = new IPEndPoint(ip, address.Value.Port);
        return true;
    }
}
