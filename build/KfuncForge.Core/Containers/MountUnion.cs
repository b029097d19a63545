namespace KfuncForge.Containers;

/// <summary>One mount operation that assembles a root from layers.</summary>
public abstract record MountOp(string Target);
public sealed record DirOp(string Target) : MountOp(Target);
public sealed record BindOp(string Source, string Target) : MountOp(Target);
public sealed record SymlinkOp(string LinkTarget, string Target) : MountOp(Target);

/// <summary>
/// A read-only union of folders built from bind mounts (bwrap 0.8, Debian 12's, has no overlay
/// support). Where only one layer has a directory it is bound whole; where several layers have the
/// same directory, an empty directory is made and their entries are bound one by one, recursively;
/// for a name that is a file or link in the upper layer, the upper layer wins. So a kernel tree laid
/// over a rootfs costs a few dozen binds (/usr, /usr/lib, /usr/src), and nothing is copied.
/// </summary>
public static class MountUnion
{
    /// <summary>
    /// Layers are host folders, bottom first; each is laid at /. Directories shallower than splitDepth are
    /// always split into their entries, even when only one layer has them: a container engine's image
    /// already has /usr and /usr/lib, which a whole-folder bind would hide (engines use 3; bwrap, whose
    /// lowest layer is the whole rootfs, uses 0).
    /// </summary>
    public static IReadOnlyList<MountOp> Plan(IReadOnlyList<string> layers, int splitDepth = 0)
    {
        var ops = new List<MountOp>();
        var present = layers.Select(Path.GetFullPath).Where(Directory.Exists).ToList();
        if (present.Count > 0) Emit("/", present, 0, splitDepth, ops);
        return ops;
    }

    private static void Emit(string target, List<string> contributions, int depth, int splitDepth, List<MountOp> ops)
    {
        var top = contributions[^1];
        var info = new FileInfo(top);
        if (info.LinkTarget is { } link)
        {
            ops.Add(new SymlinkOp(link, target));
            return;
        }
        if (!Directory.Exists(top))
        {
            ops.Add(new BindOp(top, target));
            return;
        }
        // The directories that merge here: from the top down, until a non-directory hides the rest.
        var dirs = new List<string>();
        for (var i = contributions.Count - 1; i >= 0; i--)
        {
            var c = contributions[i];
            if (new FileInfo(c).LinkTarget is not null || !Directory.Exists(c)) break;
            dirs.Insert(0, c);
        }
        if (dirs.Count == 1 && depth >= splitDepth)
        {
            ops.Add(new BindOp(dirs[0], target));
            return;
        }
        if (target != "/") ops.Add(new DirOp(target));
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var d in dirs)
            foreach (var entry in Directory.EnumerateFileSystemEntries(d))
                names.Add(Path.GetFileName(entry));
        foreach (var name in names)
        {
            var below = dirs.Select(d => Path.Combine(d, name)).Where(Exists).ToList();
            Emit(target == "/" ? "/" + name : target + "/" + name, below, depth + 1, splitDepth, ops);
        }
    }

    private static bool Exists(string path) => File.Exists(path) || Directory.Exists(path) || new FileInfo(path).LinkTarget is not null;
}
