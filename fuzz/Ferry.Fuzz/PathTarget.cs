using System.Runtime.InteropServices;
using System.Text;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Server.Interop;
using Ferry.Server.Storage;

namespace Ferry.Fuzz;

/// <summary>
/// The input is a remote path as a client would send it: UTF-8, or, after a leading 0xFE byte, raw UTF-16 code units (so
/// that lone surrogates reach the parser too). <see cref="RemotePath.Normalize"/> may refuse it with
/// <c>path_invalid</c> or <c>path_escapes_root</c>; what it returns must be normalized (no empty, "." or ".." segment,
/// no leading or trailing '/', within the length limits), a fixed point, the same place the OS would reach from a root,
/// and split and joined again unchanged. The normalized path is then resolved by the server's <see cref="PathJail"/>
/// against a temporary root that holds links leading in, out, up, to themselves and nowhere; whatever it returns must,
/// with every link on the way followed by the OS, stay inside the root.
/// </summary>
internal static partial class PathTarget
{
    private const string VirtualRoot = "/fuzz-root";
    private static PathJail? s_jail;
    private static string s_realRoot = "";

    /// <summary>
    /// Builds the jail fixture once per process (the fuzzer runs many inputs in one process). Called from the first input,
    /// not before: instrumented code must not run until SharpFuzz has set up its coverage map.
    /// </summary>
    private static void Prepare()
    {
        var baseDirectory = Directory.CreateTempSubdirectory("ferry-fuzz-jail-").FullName;
        var root = Path.Join(baseDirectory, "root");
        var outside = Path.Join(baseDirectory, "outside");
        Directory.CreateDirectory(Path.Join(root, "sub", "deeper"));
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Join(root, "sub", "file.txt"), "inside");
        File.WriteAllText(Path.Join(outside, "secret.txt"), "outside");
        File.CreateSymbolicLink(Path.Join(root, "in"), "sub");
        File.CreateSymbolicLink(Path.Join(root, "in-abs"), Path.Join(root, "sub"));
        File.CreateSymbolicLink(Path.Join(root, "chain"), "in");
        File.CreateSymbolicLink(Path.Join(root, "out"), "../outside");
        File.CreateSymbolicLink(Path.Join(root, "out-abs"), outside);
        File.CreateSymbolicLink(Path.Join(root, "up"), "..");
        File.CreateSymbolicLink(Path.Join(root, "slash"), "/");
        File.CreateSymbolicLink(Path.Join(root, "loop"), "loop");
        File.CreateSymbolicLink(Path.Join(root, "dangling"), "nowhere");
        File.CreateSymbolicLink(Path.Join(root, "dangling-out"), "../nowhere");
        File.CreateSymbolicLink(Path.Join(root, "sub", "back"), "..");
        File.CreateSymbolicLink(Path.Join(root, "sub", "escape"), "../../outside");
        File.CreateSymbolicLink(Path.Join(root, "sub", "to-out"), "../out");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(baseDirectory, recursive: true);

