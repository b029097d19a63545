using System.Text.Json;
using System.Text.Json.Serialization;
using KfuncForge.Model;

namespace KfuncForge.Kernels;

/// <summary>One package a kernel entry was made from, as the index described it and the cache verified it.</summary>
public sealed record PackageRecord(string Package, string Version, string Suite, string Sha256, long Size)
{
    /// <summary>The package URL when it is not a Debian archive's (a kernel build tree's identity); absent otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Uri { get; init; }
}

/// <summary>
/// facts.json of a kernel cache entry: everything read once from the kernel's own packages.
/// Symbols are not stored here; they are read when facts are loaded from the headers' Module.symvers
/// (exported symbols: what a module can link against) and, when it is real (Debian ships a stub),
/// boot/System.map-&lt;release&gt;.
/// </summary>
public sealed record KernelFactsDocument
{
    /// <summary>2: boot/modules/ holds the in-tree modules a firmware boot needs (efivarfs). Older entries are fetched again.</summary>
    public int Format { get; init; } = CurrentFormat;

    public const int CurrentFormat = 2;
    public required string Distro { get; init; }
    public required string Release { get; init; }
    public required string UpstreamVersion { get; init; }
    public required string Flavour { get; init; }
    public required string Suite { get; init; }
    public required string HeadersDir { get; init; }
    public required string ImageCompression { get; init; }
    public required IReadOnlyList<PackageRecord> Packages { get; init; }
    public required IReadOnlyList<string> Notes { get; init; }
    public required string SymbolsFrom { get; init; }
    public string? ResolveBtfidsFrom { get; init; }
    public required int BtfTypes { get; init; }
    public required int BtfFunctions { get; init; }
    public required IReadOnlyList<string> NativeKfuncs { get; init; }
    public required IReadOnlyDictionary<string, string> Config { get; init; }

    /// <summary>Set when the kernel was given as a build tree (Kernels.KernelTree) instead of fetched packages.</summary>
    public KernelTreeIdentity? Tree { get; init; }

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>
/// A fetched kernel in the cache: kernels/&lt;distro&gt;/&lt;release&gt;/ with
/// tree/ (header packages extracted at their real paths), extras/ (vmlinux beside the headers and, when
/// the kbuild package lacks it, resolve_btfids; laid over tree/ at build time), boot/ (vmlinuz, config,
/// System.map, modules/ with the few in-tree modules the VM stage loads) and facts.json, which is written last, so a directory without it is never used.
/// </summary>
public sealed record KernelEntry(string Dir, KernelFactsDocument Facts)
{
    public string Tree => Path.Combine(Dir, "tree");
    public string Extras => Path.Combine(Dir, "extras");
    public string Boot => Path.Combine(Dir, "boot");
    public string Release => Facts.Release;
    public string Vmlinuz => Path.Combine(Boot, $"vmlinuz-{Release}");
    public string ConfigFile => Path.Combine(Boot, $"config-{Release}");
    public string SystemMap => Path.Combine(Boot, $"System.map-{Release}");
    public string Vmlinux => Path.Combine(Extras, Facts.HeadersDir.TrimStart('/'), "vmlinux");

    /// <summary>In-tree modules kept from the image package for the VM stage (see <see cref="BootModuleNames"/>).</summary>
    public string BootModules => Path.Combine(Boot, "modules");

    /// <summary>The in-tree modules an entry keeps: efivarfs, which a Secure Boot enrolment boot loads to write MokListRT.</summary>
    public static readonly IReadOnlyList<string> BootModuleNames = ["efivarfs"];

    /// <summary>The kept modules' folder of the entry whose kernel image is <paramref name="vmlinuz"/> (boot/vmlinuz-&lt;release&gt;).</summary>
    public static string BootModulesBeside(string vmlinuz) => Path.Combine(Path.GetDirectoryName(vmlinuz)!, "modules");

    /// <summary>The host folders laid over the build environment's root, bottom first.</summary>
    public IReadOnlyList<string> Layers => [Tree, Extras];

    public const string FactsFile = "facts.json";

    /// <summary>The entry when it is whole; null when it is absent or damaged (Inspect says which).</summary>
    public static KernelEntry? TryOpen(string dir) => Inspect(dir).Entry;

    /// <summary>
    /// Opens an entry and checks that it is whole: facts.json readable and naming this release, and the files
    /// every later stage reads present and not empty (the image, config, vmlinux with the base BTF, the headers'
    /// Module.symvers). Damage is a reason, never an exception: the fetcher evicts the entry and fetches it again.
    /// </summary>
    public static (KernelEntry? Entry, string? Damage) Inspect(string dir)
    {
        var file = Path.Combine(dir, FactsFile);
        if (!File.Exists(file)) return (null, Directory.Exists(dir) ? $"it has no {FactsFile} (an unfinished entry)" : null);
        KernelFactsDocument? doc;
        try
        {
            doc = JsonSerializer.Deserialize<KernelFactsDocument>(File.ReadAllText(file), KernelFactsDocument.Json);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return (null, $"{FactsFile} cannot be read ({e.GetType().Name}: {e.Message.Split('\n')[0]})");
        }
        if (doc is null || doc.Release is null || doc.HeadersDir is null || doc.Config is null || doc.Packages is null || doc.NativeKfuncs is null)
            return (null, $"{FactsFile} lacks required fields");
        if (doc.Format < KernelFactsDocument.CurrentFormat)
            return (null, $"it was made by an older KfuncForge (format {doc.Format}, now {KernelFactsDocument.CurrentFormat})");
        if (doc.Release != Path.GetFileName(Path.TrimEndingDirectorySeparator(dir)))
            return (null, $"{FactsFile} names release {doc.Release}, not the entry's own");
        var entry = new KernelEntry(dir, doc);
        foreach (var (what, path) in new[] { ("the kernel image", entry.Vmlinuz), ("the kernel config", entry.ConfigFile), ("vmlinux (base BTF)", entry.Vmlinux), ("Module.symvers", entry.ModuleSymversFile) })
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length == 0) return (null, $"{what} {Path.GetRelativePath(dir, path)} is {(info.Exists ? "empty" : "missing")}");
        }
        return (entry, null);
    }

    public string ModuleSymversFile => Path.Combine(Tree, Facts.HeadersDir.TrimStart('/'), "Module.symvers");

    /// <summary>The model's view of this kernel, for the planner.</summary>
    public KernelFacts ToFacts(KernelVersion? bpfLevel)
    {
        var symbols = new HashSet<string>(ModuleSymvers(ModuleSymversFile), StringComparer.Ordinal);
        if (Facts.SymbolsFrom.StartsWith("System.map", StringComparison.Ordinal)) symbols.UnionWith(KernelFiles.ParseSystemMap(File.ReadLines(SystemMap)));
        return new KernelFacts(Release, KernelVersion.Parse(Facts.UpstreamVersion), Facts.Flavour, Facts.Config,
            Facts.NativeKfuncs.ToHashSet(StringComparer.Ordinal), symbols, bpfLevel)
        {
            Verifier = VerifierFactsReader.Read(this),
            TreeDir = Facts.Tree is null ? null : Facts.HeadersDir,
        };
    }

    private static IReadOnlySet<string> ModuleSymvers(string path) =>
        File.ReadLines(path).Select(l => l.Split('\t')).Where(p => p.Length >= 2).Select(p => p[1]).ToHashSet(StringComparer.Ordinal);
}
