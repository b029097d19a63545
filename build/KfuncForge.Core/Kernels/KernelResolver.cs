using System.Text.RegularExpressions;
using KfuncForge.Diagnostics;
using KfuncForge.Model;

namespace KfuncForge.Kernels;

/// <summary>A target kernel pinned to exact packages of the live index: what Fetch downloads and verifies.</summary>
public sealed record ResolvedKernel(
    KernelRelease Release,
    string Suite,
    KernelVersion UpstreamVersion,
    IReadOnlyList<IndexEntry> Headers,
    IndexEntry Image,
    string ImagePath,
    string HeadersDir,
    IReadOnlyList<string> Notes)
{
    public IEnumerable<IndexEntry> Packages => Headers.Append(Image);

    /// <summary>
    /// A kernel the archive's index no longer lists, as its cache entry recorded it (the packages it was fetched from, with
    /// their SHA-256): retention keeps such a kernel in the matrix while the repository serves it (Packaging/Retention.cs).
    /// Fetching it returns the cache entry.
    /// </summary>
    public static ResolvedKernel FromCache(KernelEntry entry, string note)
    {
        var f = entry.Facts;
        var version = KernelVersion.Parse(f.UpstreamVersion);
        var release = KernelRelease.TryParse(f.Release, f.Flavour) ?? new KernelRelease(f.Release, f.Release, f.Flavour, version);
        IndexEntry Index(PackageRecord p) => new(p.Package, p.Version, "", "", "", p.Sha256, p.Size, "", p.Suite);
        var image = f.Packages.FirstOrDefault(p => p.Package.StartsWith("linux-image-", StringComparison.Ordinal) || p.Package.StartsWith("kernel-core", StringComparison.Ordinal)) ?? f.Packages[^1];
        return new ResolvedKernel(release, f.Suite, version, f.Packages.Where(p => p != image).Select(Index).ToList(), Index(image), entry.Vmlinuz, f.HeadersDir, [note]);
    }
}

/// <summary>
/// A kernel this run cannot use: its cells get the state `unavailable` with this reason, every other cell
/// runs, and the run exits non-zero at the end. Kernel is the release when one was chosen, else the
/// target's key (a line with nothing complete in the index).
/// </summary>
public sealed record UnavailableKernel(string Kernel, string Line, string Reason)
{
    public override string ToString() => $"{Kernel}: unavailable: {Reason}";
}

/// <summary>What the index yields for a profile's targets: the kernels to use, those that cannot be used, and what was skipped and why.</summary>
public sealed record KernelResolution(IReadOnlyList<ResolvedKernel> Kernels, IReadOnlyList<UnavailableKernel> Unavailable, IReadOnlyList<string> Notes)
{
    public static KernelResolution Combine(IEnumerable<KernelResolution> parts)
    {
        var list = parts.ToList();
        return new KernelResolution([.. list.SelectMany(p => p.Kernels)], [.. list.SelectMany(p => p.Unavailable)], [.. list.SelectMany(p => p.Notes)]);
    }
}

/// <summary>
/// Resolves a profile's kernel targets against the package index. A suite stands for itself and its
/// release's -updates and -security suites, where Debian publishes kernel fixes (bookworm's current
/// 6.1 kernel lives in bookworm-security). Header packages come from the packaging's patterns; a
/// pattern that names no package (Debian's kbuild package is linux-kbuild-6.1 for 6.1 but
/// linux-kbuild-6.12.117+deb12 for 6.12) is resolved through the headers package's Depends.
/// "Newest N" means the newest N releases whose every package role (headers, common headers, kbuild,
/// image) is in the index: an incomplete newer release is skipped with a note saying why. A release
/// pinned by name may use the image rule's unsigned package while the signed one is not published.
/// </summary>
public static class KernelResolver
{
    public static IReadOnlyList<string> SuiteFamily(string suite, IReadOnlyList<string> known)
    {
        var codename = suite.Split('-')[0];
        return new[] { suite, codename + "-updates", codename + "-security" }.Distinct(StringComparer.Ordinal).Where(known.Contains).ToList();
    }

    /// <summary>The suites a target's packages come from: its suite's family, or every indexed suite for a release pinned without one.</summary>
    public static IReadOnlyList<string> SuitesOf(KernelTarget target, DebianIndex index) =>
        target.Suite is null ? index.Suites : SuiteFamily(target.Suite, index.Suites);

