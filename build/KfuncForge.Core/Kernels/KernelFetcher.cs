using System.Text.Json;
using KfuncForge.Caching;
using KfuncForge.Containers;
using KfuncForge.Diagnostics;
using KfuncForge.Model;
using KfuncForge.Processes;

namespace KfuncForge.Kernels;

/// <summary>
/// Fetches target kernels through the distro's own package manager, inside its environment:
/// `apt-get update` and `apt-get download` are the only steps with network. Packages are verified
/// against the index's SHA256 and kept content-addressed; each kernel is extracted once into a cache
/// entry with its facts (release, config, base BTF, native kfuncs).
/// </summary>
public sealed class KernelFetcher(CacheDirectory cache, IContainerRunner container, IProcessRunner processes, Action<string> log)
{
    /// <summary>An index younger than this is reused rather than updated again (runs in a row, tests).</summary>
    public static readonly TimeSpan IndexMaxAge = TimeSpan.FromMinutes(30);

    public static readonly TimeSpan LockTimeout = TimeSpan.FromMinutes(30);

    private readonly PackageStore _store = new(cache);

    private static readonly string[] AptOptions =
    [
        "-o", "APT::Sandbox::User=root", "-o", "Acquire::Retries=3", "-o", "Acquire::Languages=none",
        "-o", "Acquire::GzipIndexes=false", "-o", "Debug::NoLocking=true", "-q",
    ];

    private string AptState(DistroProfile distro) =>
        Path.Combine(cache.Apt, container is BwrapRunner b ? Path.GetFileName(b.EntryDir(distro)) : $"{distro.Id}-{container.Name}");

    private IReadOnlyList<Mount> AptMounts(DistroProfile distro)
    {
        var state = AptState(distro);
        return [new Mount(Path.Combine(state, "lists"), "/var/lib/apt/lists", true), new Mount(Path.Combine(state, "cache"), "/var/cache/apt", true)];
    }

    private static void RequireApt(DistroProfile distro)
    {
        if (distro.PackageManager != "apt")
            throw new StageException($"{distro.Id} uses {distro.PackageManager}: its kernels are fetched with dnf from its kernel repositories by Build and Package (--kernel-repo), not from an apt index; the nightly matrix follows apt archives only (docs/kernels.md, \"RPM kernels\")");
    }

