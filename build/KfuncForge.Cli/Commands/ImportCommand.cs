using KfuncForge.Diagnostics;
using KfuncForge.Upstream;

namespace KfuncForge.Cli.Commands;

/// <summary>Reads one kfunc from a kernel git repository at a ref and writes its provenance into kfunc-modules/&lt;module&gt;/module.yaml.</summary>
public sealed class ImportCommand : ICommand
{
    public string Name => "import";
    public string Summary => "read a kfunc from a kernel git repository at a ref; write or update its module.yaml";
    public IReadOnlyCollection<string> Accepts => ["upstream", "ref", "kfunc", "module", "commit", "release", "distro", "cache"];

    public int Run(CommandContext context)
    {
        var o = context.Options;
        var missing = new List<Problem>();
        if (o.Get("upstream") is null) missing.Add(new Problem("command line", 0, 0, "", "import needs --upstream=<path to a kernel git repository>"));
        if (o.Get("ref") is null) missing.Add(new Problem("command line", 0, 0, "", "import needs --ref=<tag or commit> (e.g. --ref=v6.17)"));
        if (o.Get("kfunc") is null) missing.Add(new Problem("command line", 0, 0, "", "import needs --kfunc=<name> (e.g. --kfunc=bpf_strlen)"));
        if (missing.Count > 0) throw new InputException(missing);

        var r = Importer.Run(context.Tree, new ImportRequest(o.Get("upstream")!, o.Get("ref")!, o.Get("kfunc")!, o.Get("module"), o.Get("commit"), o.Get("release")));
        var u = r.Upstream;
        var w = context.Out;
        w.WriteLine($"import: {u.Name} from {o.Get("upstream")} at {u.At.Name} ({u.At.CommitId[..12]})");
        w.WriteLine($"  defined:      {u.DefinitionPath}:{u.Definition.Line}");
        w.WriteLine($"  prototype:    {u.Prototype}");
        w.WriteLine($"  flags:        {(u.Flags.Count == 0 ? "(none)" : string.Join(" | ", u.Flags))}");
        foreach (var reg in u.Registrations)
        {
            var filters = reg.IdSets.Select(s => s.Filter).OfType<string>().ToList();
            w.WriteLine($"  registered:   {reg.Path}:{reg.Line} in set {reg.BtfSet} via {string.Join(", ", reg.IdSets.Select(s => s.Variable))} for {string.Join(", ", reg.Calls.Select(c => c.ProgramType))}"
                + (filters.Count > 0 ? $"; filter {string.Join(", ", filters)}" : "")
                + (reg.Conditions.Count > 0 ? $"; only when {string.Join(" && ", reg.Conditions)}" : ""));
        }
        w.WriteLine($"  program types: {string.Join(", ", r.Written.ProgramTypes)}");
        w.WriteLine($"  body sha256:  {r.Written.BodySha256}");
        var c = r.Introduced.Commit;
        w.WriteLine(r.Snapshot
            ? $"  introduced:   not in this repository: its history starts at {c.Short} \"{c.Subject}\", which already has {u.Name} (a snapshot or shallow clone); recorded commit {r.Written.Commit}"
            : $"  introduced:   {c.Short} \"{c.Subject}\" ({c.When:yyyy-MM-dd}); {(r.ReleaseTag is null ? "no release tag contains it" : $"first in {r.ReleaseTag} -> release {r.Written.Release}")}");
        w.WriteLine($"  cost:         scanned {r.Scan.FilesRead} C files ({r.Scan.BytesRead / (1024 * 1024)} MiB) in {r.Scan.Elapsed.TotalSeconds:F1} s; walked {r.Introduced.CommitsVisited} commits ({r.Introduced.FileVersionsParsed} file versions parsed) in {r.Introduced.Elapsed.TotalSeconds:F1} s; total {r.Elapsed.TotalSeconds:F1} s");
        var todo = r.Todo.ToList();
        var calls = UpstreamCalls.Of(u);
        w.WriteLine($"  calls:        {(calls.Count == 0 ? "(none)" : string.Join(", ", calls))}");
        var distro = o.Get("distro", "debian12");
        var kernels = UpstreamCalls.CachedKernels(new Caching.CacheDirectory(o.Get("cache") ?? Caching.CacheDirectory.DefaultRoot()).Kernels, distro);
        if (kernels.Count == 0)
            w.WriteLine($"  checked:      no {distro} kernel is fetched yet; run Fetch (--distro={distro}) and import again to check these calls against what each kernel exports");
        else
        {
            var unreachable = UpstreamCalls.Check(calls, kernels, out var unread);
            var checkedKernels = kernels.Select(k => k.Release).Where(r => !unread.Any(x => x.StartsWith(r + ":", StringComparison.Ordinal))).ToList();
            foreach (var x in unread) w.WriteLine($"  not checked:  {x}");
            if (checkedKernels.Count > 0)
                w.WriteLine($"  checked:      against the fetched {distro} kernels {string.Join(", ", checkedKernels)}: " +
                    (unreachable.Count == 0 ? "every call is exported or defined in their headers" : $"{unreachable.Count} the backport will have to replace"));
            foreach (var call in unreachable) w.WriteLine($"    {call}");
            if (unreachable.Count > 0)
                todo.Add($"replace the calls a module cannot make on the {distro} kernels: {string.Join(", ", unreachable.Select(c => c.Name))} (docs/add-a-kfunc.md)");
        }
        using (var repo = KernelRepository.Open(o.Get("upstream")!))
        {
            // Upstream's own tests for the kfunc: the second oracle the Fidelity target can run (docs/fidelity.md).
            var selftests = UpstreamSelftests.Find(repo, repo.Resolve(o.Get("ref")!), [u.Name]);
            w.WriteLine(selftests switch
            {
                null => $"  selftests:    none ({UpstreamSelftests.ProgsPath} is not in the tree at {u.At.Name})",
                { Count: 0 } => $"  selftests:    no program in {UpstreamSelftests.ProgsPath} calls {u.Name}",
                _ => $"  selftests:    {string.Join(", ", selftests.Select(f => Path.GetFileName(f.Source) + (f.NotRun is null ? "" : " (not annotation-driven)")))}; "
                    + $"run them on every kernel with: dotnet cake --target=Fidelity --upstream={o.Get("upstream")} --ref={o.Get("ref")}",
            });
        }
        w.WriteLine(r.Change switch
        {
            ModuleChange.Created => $"created {r.ModuleFile} (draft module '{r.Module}')",
            ModuleChange.KfuncAdded => $"added {u.Name} to {r.ModuleFile}",
            ModuleChange.Updated => $"updated {r.ModuleFile}: {string.Join(", ", r.ChangedFields)}",
            _ => $"{r.ModuleFile} already matches upstream; nothing written",
        });
        foreach (var f in r.CreatedFiles.Where(f => f != r.ModuleFile)) w.WriteLine($"created {f}");
        foreach (var k in r.Kept) w.WriteLine(k);
        foreach (var f in r.KeptFiles) w.WriteLine($"kept {f} (exists; import never overwrites implementation files)");
        if (todo.Count > 0)
        {
            w.WriteLine("still to do:");
            foreach (var t in todo) w.WriteLine($"  - {t}");
        }
        return ExitCodes.Ok;
    }
}
