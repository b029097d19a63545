using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using KfuncForge.Model;

namespace KfuncForge.Kernels;

/// <summary>
/// Reads <see cref="VerifierFacts"/> from a fetched kernel: the kfunc hooks from vmlinux's BTF, the argument
/// suffixes from vmlinux's .rodata (the verifier compares parameter names with these literals), the KF_*
/// flags from the headers' include/linux/btf.h, and the functions a module cannot call: those vmlinux's
/// BTF has that Module.symvers does not export and that the headers do not define (as a macro or an inline
/// function, which a module compiles into itself). Read once per cache entry and kept beside facts.json in
/// verifier.json (the entry never changes once written); a damaged or older file is read again.
/// </summary>
public static partial class VerifierFactsReader
{
    public const string FileName = "verifier.json";

    /// <summary>The names the kernel's headers define (macros, inline functions), one per line: written before verifier.json.</summary>
    public const string HeaderNamesFile = "header-names.txt";

    private const int Format = 3;

    private sealed record Document(int Format, List<string>? KfuncHooks, List<string>? ArgSuffixes, List<string>? KfFlags, List<string>? Unexported);

    /// <summary>
    /// Facts already read in this process, per entry, with the write time of the verifier.json they came from. The
    /// planner asks for them on every plan (each test, each matrix cell), and the file is large (the unexported
    /// names); parallel cells of one kernel share one read or measurement. A re-fetched entry has a new file and
    /// is read again.
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<(DateTime Written, VerifierFacts Facts)>> Known = new(StringComparer.Ordinal);

    public static VerifierFacts Read(KernelEntry entry)
    {
        var key = Path.GetFullPath(entry.Dir);
        var file = Path.Combine(key, FileName);
        while (true)
        {
            var read = Known.GetOrAdd(key, _ => new Lazy<(DateTime, VerifierFacts)>(() =>
            {
                var facts = ReadOrMeasure(entry);
                return (File.GetLastWriteTimeUtc(file), facts);
            }));
            var (written, facts) = read.Value;
            if (written == File.GetLastWriteTimeUtc(file)) return facts;
            // The file changed (or vanished, or could not be written) since: read it again, once.
            if (Known.TryRemove(new KeyValuePair<string, Lazy<(DateTime, VerifierFacts)>>(key, read)) && !File.Exists(file)) return facts;
        }
    }

    private static VerifierFacts ReadOrMeasure(KernelEntry entry)
    {
        var file = Path.Combine(entry.Dir, FileName);
        try
        {
            if (File.Exists(file) && JsonSerializer.Deserialize<Document>(File.ReadAllText(file), KernelFactsDocument.Json) is { Format: Format } cached
                && (cached.Unexported is null || File.Exists(Path.Combine(entry.Dir, HeaderNamesFile))))
                return ToFacts(cached);
        }
        catch (JsonException) { }
        var document = Measure(entry);
        Publish(file, JsonSerializer.Serialize(document, KernelFactsDocument.Json));
        return ToFacts(document);
    }