    /// <summary>Updates (when older than IndexMaxAge) and reads the live package index of the distro's suites.</summary>
    public async Task<DebianIndex> IndexAsync(DistroProfile distro, CancellationToken cancellation = default)
    {
        RequireApt(distro);
        var state = AptState(distro);
        using var held = FileLock.Acquire(cache.LockFile("apt-" + Path.GetFileName(state)), LockTimeout, $"updating the {distro.Id} package index", log);
        var lists = Path.Combine(state, "lists");
        var stamp = Path.Combine(state, "updated");
        try
        {
            Directory.CreateDirectory(Path.Combine(lists, "partial"));
            Directory.CreateDirectory(Path.Combine(state, "cache", "archives", "partial"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CacheErrors.Describe(e, cache.Root, "preparing the package index") ?? throw new StageException(e.Message);
        }
        if (!File.Exists(stamp) || DateTime.UtcNow - File.GetLastWriteTimeUtc(stamp) > IndexMaxAge)
        {
            log($"apt-get update for {distro.Id} (network)");
            var step = new ContainerStep(["apt-get", .. AptOptions, "update"]) { Network = true, Mounts = AptMounts(distro), Timeout = TimeSpan.FromMinutes(10) };
            var result = await container.RunAsync(distro, step, cancellation);
            if (!result.Succeeded || result.Stdout.Contains("\nErr:", StringComparison.Ordinal) || result.Stderr.Contains("W: Failed to fetch", StringComparison.Ordinal))
                throw new StageException($"apt-get update for {distro.Id} failed (exit {result.ExitCode}):\n{CommandLine.Tail(result.Stderr + result.Stdout, 12)}");
            File.WriteAllText(stamp, DateTime.UtcNow.ToString("O"));
        }
        return DebianIndex.Load(lists, extractDir: Path.Combine(state, "kfuncforge-extracts"));
    }

    /// <summary>
    /// The profile's kernels pinned against the index, narrowed by --kernel (a target's key or release, a
    /// line, or a release of a target's line) before anything is resolved: a kernel the user did not ask for
    /// can neither stop nor slow the run. What the index cannot supply comes back as unavailable, never as
    /// an exception; only a --kernel that names no target, or a release the index has never heard of, is bad input.
    /// </summary>
    public static KernelResolution Select(DistroProfile distro, DebianIndex index, string? kernel)
    {
        KernelResolution Of(IEnumerable<KernelTarget> targets) => KernelResolution.Combine(targets.Select(t => KernelResolver.Resolve(distro, t, index)));
        // Build-tree targets are imported, not resolved (KernelWorkspace).
        var archive = distro.Kernels.Where(t => t.Tree is null).ToList();
        if (kernel is null) return Of(archive);
        var named = archive.Where(t => t.Key == kernel || t.Release == kernel || (!t.IsExplicit && t.Line.ToString() == kernel)).ToList();
        if (named.Count > 0) return Of(named);
        if (KernelVersion.TryParse(kernel, out var version))
        {
            var byLine = archive.Where(t => t.Line.Major == version.Major && t.Line.Minor == version.Minor).ToList();
            if (byLine.Count > 0)
            {
                var line = Of(byLine);
                var hit = line.Kernels.Where(k => k.Release.Release == kernel).ToList();
                if (hit.Count > 0) return new KernelResolution(hit, [], line.Notes);
                var gone = line.Unavailable.Where(u => u.Kernel == kernel).ToList();
                if (gone.Count > 0) return new KernelResolution([], gone, line.Notes);
                // A release that is not among the newest: pin it, or say what the index has.
                var target = byLine.FirstOrDefault(t => !t.IsExplicit) ?? byLine[0];
                return KernelResolver.ResolveRequested(distro, kernel, target.Flavour, KernelResolver.SuitesOf(target, index), index);
            }
        }
        throw new InputException(new Problem("--kernel", 0, 0, "", $"kernel '{kernel}' is not a target of {distro.Id}; its targets are: {string.Join("; ", distro.Kernels)} (give a release of one of those lines, or a line such as {distro.Kernels[0].Line})"));
    }

    public string EntryDir(DistroProfile distro, string release) => Path.Combine(cache.Kernels, distro.Id, release);

    /// <summary>Returns the cached kernel, or downloads, verifies, extracts and reads it (once, under a lock).</summary>
    public Task<KernelEntry> FetchAsync(DistroProfile distro, ResolvedKernel kernel, DebianIndex index, CancellationToken cancellation = default) =>
        MakeEntryAsync(distro, kernel, index, () => DownloadAsync(distro, kernel.Packages.ToList(), cancellation), cancellation);

    /// <summary>
    /// The cache entry of a resolved kernel: the cached one, or its packages (<paramref name="download"/>: verified,
    /// in the package store; .deb or .rpm) extracted and read, once, under a lock. <paramref name="index"/> (Debian)
    /// lets a kbuild package without resolve_btfids borrow one.
    /// </summary>
    internal async Task<KernelEntry> MakeEntryAsync(DistroProfile distro, ResolvedKernel kernel, DebianIndex? index,
        Func<Task<IReadOnlyDictionary<IndexEntry, string>>> download, CancellationToken cancellation = default)
    {
        var final = EntryDir(distro, kernel.Release.Release);
        if (KernelEntry.TryOpen(final) is { } cached) return cached;
        using var held = FileLock.Acquire(cache.LockFile($"kernel-{distro.Id}-{kernel.Release.Release}"), LockTimeout, $"fetching {kernel.Release.Release}", log);
        var (other, damage) = KernelEntry.Inspect(final);
        if (other is not null) return other;
        var parent = Path.GetDirectoryName(final)!;
        CacheDirectory.SweepStaging(parent, TimeSpan.FromHours(2));
        if (Directory.Exists(final))
        {
            // A damaged or half-written entry is never used: evicted, and made again from the (verified) packages.
            log($"cache entry {final} was damaged ({damage}); fetching it again");
            CacheDirectory.DeleteQuietly(final);
            if (Directory.Exists(final))
                throw new StageException($"cache entry {final} is damaged ({damage}) and cannot be removed; delete it by hand and run again");
        }
        string? staging = null;
        try
        {
            staging = CacheDirectory.NewStaging(parent, kernel.Release.Release);
            var debs = await download();
            var facts = await BuildEntryAsync(distro, kernel, index, debs, staging, cancellation);
            await File.WriteAllTextAsync(Path.Combine(staging, KernelEntry.FactsFile), JsonSerializer.Serialize(facts, KernelFactsDocument.Json) + "\n", cancellation);
            CacheDirectory.Publish(staging, final);
            var (made, still) = KernelEntry.Inspect(final);
            return made ?? throw new StageException($"kernel cache entry {final} is still not whole after it was fetched again ({still}); check the disk holding {cache.Root} and run again");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CacheErrors.Describe(e, cache.Root, $"fetching {kernel.Release.Release}") ?? throw new StageException($"fetching {kernel.Release.Release} failed: {e.Message}");
        }
        finally
        {
            if (staging is not null) CacheDirectory.DeleteQuietly(staging);
        }
    }

    /// <summary>Makes sure each package is in the store (downloading the missing ones in one apt-get call); returns their store paths.</summary>
    public async Task<IReadOnlyDictionary<IndexEntry, string>> DownloadAsync(DistroProfile distro, IReadOnlyList<IndexEntry> packages, CancellationToken cancellation = default)
    {
        var state = packages.Distinct().ToDictionary(p => p, p => _store.Verify(p.Sha256, p.ToString(), log));
        var missing = state.Where(s => s.Value != PackageStore.Stored.Whole).Select(s => s.Key).ToList();
        if (missing.Count > 0)
        {
            var dl = CacheDirectory.NewStaging(cache.Scratch, "download");
            try
            {
                log($"apt-get download {string.Join(' ', missing.Select(m => m.Pin))} (network)");
                var step = new ContainerStep(["apt-get", .. AptOptions, "download", .. missing.Select(m => m.Pin)])
                {
                    Network = true,
                    Mounts = [.. AptMounts(distro), new Mount(dl, "/tmp/download", true)],
                    WorkingDirectory = "/tmp/download",
                    Timeout = TimeSpan.FromMinutes(20),
                };
                var result = await container.RunAsync(distro, step, cancellation);
                if (!result.Succeeded)
                {
                    var full = (result.Stderr + result.Stdout).Contains("No space left on device", StringComparison.Ordinal)
                        ? $" (no space left on the device holding {cache.Root}; the cache is unchanged)" : "";
                    throw new StageException($"apt-get download failed (exit {result.ExitCode}){full}: {CommandLine.Reason(result.Stderr + result.Stdout)}");
                }
                foreach (var p in missing)
                {
                    var file = Directory.GetFiles(dl, p.Package + "_*.deb").FirstOrDefault()
                               ?? throw new StageException($"apt-get download reported success but left no file for {p.Pin}; nothing entered the cache");
                    _store.Add(file, p.Sha256, p.Size, p.ToString());
                    if (state[p] == PackageStore.Stored.Evicted) log($"cache entry {_store.PathOf(p.Sha256)} ({p}) was damaged; fetched again");
                }
            }
            finally
            {
                CacheDirectory.DeleteQuietly(dl);
            }
        }
        return packages.ToDictionary(p => p, p => _store.PathOf(p.Sha256));
    }

    /// <summary>Unpacks a .deb (dpkg-deb) or an .rpm (rpm2archive, then tar) into a folder.</summary>
    private async Task ExtractAsync(string package, string into, CancellationToken cancellation)
    {
        if (!package.EndsWith(".rpm", StringComparison.Ordinal))
        {
            await processes.CheckedAsync(new ProcessSpec("dpkg-deb", ["--extract", package, into]), cancellation);
            return;
        }
        Directory.CreateDirectory(into);
        var tgz = Path.Combine(into, $".payload-{Guid.NewGuid():N}.tgz");
        await processes.CheckedAsync(new ProcessSpec("rpm2archive", ["-"]) { StdinFile = package, StdoutFile = tgz, Timeout = TimeSpan.FromMinutes(10) }, cancellation);
        await processes.CheckedAsync(new ProcessSpec("tar", ["-xzf", tgz, "-C", into, "--no-same-owner"]) { Timeout = TimeSpan.FromMinutes(10) }, cancellation);
        File.Delete(tgz);
    }

    private async Task<KernelFactsDocument> BuildEntryAsync(DistroProfile distro, ResolvedKernel kernel, DebianIndex? index,
        IReadOnlyDictionary<IndexEntry, string> debs, string staging, CancellationToken cancellation)
    {
        var release = kernel.Release.Release;
        var tree = Path.Combine(staging, "tree");
        var extras = Path.Combine(staging, "extras");
        var boot = Path.Combine(staging, "boot");
        Directory.CreateDirectory(tree);
        Directory.CreateDirectory(boot);
        log($"extracting {release}");
        foreach (var h in kernel.Headers)
            await ExtractAsync(debs[h], tree, cancellation);
        // Only the build trees are laid over the rootfs: docs and /lib/modules/<release>/build links are not needed.
        CacheDirectory.DeleteQuietly(Path.Combine(tree, "usr", "share"));
        CacheDirectory.DeleteQuietly(Path.Combine(tree, "lib"));
        var headersInTree = Path.Combine(tree, kernel.HeadersDir.TrimStart('/'));
        if (!Directory.Exists(headersInTree))
            throw new StageException($"{release}: the header packages did not create {kernel.HeadersDir}; check headers_dir in distros/kernel-packaging/{distro.KernelPackaging.Name}.yaml");

        var image = Path.Combine(staging, "image");
        await ExtractAsync(debs[kernel.Image], image, cancellation);
        var vmlinuz = Path.Combine(image, kernel.ImagePath.TrimStart('/'));
        if (!File.Exists(vmlinuz))
            throw new StageException($"{release}: {kernel.Image.Package} has no {kernel.ImagePath}; fix the image rule in distros/kernel-packaging/{distro.KernelPackaging.Name}.yaml");
        File.Move(vmlinuz, Path.Combine(boot, $"vmlinuz-{release}"));
        var configSource = FindIn(image, $"config-{release}", release, "config") ?? Path.Combine(headersInTree, ".config");
        if (!File.Exists(configSource)) throw new StageException($"{release}: neither the image nor the headers ship the kernel's config");
        File.Copy(configSource, Path.Combine(boot, $"config-{release}"));
        // Debian's System.map is a one-line stub ("the real System.map is in the -dbg package"); then the
        // exported symbols of Module.symvers are what a module can link against anyway.
        var symbolsFrom = "Module.symvers";
        if (FindIn(image, $"System.map-{release}", release, "System.map") is { } map)
        {
            File.Move(map, Path.Combine(boot, $"System.map-{release}"));
            if (KernelFiles.ParseSystemMap(File.ReadLines(Path.Combine(boot, $"System.map-{release}"))).Count > 1000) symbolsFrom = "System.map+Module.symvers";
        }
        // The few in-tree modules a firmware boot needs (KernelEntry.BootModuleNames), as packaged (signed, maybe compressed).
        foreach (var dir in new[] { "lib/modules", "usr/lib/modules" }.Select(d => Path.Combine(image, d, release)).Where(Directory.Exists))
            foreach (var ko in Directory.EnumerateFiles(dir, "*.ko*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                if (KernelEntry.BootModuleNames.Contains(Path.GetFileName(ko).Split('.')[0]))
                {
                    Directory.CreateDirectory(Path.Combine(boot, "modules"));
                    File.Copy(ko, Path.Combine(boot, "modules", Path.GetFileName(ko)), overwrite: true);
                }
        CacheDirectory.DeleteQuietly(image);

        var config = KernelFiles.ParseConfig(File.ReadLines(Path.Combine(boot, $"config-{release}")));
        var vmlinux = Path.Combine(extras, kernel.HeadersDir.TrimStart('/'), "vmlinux");
        Directory.CreateDirectory(Path.GetDirectoryName(vmlinux)!);
        var compression = await new VmlinuxExtractor(processes).ExtractAsync(Path.Combine(boot, $"vmlinuz-{release}"), vmlinux, cancellation);
        var elf = ElfFile.Load(vmlinux);
        var btf = BtfReader.Parse(elf.Bytes(elf.Section(".BTF")!));
        var native = NativeKfuncs.Read(elf, btf);

        var notes = kernel.Notes.ToList();
        string? donorName = null;
        var packages = kernel.Packages.Select(p => new PackageRecord(p.Package, p.Version, p.Suite, p.Sha256, p.Size)
        {
            // An RPM repository's package: its own package URL (a Debian package's is made from the record when packaging).
            Uri = p.Filename.EndsWith(".rpm", StringComparison.Ordinal) ? $"pkg:rpm/{distro.Id}/{p.Package}@{Uri.EscapeDataString(p.Version)}?arch={p.Architecture}&repository={Uri.EscapeDataString(p.Suite)}" : null,
        }).ToList();
        var toolsDir = ToolsDirInRoot(tree, kernel.HeadersDir);
        var resolveBtfids = toolsDir + "/bpf/resolve_btfids/resolve_btfids";
        if (!File.Exists(Path.Combine(tree, resolveBtfids.TrimStart('/'))) && config.GetValueOrDefault("CONFIG_DEBUG_INFO_BTF_MODULES") == "y")
        {
            if (index is null)
                throw new StageException($"{release}: {kernel.Headers[0].Package} has no {resolveBtfids}, and the kernel's config asks for module BTF (CONFIG_DEBUG_INFO_BTF_MODULES=y): kbuild resolves each module's .BTF_ids with it; use a kernel-devel package that ships it");
            var donor = await AddResolveBtfidsAsync(distro, index, Path.Combine(extras, resolveBtfids.TrimStart('/')), cancellation);
            donorName = $"{donor.Package} {donor.Version}";
            packages.Add(new PackageRecord(donor.Package, donor.Version, donor.Suite, donor.Sha256, donor.Size));
            notes.Add($"{kernel.Headers.Last().Package} has no resolve_btfids; taken from {donorName} (module .BTF_ids are unresolved without it)");
        }
        return new KernelFactsDocument
        {
            Distro = distro.Id,
            Release = release,
            UpstreamVersion = kernel.UpstreamVersion.ToString(),
            Flavour = kernel.Release.Flavour,
            Suite = kernel.Suite,
            HeadersDir = kernel.HeadersDir,
            ImageCompression = compression.ToString().ToLowerInvariant(),
            Packages = packages,
            Notes = notes,
            SymbolsFrom = symbolsFrom,
            ResolveBtfidsFrom = donorName,
            BtfTypes = btf.Types.Count,
            BtfFunctions = btf.Functions.Count(),
            NativeKfuncs = native.Order(StringComparer.Ordinal).ToList(),
            Config = config,
        };
    }

    /// <summary>Where the headers' tools/ link points, as a path inside the root (Debian links it into the kbuild package).</summary>
    public static string ToolsDirInRoot(string tree, string headersDir)
    {
        var tools = new FileInfo(Path.Combine(tree, headersDir.TrimStart('/'), "tools"));
        if (tools.LinkTarget is not { } link) return headersDir.TrimEnd('/') + "/tools";
        return Containers.EngineRunner.InRoot(headersDir, link);
    }

    /// <summary>Debian's linux-kbuild-6.1 lacks resolve_btfids; the newest kbuild package of the same distro ships one that works for older kernels.</summary>
    private async Task<IndexEntry> AddResolveBtfidsAsync(DistroProfile distro, DebianIndex index, string target, CancellationToken cancellation)
    {
        var donors = index.Entries.Where(e => e.Package.StartsWith("linux-kbuild-", StringComparison.Ordinal))
            .OrderByDescending(e => e.Version, DebVersion.Comparer).ToList();
        foreach (var donor in donors.Take(3))
        {
            var deb = (await DownloadAsync(distro, [donor], cancellation))[donor];
            var temp = CacheDirectory.NewStaging(cache.Scratch, "kbuild");
            try
            {
                await processes.CheckedAsync(new ProcessSpec("dpkg-deb", ["--extract", deb, temp]), cancellation);
                var found = Directory.EnumerateFiles(temp, "resolve_btfids", SearchOption.AllDirectories)
                    .FirstOrDefault(f => f.EndsWith("/bpf/resolve_btfids/resolve_btfids", StringComparison.Ordinal));
                if (found is null) continue;
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(found, target);
                if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(target, (UnixFileMode)0b111_101_101);
                return donor;
            }
            finally
            {
                CacheDirectory.DeleteQuietly(temp);
            }
        }
        throw new StageException($"{distro.Id}: the kernel's kbuild package has no resolve_btfids and no linux-kbuild-* package in the index ships one; modules would get unresolved .BTF_ids");
    }

    private static string? FindIn(string root, string fileName, string release, string plainName)
    {
        foreach (var candidate in new[] { Path.Combine(root, "boot", fileName), Path.Combine(root, "usr", "lib", "modules", release, plainName), Path.Combine(root, "lib", "modules", release, plainName) })
            if (File.Exists(candidate)) return candidate;
        return Directory.Exists(root) ? Directory.EnumerateFiles(root, fileName, SearchOption.AllDirectories).FirstOrDefault() : null;
    }
}
