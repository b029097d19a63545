using System.Text.RegularExpressions;

namespace KfuncForge.Kernels;

/// <summary>One binary package as the index describes it: what apt-get download fetches and what the cache verifies it against.</summary>
public sealed record IndexEntry(
    string Package,
    string Version,
    string Architecture,
    string Source,
    string Filename,
    string Sha256,
    long Size,
    string Depends,
    string Suite)
{
    /// <summary>The first alternative of each Depends clause, names only.</summary>
    public IReadOnlyList<string> DependencyNames =>
        Depends.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => d.Split('|')[0].Trim().Split(' ', '(', ':')[0]).Where(n => n.Length > 0).ToList();

    public string Pin => $"{Package}={Version}";

    public override string ToString() => $"{Package} {Version} ({Suite})";
}

/// <summary>
/// The live package index as apt left it in /var/lib/apt/lists after `apt-get update`: the Packages files
/// of every configured suite, read directly (only linux-* packages are kept: kernels, headers, kbuild).
/// </summary>
public sealed partial class DebianIndex(IReadOnlyList<IndexEntry> entries)
{
    [GeneratedRegex(@"_dists_(?<suite>[^_]+)_(?<component>[^_]+)_binary-(?<arch>[^_]+)_Packages$")]
    private static partial Regex ListFile();

    public IReadOnlyList<IndexEntry> Entries { get; } = entries;

    public IReadOnlyList<string> Suites => Entries.Select(e => e.Suite).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    public static DebianIndex Load(string listsDir, string prefix = "linux-")
    {
        var entries = new List<IndexEntry>();
        foreach (var file in Directory.GetFiles(listsDir).Order(StringComparer.Ordinal))
        {
            var m = ListFile().Match(Path.GetFileName(file));
            if (!m.Success) continue;
            using var reader = new StreamReader(file);
            entries.AddRange(Parse(reader, m.Groups["suite"].Value, prefix));
        }
        return new DebianIndex(entries);
    }

    /// <summary>Parses Packages stanzas, keeping those whose name starts with prefix.</summary>
    public static IEnumerable<IndexEntry> Parse(TextReader reader, string suite, string prefix)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        string? last = null;
        var skip = false;
        string? line;
        while (true)
        {
            line = reader.ReadLine();
            if (line is null || line.Length == 0)
            {
                if (!skip && fields.TryGetValue("Package", out var name) && fields.TryGetValue("SHA256", out var sha)
                    && fields.TryGetValue("Filename", out var filename) && fields.TryGetValue("Version", out var version))
                {
                    var source = fields.TryGetValue("Source", out var s) ? s.Split(' ')[0] : name;
                    yield return new IndexEntry(name, version, fields.GetValueOrDefault("Architecture", ""), source, filename, sha,
                        long.TryParse(fields.GetValueOrDefault("Size"), out var size) ? size : -1, fields.GetValueOrDefault("Depends", ""), suite);
                }
                fields.Clear();
                skip = false;
                last = null;
                if (line is null) yield break;
                continue;
            }
            if (skip) continue;
            if (line[0] is ' ' or '\t') continue; // continuation lines: descriptions, not needed
            var colon = line.IndexOf(':');
            if (colon <= 0) continue;
            last = line[..colon];
            var value = line[(colon + 1)..].Trim();
            if (last == "Package" && !value.StartsWith(prefix, StringComparison.Ordinal)) { skip = true; continue; }
            fields[last] = value;
        }
    }

    public IEnumerable<IndexEntry> Named(string package) => Entries.Where(e => e.Package == package);
}
