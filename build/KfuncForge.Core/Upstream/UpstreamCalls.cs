using KfuncForge.Definitions;
using KfuncForge.Kernels;

namespace KfuncForge.Upstream;

/// <summary>One function upstream's definition calls that a target kernel cannot give a module, and why.</summary>
public sealed record UnreachableCall(string Name, IReadOnlyList<string> Unexported, IReadOnlyList<string> Missing)
{
    public override string ToString() =>
        Name + ": " + string.Join("; ", new[]
        {
            Unexported.Count > 0 ? $"{string.Join(", ", Unexported)} {(Unexported.Count == 1 ? "has" : "have")} it but {(Unexported.Count == 1 ? "does" : "do")} not export it to modules" : null,
            Missing.Count > 0 ? $"not in {string.Join(", ", Missing)}" : null,
        }.OfType<string>());
}

/// <summary>
/// Import's check of upstream's body (docs/upstream.md): the functions it calls, compared with what each fetched
/// kernel of the profile lets a module call (exported symbols, names its headers define). The kernels are the
/// newest cached release of each line; nothing is fetched. A call no kernel can provide is one the backport must
/// replace (or copy, when upstream defines it next to the kfunc).
/// </summary>
public static class UpstreamCalls
{
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "if", "for", "while", "switch", "return", "sizeof", "typeof", "__typeof__", "__typeof", "_Static_assert", "static_assert",
        "defined", "asm", "__asm__", "asm_inline", "__attribute__", "_Generic", "alignof", "_Alignof", "__alignof__",
    };

    /// <summary>What upstream's definition calls, keywords and compiler builtins left out, sorted.</summary>
    public static IReadOnlyList<string> Of(UpstreamKfunc upstream) =>
        CCalls.Of(upstream.Definition.Text).Where(n => !Keywords.Contains(n) && !n.StartsWith("__builtin_", StringComparison.Ordinal) && n != upstream.Name).ToList();

    /// <summary>The newest fetched release of each kernel line of the distro in the cache (a damaged entry is left out).</summary>
    public static IReadOnlyList<KernelEntry> CachedKernels(string kernelsDir, string distro)
    {
        var dir = Path.Combine(kernelsDir, distro);
        if (!Directory.Exists(dir)) return [];
        return Directory.EnumerateDirectories(dir).Select(KernelEntry.TryOpen).OfType<KernelEntry>()
            .Select(e => (Entry: e, Version: Model.KernelVersion.Parse(e.Facts.UpstreamVersion)))
            .GroupBy(e => (e.Version.Major, e.Version.Minor))
            .Select(g => g.OrderByDescending(e => e.Version).ThenBy(e => e.Entry.Release, StringComparer.Ordinal).First())
            .OrderBy(e => e.Version).Select(e => e.Entry).ToList();
    }

    /// <summary>The calls some kernel cannot give a module; Unread: the kernels whose facts could not be read, with why (nothing is said about them).</summary>
    public static IReadOnlyList<UnreachableCall> Check(IReadOnlyList<string> calls, IReadOnlyList<KernelEntry> kernels, out IReadOnlyList<string> unread)
    {
        var failed = new List<string>();
        var known = new List<(string Release, IReadOnlySet<string>? Reachable, IReadOnlySet<string>? Unexported)>();
        foreach (var k in kernels)
        {
            try
            {
                var reachable = VerifierFactsReader.Reachable(k, calls);
                if (reachable is null) failed.Add($"{k.Release}: its BTF could not be read");
                else known.Add((k.Release, reachable, VerifierFactsReader.Read(k).Unexported));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                failed.Add($"{k.Release}: {e.Message.Split('\n')[0]}");
            }
        }
        unread = failed;
        var result = new List<UnreachableCall>();
        foreach (var name in calls)
        {
            var lacking = known.Where(k => !k.Reachable!.Contains(name)).ToList();
            if (lacking.Count == 0) continue;
            result.Add(new UnreachableCall(name,
                [.. lacking.Where(k => k.Unexported!.Contains(name)).Select(k => k.Release)],
                [.. lacking.Where(k => !k.Unexported!.Contains(name)).Select(k => k.Release)]));
        }
        return result;
    }
}