        s_jail = new PathJail(root);
        s_realRoot = RealPath(root) ?? throw new InvalidOperationException($"realpath({root}) failed.");
    }

    public static void Run(byte[] input)
    {
        if (s_jail is null)
            Prepare();

        var path = input.Length > 0 && input[0] == 0xFE
            ? MemoryMarshal.Cast<byte, char>(input.AsSpan(1, (input.Length - 1) & ~1)).ToString()
            : Encoding.UTF8.GetString(input);

        string normalized;
        try
        {
            normalized = RemotePath.Normalize(path);
        }
        catch (FerryException ex) when (ex.Code is FerryErrorCode.PathInvalid or FerryErrorCode.PathEscapesRoot)
        {
            return;
        }

        CheckNormalized(path, normalized);
        CheckJail(normalized);
    }

    private static void CheckNormalized(string original, string normalized)
    {
        Invariant.That(RemotePath.Normalize(normalized) == normalized, $"Normalize is not idempotent on '{normalized}'");
        Invariant.That(!normalized.StartsWith('/') && !normalized.EndsWith('/'), $"'{normalized}' has a leading or trailing '/'");
        Invariant.That(Encoding.UTF8.GetByteCount(normalized) <= RemotePath.MaxPathBytes, "normalized path is too long");
        Invariant.That(!normalized.Contains('\\') && !normalized.Contains('\0'), $"'{normalized}' holds a backslash or NUL");
        if (normalized.Length > 0)
        {
            foreach (var segment in normalized.Split('/'))
            {
                Invariant.That(segment is not ("" or "." or ".."), $"'{normalized}' holds an empty, '.' or '..' segment");
                Invariant.That(Encoding.UTF8.GetByteCount(segment) <= RemotePath.MaxNameBytes, "a name is too long");
            }
        }
        Invariant.That(RemotePath.Combine(RemotePath.Parent(normalized), RemotePath.FileName(normalized)) == normalized,
            $"Parent and FileName of '{normalized}' do not combine back");

        // The OS's own resolution of the raw path from a root must land on the same place.
        var byOs = Path.GetFullPath(original, VirtualRoot).TrimEnd('/');
        var ours = normalized.Length == 0 ? VirtualRoot : $"{VirtualRoot}/{normalized}";
        Invariant.That(byOs == ours, $"'{original}' normalizes to '{normalized}' but resolves to '{byOs}'");
    }

    private static void CheckJail(string normalized)
    {
        var jail = s_jail!;
        try
        {
            var resolved = jail.Resolve(normalized);
            Invariant.That(jail.IsInside(resolved), $"Resolve('{normalized}') = '{resolved}' is not inside the root by its own check");
            CheckReallyInside(normalized, resolved);
        }
        catch (Exception ex) when (IsExpected(ex))
        {
        }

        if (!jail.UsesDescriptors)
            return;
        // What the store really uses on Linux: opened beneath the root's descriptor.
        try
        {
            using var handle = jail.Open(normalized, Libc.OpenPath);
            var opened = jail.PathOf(handle);
            Invariant.That(jail.IsInside(opened), $"Open('{normalized}') opened '{opened}', not inside the root");
            CheckReallyInside(normalized, opened);
        }
        catch (Exception ex) when (IsExpected(ex))
        {
        }

        try
        {
            using var entry = jail.OpenEntry(normalized);
            if (normalized.Length > 0)
                CheckReallyInside(normalized, entry.DirectoryPath);
        }
        catch (Exception ex) when (IsExpected(ex))
        {
        }
    }

    /// <summary>The jail refuses with Ferry's codes (paths too deep or long for the root included); a link loop surfaces as the OS's "too many levels of symbolic links".</summary>
    private static bool IsExpected(Exception ex) =>
        ex is FerryException { Code: FerryErrorCode.PathEscapesRoot or FerryErrorCode.PathInvalid or FerryErrorCode.PathTooLong } or IOException;

    /// <summary>Asks the OS (realpath(3)) where the deepest existing part of <paramref name="local"/> really is.</summary>
    private static void CheckReallyInside(string normalized, string local)
    {
        var existing = local;
        string? real;
        while ((real = RealPath(existing)) is null)
        {
            var parent = Path.GetDirectoryName(existing);
            if (parent is null || parent == existing)
                return;
            existing = parent;
        }
        Invariant.That(real == s_realRoot || real.StartsWith(s_realRoot + "/", StringComparison.Ordinal),
            $"'{normalized}' resolved to '{local}', which is really '{real}', outside the root '{s_realRoot}'");
    }

    private static string? RealPath(string path)
    {
        var result = NativeRealPath(path, IntPtr.Zero);
        if (result == IntPtr.Zero)
            return null;
        try
        {
            return Marshal.PtrToStringUTF8(result);
        }
        finally
        {
            NativeFree(result);
        }
    }

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr NativeRealPath(string path, IntPtr resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void NativeFree(IntPtr pointer);
}
