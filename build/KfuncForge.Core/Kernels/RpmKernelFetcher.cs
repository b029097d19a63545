using System.Security.Cryptography;
using System.Text;
using KfuncForge.Caching;
using KfuncForge.Diagnostics;
using KfuncForge.Model;
using KfuncForge.Processes;

namespace KfuncForge.Kernels;

/// <summary>
/// RPM-family kernels, fetched with dnf (Debian's own package, on the host, with a private configuration and an
/// empty install root under the cache, so nothing of the host's is read or changed): the kernel packaging's
/// patterns (distros/kernel-packaging/rhel.yaml: kernel-devel-{release}, kernel-core-{release}) name the packages,
/// the repositories' primary metadata gives each one's SHA-256, `dnf download` fetches them, and a file that does
/// not match its checksum is refused. They are kept in the package store and read into the same cache entry and
/// facts as a Debian kernel (docs/kernels.md, "RPM kernels").
/// </summary>
public sealed class RpmKernelFetcher(CacheDirectory cache, KernelFetcher entries, IProcessRunner processes, Action<string> log)
{
    private readonly PackageStore _store = new(cache);

    /// <summary>Why a profile without repositories cannot fetch its kernels, and what to give.</summary>
    public static string NoRepositories(DistroProfile distro) =>
        $"{distro.Id}'s kernels come from RPM repositories that carry kernel-devel and kernel-core, and none is given: UBI's repositories do not carry " +
        "kernel-devel (Red Hat ships it to subscribed hosts only), CentOS Stream, Rocky and AlmaLinux carry their own kernels'. " +
        "Give the repositories with --kernel-repo=<baseurl>[,<baseurl>] or kernel_repositories in the profile (docs/kernels.md, \"RPM kernels\")";

    private string StateDir(DistroProfile distro, IReadOnlyList<string> repositories) =>
        Path.Combine(cache.Root, "dnf", $"{distro.Id}-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', repositories))))[..16]}");

    private static string RepoId(int i) => $"kfuncforge-{i}";

    /// <summary>$releasever for the repositories' URLs: the el&lt;N&gt; of the profile's kernels (5.14.0-570.12.1.el9_6: 9).</summary>
    public static string ReleaseVersion(DistroProfile distro) =>
        distro.Kernels.Select(t => t.Release is null ? null : System.Text.RegularExpressions.Regex.Match(t.Release, @"\.el([0-9]+)")).FirstOrDefault(m => m is { Success: true })?.Groups[1].Value ?? "0";

    private ProcessSpec Dnf(string state, string releasever, params string[] args) =>
        new("dnf", ["--config", Path.Combine(state, "dnf.conf"), "--installroot", Path.Combine(state, "root"), "--forcearch", "x86_64", "--releasever", releasever, "-y", "-q", .. args])
        {
            Timeout = TimeSpan.FromMinutes(20),
            Environment = new Dictionary<string, string?> { ["LC_ALL"] = "C" },
        };