    /// <summary>
    /// Writes a cache file whole: a temporary file of its own (processes in other PID namespaces may share the
    /// cache), then a rename. Losing the race to another writer of the same facts is fine; a cache that cannot
    /// be written only costs measuring again next time.
    /// </summary>
    private static void Publish(string file, string text)
    {
        var temp = $"{file}.{Path.GetRandomFileName()}.tmp";
        try
        {
            File.WriteAllText(temp, text);
            File.Move(temp, file, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temp); } catch (Exception d) when (d is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// Which of <paramref name="names"/> a module built for the kernel can call: those its Module.symvers exports
    /// or its headers define. Null when the kernel's BTF could not be read (nothing is known). The files are
    /// streamed, not loaded: a header-names file holds some 300,000 names.
    /// </summary>
    public static IReadOnlySet<string>? Reachable(KernelEntry entry, IReadOnlyCollection<string> names)
    {
        if (Read(entry).Unexported is null || !File.Exists(Path.Combine(entry.Dir, HeaderNamesFile))) return null;
        var wanted = names.ToHashSet(StringComparer.Ordinal);
        return File.ReadLines(Path.Combine(entry.Dir, HeaderNamesFile)).Concat(Exported(entry)).Where(wanted.Contains).ToHashSet(StringComparer.Ordinal);
    }

    private static IEnumerable<string> Exported(KernelEntry entry) =>
        File.ReadLines(entry.ModuleSymversFile).Select(l => l.Split('\t')).Where(p => p.Length >= 2).Select(p => p[1]);

    private static VerifierFacts ToFacts(Document d) => new(Set(d.KfuncHooks), Set(d.ArgSuffixes), Set(d.KfFlags)) { Unexported = Set(d.Unexported) };

    private static HashSet<string>? Set(List<string>? list) => list?.ToHashSet(StringComparer.Ordinal);

    private static Document Measure(KernelEntry entry)
    {
        ElfFile elf;
        try
        {
            elf = ElfFile.Load(entry.Vmlinux);
        }
        catch (InvalidDataException)
        {
            return new Document(Format, null, null, KfFlagsOf(entry), null);
        }
        List<string>? hooks = null;
        List<string>? unexported = null;
        if (elf.Section(".BTF") is { } btfSection)
        {
            BtfReader btf;
            try
            {
                btf = BtfReader.Parse(elf.Bytes(btfSection));
            }
            catch (InvalidDataException)
            {
                return new Document(Format, null, null, KfFlagsOf(entry), null);
            }
            hooks = btf.Enumerators("btf_kfunc_hook")?
                .Where(n => n.StartsWith(ProgramType.HookPrefix, StringComparison.Ordinal) && n != ProgramType.HookPrefix + "MAX")
                .Select(n => n[ProgramType.HookPrefix.Length..]).ToList();
            var exported = Exported(entry).ToHashSet(StringComparer.Ordinal);
            var inHeaders = HeaderDefinitions(HeaderFolders(entry));
            Publish(Path.Combine(entry.Dir, HeaderNamesFile), string.Join("\n", inHeaders.Order(StringComparer.Ordinal)) + "\n");
            unexported = btf.Functions.Select(f => f.Name).Where(n => !exported.Contains(n) && !inHeaders.Contains(n))
                .Distinct().Order(StringComparer.Ordinal).ToList();
        }
        List<string>? suffixes = null;
        if (elf.Section(".rodata") is { } rodata)
        {
            var bytes = elf.Bytes(rodata);
            suffixes = [];
            foreach (var s in ArgSuffix.Known)
                if (bytes.IndexOf(Encoding.ASCII.GetBytes($"\0{s}\0")) >= 0) suffixes.Add(s);
        }
        return new Document(Format, hooks, suffixes, KfFlagsOf(entry), unexported);
    }

    /// <summary>The kernel's headers folder first, then its siblings (Debian keeps most headers in a -common sibling).</summary>
    private static IReadOnlyList<string> HeaderFolders(KernelEntry entry)
    {
        var headers = Path.Combine(entry.Tree, entry.Facts.HeadersDir.TrimStart('/'));
        var parent = Path.GetDirectoryName(headers)!;
        var siblings = Directory.Exists(parent) ? Directory.EnumerateDirectories(parent).Where(d => d != headers).Order(StringComparer.Ordinal).ToList() : [];
        return [headers, .. siblings];
    }

    /// <summary>
    /// Names the headers define as a macro or an inline function (static inline, __always_inline), which a
    /// module compiles into itself: such a name is reachable even where vmlinux also has an out-of-line copy.
    /// A light scan of the text (a definition's name is an identifier before '(' on its line or the next).
    /// </summary>
    private static HashSet<string> HeaderDefinitions(IReadOnlyList<string> folders)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var folder in folders.Where(Directory.Exists))
            foreach (var header in Directory.EnumerateFiles(folder, "*.h", SearchOption.AllDirectories))
            {
                var pendingInline = false;
                foreach (var line in File.ReadLines(header))
                {
                    if (MacroDefinition().Match(line) is { Success: true } m) { names.Add(m.Groups[1].Value); continue; }
                    var inline = line.Contains("inline", StringComparison.Ordinal);
                    if (!inline && !pendingInline) continue;
                    // Every name before a '(' on the line: attribute macros (__printf(...)) may come first; an extra
                    // name only makes the check more lenient, a missed one could refuse a call that compiles.
                    var found = FunctionName().Matches(inline ? line[line.IndexOf("inline", StringComparison.Ordinal)..] : line);
                    foreach (Match f in found) names.Add(f.Groups[1].Value);
                    pendingInline = found.Count == 0 && inline && !line.Contains(';');
                }
            }
        return names;
    }

    [GeneratedRegex(@"^\s*#\s*define\s+([A-Za-z_]\w*)")]
    private static partial Regex MacroDefinition();

    [GeneratedRegex(@"([A-Za-z_]\w*)\s*\(")]
    private static partial Regex FunctionName();

    /// <summary>The KF_* names #defined by the kernel's include/linux/btf.h (in the headers folder or a sibling, such as Debian's -common).</summary>
    private static List<string>? KfFlagsOf(KernelEntry entry)
    {
        var btfH = HeaderFolders(entry).Select(d => Path.Combine(d, "include", "linux", "btf.h")).FirstOrDefault(File.Exists);
        return btfH is null ? null : File.ReadLines(btfH).Select(l => KfDefine().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).Distinct().ToList();
    }

    [GeneratedRegex(@"^#define\s+(KF_[A-Z0-9_]+)\s")]
    private static partial Regex KfDefine();
}
