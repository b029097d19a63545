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

    /// <param name="extractDir">
    /// Where to keep, per Packages file, only its stanzas of <paramref name="prefix"/> packages (named by the file's size
    /// and write time, so `apt-get update` makes a new one): the next load reads a few hundred kilobytes instead of
    /// 50 MB. Null reads the Packages files themselves.
    /// </param>
    public static DebianIndex Load(string listsDir, string prefix = "linux-", string? extractDir = null)
    {
        var entries = new List<IndexEntry>();
        foreach (var file in Directory.GetFiles(listsDir).Order(StringComparer.Ordinal))
        {
            var m = ListFile().Match(Path.GetFileName(file));
            if (!m.Success) continue;
            using var reader = new StreamReader(extractDir is null ? file : Extract(file, prefix, extractDir));
            entries.AddRange(Parse(reader, m.Groups["suite"].Value, prefix));
        }
        return new DebianIndex(entries);
    }

    /// <summary>The stanzas of a Packages file whose package name starts with the prefix, kept once per version of the file.</summary>
    private static string Extract(string packagesFile, string prefix, string extractDir)
    {
        var info = new FileInfo(packagesFile);
        var name = Path.GetFileName(packagesFile);
        var extract = Path.Combine(extractDir, $"{name}.{info.Length}-{info.LastWriteTimeUtc.Ticks}.{prefix}stanzas");
        if (File.Exists(extract)) return extract;
        Directory.CreateDirectory(extractDir);
        var temp = $"{extract}.{Guid.NewGuid():N}.tmp";
        using (var reader = new StreamReader(packagesFile))
        using (var writer = new StreamWriter(temp))
        {
            var stanza = new List<string>();
            var keep = false;
            while (true)
            {
                var line = reader.ReadLine();
                if (line is null || line.Length == 0)
                {
                    if (keep)
                    {
                        foreach (var l in stanza) writer.Write(l + "\n");
                        writer.Write('\n');
                    }
                    stanza.Clear();
                    keep = false;
                    if (line is null) break;
                    continue;
                }
                stanza.Add(line);
                if (line.StartsWith("Package: " + prefix, StringComparison.Ordinal)) keep = true;
            }
        }
        File.Move(temp, extract, overwrite: true);
        foreach (var old in Directory.GetFiles(extractDir, name + ".*").Where(f => f != extract && !f.EndsWith(".tmp", StringComparison.Ordinal)))
            File.Delete(old);
        return extract;
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
