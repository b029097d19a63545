using KfuncForge.Caching;
using KfuncForge.Containers;
using KfuncForge.Diagnostics;
using KfuncForge.Model;
using KfuncForge.Processes;

namespace KfuncForge.Kernels;

/// <summary>A distro's build environment made ready (cache checked, backend chosen, rootfs built) and its kernels fetched.</summary>
public sealed class KernelWorkspace
{
    private KernelWorkspace(DistroProfile distro, CacheDirectory cache, IContainerRunner container, KernelFetcher fetcher)
    {
        Distro = distro;
        Cache = cache;
        Container = container;
        Fetcher = fetcher;
    }

    public DistroProfile Distro { get; }
    public CacheDirectory Cache { get; }
    public IContainerRunner Container { get; }
    public KernelFetcher Fetcher { get; }

    public static async Task<KernelWorkspace> OpenAsync(DistroProfile distro, string? containerName, string? cacheRoot, IProcessRunner processes, Action<string> log, CancellationToken cancellation = default)
    {
        var cache = new CacheDirectory(cacheRoot ?? CacheDirectory.DefaultRoot()).EnsureWritable();
        var container = await ContainerSelection.SelectAsync(containerName, distro, cache, processes, log, cancellation);
        await container.PrepareAsync(distro, log, cancellation);
        return new KernelWorkspace(distro, cache, container, new KernelFetcher(cache, container, processes, log));
    }

    /// <summary>
    /// The run's kernels: --kernel-tree alone when given; else the profile's build-tree targets, imported, and its
    /// archive targets, resolved and fetched (narrowed by --kernel).
    /// </summary>
    public async Task<FetchedKernels> FetchAsync(Pipeline.Selection selection, Action<string> log, CancellationToken cancellation = default)
    {
        var kernel = selection.Kernel;
        var entries = new List<KernelEntry>();
        var unavailable = new List<UnavailableKernel>();
        var notes = new List<string>();
        // Kernels given as build trees: imported (once per tree identity), never fetched; a missing piece is bad input.
        foreach (var tree in selection.Trees())
        {
            if (tree.Absent)
            {
                unavailable.Add(new UnavailableKernel(tree.Target!.Key, tree.Target.Line.ToString(), tree.AbsentReason));
                continue;
            }
            var (dir, what) = (tree.Dir, tree.What);
            var entry = KernelTree.Import(Cache, Distro, dir, tree.Flavour, log, what);
            if (kernel is not null && selection.KernelTree is null && entry.Release != kernel && Pipeline.Selection.IsReleaseOf(KernelVersion.Parse(entry.Facts.UpstreamVersion), kernel))
                throw new InputException(new Problem("--kernel", 0, 0, "", $"the build tree {dir} ({what}) holds release {entry.Release}, not {kernel}; give its release, its line, or --kernel-tree=<the tree of {kernel}>"));
            entries.Add(entry);
            if (StandIn(entry) is { } note)
            {
                notes.Add(note);
                log($"note: {note}");
            }
        }
        foreach (var u in unavailable) log($"{Distro.Id} {u}");
        if (kernel is not null && selection.KernelTree is null && Distro.Kernels.All(t => t.Tree is not null) && entries.Count == 0 && unavailable.Count == 0)
            throw new InputException(new Problem("--kernel", 0, 0, "", $"kernel '{kernel}' is not a target of {Distro.Id}; its targets are: {string.Join("; ", Distro.Kernels)} (give a line such as {Distro.Kernels[0].Line}, a release of it, or --kernel-tree=<dir>)"));
        if (selection.KernelTree is not null || Distro.Kernels.All(t => t.Tree is not null) || (kernel is not null && entries.Count > 0))
            return new FetchedKernels(entries, unavailable, notes);
        if (Distro.PackageManager is "dnf" or "yum")
        {
            var rpm = await new RpmKernelFetcher(Cache, Fetcher, ProcessRunner.Instance, log).FetchAsync(Distro, selection.Repositories, kernel, cancellation);
            return WithRetained(new FetchedKernels([.. entries, .. rpm.Entries], [.. unavailable, .. rpm.Unavailable], notes), selection, log);
        }
        var archive = await FetchAsync(kernel, log, cancellation);
        return WithRetained(new FetchedKernels([.. entries, .. archive.Entries], [.. unavailable, .. archive.Unavailable], [.. notes, .. archive.Notes]), selection, log);
    }

