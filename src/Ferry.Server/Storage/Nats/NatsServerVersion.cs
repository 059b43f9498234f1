namespace Ferry.Server.Storage.Nats;

/// <summary>What Ferry needs to know about the NATS server version it talks to.</summary>
internal static class NatsServerVersion
{
    /// <summary>The first release whose replicated streams check an expected last revision when they apply a write.</summary>
    public static readonly Version RevisionCheckFixed = new(2, 9, 21);

    /// <summary>
    /// True for servers before 2.9.21, where two compare-and-set writes with the same revision to a replicated bucket can
    /// both succeed. Ferry's creates are not affected (a create is checked when applied); a concurrent update of one name
    /// from two servers can be, so such a server is run with a warning. Unparsable versions count as affected.
    /// </summary>
    public static bool HasRevisionRace(string version)
    {
        var plain = version.Split('-', '+')[0];
        return !Version.TryParse(plain, out var parsed) || parsed < RevisionCheckFixed;
    }
}