    /// <summary>The newest N complete releases of the target's flavour and line, or the explicit release; never throws for what the index lacks.</summary>
    public static KernelResolution Resolve(DistroProfile distro, KernelTarget target, DebianIndex index)
    {
        var line = target.Line.ToString();
        if (target.Release is { } explicitRelease)
        {
            var pinned = TryResolve(distro, Parse(distro, explicitRelease, target.Flavour), SuitesOf(target, index), index, allowUnsigned: true);
            return pinned.Kernel is { } k
                ? new KernelResolution([k], [], [])
                : new KernelResolution([], [new UnavailableKernel(explicitRelease, line, pinned.Missing!)], []);
        }
        var suites = SuitesOf(target, index);
        if (suites.Count == 0)
            return new KernelResolution([], [new UnavailableKernel(target.Key, line,
                $"suite '{target.Suite}' is not in the package index (indexed suites: {string.Join(", ", index.Suites)}); add it to the profile's rootfs extra_suites")], []);
        var releases = Candidates(distro, target.Flavour!, suites, index)
            .Where(c => c.Release.Version.Major == target.Line.Major && c.Release.Version.Minor == target.Line.Minor)
            .GroupBy(c => c.Release.Release)
            .Select(g => g.MaxBy(c => c.Entry.Version, DebVersion.Comparer)!)
            .OrderByDescending(c => c.Entry.Version, DebVersion.Comparer)
            .ToList();
        if (releases.Count == 0)
            return new KernelResolution([], [new UnavailableKernel(target.Key, line, $"no {target.Flavour} kernel of the {target.Line} line in {string.Join(", ", suites)} ({target})")], []);

        var chosen = new List<ResolvedKernel>();
        var skipped = new List<(string Release, string Why)>();
        foreach (var c in releases)
        {
            if (chosen.Count == target.Newest!.Value) break;
            var attempt = TryResolve(distro, c.Release, suites, index, allowUnsigned: false);
            if (attempt.Kernel is { } k) chosen.Add(k);
            else skipped.Add((c.Release.Release, attempt.Missing!));
        }
        var notes = skipped.Select(s => chosen.Count > 0
            ? $"{s.Release}: {s.Why}; using {chosen[0].Release.Release}"
            : $"{s.Release}: {s.Why}").ToList();
        if (chosen.Count == 0)
            return new KernelResolution([], [new UnavailableKernel(skipped[0].Release, line,
                $"no complete release of the {target.Line} line: {string.Join("; ", skipped.Select(s => $"{s.Release}: {s.Why}"))}")], notes);
        if (chosen.Count < target.Newest!.Value)
            notes.Add($"{target}: only {chosen.Count} complete release{(chosen.Count == 1 ? "" : "s")} in the index");
        return new KernelResolution(chosen, [], notes);
    }

    /// <summary>Pins one release named by the user (--kernel): bad input when the index has no such release at all.</summary>
    public static KernelResolution ResolveRequested(DistroProfile distro, string release, string? flavour, IReadOnlyList<string> suites, DebianIndex index)
    {
        var parsed = Parse(distro, release, flavour);
        var headersName = parsed.Expand(distro.KernelPackaging.Headers[0]);
        if (Pick(index, headersName, null, suites) is null)
        {
            var nearby = Candidates(distro, parsed.Flavour, index.Suites, index)
                .Where(c => c.Release.Line == parsed.Line).Select(c => c.Release.Release).Distinct().OrderBy(r => r, StringComparer.Ordinal).TakeLast(8).ToList();
            throw new InputException(new Problem("--kernel", 0, 0, "", $"kernel release {release} is not in the {distro.Id} package index (no package {headersName} in {string.Join(", ", suites)}); releases of the {parsed.Line} line there: {(nearby.Count == 0 ? "none" : string.Join(", ", nearby))}"));
        }
        var pinned = TryResolve(distro, parsed, suites, index, allowUnsigned: true);
        return pinned.Kernel is { } k
            ? new KernelResolution([k], [], [])
            : new KernelResolution([], [new UnavailableKernel(release, parsed.Line, pinned.Missing!)], []);
    }

    private static KernelRelease Parse(DistroProfile distro, string release, string? flavour) =>
        (flavour is null ? KernelRelease.TryParse(release) : KernelRelease.TryParse(release, flavour))
        ?? throw new InputException(new Problem("--kernel", 0, 0, "", $"'{release}' is not a {distro.Id} kernel release (expected e.g. 6.1.0-56-amd64)"));

