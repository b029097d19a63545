using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using KfuncForge.Model;

namespace KfuncForge.Kernels;

/// <summary>
/// Reads <see cref="VerifierFacts"/> from a fetched kernel: the kfunc hooks from vmlinux's BTF, the argument
/// suffixes from vmlinux's .rodata (the verifier compares parameter names with these literals), the KF_*
/// flags from the headers' include/linux/btf.h. Read once per cache entry and kept beside facts.json in
/// verifier.json (the entry never changes once written); a damaged or older file is read again.
/// </summary>
public static partial class VerifierFactsReader
{
    public const string FileName = "verifier.json";
    private const int Format = 1;

    private sealed record Document(int Format, List<string>? KfuncHooks, List<string>? ArgSuffixes, List<string>? KfFlags);

    public static VerifierFacts Read(KernelEntry entry)
    {
        var file = Path.Combine(entry.Dir, FileName);
        try
        {
            if (File.Exists(file) && JsonSerializer.Deserialize<Document>(File.ReadAllText(file), KernelFactsDocument.Json) is { Format: Format } cached)
                return ToFacts(cached);
        }
        catch (JsonException) { }
        var document = Measure(entry);
        var temp = $"{file}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(document, KernelFactsDocument.Json));
        File.Move(temp, file, overwrite: true);
        return ToFacts(document);
    }

    private static VerifierFacts ToFacts(Document d) => new(Set(d.KfuncHooks), Set(d.ArgSuffixes), Set(d.KfFlags));

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
            return new Document(Format, null, null, KfFlagsOf(entry));
        }
        List<string>? hooks = null;
        if (elf.Section(".BTF") is { } btfSection)
            hooks = BtfReader.Parse(elf.Bytes(btfSection)).Enumerators("btf_kfunc_hook")?
                .Where(n => n.StartsWith(ProgramType.HookPrefix, StringComparison.Ordinal) && n != ProgramType.HookPrefix + "MAX")
                .Select(n => n[ProgramType.HookPrefix.Length..]).ToList();
        List<string>? suffixes = null;
        if (elf.Section(".rodata") is { } rodata)
        {
            var bytes = elf.Bytes(rodata);
            suffixes = [];
            foreach (var s in ArgSuffix.Known)
                if (bytes.IndexOf(Encoding.ASCII.GetBytes($"\0{s}\0")) >= 0) suffixes.Add(s);
        }
        return new Document(Format, hooks, suffixes, KfFlagsOf(entry));
    }

    /// <summary>The KF_* names #defined by the kernel's include/linux/btf.h (in the headers folder or a sibling, such as Debian's -common).</summary>
    private static List<string>? KfFlagsOf(KernelEntry entry)
    {
        var headers = Path.Combine(entry.Tree, entry.Facts.HeadersDir.TrimStart('/'));
        var candidates = new[] { headers }.Concat(Directory.Exists(Path.GetDirectoryName(headers)) ? Directory.EnumerateDirectories(Path.GetDirectoryName(headers)!).Order(StringComparer.Ordinal) : []);
        var btfH = candidates.Select(d => Path.Combine(d, "include", "linux", "btf.h")).FirstOrDefault(File.Exists);
        return btfH is null ? null : File.ReadLines(btfH).Select(l => KfDefine().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).Distinct().ToList();
    }

    [GeneratedRegex(@"^#define\s+(KF_[A-Z0-9_]+)\s")]
    private static partial Regex KfDefine();
}