    /// <summary>The profile's explicit kernel releases (narrowed by --kernel), fetched from the repositories.</summary>
    public async Task<FetchedKernels> FetchAsync(DistroProfile distro, IReadOnlyList<string> repositories, string? kernel, CancellationToken cancellation = default)
    {
        if (repositories.Count == 0) throw new StageException(NoRepositories(distro));
        var targets = distro.Kernels.Where(t => t.Tree is null && (kernel is null || t.Release == kernel || t.Line.ToString() == kernel)).ToList();
        if (targets.Any(t => t.Release is null))
            throw new StageException($"{distro.Id}: an RPM profile's kernel targets name their releases (release: 5.14.0-570.12.1.el9_6.x86_64); 'newest' is resolved for apt profiles only");
        var state = StateDir(distro, repositories);
        var releasever = ReleaseVersion(distro);
        Directory.CreateDirectory(Path.Combine(state, "root"));
        using var held = FileLock.Acquire(cache.LockFile("dnf-" + Path.GetFileName(state)), KernelFetcher.LockTimeout, $"reading {distro.Id}'s kernel repositories", log);
        var conf = new StringBuilder($"[main]\ncachedir={Path.Combine(state, "cache")}\nreposdir={Path.Combine(state, "repos.d")}\ngpgcheck=0\nkeepcache=0\ninstall_weak_deps=0\n");
        for (var i = 0; i < repositories.Count; i++) conf.Append($"\n[{RepoId(i)}]\nname={RepoId(i)}\nbaseurl={repositories[i]}\nenabled=1\nmetadata_expire=30m\n");
        var confTemp = Path.Combine(state, $"dnf.conf.tmp-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(confTemp, conf.ToString(), cancellation);
        File.Move(confTemp, Path.Combine(state, "dnf.conf"), overwrite: true);
        log($"dnf makecache for {distro.Id} ({string.Join(", ", repositories)})");
        var made = await processes.RunAsync(Dnf(state, releasever, "makecache"), cancellation);
        if (!made.Succeeded) throw new StageException($"dnf could not read {distro.Id}'s kernel repositories ({string.Join(", ", repositories)}): {CommandLine.Reason(made.Stderr + made.Stdout)}");

        var metadata = new List<(string Repo, string Base, RpmPackageEntry Entry)>();
        for (var i = 0; i < repositories.Count; i++)
        {
            var local = repositories[i].StartsWith("file://", StringComparison.Ordinal) ? new Uri(repositories[i]).LocalPath : null;
            var repodata = local is not null ? Path.Combine(local, "repodata")
                : Directory.GetDirectories(Path.Combine(state, "cache"), RepoId(i) + "-*").Select(d => Path.Combine(d, "repodata")).FirstOrDefault(Directory.Exists)
                  ?? throw new StageException($"dnf left no metadata of {repositories[i]} in {Path.Combine(state, "cache")}");
            foreach (var e in await RpmRepository.LoadAsync(repodata, processes, cancellation)) metadata.Add((RepoId(i), repositories[i], e));
        }

        var fetched = new List<KernelEntry>();
        var unavailable = new List<UnavailableKernel>();
        foreach (var target in targets)
        {
            var release = target.Release!;
            var parsed = KernelRelease.TryParse(release) ?? new KernelRelease(release, release, "", KernelVersion.Parse(release));
            var file = $"distros/kernel-packaging/{distro.KernelPackaging.Name}.yaml";
            var rule = distro.KernelPackaging.Image.FirstOrDefault(r => r.Kernels.Contains(parsed.Version));
            var wanted = distro.KernelPackaging.Headers.Select(parsed.Expand).ToList();
            if (rule is null) { unavailable.Add(new UnavailableKernel(release, target.Line.ToString(), $"no image rule in {file} covers {parsed.Version}")); continue; }
            wanted.Add(parsed.Expand(rule.Package));
            var found = wanted.Select(n => (Nevra: n, Hit: metadata.FirstOrDefault(m => m.Entry.Nevra == n))).ToList();
            var missing = found.FirstOrDefault(f => f.Hit.Entry is null).Nevra;
            if (missing is not null)
            {
                unavailable.Add(new UnavailableKernel(release, target.Line.ToString(), $"{missing} is not in {string.Join(", ", repositories)} (from the patterns in {file})"));
                continue;
            }
            var index = found.Select(f => new IndexEntry(f.Hit.Entry.Name, $"{f.Hit.Entry.Version}-{f.Hit.Entry.Release}", f.Hit.Entry.Arch, f.Hit.Entry.Name,
                f.Hit.Entry.Location, f.Hit.Entry.Checksum, f.Hit.Entry.Size, "", f.Hit.Base)).ToList();
            if (found.Any(f => f.Hit.Entry.ChecksumType != "sha256"))
                throw new StageException($"{release}: the repository gives {string.Join(", ", found.Select(f => f.Hit.Entry.ChecksumType).Distinct())} checksums; KfuncForge verifies SHA-256 only");
            var resolved = new ResolvedKernel(parsed, repositories[0], parsed.Version, index.Take(index.Count - 1).ToList(), index[^1], parsed.Expand(rule.Path),
                parsed.Expand(distro.KernelPackaging.HeadersDir), []);
            try
            {
                fetched.Add(await entries.MakeEntryAsync(distro, resolved, null, () => DownloadAsync(state, releasever, index, cancellation), cancellation));
            }
            catch (StageException e)
            {
                unavailable.Add(new UnavailableKernel(release, target.Line.ToString(), $"fetch failed: {e.Message}"));
            }
        }
        foreach (var u in unavailable) log($"{distro.Id} {u}");
        return new FetchedKernels(fetched, unavailable, []);
    }

    /// <summary>`dnf download` of the packages the store lacks; each checked against its metadata checksum before it enters the store.</summary>
    private async Task<IReadOnlyDictionary<IndexEntry, string>> DownloadAsync(string state, string releasever, IReadOnlyList<IndexEntry> packages, CancellationToken cancellation)
    {
        var missing = packages.Where(p => _store.Verify(p.Sha256, p.Package, log, ".rpm") != PackageStore.Stored.Whole).ToList();
        if (missing.Count > 0)
        {
            var dl = CacheDirectory.NewStaging(cache.Scratch, "dnf-download");
            try
            {
                var nevras = missing.Select(p => $"{p.Package}-{p.Version}.{p.Architecture}").ToList();
                log($"dnf download {string.Join(' ', nevras)} (network)");
                var r = await processes.RunAsync(Dnf(state, releasever, ["download", "--destdir", dl, .. nevras]), cancellation);
                if (!r.Succeeded) throw new StageException($"dnf download failed (exit {r.ExitCode}): {CommandLine.Reason(r.Stderr + r.Stdout)}");
                foreach (var p in missing)
                {
                    var file = Path.Combine(dl, Path.GetFileName(p.Filename));
                    if (!File.Exists(file)) throw new StageException($"dnf download reported success but left no {Path.GetFileName(p.Filename)}; nothing entered the cache");
                    _store.Add(file, p.Sha256, p.Size > 0 ? p.Size : null, $"{p.Package}-{p.Version}", ".rpm");
                }
            }
            finally
            {
                CacheDirectory.DeleteQuietly(dl);
            }
        }
        return packages.ToDictionary(p => p, p => _store.PathOf(p.Sha256, ".rpm"));
    }
}
