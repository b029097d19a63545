using System.Security.Cryptography;
using System.Text.Json;
using KfuncForge.Definitions;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;

namespace KfuncForge.Packaging;

/// <summary>
/// One package a repository generation serves, as kfuncforge-served.json records it: the kernel it is for, that kernel's
/// line and its order within the line (the meta version, which grows with the kernel), the module, the package's name,
/// version and architecture, and its file (relative to the generation) with its SHA-256. Meta packages are recorded with
/// <see cref="Meta"/> set: they follow the newest kernel, and are kept only when no newer one is made.
/// </summary>
public sealed record ServedPackage(string Kernel, string Line, string Order, string Module, string Name, string Version, string Architecture, string File, string Sha256)
{
    public bool Meta { get; init; }
}

/// <summary>
/// Retention (docs/packaging.md, "Rolling out to a fleet"): a generation keeps serving the packages of the newest N kernels of
/// each line (packaging.retain), so a kernel that hosts may still run (not yet rebooted, or held by a staged rollout) stays
/// installable after Debian replaced it in its archive. The packages of a kernel this run did not build are carried over from
/// the current generation byte for byte (their modules' signatures verified again); a kernel this run covers is never carried
/// (its cells were built again, or the plan no longer builds them, and a stale package must not come back).
/// </summary>
public static class Retention
{
    public const string ServedFile = "kfuncforge-served.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>What the currently published generation serves, with the generation's folder; empty when nothing is published or it predates the record.</summary>
    public static (string? Generation, IReadOnlyList<ServedPackage> Packages) Read(string repositoryPath)
    {
        var file = Path.Combine(repositoryPath, ServedFile);
        if (!File.Exists(file)) return (null, []);
        try
        {
            var list = JsonSerializer.Deserialize<List<ServedPackage?>>(File.ReadAllBytes(file), Json) ?? [];
            var generation = Path.GetFullPath(new DirectoryInfo(repositoryPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? repositoryPath);
            for (var i = 0; i < list.Count; i++)
                if (Problem(list[i]) is { } problem)
                    throw new InputException(new Problem(file, 0, 0, $"[{i}]", $"{problem}; the repository was changed by hand: publish a fresh one (move it away first)"));
            return (generation, list.OfType<ServedPackage>().ToList());
        }
        catch (JsonException e)
        {
            throw new InputException(new Problem(file, 0, 0, "", $"is not valid JSON ({e.Message}); the repository was changed by hand: publish a fresh one (move it away first)"));
        }
    }

    /// <summary>What is wrong with a recorded package (its kernel reaches paths in the kernel cache, its file one in the repository), or null.</summary>
    private static string? Problem(ServedPackage? p)
    {
        if (p is null || p.Kernel is null || p.Line is null || p.Order is null || p.Module is null || p.Name is null || p.Version is null || p.Architecture is null || p.File is null || p.Sha256 is null)
            return "an entry lacks kernel, line, order, module, name, version, architecture, file or sha256";
        if (Grammar.KernelRelease(p.Kernel) is { } bad) return $"kernel '{Grammar.Clip(p.Kernel)}' {bad}";
        if (p.File.Contains("..", StringComparison.Ordinal) || Path.IsPathRooted(p.File) || p.File.Contains('\\'))
            return $"'{Grammar.Clip(p.File)}' is not a package file inside the repository";
        if (p.Sha256.Length != 64 || !p.Sha256.All(char.IsAsciiHexDigitLower)) return $"'{Grammar.Clip(p.Sha256)}' is not a SHA-256";
        // The name becomes a folder of the next generation's pool: only package-name characters.
        var dash = p.Version.LastIndexOf('-');
        var rpmEvr = dash > 0 && PackageNames.IsRpmVersion(p.Version[..dash]) && PackageNames.IsRpmVersion(p.Version[(dash + 1)..]);
        if (!PackageNames.IsRpmName(p.Name) || !(PackageNames.IsDebVersion(p.Version) || rpmEvr) || !PackageNames.IsRpmName(p.Architecture))
            return $"'{Grammar.Clip(p.Name)}' {Grammar.Clip(p.Version)} ({Grammar.Clip(p.Architecture)}) is not a package name, version and architecture";
        return null;
    }

    public static void Write(string root, IEnumerable<ServedPackage> packages) =>
        StagedTree.Write(Path.Combine(root, ServedFile), JsonSerializer.SerializeToUtf8Bytes(
            packages.OrderBy(p => p.Meta).ThenBy(p => p.Line, StringComparer.Ordinal).ThenBy(p => p.Kernel, StringComparer.Ordinal).ThenBy(p => p.Name, StringComparer.Ordinal).ToList(), Json));

    /// <summary>A kernel of this run: its release and line.</summary>
    public sealed record Kernel(string Release, string Line);

    /// <summary>
    /// The newest <paramref name="retain"/> kernels of each line, newest first by dpkg's ordering of the releases
    /// (6.1.0-57-amd64 before 6.1.0-58-amd64; 6.12.117+deb12 before 6.12.118+deb12; 5.14.0-427.el9 before 5.14.0-570.el9).
    /// </summary>
    public static IReadOnlySet<string> Window(IEnumerable<Kernel> kernels, int retain) =>
        kernels.DistinctBy(k => k.Release).GroupBy(k => k.Line)
            .SelectMany(line => line.OrderByDescending(k => k.Release, DebVersion.Comparer).ThenByDescending(k => k.Release, StringComparer.Ordinal).Take(retain))
            .Select(k => k.Release).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The module packages to carry over: those of served kernels this run does not cover that are still among the newest
    /// <paramref name="retain"/> of their line, counting this run's kernels.
    /// </summary>
    public static IReadOnlyList<ServedPackage> Carried(IReadOnlyList<ServedPackage> served, IReadOnlyList<Kernel> built, IReadOnlySet<string> covered, int retain,
        IReadOnlySet<string>? lines = null)
    {
        // A line the profile no longer targets is not kept (its kernels would otherwise stay the newest of their line forever).
        var candidates = served.Where(p => !p.Meta && !covered.Contains(p.Kernel) && (lines is null || lines.Contains(p.Line))).ToList();
        var window = Window(built.Concat(candidates.Select(p => new Kernel(p.Kernel, p.Line))), retain);
        return candidates.Where(p => window.Contains(p.Kernel)).ToList();
    }

    /// <summary>
    /// The meta packages to carry over: a served meta package whose own module package for its kernel is still served and is newer than the kernel of the
    /// meta package this run makes under that name (a run narrowed to an older kernel must not move hosts back).
    /// </summary>
    public static IReadOnlyList<ServedPackage> CarriedMeta(IReadOnlyList<ServedPackage> served, IReadOnlyDictionary<string, string> metaOrders, IReadOnlySet<(string Kernel, string Module)> servedModules) =>
        served.Where(p => p.Meta && servedModules.Contains((p.Kernel, p.Module))
                && (!metaOrders.TryGetValue(p.Name, out var order) || DebVersion.Comparer.Compare(p.Order, order) > 0))
            .ToList();

    /// <summary>The carried package's file in the current generation, checked against the recorded SHA-256.</summary>
    public static string FileOf(string generation, ServedPackage package)
    {
        var path = Path.Combine(generation, package.File);
        if (!System.IO.File.Exists(path))
            throw new StageException($"the current repository generation {generation} should serve {package.File} (kernel {package.Kernel}, kept by retention) but it is missing; nothing was published. Publish a fresh repository (move the current one away), or restore the file");
        var sha = Convert.ToHexStringLower(SHA256.HashData(System.IO.File.ReadAllBytes(path)));
        if (sha != package.Sha256)
            throw new StageException($"{path} (kernel {package.Kernel}, kept by retention) was changed after it was published (SHA-256 {sha}, recorded {package.Sha256}); nothing was published. Publish a fresh repository (move the current one away)");
        return path;
    }

    /// <summary>The line of a kernel release (6.1.0-57-amd64: 6.1) when the render recorded none (system extensions).</summary>
    public static string LineOf(string release) =>
        Model.KernelVersion.TryParse(release, out var v) ? $"{v.Major}.{v.Minor}" : release;
}