    /// <summary>
    /// Every package role of one release, or the first role the index lacks. allowUnsigned: a missing signed
    /// image may be replaced by the image rule's unsigned package (a release pinned by name).
    /// </summary>
    internal static (ResolvedKernel? Kernel, string? Missing) TryResolve(DistroProfile distro, KernelRelease parsed, IReadOnlyList<string> suites, DebianIndex index, bool allowUnsigned)
    {
        var packaging = distro.KernelPackaging;
        var file = $"distros/kernel-packaging/{packaging.Name}.yaml";
        var headersName = parsed.Expand(packaging.Headers[0]);
        var main = Pick(index, headersName, null, suites);
        if (main is null) return (null, $"headers not published ({headersName} is not in {string.Join(", ", suites)})");
        var notes = new List<string>();
        var headers = new List<IndexEntry> { main };
        foreach (var pattern in packaging.Headers.Skip(1))
        {
            var name = parsed.Expand(pattern);
            var entry = Pick(index, name, main.Version, suites);
            if (entry is null)
            {
                var prefix = pattern[..Math.Max(0, pattern.IndexOf('{'))];
                var dep = main.DependencyNames.FirstOrDefault(d => prefix.Length > 0 && d.StartsWith(prefix, StringComparison.Ordinal) && !headers.Any(h => h.Package == d));
                entry = dep is null ? null : Pick(index, dep, main.Version, suites);
                if (entry is null)
                    return (null, dep is null
                        ? $"{name} is not in the index and {main.Package} depends on nothing starting with '{prefix}' (check the header patterns in {file})"
                        : $"{dep} (which {main.Package} depends on) is not published yet");
                notes.Add($"{name} is not in the index; {main.Package} depends on {entry.Package}, used instead");
            }
            headers.Add(entry);
        }
        var upstream = KernelVersion.TryParse(main.Version, out var v) ? v : parsed.Version;
        var rule = packaging.Image.FirstOrDefault(r => r.Kernels.Contains(upstream));
        if (rule is null) return (null, $"no image rule in {file} covers {upstream}");
        var imageName = parsed.Expand(rule.Package);
        var image = Pick(index, imageName, main.Version, suites);
        if (image is null && rule.Unsigned is not null)
        {
            var unsignedName = parsed.Expand(rule.Unsigned);
            var unsigned = Pick(index, unsignedName, main.Version, suites);
            if (unsigned is not null && !allowUnsigned)
                return (null, $"image not yet published ({imageName} is not in the index; only {unsignedName} is)");
            if (unsigned is not null)
            {
                image = unsigned;
                notes.Add($"{imageName} is not published yet; the kernel is read from {unsignedName} (the same kernel without the EFI signature)");
            }
        }
        if (image is null) return (null, $"image not yet published ({imageName} is not in the index)");
        return (new ResolvedKernel(parsed, main.Suite, upstream, headers, image, parsed.Expand(rule.Path), parsed.Expand(packaging.HeadersDir), notes), null);
    }

    private sealed record Candidate(KernelRelease Release, IndexEntry Entry);

    private static IEnumerable<Candidate> Candidates(DistroProfile distro, string flavour, IReadOnlyList<string> suites, DebianIndex index)
    {
        var pattern = distro.KernelPackaging.Headers[0];
        var regex = new Regex("^" + Regex.Escape(pattern).Replace(@"\{release}", "(?<release>.+)") + "$");
        foreach (var e in index.Entries)
        {
            if (!suites.Contains(e.Suite)) continue;
            var m = regex.Match(e.Package);
            if (!m.Success) continue;
            if (KernelRelease.TryParse(m.Groups["release"].Value, flavour) is { } r) yield return new Candidate(r, e);
        }
    }

    /// <summary>The package of that name: the same version as the kernel's headers when present, else the newest; from the given suites first.</summary>
    private static IndexEntry? Pick(DebianIndex index, string name, string? version, IReadOnlyList<string> suites)
    {
        var all = index.Named(name).ToList();
        var inSuites = all.Where(e => suites.Contains(e.Suite)).ToList();
        var pool = inSuites.Count > 0 ? inSuites : all;
        if (pool.Count == 0) return null;
        return pool.FirstOrDefault(e => e.Version == version) ?? pool.MaxBy(e => e.Version, DebVersion.Comparer);
    }
}
