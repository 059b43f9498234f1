using System.Text.RegularExpressions;

namespace Ferry.Server.Auth;

/// <summary>What a user may do. Stored in the users file as names: read, write, exec.</summary>
[Flags]
public enum Permissions
{
    None = 0,
    /// <summary>get, ls, stat and the like.</summary>
    Read = 1,
    /// <summary>put, mkdir, rm, mv.</summary>
    Write = 2,
    /// <summary>Running commands (when the server allows it at all).</summary>
    Exec = 4,
    All = Read | Write | Exec,
}

/// <summary>One user: name, shared key, home, quota and permissions.</summary>
public sealed partial record UserAccount
{
    public required string Name { get; init; }

    /// <summary>The 256-bit shared key. Never sent over the wire.</summary>
    public required byte[] Key { get; init; }

    /// <summary>Home folder, absolute or relative to the server's root; null means root/NAME.</summary>
    public string? Home { get; init; }

    /// <summary>Byte quota for the home; null means unlimited.</summary>
    public long? QuotaBytes { get; init; }

    public Permissions Permissions { get; init; } = Permissions.Read | Permissions.Write;

    /// <summary>
    /// The OS account this user's commands run as when the server runs as root; null means the server's exec account
    /// (<c>exec_user</c>, default ferry-exec). Never root.
    /// </summary>
    public string? OsUser { get; init; }

    public bool Allows(Permissions needed) => (Permissions & needed) == needed;

    /// <summary>The home folder on disk for a server whose root is <paramref name="root"/>.</summary>
    public string HomePath(string root) => Path.GetFullPath(Home ?? Name, Path.GetFullPath(root));

    /// <summary>User names: 1 to 32 characters, letters, digits, '.', '_' and '-', starting with a letter or digit.</summary>
    public static bool IsValidName(string? name) => name is not null && NamePattern().IsMatch(name);

    public static string FormatPermissions(Permissions p) =>
        string.Join(',', new[] { (Permissions.Read, "read"), (Permissions.Write, "write"), (Permissions.Exec, "exec") }
            .Where(x => p.HasFlag(x.Item1)).Select(x => x.Item2)) is { Length: > 0 } s ? s : "none";

    /// <summary>Parses "read,write,exec" (any subset; "none" for nothing).</summary>
    public static Permissions ParsePermissions(string text)
    {
        var result = Permissions.None;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            result |= part.ToLowerInvariant() switch
            {
                "read" => Permissions.Read,
                "write" => Permissions.Write,
                "exec" => Permissions.Exec,
                "none" => Permissions.None,
                _ => throw new FormatException($"'{part}' is not a permission; use read, write, exec or none."),
            };
        }
        return result;
    }

    /// <summary>OS account names as useradd takes them: 1 to 32 characters, letters, digits, '.', '_' and '-', not starting with '-' or a digit-only name.</summary>
    public static bool IsValidOsUser(string? name) => name is not null && OsUserPattern().IsMatch(name) && !name.All(char.IsAsciiDigit);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$")]
    private static partial Regex OsUserPattern();
}
