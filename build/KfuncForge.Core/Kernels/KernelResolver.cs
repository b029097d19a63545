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
}

/// <summary>
/// Resolves a profile's kernel targets against the package index. A suite stands for itself and its
/// release's -updates and -security suites, where Debian publishes kernel fixes (bookworm's current
/// 6.1 kernel lives in bookworm-security). Header packages come from the packaging's patterns; a
/// pattern that names no package (Debian's kbuild package is linux-kbuild-6.1 for 6.1 but
/// linux-kbuild-6.12.117+deb12 for 6.12) is resolved through the headers package's Depends.
/// </summary>
public static class KernelResolver
{
    public static IReadOnlyList<string> SuiteFamily(string suite, IReadOnlyList<string> known)
    {
        var codename = suite.Split('-')[0];
        return new[] { suite, codename + "-updates", codename + "-security" }.Distinct(StringComparer.Ordinal).Where(known.Contains).ToList();
    }

    /// <summary>The newest N releases of the target's flavour and line, or the explicit release.</summary>
    public static IReadOnlyList<ResolvedKernel> Resolve(DistroProfile distro, KernelTarget target, DebianIndex index)
    {
        if (target.Release is { } explicitRelease)
            return [ResolveRelease(distro, explicitRelease, null, index.Suites, index)];
        var suites = SuiteFamily(target.Suite!, index.Suites);
        if (suites.Count == 0)
            throw new StageException($"{distro.Id}: suite '{target.Suite}' is not in the package index (indexed suites: {string.Join(", ", index.Suites)}); add it to the profile's rootfs extra_suites");
        var releases = Candidates(distro, target.Flavour!, suites, index)
            .Where(c => c.Release.Version.Major == target.Line.Major && c.Release.Version.Minor == target.Line.Minor)
            .GroupBy(c => c.Release.Release)
            .Select(g => g.MaxBy(c => c.Entry.Version, DebVersion.Comparer)!)
            .OrderByDescending(c => c.Entry.Version, DebVersion.Comparer)
            .Take(target.Newest!.Value)
            .ToList();
        if (releases.Count == 0)
            throw new StageException($"{distro.Id}: no {target.Flavour} kernel of the {target.Line} line in {string.Join(", ", suites)} ({target})");
        return releases.Select(c => ResolveRelease(distro, c.Release.Release, target.Flavour, suites, index)).ToList();
    }

    /// <summary>Pins one release; fails with the releases the index does have when it is not there.</summary>
    public static ResolvedKernel ResolveRelease(DistroProfile distro, string release, string? flavour, IReadOnlyList<string> suites, DebianIndex index)
    {
        var packaging = distro.KernelPackaging;
        var parsed = (flavour is null ? KernelRelease.TryParse(release) : KernelRelease.TryParse(release, flavour))
                     ?? throw new InputException(new Problem("--kernel", 0, 0, "", $"'{release}' is not a {distro.Id} kernel release (expected e.g. 6.1.0-56-amd64)"));
        var headersName = parsed.Expand(packaging.Headers[0]);
        var main = Pick(index, headersName, null, suites);
        if (main is null)
        {
            var nearby = Candidates(distro, parsed.Flavour, index.Suites, index)
                .Where(c => c.Release.Line == parsed.Line).Select(c => c.Release.Release).Distinct().OrderBy(r => r, StringComparer.Ordinal).TakeLast(8).ToList();
            throw new InputException(new Problem("--kernel", 0, 0, "", $"kernel release {release} is not in the {distro.Id} package index (no package {headersName} in {string.Join(", ", index.Suites)}); releases of the {parsed.Line} line there: {(nearby.Count == 0 ? "none" : string.Join(", ", nearby))}"));
        }
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
                    throw new StageException($"{distro.Id} {release}: no package {name} in the index, and {main.Package} depends on nothing starting with '{prefix}'; fix the header patterns in distros/kernel-packaging/{packaging.Name}.yaml");
                notes.Add($"{name} is not in the index; {main.Package} depends on {entry.Package}, used instead");
            }
            headers.Add(entry);
        }
        var upstream = KernelVersion.TryParse(main.Version, out var v) ? v : parsed.Version;
        var rule = packaging.Image.FirstOrDefault(r => r.Kernels.Contains(upstream))
                   ?? throw new StageException($"{distro.Id} {release}: no image rule in distros/kernel-packaging/{packaging.Name}.yaml covers {upstream}");
        var imageName = parsed.Expand(rule.Package);
        var image = Pick(index, imageName, main.Version, suites)
                    ?? throw new StageException($"{distro.Id} {release}: the image package {imageName} (rule for {rule.Kernels}) is not in the index; check the image rules in distros/kernel-packaging/{packaging.Name}.yaml");
        return new ResolvedKernel(parsed, main.Suite, upstream, headers, image, parsed.Expand(rule.Path), parsed.Expand(packaging.HeadersDir), notes);
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
