using System.Diagnostics;
using KfuncForge.Definitions;
using KfuncForge.Diagnostics;
using KfuncForge.Model;
using YamlDotNet.RepresentationModel;

namespace KfuncForge.Upstream;

/// <param name="Commit">--commit: the introducing commit, when the repository's history cannot tell (a snapshot) or the user knows better.</param>
/// <param name="Release">--release: the first release that ships the kfunc (x.y).</param>
public sealed record ImportRequest(string Upstream, string Ref, string Kfunc, string? Module, string? Commit = null, string? Release = null);

public enum ModuleChange { Created, KfuncAdded, Updated, Unchanged }

/// <summary>What an import found upstream and what it wrote.</summary>
public sealed record ImportResult(
    UpstreamKfunc Upstream,
    ImportedKfunc Written,
    Origin Introduced,
    string? ReleaseTag,
    string Module,
    string ModuleFile,
    ModuleChange Change,
    IReadOnlyList<string> ChangedFields,
    IReadOnlyList<string> CreatedFiles,
    IReadOnlyList<string> KeptFiles,
    IReadOnlyList<string> Todo,
    IReadOnlyList<string> Kept,
    bool Snapshot,
    TreeScan Scan,
    TimeSpan Elapsed);

/// <summary>
/// kfuncforge import: reads one kfunc at a ref of a kernel repository (no checkout), finds the commit
/// that introduced it, and writes its provenance into kfunc-modules/&lt;module&gt;/module.yaml — a new
/// draft module, a new entry in an existing module, or an in-place update of an existing entry.
/// Existing C files are never overwritten.
/// </summary>
public static partial class Importer
{
    public static ImportResult Run(SourceTree tree, ImportRequest request)
    {
        var clock = Stopwatch.StartNew();
        var problems = new List<Problem>();
        if (!Names.CIdentifier().IsMatch(request.Kfunc))
            problems.Add(new Problem("--kfunc", 0, 0, "", $"'{request.Kfunc}' is not a C identifier; pass the kfunc's name, e.g. --kfunc=bpf_strlen"));
        if (request.Module is not null && Names.ModuleNameProblem(request.Module) is { } moduleProblem)
            problems.Add(new Problem("--module", 0, 0, "", moduleProblem));
        if (request.Commit is not null && !CommitId().IsMatch(request.Commit))
            problems.Add(new Problem("--commit", 0, 0, "", $"'{request.Commit}' is not a commit id; pass the 12 to 40 hex digits of the upstream commit that added the kfunc"));
        if (request.Release is not null && !ReleaseNumber().IsMatch(request.Release))
            problems.Add(new Problem("--release", 0, 0, "", $"'{request.Release}' is not a kernel release; pass major.minor, e.g. --release=6.17"));
        if (problems.Count > 0) throw new InputException(problems);

        using var repo = KernelRepository.Open(request.Upstream);
        var at = repo.Resolve(request.Ref);
        var module = ChooseModule(tree, request);

        var located = KfuncLocator.Locate(repo, at, [request.Kfunc], out var scan)[request.Kfunc];
        var upstream = located switch
        {
            Located.Found f => f.Kfunc,
            Located.Failed f => throw new InputException(f.Problem),
            _ => throw new InvalidOperationException(),
        };

        var moduleDir = Path.Combine(tree.Modules, module);
        var moduleFile = Path.Combine(moduleDir, "module.yaml");
        var display = tree.Display(moduleFile);
        var recorded = Recorded(moduleFile, display, request.Kfunc);

        // A snapshot (or a shallow clone) starts at a commit that already has the kfunc: that commit
        // only says where the copy begins, so it is never recorded as the introducing commit.
        var introduced = FindIntroduction(repo, upstream);
        var snapshot = !LibGit2Sharp.RepositoryExtensions.Lookup<LibGit2Sharp.Commit>(repo.Git, introduced.Commit.Sha).Parents.Any();
        var tag = snapshot ? null : ReleaseTags.FirstContaining(repo, introduced.Commit.Sha);
        var foundRelease = tag is { } t ? new KernelVersion(t.Major, t.Minor, 0).ToString() : null;
        var keptByHand = new List<string>();
        var commit = Choose("commit", request.Commit, recorded.Commit, snapshot ? null : introduced.Commit.Sha, keptByHand,
            (old, found) => old.Length >= 7 && found.StartsWith(old, StringComparison.Ordinal))
            ?? throw new InputException(new Problem("--commit", 0, 0, "",
                $"{request.Upstream} starts at {introduced.Commit.Short} \"{introduced.Commit.Subject}\", which already defines {request.Kfunc}: a snapshot or shallow clone, so the commit that introduced it is not in this repository; pass --commit=<id> (and --release=<x.y>) from a full kernel clone's history, e.g. git log --diff-filter=A -S'{request.Kfunc}'"));
        var release = Choose("release", request.Release, recorded.Release is { } r && ReleaseNumber().IsMatch(r) ? r : null, foundRelease, keptByHand, (_, _) => false);
        var written = new ImportedKfunc(
            upstream.Name,
            upstream.Prototype,
            upstream.Flags,
            YamlProgramTypes(upstream),
            release,
            commit,
            upstream.DefinitionPath,
            at.Stable,
            upstream.Definition.BodySha256,
            upstream.BtfSets,
            upstream.Filters)
        { TreeVersion = release is null ? TreeVersion(repo, at) : null };
        CheckWritable(upstream, written);

        var created = new List<string>();
        var kept = new List<string>();
        var changed = new List<string>();
        ModuleChange change;
        var addsVariant = false;
        var scaffold = SmokeScaffold.Make(written);
        var smokeFile = Path.Combine(moduleDir, scaffold.File);
        void WriteScaffold()
        {
            if (File.Exists(smokeFile)) { kept.Add(tree.Display(smokeFile)); return; }
            Directory.CreateDirectory(Path.GetDirectoryName(smokeFile)!);
            WriteAtomically(smokeFile, scaffold.Source);
            created.Add(tree.Display(smokeFile));
        }
        if (!File.Exists(moduleFile))
        {
            Directory.CreateDirectory(moduleDir);
            WriteScaffold();
            WriteAtomically(moduleFile, ModuleDraft.Module(module, written, upstream, scaffold.Entries));
            created.Add(display);
            change = ModuleChange.Created;
            addsVariant = true;
        }
        else
        {
            var text = File.ReadAllText(moduleFile);
            var edited = Edit(text, display, written, upstream, changed, out change);
            if (edited != text) WriteAtomically(moduleFile, edited);
            addsVariant = change == ModuleChange.KfuncAdded;
            if (addsVariant) WriteScaffold();
        }
        if (addsVariant)
        {
            var cFile = Path.Combine(moduleDir, ModuleDraft.VariantFile(written.Name));
            if (File.Exists(cFile)) kept.Add(tree.Display(cFile));
            else
            {
                WriteAtomically(cFile, ModuleDraft.CSource(written, upstream));
                created.Add(tree.Display(cFile));
            }
        }

        var todo = Todo(tree, moduleFile, moduleDir, module, written, addsVariant);
        if (addsVariant)
        {
            todo.AddRange(scaffold.Todo);
            if (change == ModuleChange.KfuncAdded)
                todo.AddRange(scaffold.Entries.Select(e => $"add to the smoke: list of {display}: - {e}"));
        }
        return new ImportResult(upstream, written, introduced, tag?.Tag, module, display, change, changed, created, kept, todo, keptByHand, snapshot, scan, clock.Elapsed);
    }

