using KfuncForge.Caching;
using KfuncForge.Compilation;
using KfuncForge.Kernels;
using KfuncForge.Processes;
using KfuncForge.Tests.Caching;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Kernels;

/// <summary>
/// A damaged cache heals itself: on a private copy of the real 6.1 kernel's cached packages (the rootfs and
/// apt index are shared with the user's cache; nothing of it is damaged), a package with flipped bytes and a
/// kernel entry with garbage facts are evicted and made again by the next fetch, which says so.
/// And a build on a full disk names the full disk.
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class CacheHealingTests(RealKernel real)
{
    /// <summary>A cache whose rootfs, apt index and locks are the real cache's, with copies of the kernel's packages.</summary>
    private CacheDirectory PrivateCache(string root)
    {
        var shared = new CacheDirectory(real.CacheRoot);
        Directory.CreateDirectory(root);
        foreach (var (from, to) in new[] { (shared.Rootfs, "rootfs"), (shared.Apt, "apt"), (shared.Locks, "locks") })
            Directory.CreateSymbolicLink(Path.Combine(root, to), from);
        var cache = new CacheDirectory(root).EnsureWritable();
        var store = new PackageStore(shared);
        foreach (var p in real.Kernel.Facts.Packages)
            File.Copy(store.PathOf(p.Sha256), new PackageStore(cache).PathOf(p.Sha256));
        return cache;
    }

    [IntegrationFact]
    public async Task A_damaged_package_and_a_damaged_kernel_entry_are_fetched_again_and_reported()
    {
        var cache = PrivateCache(real.Temp.Combine("healing-cache"));
        var store = new PackageStore(cache);
        var image = real.Kernel.Facts.Packages.Single(p => p.Package.StartsWith("linux-image-", StringComparison.Ordinal));
        var headers = real.Kernel.Facts.Packages.First(p => p.Package.StartsWith("linux-headers-", StringComparison.Ordinal));
        // 200 bytes flipped in the middle of the image package, and the headers package cut short.
        using (var f = File.Open(store.PathOf(image.Sha256), FileMode.Open))
        {
            f.Position = f.Length / 2;
            var bytes = new byte[200];
            f.ReadExactly(bytes);
            for (var i = 0; i < bytes.Length; i++) bytes[i] ^= 0xff;
            f.Position = f.Length / 2;
            f.Write(bytes);
        }
        using (var f = File.Open(store.PathOf(headers.Sha256), FileMode.Open)) f.SetLength(f.Length - 4096);
        // A kernel entry whose facts are garbage.
        var entryDir = Path.Combine(cache.Kernels, real.Distro.Id, real.Kernel.Release);
        Directory.CreateDirectory(Path.Combine(entryDir, "boot"));
        File.WriteAllText(Path.Combine(entryDir, KernelEntry.FactsFile), "{ not json at all ]]");

        var log = new List<string>();
        var workspace = await KernelWorkspace.OpenAsync(real.Distro, "bwrap", cache.Root, ProcessRunner.Instance, l => { lock (log) log.Add(l); });
        var fetched = await workspace.FetchAsync(real.Kernel.Release, l => { lock (log) log.Add(l); });

        var all = string.Join("\n", log);
        Assert.True(fetched.Unavailable.Count == 0, all);
        var entry = Assert.Single(fetched.Entries);
        Assert.Equal(real.Kernel.Facts.NativeKfuncs, entry.Facts.NativeKfuncs);
        Assert.Contains($"cache entry {entryDir} was damaged (facts.json cannot be read", all);
        Assert.Contains($"cache entry {store.PathOf(image.Sha256)} ({image.Package}", all);
        Assert.Contains($"cache entry {store.PathOf(headers.Sha256)} ({headers.Package}", all);
        Assert.Contains("was damaged; fetched again", all);
        Assert.Equal(image.Sha256, PackageStore.Sha256Of(store.PathOf(image.Sha256)));
        Assert.Equal(headers.Sha256, PackageStore.Sha256Of(store.PathOf(headers.Sha256)));

        // A half-written entry (its image gone) is made again from the packages, now whole: no download.
        File.Delete(entry.Vmlinuz);
        log.Clear();
        var again = await workspace.FetchAsync(real.Kernel.Release, l => { lock (log) log.Add(l); });
        all = string.Join("\n", log);
        Assert.True(File.Exists(Assert.Single(again.Entries).Vmlinuz), all);
        Assert.Contains($"was damaged (the kernel image boot/vmlinuz-{real.Kernel.Release} is missing); fetching it again", all);
        Assert.DoesNotContain("apt-get download", all);
    }

    [IntegrationFact]
    public async Task A_build_on_a_full_disk_names_the_full_disk()
    {
        if (!CacheStorageFaultTests.IsRoot) return; // mounting a tmpfs needs root; CI runs as root
        var source = Directory.GetDirectories(real.Layout.RenderRoot, "kfunc_fixture_ok", SearchOption.AllDirectories).Single();
        var mount = real.Temp.Combine("full");
        Directory.CreateDirectory(mount);
        CacheStorageFaultTests.Mount(mount, "size=256k");
        try
        {
            // The sources fit; the objects kbuild writes (with BTF and debug info) do not.
            File.WriteAllBytes(Path.Combine(mount, "filler"), new byte[160 * 1024]);
            var module = real.Catalog.Modules.Single(m => m.Name == "kfunc_fixture_ok");
            var result = await new KbuildBuilder(real.Workspace.Container).BuildAsync(new KbuildRequest(real.Distro, real.Kernel, module.Name, source,
                Path.Combine(mount, "work"), real.Temp.Combine("full.log"), ["bpf_kfuncforge_fixture_add"]));
            Assert.Equal(CellOutcome.Failed, result.Outcome);
            Assert.StartsWith("kbuild failed", result.Reason);   // kbuild's own output, not the copy of the sources
            Assert.Contains("No space left on device", result.Reason);
            Assert.DoesNotContain("Leaving directory", result.Reason);
            var summary = BuildSummary.Format([result]);
            Assert.Contains("No space left on device", summary.Split('\n')[1]);
        }
        finally
        {
            CacheStorageFaultTests.Unmount(mount);
        }
    }
}
