using KfuncForge.Caching;
using KfuncForge.Containers;
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

    /// <summary>Resolves the profile's kernels (narrowed by --kernel) against the live index and fetches each.</summary>
    public async Task<IReadOnlyList<KernelEntry>> FetchAsync(string? kernel, Action<string> log, CancellationToken cancellation = default)
    {
        var index = await Fetcher.IndexAsync(Distro, cancellation);
        var resolved = KernelFetcher.Select(Distro, index, kernel);
        var entries = new List<KernelEntry>();
        foreach (var k in resolved)
        {
            foreach (var note in k.Notes) log($"note: {k.Release.Release}: {note}");
            entries.Add(await Fetcher.FetchAsync(Distro, k, index, cancellation));
        }
        return entries;
    }
}
