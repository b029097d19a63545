using System.Text.RegularExpressions;
using KfuncForge.Diagnostics;

namespace KfuncForge.Upstream;

/// <summary>
/// One registration of a kfunc: the BTF_ID_FLAGS line, its set, the btf_kfunc_id_set variables that
/// publish the set (with their filters) and the register_btf_kfunc_id_set calls (program types).
/// </summary>
public sealed record Registration(
    string Path,
    int Line,
    IReadOnlyList<string> Flags,
    string BtfSet,
    IReadOnlyList<IdSet> IdSets,
    IReadOnlyList<RegisterCall> Calls,
    IReadOnlyList<string> Conditions);

/// <summary>Everything the importer reads about one kfunc at one ref.</summary>
public sealed record UpstreamKfunc(string Name, ResolvedRef At, string DefinitionPath, CDefinition Definition, IReadOnlyList<Registration> Registrations)
{
    public string Prototype => Definition.Prototype;

    /// <summary>Flags of every registration, in the order first written.</summary>
    public IReadOnlyList<string> Flags => Registrations.SelectMany(r => r.Flags).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The kernel's BPF_PROG_TYPE_* constants the kfunc is registered for, in the order first written.</summary>
    public IReadOnlyList<string> ProgramTypes => Registrations.SelectMany(r => r.Calls).Select(c => c.ProgramType).Distinct(StringComparer.Ordinal).ToList();

    public IReadOnlyList<string> BtfSets => Registrations.Select(r => r.BtfSet).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Filter functions of the id sets that register the kfunc (upstream's attach restrictions).</summary>
    public IReadOnlyList<string> Filters => Registrations.SelectMany(r => r.IdSets).Select(s => s.Filter).OfType<string>().Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The files whose history decides when the kfunc appeared: its definition and its registrations.</summary>
    public IReadOnlyList<string> Paths => new[] { DefinitionPath }.Concat(Registrations.Select(r => r.Path)).Distinct(StringComparer.Ordinal).ToList();
}

/// <summary>The outcome of looking up one kfunc: found, or a problem that names the ref and file.</summary>
public abstract record Located
{
    private Located() { }

    public sealed record Found(UpstreamKfunc Kfunc) : Located;

    public sealed record Failed(Problem Problem) : Located;
}

/// <summary>
/// Finds kfuncs in a kernel tree at a ref: one scan of the tree for any number of names, then
/// parsing of the few files that matter. The scan reads the core of the tree first and the large
/// hardware folders (<see cref="KernelRepository.LateTopLevel"/>) only for names still unresolved.
/// </summary>
public static class KfuncLocator
{
    public static IReadOnlyDictionary<string, Located> Locate(KernelRepository repo, ResolvedRef at, IReadOnlyCollection<string> names, out TreeScan scan)
    {
        scan = repo.Scan(at.Commit, names, top => !KernelRepository.LateTopLevel.Contains(top));
        var result = LocateAll(repo, at, names, scan);
        var unresolved = names.Where(n => result[n] is Located.Failed).ToList();
        if (unresolved.Count == 0) return result;
        scan = scan.Plus(repo.Scan(at.Commit, unresolved, top => KernelRepository.LateTopLevel.Contains(top)));
        foreach (var (name, located) in LocateAll(repo, at, unresolved, scan)) result[name] = located;
        return result;
    }

    private static SortedDictionary<string, Located> LocateAll(KernelRepository repo, ResolvedRef at, IReadOnlyCollection<string> names, TreeScan scan)
    {
        var result = new SortedDictionary<string, Located>(StringComparer.Ordinal);
        var others = scan.Mentioning.Select(m => (m.Path, (Func<CText>)(() => new CText(repo.ReadText(m.Blob))))).ToList();
        foreach (var name in names) result[name] = LocateOne(at, name, scan.Registering, others, () => NotRegistered(repo, at, name, scan));
        return result;
    }

    /// <summary>Looks a kfunc up in just these files (the ones a history walk follows), without scanning the tree.</summary>
    public static Located LocateIn(ResolvedRef at, string name, IReadOnlyList<SourceFile> files) =>
        LocateOne(at, name, files, [], () => new Located.Failed(new Problem(at.Name, 0, 0, "", $"'{name}' is not registered in {string.Join(", ", files.Select(f => f.Path))}")));

