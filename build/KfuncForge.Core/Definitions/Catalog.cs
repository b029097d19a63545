using KfuncForge.Diagnostics;
using KfuncForge.Model;

namespace KfuncForge.Definitions;

/// <summary>Where the definitions live inside a source tree (the repository root, or a test fixture's root).</summary>
public sealed record SourceTree(string Root, string? TemplatesOverride = null)
{
    public string Modules => Path.Combine(Root, "kfunc-modules");
    public string Distros => Path.Combine(Root, "distros");
    public string KernelPackagings => Path.Combine(Distros, "kernel-packaging");
    public string Templates => TemplatesOverride ?? Path.Combine(Root, "templates");

    /// <summary>Paths in messages are relative to the root, so they read the same on every machine.</summary>
    public string Display(string fullPath) => Path.GetRelativePath(Root, fullPath).Replace('\\', '/');
}

/// <summary>Every definition of a source tree, loaded strictly and validated together.</summary>
public sealed record Catalog(SourceTree Tree, IReadOnlyList<KfuncModule> Modules, IReadOnlyList<DistroProfile> Distros)
{
    /// <summary>
    /// Loads everything; on any problem throws one InputException listing all of them. A process that loads the same
    /// definitions again (the run verb's stages each load them) gets the catalog it loaded before: the key is every
    /// file's path and content under distros/ and kfunc-modules/, so any change loads and validates again.
    /// </summary>
    public static Catalog Load(SourceTree tree)
    {
        var key = ContentKey(tree);
        lock (Loaded)
        {
            if (key is not null && Loaded.TryGetValue(tree.Root, out var known) && known.Key == key) return known.Catalog;
        }
        var catalog = LoadUncached(tree);
        if (key is not null)
            lock (Loaded) Loaded[tree.Root] = (key, catalog);
        return catalog;
    }

    private static readonly Dictionary<string, (string Key, Catalog Catalog)> Loaded = new(StringComparer.Ordinal);

    /// <summary>A tree with a larger file is loaded every time (the load reports what is too large; nothing that size is read twice).</summary>
    private const long MemoFileBytes = 4 << 20;

    /// <summary>SHA-256 over every definition file's relative path and bytes; null when the tree cannot be read (then nothing is remembered).</summary>
    private static string? ContentKey(SourceTree tree)
    {
        try
        {
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            foreach (var dir in new[] { tree.Distros, tree.Modules })
            {
                if (!Directory.Exists(dir)) continue;
                foreach (var file in Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    // Only regular files inside the tree are read (a FIFO would block): anything else is never remembered,
                    // and the full load reports it.
                    if (TreeFiles.Problem(file, tree.Root) is not null || new FileInfo(file).Length > MemoFileBytes) return null;
                    hash.AppendData(System.Text.Encoding.UTF8.GetBytes(file + "\0"));
                    hash.AppendData(File.ReadAllBytes(file));
                    hash.AppendData("\0"u8);
                }
            }
            return Convert.ToHexStringLower(hash.GetHashAndReset());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static Catalog LoadUncached(SourceTree tree)
    {
        var problems = new List<Problem>();

        var packagings = new SortedDictionary<string, KernelPackaging>(StringComparer.Ordinal);
        foreach (var file in YamlFiles(tree.KernelPackagings))
        {
            if (!Readable(tree, file, problems)) continue;
            var doc = DocumentReader.Read<KernelPackagingDocument>(file, tree.Display(file), problems);
            if (doc is not null && DistroValidator.ValidatePackaging(doc, Path.GetFileNameWithoutExtension(file), problems) is { } p)
                packagings[p.Name] = p;
        }

        var distros = new List<DistroProfile>();
        foreach (var file in YamlFiles(tree.Distros))
        {
            if (!Readable(tree, file, problems)) continue;
            var doc = DocumentReader.Read<DistroDocument>(file, tree.Display(file), problems);
            if (doc is not null && DistroValidator.ValidateDistro(doc, Path.GetFileNameWithoutExtension(file), packagings, problems) is { } d)
                distros.Add(d);
        }
        if (!Directory.Exists(tree.Distros) || distros.Count == 0 && problems.Count == 0)
            problems.Add(new Problem(tree.Display(tree.Distros), 0, 0, "", "no distro profiles found; add distros/<id>.yaml"));

        var modules = new List<KfuncModule>();
        if (Directory.Exists(tree.Modules))
        {
            foreach (var dir in Directory.GetDirectories(tree.Modules).Order(StringComparer.Ordinal))
            {
                var file = Path.Combine(dir, "module.yaml");
                if (!File.Exists(file))
                {
                    problems.Add(new Problem(tree.Display(dir), 0, 0, "", "module folder has no module.yaml; add one or remove the folder"));
                    continue;
                }
                if (!Readable(tree, file, problems)) continue;
                var doc = DocumentReader.Read<ModuleDocument>(file, tree.Display(file), problems);
                if (doc is not null && ModuleValidator.Validate(doc, dir, Path.GetFileName(dir), problems) is { } m)
                    modules.Add(m);
            }
        }
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var m in modules)
            foreach (var k in m.Kfuncs)
                if (!owners.TryAdd(k.Name, m.Name))
                    problems.Add(new Problem(tree.Display(Path.Combine(m.Directory, "module.yaml")), 0, 0, "kfuncs",
                        $"kfunc '{k.Name}' is also defined by module '{owners[k.Name]}'; a kfunc belongs to one module"));

        if (problems.Count > 0) throw new InputException(problems);
        return new Catalog(tree, modules, distros);
    }

    public DistroProfile Distro(string id) =>
        Distros.FirstOrDefault(d => d.Id == id)
        ?? throw new InputException(new Problem("--distro", 0, 0, "", $"unknown distro id '{id}'; known: {string.Join(", ", Distros.Select(d => d.Id))} (one per distros/<id>.yaml)"));

    /// <summary>All modules, or the one named (with a clear error when no such module exists).</summary>
    public IReadOnlyList<KfuncModule> SelectModules(string? name) =>
        name is null ? Modules
        : Modules.Where(m => m.Name == name).ToList() is { Count: > 0 } found ? found
        : throw new InputException(new Problem("--module", 0, 0, "", $"unknown module '{name}'; known: {string.Join(", ", Modules.Select(m => m.Name))} (one per kfunc-modules/<name>/)"));

    /// <summary>Only regular files inside the tree are read: never a link out of it (its content could end up in a message), a FIFO or a device.</summary>
    private static bool Readable(SourceTree tree, string file, List<Problem> problems)
    {
        if (TreeFiles.Problem(file, tree.Root) is not { } problem) return true;
        problems.Add(new Problem(tree.Display(file), 0, 0, "", $"{problem}; definitions are read only from regular files inside the source tree"));
        return false;
    }

    private static IEnumerable<string> YamlFiles(string dir) =>
        Directory.Exists(dir)
            ? Directory.GetFiles(dir, "*.yaml", SearchOption.TopDirectoryOnly).Order(StringComparer.Ordinal)
            : [];
}