    /// <summary>"X.Y" from the tree's top-level Makefile (VERSION, PATCHLEVEL) at the ref, or null when it has none.</summary>
    private static string? TreeVersion(KernelRepository repo, ResolvedRef at)
    {
        if (KernelRepository.BlobId(at.Commit, "Makefile") is not { } blob) return null;
        var text = repo.ReadText(blob);
        var version = MakefileVariable().Matches(text).Where(m => m.Groups[1].Value == "VERSION").Select(m => m.Groups[2].Value).FirstOrDefault();
        var patch = MakefileVariable().Matches(text).Where(m => m.Groups[1].Value == "PATCHLEVEL").Select(m => m.Groups[2].Value).FirstOrDefault();
        return version is null || patch is null ? null : $"{version}.{patch}";
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"(?m)^(VERSION|PATCHLEVEL)\s*=\s*([0-9]{1,3})\s*$")]
    private static partial System.Text.RegularExpressions.Regex MakefileVariable();

    [System.Text.RegularExpressions.GeneratedRegex("^[0-9a-f]{12,40}$")]
    private static partial System.Text.RegularExpressions.Regex CommitId();

    [System.Text.RegularExpressions.GeneratedRegex(@"^[1-9][0-9]?\.[0-9]{1,2}$")]
    private static partial System.Text.RegularExpressions.Regex ReleaseNumber();

    /// <summary>
    /// An origin value: the command line's, else the one already in module.yaml (set by hand or by an
    /// earlier import: never overwritten; what import found instead goes to <paramref name="keptByHand"/>),
    /// else what import found.
    /// </summary>
    private static string? Choose(string key, string? given, string? recorded, string? found, List<string> keptByHand, Func<string, string, bool> same)
    {
        if (given is not null) return given;
        if (recorded is null) return found;
        if (found is not null && found != recorded && !same(recorded, found))
            keptByHand.Add($"kept upstream.{key} {recorded} as written; import found {found}: pass --{key}={found} to take it");
        return recorded;
    }

    /// <summary>The entry of <paramref name="kfunc"/> in a module's kfuncs list, if any.</summary>
    private static YamlMappingNode? EntryOf(YamlSequenceNode? kfuncs, string kfunc) =>
        kfuncs?.Children.OfType<YamlMappingNode>().FirstOrDefault(m => YamlTextEditor.Get(m, "name") is YamlScalarNode { Value: var n } && n == kfunc);

    /// <summary>upstream.commit and upstream.release of the kfunc's entry in an existing module.yaml, read leniently.</summary>
    private static (string? Commit, string? Release) Recorded(string moduleFile, string display, string kfunc)
    {
        if (!File.Exists(moduleFile)) return (null, null);
        var editor = YamlTextEditor.Parse(File.ReadAllText(moduleFile), display);
        var entry = EntryOf(YamlTextEditor.Get((YamlMappingNode)editor.Root, "kfuncs") as YamlSequenceNode, kfunc);
        var up = entry is null ? null : YamlTextEditor.Get(entry, "upstream") as YamlMappingNode;
        string? Scalar(string key) => up is not null && YamlTextEditor.Get(up, key) is YamlScalarNode { Value: { Length: > 0 } v } ? v : null;
        return (Scalar("commit"), Scalar("release"));
    }

    /// <summary>Walks the history of the definition's and registrations' files back to the commit where the kfunc first existed.</summary>
    public static Origin FindIntroduction(KernelRepository repo, UpstreamKfunc kfunc)
    {
        var paths = kfunc.Paths;
        var registering = kfunc.Registrations.Select(r => r.Path).ToHashSet(StringComparer.Ordinal);
        return History.FindOrigin(repo, kfunc.At.CommitId, paths, ids =>
        {
            if (ids[0] is null) return false;
            var texts = new CText?[paths.Count];
            CText Text(int i) => texts[i] ??= new CText(repo.ReadText(ids[i]!));
            if (KfuncSource.FindDefinition(Text(0), kfunc.Name) is not DefinitionLookup.Found) return false;
            for (var i = 0; i < paths.Count; i++)
                if (ids[i] is not null && registering.Contains(paths[i]) && KfuncSource.Registers(Text(i), kfunc.Name)) return true;
            return false;
        });
    }

    private static string ChooseModule(SourceTree tree, ImportRequest request)
    {
        var owner = Owner(tree, request.Kfunc);
        if (request.Module is not null)
        {
            if (owner is not null && owner != request.Module)
                throw new InputException(new Problem("--module", 0, 0, "",
                    $"kfunc '{request.Kfunc}' already belongs to module '{owner}' (kfunc-modules/{owner}/module.yaml); a kfunc belongs to one module: import into '{owner}' or move it first"));
            return request.Module;
        }
        if (owner is not null) return owner;
        var derived = request.Kfunc.ToLowerInvariant();
        if (Names.ModuleNameProblem(derived) is { } problem)
            throw new InputException(new Problem("--module", 0, 0, "", $"no module holds '{request.Kfunc}' yet and its name does not make a module name ({problem}); pass --module=<name>"));
        return derived;
    }

    /// <summary>The module whose module.yaml lists the kfunc, read leniently (only names), so a draft elsewhere does not block an import.</summary>
    private static string? Owner(SourceTree tree, string kfunc)
    {
        if (!Directory.Exists(tree.Modules)) return null;
        var problems = new List<Problem>();
        foreach (var dir in Directory.GetDirectories(tree.Modules).Order(StringComparer.Ordinal))
        {
            var file = Path.Combine(dir, "module.yaml");
            if (!File.Exists(file)) continue;
            var doc = Definitions.YamlDocument.Load(file, tree.Display(file), problems);
            if (doc?.Root is YamlMappingNode root && YamlTextEditor.Get(root, "kfuncs") is YamlSequenceNode kfuncs
                && kfuncs.Children.OfType<YamlMappingNode>().Any(k => YamlTextEditor.Get(k, "name") is YamlScalarNode { Value: var n } && n == kfunc))
                return Path.GetFileName(dir);
        }
        if (problems.Count > 0)
        {
            problems.Add(new Problem("--kfunc", 0, 0, "", $"import must read every module.yaml to learn which module holds '{kfunc}'; fix the files above first"));
            throw new InputException(problems);
        }
        return null;
    }

    private static List<string> YamlProgramTypes(UpstreamKfunc k)
    {
        var names = new List<string>();
        foreach (var r in k.Registrations)
            foreach (var call in r.Calls)
            {
                var known = ProgramType.Known.Values.FirstOrDefault(p => p.KernelEnum == call.ProgramType)
                    ?? throw new InputException(new Problem(k.At.At(r.Path), call.Line, 1, "",
                        $"{k.Name} is registered for {call.ProgramType}, a program type KfuncForge does not know yet (known: {string.Join(", ", ProgramType.Known.Values.Select(p => p.KernelEnum))}); add it to Model/ProgramType.cs"));
                if (!names.Contains(known.Name)) names.Add(known.Name);
            }
        return names;
    }

    private static void CheckWritable(UpstreamKfunc u, ImportedKfunc k)
    {
        var problems = new List<Problem>();
        foreach (var r in u.Registrations)
            foreach (var flag in r.Flags.Where(f => !KfuncFlags.Known.Contains(f)))
                problems.Add(new Problem(u.At.At(r.Path), r.Line, 1, "",
                    $"{u.Name} carries the flag {flag}, which KfuncForge does not know yet (known: {string.Join(", ", KfuncFlags.Known.Order(StringComparer.Ordinal))}); add it to Definitions/KfuncFlags.cs"));
        if (!ModuleValidator.Prototype().IsMatch(k.Prototype))
            problems.Add(new Problem(u.At.At(u.DefinitionPath), u.Definition.Line, 1, "",
                $"the prototype '{k.Prototype}' cannot be written as a module.yaml prototype (arguments with parentheses, such as function pointers, are not supported); write its entry by hand"));
        if (problems.Count > 0) throw new InputException(problems);
    }

    private static string Edit(string text, string display, ImportedKfunc k, UpstreamKfunc upstream, List<string> changed, out ModuleChange change)
    {
        var editor = YamlTextEditor.Parse(text, display);
        var root = (YamlMappingNode)editor.Root;
        if (YamlTextEditor.Get(root, "kfuncs") is not YamlSequenceNode kfuncs)
            throw new InputException(new Problem(display, (int)root.Start.Line, (int)root.Start.Column, "kfuncs", "no 'kfuncs' list to import into; add 'kfuncs:' with at least one entry or remove the file to get a draft"));
        var entry = EntryOf(kfuncs, k.Name);
        if (entry is null)
        {
            editor.Append(kfuncs, ModuleDraft.Entry(k, upstream), display);
            changed.Add("kfuncs");
            change = ModuleChange.KfuncAdded;
            return Checked(editor.Apply(), display, k);
        }
        if (YamlTextEditor.Get(entry, "upstream") is not YamlMappingNode up)
            throw new InputException(new Problem(display, (int)entry.Start.Line, (int)entry.Start.Column, "upstream",
                $"kfunc '{k.Name}' has no 'upstream:' mapping to update; add 'upstream: {{release: \"x.y\", commit: \"...\"}}' or remove the entry to import it afresh"));

        if (editor.SetScalar(entry, "prototype", k.Prototype, afterKey: "name")) changed.Add("prototype");
        if (k.Release is not null && editor.SetScalar(up, "release", k.Release)) changed.Add("upstream.release");
        // An abbreviated id of the same commit stays as written.
        var oldCommit = (YamlTextEditor.Get(up, "commit") as YamlScalarNode)?.Value;
        if (!(oldCommit is { Length: >= 7 } && k.Commit.StartsWith(oldCommit, StringComparison.Ordinal)) && editor.SetScalar(up, "commit", k.Commit, "release"))
            changed.Add("upstream.commit");
        if (editor.SetScalar(up, "path", k.Path, "commit")) changed.Add("upstream.path");
        if (editor.SetScalar(up, "ref", k.Ref, "path")) changed.Add("upstream.ref");
        if (editor.SetScalar(up, "body_sha256", k.BodySha256, "ref")) changed.Add("upstream.body_sha256");
        if (editor.SetList(up, "btf_sets", k.BtfSets, addWhenEmpty: true, afterKey: "body_sha256")) changed.Add("upstream.btf_sets");
        if (editor.SetList(up, "filters", k.Filters, addWhenEmpty: false, afterKey: "btf_sets")) changed.Add("upstream.filters");
        if (editor.SetList(entry, "flags", k.Flags, addWhenEmpty: false, afterKey: "upstream")) changed.Add("flags");
        if (editor.SetList(entry, "program_types", k.ProgramTypes, addWhenEmpty: true, afterKey: "flags")) changed.Add("program_types");
        change = changed.Count > 0 ? ModuleChange.Updated : ModuleChange.Unchanged;
        return changed.Count > 0 ? Checked(editor.Apply(), display, k) : text;
    }

    // The edited text must parse and read back the values just written; otherwise nothing is written.
    private static string Checked(string text, string display, ImportedKfunc k)
    {
        var editor = YamlTextEditor.Parse(text, display);
        var entry = EntryOf(YamlTextEditor.Get((YamlMappingNode)editor.Root, "kfuncs") as YamlSequenceNode, k.Name);
        string? Scalar(YamlMappingNode? m, string key) => m is null ? null : (YamlTextEditor.Get(m, key) as YamlScalarNode)?.Value;
        IEnumerable<string> List(YamlMappingNode? m, string key) =>
            ((m is null ? null : YamlTextEditor.Get(m, key) as YamlSequenceNode)?.Children.OfType<YamlScalarNode>().Select(s => s.Value ?? "") ?? []).Order(StringComparer.Ordinal);
        var up = entry is null ? null : YamlTextEditor.Get(entry, "upstream") as YamlMappingNode;
        var ok = entry is not null
            && Scalar(entry, "prototype") == k.Prototype
            && Scalar(up, "ref") == k.Ref
            && Scalar(up, "body_sha256") == k.BodySha256
            && List(entry, "program_types").SequenceEqual(k.ProgramTypes.Order(StringComparer.Ordinal))
            && List(entry, "flags").SequenceEqual(k.Flags.Order(StringComparer.Ordinal));
        if (!ok) throw new StageException($"editing {display} did not produce the values import meant to write; nothing was written. This is a bug in KfuncForge: please report it with the file.");
        return text;
    }

    private static List<string> Todo(SourceTree tree, string moduleFile, string moduleDir, string module, ImportedKfunc k, bool addsVariant)
    {
        var todo = new List<string>();
        if (addsVariant)
            todo.Add($"write the backport of {k.Name} in {tree.Display(Path.Combine(moduleDir, ModuleDraft.VariantFile(k.Name)))} (its #error stops the build until then), then narrow the '{ModuleDraft.DraftVariant}' variant's kernels");
        if (k.Release is null)
            todo.Add($"set upstream.release of {k.Name} (or pass --release=<x.y>): no vX.Y tag in the repository contains {k.Commit[..Math.Min(12, k.Commit.Length)]}");
        foreach (var filter in k.Filters)
            todo.Add($"upstream restricts {k.Name} with the filter {filter}(); describe that in its attach_restriction");
        var problems = new List<Problem>();
        var doc = DocumentReader.Read<ModuleDocument>(moduleFile, tree.Display(moduleFile), problems);
        if (doc is not null) ModuleValidator.Validate(doc, moduleDir, module, problems);
        foreach (var p in problems) todo.Add($"fix {p}");
        return todo;
    }

    private static void WriteAtomically(string path, string text)
    {
        var temp = path + ".import-tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }
}
