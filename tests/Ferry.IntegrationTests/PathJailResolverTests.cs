using Ferry.Protocol.Errors;
using Ferry.Server.Interop;
using Ferry.Server.Storage;
using Ferry.Testing;
using Microsoft.Win32.SafeHandles;

namespace Ferry.IntegrationTests;

/// <summary>
/// The resolver beneath the root's descriptor (PathJail.Open, Beneath), with openat2 and with the walk used without it:
/// a link planted at any level is followed while it stays inside the root and refused when it leads out.
/// </summary>
public class PathJailResolverTests
{
    private const string Path3 = "x0/x1/x2/f.txt";

    public static TheoryData<bool, int, string> Plants()
    {
        var data = new TheoryData<bool, int, string>();
        foreach (var walkOnly in new[] { false, true })
        {
            for (var level = 0; level < 4; level++)
            {
                foreach (var kind in new[] { "absolute-out", "relative-out", "absolute-in", "relative-in" })
                    data.Add(walkOnly, level, kind);
            }
        }
        return data;
    }

    /// <summary>
    /// root/x0/x1/x2/f.txt, where level <paramref name="level"/> is a link to the same level of a copy of the tree in
    /// the root (root/real/...) or outside it; the levels above are folders.
    /// </summary>
    [Theory]
    [MemberData(nameof(Plants))]
    public void A_link_at_any_level_is_followed_inside_the_root_and_refused_out_of_it(bool walkOnly, int level, string kind)
    {
        using var rootDir = new TempDirectory("ferry-jail-root");
        using var outside = new TempDirectory("ferry-jail-outside");
        var jail = new PathJail(rootDir.Path) { WalkOnly = walkOnly };
        var names = Path3.Split('/');
        MakeTree(Path.Combine(jail.Root, "real"), "inside");
        MakeTree(outside.Path, "outside");

        var linkFolder = Path.Combine([jail.Root, .. names[..level]]);
        Directory.CreateDirectory(linkFolder);
        var inTarget = Path.Combine([jail.Root, "real", .. names[..(level + 1)]]);
        var outTarget = Path.Combine([outside.Path, .. names[..(level + 1)]]);
        var target = kind switch
        {
            "absolute-out" => outTarget,
            "relative-out" => Path.GetRelativePath(linkFolder, outTarget),
            "absolute-in" => inTarget,
            _ => Path.GetRelativePath(linkFolder, inTarget),
        };
        File.CreateSymbolicLink(Path.Combine(linkFolder, names[level]), target);

        if (kind.EndsWith("-out", StringComparison.Ordinal))
        {
            Assert.Equal(FerryErrorCode.PathEscapesRoot, Assert.Throws<FerryException>(() => jail.Open(Path3, Libc.OpenReadOnly).Dispose()).Code);
            if (level < 3)
                Assert.Equal(FerryErrorCode.PathEscapesRoot, Assert.Throws<FerryException>(() => jail.OpenEntry(Path3).Dispose()).Code);
            return;
        }
        using (var file = jail.Open(Path3, Libc.OpenReadOnly))
            Assert.Equal("inside", Read(file));
        using var entry = jail.OpenEntry(Path3);
        // The folder is the one the link leads to; a link at the last level itself is not followed.
        Assert.Equal(level < 3 ? Path.Combine(jail.Root, "real", "x0", "x1", "x2") : Path.Combine(jail.Root, "x0", "x1", "x2"), entry.DirectoryPath);
        Assert.Equal(level < 3, new FileInfo(entry.Path).LinkTarget is null);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_link_loop_and_dot_dot_in_link_targets_are_handled_beneath_the_root(bool walkOnly)
    {
        using var rootDir = new TempDirectory("ferry-jail-root");
        var jail = new PathJail(rootDir.Path) { WalkOnly = walkOnly };
        Directory.CreateDirectory(Path.Combine(jail.Root, "a", "b"));
        File.WriteAllText(Path.Combine(jail.Root, "a", "f.txt"), "a's file");
        File.CreateSymbolicLink(Path.Combine(jail.Root, "loop"), "loop");
        File.CreateSymbolicLink(Path.Combine(jail.Root, "a", "b", "up"), "../f.txt"); // .. from where the link is
        File.CreateSymbolicLink(Path.Combine(jail.Root, "a", "b", "above"), "../../../x"); // one level above the root
        File.CreateSymbolicLink(Path.Combine(jail.Root, "a", "b", "root"), jail.Root); // the root itself, absolute

        var loop = Assert.Throws<IOException>(() => jail.Open("loop", Libc.OpenPath).Dispose());
        Assert.Equal(Libc.Eloop, loop.HResult);
        using (var file = jail.Open("a/b/up", Libc.OpenReadOnly))
            Assert.Equal("a's file", Read(file));
        Assert.Equal(FerryErrorCode.PathEscapesRoot, Assert.Throws<FerryException>(() => jail.Open("a/b/above", Libc.OpenPath).Dispose()).Code);
        using (var file = jail.Open("a/b/root/a/f.txt", Libc.OpenReadOnly))
            Assert.Equal("a's file", Read(file));
        using (var folder = jail.Open("a/b/root", Libc.OpenPath | Libc.OpenDirectory))
            Assert.Equal(jail.Root, jail.PathOf(folder));
        Assert.Throws<FileNotFoundException>(() => jail.Open("a/missing/f.txt", Libc.OpenPath).Dispose());
    }

    [Fact]
    public void A_folder_swapped_for_a_link_after_it_was_opened_is_not_followed_by_the_entry()
    {
        using var rootDir = new TempDirectory("ferry-jail-root");
        using var outside = new TempDirectory("ferry-jail-outside");
        var jail = new PathJail(rootDir.Path);
        var folder = Path.Combine(jail.Root, "d");
        Directory.CreateDirectory(folder);

        using var entry = jail.OpenEntry("d/new.txt");
        // Swap: the opened folder goes away under another name, and a link out takes its name.
        Directory.Move(folder, Path.Combine(jail.Root, "elsewhere"));
        Directory.CreateSymbolicLink(folder, outside.Path);
        File.WriteAllText(entry.Path, "written");

        Assert.Empty(Directory.EnumerateFileSystemEntries(outside.Path));
        Assert.Equal("written", File.ReadAllText(Path.Combine(jail.Root, "elsewhere", "new.txt")));
        Assert.Equal(Path.Combine(jail.Root, "elsewhere"), jail.PathOf(entry.Directory!));
    }

    /// <summary>
    /// The same race as SymlinkRaceTests, on the resolver alone and with the walk as well (a kernel without openat2): a
    /// folder is exchanged with a link out of the root while it is opened, read and written through, for 3 s.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_folder_exchanged_with_a_link_out_while_paths_are_opened_never_leads_outside(bool walkOnly)
    {
        using var rootDir = new TempDirectory("ferry-jail-root");
        using var outside = new TempDirectory("ferry-jail-outside");
        var jail = new PathJail(rootDir.Path) { WalkOnly = walkOnly };
        File.WriteAllText(outside.Combine("f.txt"), "outside");
        Directory.CreateDirectory(Path.Combine(jail.Root, "d"));
        File.WriteAllText(Path.Combine(jail.Root, "d", "f.txt"), "inside");
        Directory.CreateSymbolicLink(Path.Combine(jail.Root, "d-swap"), outside.Path);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var swaps = 0L;
        var swapper = new Thread(() =>
        {
            using var root = new SafeFileHandle(Libc.open(jail.Root, Libc.OpenPath | Libc.OpenDirectory | Libc.CloseOnExec), ownsHandle: true);
            while ((!stop.IsCancellationRequested && swaps < 20_000_000) || swaps % 2 != 0)
            {
                if (Libc.renameat2(root, "d", root, "d-swap", 2 /* RENAME_EXCHANGE */) != 0)
                    return;
                swaps++;
            }
        }) { IsBackground = true };
        swapper.Start();
        int opened = 0, refused = 0;
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            try
            {
                using (var file = jail.Open("d/f.txt", Libc.OpenReadOnly))
                    Assert.Equal("inside", Read(file));
                using var entry = jail.OpenEntry($"d/new-{i}.txt");
                File.WriteAllText(entry.Path, "written");
                File.Delete(entry.Path);
                opened++;
            }
            catch (FerryException ex) when (ex.Code == FerryErrorCode.PathEscapesRoot)
            {
                refused++;
            }
            catch (FileNotFoundException)
            {
                refused++; // the walk's ".." or a name looked up in the instant of the exchange
            }
            catch (IOException ex) when (ex.HResult is 20 or 40)
            {
                // ENOTDIR or ELOOP: "d" was a folder when looked up and a link when opened with O_NOFOLLOW (or the
                // other way round). A loaded machine lands in that instant now and then; it is a refusal too.
                refused++;
            }
        }
        Assert.True(swapper.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(["f.txt"], Directory.EnumerateFileSystemEntries(outside.Path).Select(Path.GetFileName));
        Assert.Equal("outside", File.ReadAllText(outside.Combine("f.txt")));
        Assert.True(swaps > 1000 && opened > 0 && refused > 0, $"{swaps} swaps, {opened} opened inside, {refused} refused");
    }

    private static void MakeTree(string top, string content)
    {
        var folder = Path.Combine(top, "x0", "x1", "x2");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "f.txt"), content);
    }

    private static string Read(SafeFileHandle file)
    {
        var buffer = new byte[100];
        var n = RandomAccess.Read(file, buffer, 0);
        return System.Text.Encoding.UTF8.GetString(buffer, 0, n);
    }
}
