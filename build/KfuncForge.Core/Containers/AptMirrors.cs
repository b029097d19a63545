using KfuncForge.Diagnostics;

namespace KfuncForge.Containers;

/// <summary>One "deb" source the host's apt uses: its URI and suites.</summary>
public sealed record AptSource(string Uri, IReadOnlyList<string> Suites, IReadOnlyList<string> Components);

/// <summary>
/// Where Debian packages come from, derived from the host's own apt configuration (never written into
/// the project): the archive mirror for ordinary suites and the security mirror for *-security suites.
/// KFUNCFORGE_DEBIAN_MIRROR / KFUNCFORGE_DEBIAN_SECURITY_MIRROR override them.
/// </summary>
public sealed record AptMirrors(string Archive, string Security)
{
    public string For(string suite) => suite.EndsWith("-security", StringComparison.Ordinal) ? Security : Archive;

    /// <summary>The one-line sources for a rootfs: its suite and extra suites, each from the right mirror.</summary>
    public IReadOnlyList<string> SourceLines(string suite, IReadOnlyList<string> extraSuites, IReadOnlyList<string> components) =>
        new[] { suite }.Concat(extraSuites).Select(s => $"deb {For(s)} {s} {string.Join(' ', components)}").ToList();

    public static AptMirrors FromHost(string etcApt = "/etc/apt", string osRelease = "/etc/os-release")
    {
        var sources = ReadSources(etcApt);
        var codename = File.Exists(osRelease)
            ? File.ReadLines(osRelease).Select(l => l.Split('=', 2)).Where(p => p.Length == 2 && p[0] == "VERSION_CODENAME").Select(p => p[1].Trim('"')).FirstOrDefault()
            : null;
        return Derive(sources, codename,
            Environment.GetEnvironmentVariable("KFUNCFORGE_DEBIAN_MIRROR"),
            Environment.GetEnvironmentVariable("KFUNCFORGE_DEBIAN_SECURITY_MIRROR"));
    }

    /// <summary>Picks the archive and security mirrors from parsed sources (pure, for tests).</summary>
    public static AptMirrors Derive(IReadOnlyList<AptSource> sources, string? codename, string? archiveOverride = null, string? securityOverride = null)
    {
        bool Ours(string suite) => codename is null || suite == codename || suite.StartsWith(codename + "-", StringComparison.Ordinal);
        var archive = archiveOverride
            ?? sources.FirstOrDefault(s => s.Suites.Any(x => Ours(x) && !x.EndsWith("-security", StringComparison.Ordinal)))?.Uri
            ?? sources.FirstOrDefault(s => s.Suites.Any(x => !x.EndsWith("-security", StringComparison.Ordinal)))?.Uri;
        if (archive is null)
            throw new StageException("cannot find a Debian mirror in the host's apt configuration (/etc/apt/sources.list, /etc/apt/sources.list.d/); add one, or set KFUNCFORGE_DEBIAN_MIRROR");
        archive = archive.TrimEnd('/');
        var security = securityOverride
            ?? sources.FirstOrDefault(s => s.Suites.Any(x => x.EndsWith("-security", StringComparison.Ordinal)))?.Uri
            ?? archive + "-security";
        return new AptMirrors(archive, security.TrimEnd('/'));
    }

    public static IReadOnlyList<AptSource> ReadSources(string etcApt)
    {
        var result = new List<AptSource>();
        var list = Path.Combine(etcApt, "sources.list");
        if (File.Exists(list)) result.AddRange(ParseOneLine(File.ReadAllText(list)));
        var dir = Path.Combine(etcApt, "sources.list.d");
        if (Directory.Exists(dir))
            foreach (var f in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
                if (f.EndsWith(".list", StringComparison.Ordinal)) result.AddRange(ParseOneLine(File.ReadAllText(f)));
                else if (f.EndsWith(".sources", StringComparison.Ordinal)) result.AddRange(ParseDeb822(File.ReadAllText(f)));
        return result;
    }

    /// <summary>"deb [options] uri suite component..." lines; deb-src and comments ignored.</summary>
    public static IEnumerable<AptSource> ParseOneLine(string text)
    {
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Split('#', 2)[0].Trim();
            if (!line.StartsWith("deb ", StringComparison.Ordinal)) continue;
            var rest = line[4..].Trim();
            if (rest.StartsWith('['))
            {
                var end = rest.IndexOf(']');
                if (end < 0) continue;
                rest = rest[(end + 1)..].Trim();
            }
            var parts = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2) continue;
            yield return new AptSource(parts[0], [parts[1]], parts.Skip(2).ToList());
        }
    }

    /// <summary>deb822 stanzas (Types/URIs/Suites/Components); stanzas with Enabled: no or without Types: deb are skipped.</summary>
    public static IEnumerable<AptSource> ParseDeb822(string text)
    {
        foreach (var stanza in text.Replace("\r", "").Split("\n\n"))
        {
            var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            string? last = null;
            foreach (var raw in stanza.Split('\n'))
            {
                if (raw.StartsWith('#') || raw.Trim().Length == 0) continue;
                if ((raw.StartsWith(' ') || raw.StartsWith('\t')) && last is not null) { fields[last] += " " + raw.Trim(); continue; }
                var colon = raw.IndexOf(':');
                if (colon <= 0) continue;
                last = raw[..colon].Trim();
                fields[last] = raw[(colon + 1)..].Trim();
            }
            if (!fields.TryGetValue("Types", out var types) || !types.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("deb")) continue;
            if (fields.TryGetValue("Enabled", out var enabled) && enabled.Equals("no", StringComparison.OrdinalIgnoreCase)) continue;
            if (!fields.TryGetValue("URIs", out var uris) || !fields.TryGetValue("Suites", out var suites)) continue;
            var comps = fields.TryGetValue("Components", out var c) ? c.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList() : [];
            foreach (var uri in uris.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                yield return new AptSource(uri, suites.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList(), comps);
        }
    }
}