    /// <summary>
    /// Retention (Packaging/Retention.cs): kernels the published repository serves that are still among the newest
    /// packaging.retain of their line are built and tested again, from the kernel cache, while they are in the window, even
    /// after the archive's index has dropped them. One the cache no longer holds is not built: Package serves its published
    /// package on, byte for byte. Not with --kernel (the user named what to build).
    /// </summary>
    private FetchedKernels WithRetained(FetchedKernels fetched, Pipeline.Selection selection, Action<string> log)
    {
        if (selection.Kernel is not null || selection.Served.Count == 0) return fetched;
        var have = fetched.Entries.Select(e => e.Release).Concat(fetched.Unavailable.Select(u => u.Kernel)).ToHashSet(StringComparer.Ordinal);
        var lines = Distro.Kernels.Select(t => $"{t.Line.Major}.{t.Line.Minor}").ToHashSet(StringComparer.Ordinal);
        var served = selection.Served.Where(p => lines.Contains(p.Line)).Select(p => new Packaging.Retention.Kernel(p.Kernel, p.Line)).DistinctBy(k => k.Release).ToList();
        var window = Packaging.Retention.Window(fetched.Entries.Select(e => new Packaging.Retention.Kernel(e.Release, Packaging.Retention.LineOf(e.Facts.UpstreamVersion))).Concat(served),
            Distro.Packaging.Retain);
        var entries = fetched.Entries.ToList();
        foreach (var kept in served.Where(k => !have.Contains(k.Release) && window.Contains(k.Release)).OrderBy(k => k.Release, StringComparer.Ordinal))
            if (KernelEntry.TryOpen(Fetcher.EntryDir(Distro, kept.Release)) is { } entry)
            {
                log($"{kept.Release}: kept: the repository serves it and it is among the newest {Distro.Packaging.Retain} of Linux {kept.Line} (packaging.retain); built and tested again from the kernel cache");
                entries.Add(entry);
            }
            else
                log($"{kept.Release}: kept: the repository serves it and it is among the newest {Distro.Packaging.Retain} of Linux {kept.Line} (packaging.retain), but the kernel cache no longer holds it; Package serves its published package on");
        return fetched with { Entries = entries };
    }

    /// <summary>
    /// A tree whose release is not of the flavour the profile's tree targets name (a Debian kernel laid out as a tree for
    /// the flatcar profile) is a stand-in: everything done with it is real, but for that kernel; every report says so.
    /// </summary>
    private string? StandIn(KernelEntry entry)
    {
        var expected = Distro.Kernels.Where(t => t.Tree is not null && t.Flavour is not null).Select(t => t.Flavour!).Distinct(StringComparer.Ordinal).ToList();
        if (expected.Count == 0 || expected.Contains(entry.Facts.Flavour)) return null;
        return $"{entry.Release}: STAND-IN kernel: {Distro.Id} expects {string.Join(" or ", expected)} kernels, and this build tree's release is not one; " +
               $"what is built, booted and packaged for it is real, but for this kernel ({entry.Facts.Tree?.Path})";
    }

    /// <summary>
    /// Resolves the profile's archive kernels (narrowed by --kernel) against the live index and fetches each. A kernel
    /// the index cannot supply, or whose packages cannot be fetched, is returned as unavailable with the
    /// reason; the others are fetched all the same.
    /// </summary>
    public async Task<FetchedKernels> FetchAsync(string? kernel, Action<string> log, CancellationToken cancellation = default)
    {
        var index = await Fetcher.IndexAsync(Distro, cancellation);
        var resolution = KernelFetcher.Select(Distro, index, kernel);
        foreach (var note in resolution.Notes) log($"note: {Distro.Id}: {note}");
        var entries = new List<KernelEntry>();
        var unavailable = resolution.Unavailable.ToList();
        foreach (var k in resolution.Kernels)
        {
            foreach (var note in k.Notes) log($"note: {k.Release.Release}: {note}");
            try
            {
                entries.Add(await Fetcher.FetchAsync(Distro, k, index, cancellation));
            }
            catch (StageException e)
            {
                unavailable.Add(new UnavailableKernel(k.Release.Release, k.Release.Line, $"fetch failed: {e.Message}"));
            }
        }
        foreach (var u in unavailable) log($"{Distro.Id} {u}");
        return new FetchedKernels(entries, unavailable, resolution.Notes);
    }
}

/// <summary>A run's kernels: those fetched, those that cannot be used this run (with the reason), and what resolution skipped.</summary>
public sealed record FetchedKernels(IReadOnlyList<KernelEntry> Entries, IReadOnlyList<UnavailableKernel> Unavailable, IReadOnlyList<string> Notes);