    private static Located LocateOne(ResolvedRef at, string name, IReadOnlyList<SourceFile> registering, IEnumerable<(string Path, Func<CText> Load)> others, Func<Located> notRegistered)
    {
        var texts = registering.ToDictionary(f => f.Path, f => f.Text, StringComparer.Ordinal);
        var registrations = new List<Registration>();
        foreach (var file in registering)
        {
            var entries = KfuncSource.FlagsEntries(file.Text, name);
            if (entries.Count == 0) continue;
            var idSets = KfuncSource.IdSets(file.Text);
            var calls = KfuncSource.RegisterCalls(file.Text);
            foreach (var entry in entries)
            {
                var where = at.At(file.Path);
                if (entry.Set is null)
                    return Fail(where, entry.Line, $"BTF_ID_FLAGS(func, {name}) is not inside a BTF_KFUNCS_START/BTF_SET8_START ... _END block; the importer cannot tell which kfunc set registers it");
                var publishing = idSets.Where(s => s.Set == entry.Set.Name).ToList();
                if (publishing.Count == 0)
                    return Fail(where, entry.Set.Line, $"kfunc set '{entry.Set.Name}' (holding {name}) is not the .set of any 'struct btf_kfunc_id_set' in this file; the importer cannot tell which program types it is registered for");
                var setCalls = calls.Where(c => publishing.Any(p => p.Variable == c.IdSet)).ToList();
                if (setCalls.FirstOrDefault(c => !c.IsConstant) is { } variable)
                    return Fail(where, variable.Line, $"register_btf_kfunc_id_set({variable.ProgramType}, &{variable.IdSet}) registers {name} for a program type that is not a BPF_PROG_TYPE_* constant; the importer does not evaluate expressions: write program_types by hand");
                if (setCalls.Count == 0)
                    return Fail(where, publishing[0].Line, $"'{publishing[0].Variable}' (kfunc set '{entry.Set.Name}', holding {name}) is never passed to register_btf_kfunc_id_set(BPF_PROG_TYPE_..., &{publishing[0].Variable}) in this file; the importer cannot tell its program types");
                registrations.Add(new Registration(file.Path, entry.Line, entry.Flags, entry.Set.Name, publishing, setCalls, entry.Conditions));
            }
        }
        if (registrations.Count == 0) return notRegistered();

        // The definition: first in the registering files, then in every other file that mentions the name.
        DefinitionLookup.Macro? macro = null;
        string? macroPath = null;
        var candidates = registrations.Select(r => r.Path).Distinct(StringComparer.Ordinal)
            .Concat(registering.Select(f => f.Path).Where(p => registrations.All(r => r.Path != p)))
            .Select(p => (Path: p, Load: (Func<CText>)(() => texts[p])))
            .Concat(others);
        foreach (var (path, load) in candidates)
        {
            switch (KfuncSource.FindDefinition(load(), name))
            {
                case DefinitionLookup.Found found:
                    return new Located.Found(new UpstreamKfunc(name, at, path, found.Definition, registrations));
                case DefinitionLookup.Macro m when macro is null:
                    (macro, macroPath) = (m, path);
                    break;
            }
        }
        if (macro is not null)
            return Fail(at.At(macroPath!), macro.Line,
                $"kfunc '{name}' is defined through the macro {macro.MacroName}(...), which the importer does not understand (it reads '[__bpf_kfunc] <type> {name}(<args>) {{ ... }}'); write its module.yaml entry by hand");
        var first = registrations[0];
        return Fail(at.At(first.Path), first.Line,
            $"kfunc '{name}' is registered here, but no C file at '{at.Name}' defines it as a plain function; it is probably generated by a macro with token pasting, which the importer does not understand: write its module.yaml entry by hand");
    }

    private static Located NotRegistered(KernelRepository repo, ResolvedRef at, string name, TreeScan scan)
    {
        var searched = $"searched every .c file outside {string.Join(", ", KernelRepository.SkippedTopLevel.Select(s => s + "/"))}";
        var oldStyle = new Regex($@"\bBTF_ID\s*\(\s*func\s*,\s*{Regex.Escape(name)}\s*\)", RegexOptions.CultureInvariant);
        var mentions = scan.Registering.Select(f => f.Path).Concat(scan.Mentioning.Select(m => m.Path)).Order(StringComparer.Ordinal).ToList();
        foreach (var (path, blob) in scan.Mentioning.Take(50))
        {
            if (oldStyle.IsMatch(new CText(repo.ReadText(blob)).Code))
                return Fail(at.At(path), 0,
                    $"'{name}' is listed with BTF_ID(func, {name}), the form kernels before 6.0 used; the importer reads BTF_ID_FLAGS(func, {name}, ...) only: import from a newer ref");
        }
        var hint = mentions.Count == 0
            ? $"no C file mentions '{name}'"
            : $"it is mentioned in {string.Join(", ", mentions.Take(3))}{(mentions.Count > 3 ? $" and {mentions.Count - 3} more" : "")} but never registered with BTF_ID_FLAGS(func, {name}, ...)";
        return new Located.Failed(new Problem("--kfunc", 0, 0, "",
            $"kfunc '{name}' is not registered at '{at.Name}' in '{repo.Location}': {hint} ({searched}); check the name, or pass a ref where it exists"));
    }

    private static Located.Failed Fail(string where, int line, string message) => new(new Problem(where, line, line > 0 ? 1 : 0, "", message));
}
