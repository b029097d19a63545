using KfuncForge.Definitions;
using KfuncForge.Diagnostics;
using KfuncForge.Fidelity;
using KfuncForge.Vm;

namespace KfuncForge.Cli.Commands;

/// <summary>
/// Runs every module's fidelity suite on the reference kernels of several profiles (native and backport)
/// in QEMU and compares each case across kernels; writes fidelity.json and fidelity.md.
/// </summary>
public sealed class FidelityCommand : ICommand
{
    public string Name => "fidelity";
    public string Summary => "run the fidelity suites on native and backport kernels (--distros, default debian12,debian13); report in <out>/fidelity/";
    public IReadOnlyCollection<string> Accepts => [.. SmokeSetup.Options.Where(o => o != "distro" && o != "kernel" && o != "index"), "distros", "console", "container", "skip-build", "skip-load",
        "previous", "threshold", "upstream", "ref"];

    /// <summary>How much an instruction-time figure may grow against the previous report before it is a regression, in percent.</summary>
    public const double DefaultThresholdPercent = 10;

    public int Run(CommandContext context)
    {
        var distros = (context.Options.Get("distros") ?? string.Join(',', FidelityRun.DefaultDistros))
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToList();
        // Every id and the comparison options (and the previous report) are checked before anything is built, so a typo costs no build.
        var comparison = Comparison(context);
        var known = Catalog.Load(context.Tree).Distros.Select(d => d.Id).ToList();
        if (distros.Count == 0)
            throw new InputException(new Problem("--distros", 0, 0, "", $"names no distro; give a comma-separated list of profiles, e.g. --distros={string.Join(',', FidelityRun.DefaultDistros)}"));
        if (distros.Where(d => !known.Contains(d)).ToList() is { Count: > 0 } unknown)
            throw new InputException(new Problem("--distros", 0, 0, "", $"unknown distro id {string.Join(", ", unknown.Select(u => $"'{u}'"))}; known: {string.Join(", ", known)} (one per distros/<id>.yaml)"));
        // Upstream's selftests (--upstream, --ref) are read before anything is built, so a wrong path or ref costs no build.
        var selftests = Selftests(context);
        // Each profile's kernels are fetched and its modules built first (the build index is the hand-over), unless --skip-build.
        if (!context.Options.Flag("skip-build"))
            foreach (var d in distros)
            {
                context.Out.WriteLine($"fidelity: building for {d}");
                var profile = Pipeline.Selection.Resolve(context.Tree, d, context.Options.Get("module"), null);
                var built = Pipeline.BuildStage.RunAsync(BuildCommand.Request(context, profile), context.Out.WriteLine).GetAwaiter().GetResult();
                context.Out.Write(Compilation.BuildSummary.Format(built.Cells));
                if (built.Failed) return ExitCodes.Failed;
            }
        var content = context.Options.Flag("skip-load") ? BootContent.FidelityCasesOnly : BootContent.Fidelity;
        var setups = distros.Select(d => SmokeSetup.Prepare(context, "fidelity", content, d, FidelityRun.KernelArguments, FidelityRun.TimeoutSeconds, sharedFolder: true, selftests: selftests)).ToList();
        var workDir = setups[0].WorkDir;
        var boots = setups.SelectMany(s => s.Boots).ToList();
        context.Out.WriteLine($"fidelity: {boots.Count} kernels of {string.Join(", ", distros)}; logs in {workDir}");
        var gate = new Lock();
        Action<VmEvent>? live = context.Options.Flag("console")
            ? e => { if (e is ConsoleLine c) lock (gate) context.Out.WriteLine($"{c.BootId} | {c.Text}"); }
            : null;
        var run = setups[0].Session.RunAsync(boots, v => { lock (gate) context.Out.WriteLine(SmokeReport.Line(v)); }, live).GetAwaiter().GetResult();
        File.WriteAllText(Path.Combine(workDir, "boots.json"), SmokeReport.Json(SmokeReport.Run(run, string.Join(",", distros), workDir)));

        var modules = Catalog.Load(context.Tree).SelectModules(context.Options.Get("module"));
        var result = FidelityJudge.Judge(modules, run.Verdicts);
        if (selftests is not null) result = result with { Selftests = SelftestJudge.Judge(selftests, run.Verdicts) };
        if (content == BootContent.Fidelity && context.Options.OnOff("icount", true))
            result = result with { InstructionTime = InstructionTimeRun(context, distros, comparison) };
        var json = FidelityReport.Json(result);
        var selection = new System.Text.Json.Nodes.JsonObject();
        foreach (var s in setups) s.AddTo((System.Text.Json.Nodes.JsonObject)(selection[s.Distro] = new System.Text.Json.Nodes.JsonObject()));
        json["kernel_selection"] = selection;
        File.WriteAllText(Path.Combine(workDir, "fidelity.json"), SmokeReport.Json(json));
        var markdown = FidelityReport.Markdown(result);
        File.WriteAllText(Path.Combine(workDir, "fidelity.md"), markdown);
        context.Out.WriteLine();
        foreach (var k in result.Kernels)
        {
            var cells = result.Cases.SelectMany(c => c.Kernels).Where(c => c.Kernel == k.Release).ToList();
            context.Out.WriteLine($"{k.Release,-24} same {cells.Count(c => c.Status == CaseStatus.Same),4}  declared {cells.Count(c => c.Status == CaseStatus.Declared),4}  differs {cells.Count(c => c.Status == CaseStatus.Differs),4}  error {cells.Count(c => c.Status == CaseStatus.Error),3}  skipped {cells.Count(c => c.Status == CaseStatus.Skipped),3}");
        }
        if (result.Selftests is { } st)
        {
            foreach (var (kernel, n) in SelftestReport.Totals(st))
                context.Out.WriteLine($"{kernel,-24} upstream selftests: passed {n[SelftestStatus.Passed],3}  declared {n[SelftestStatus.Declared],3}  failed {n[SelftestStatus.Failed],3}  not run {n[SelftestStatus.NotRun],3}  skipped {n[SelftestStatus.Skipped],3}");
            foreach (var p in st.Programs)
                foreach (var k in p.Kernels.Where(k => k.Status == SelftestStatus.Failed))
                    context.Out.WriteLine($"FAIL upstream selftest {p.Module} {Path.GetFileName(p.File)} {p.Program} on {k.Kernel}: {k.Message}");
        }
        foreach (var f in result.BootFailures)
            context.Out.WriteLine($"FAIL {f.Kernel} {f.Module} {f.Kind} {f.Name}: {f.Reason}: {f.Message}");
        foreach (var c in result.Cases.Where(c => !c.Passed))
            foreach (var k in c.Kernels.Where(k => k.Status is CaseStatus.Differs or CaseStatus.Error))
                context.Out.WriteLine($"FAIL {c.Module}/{c.Name} on {k.Kernel}: {k.Message}");
        var unavailable = setups.Any(s => s.Unavailable.Count > 0);
        var kernelsText = string.Concat(setups.SelectMany(s => s.Unavailable.Select(u => $"- {s.Distro} {u.Kernel}: **unavailable**, not run this time (tried again on the next run): {u.Reason}\n")
            .Concat(s.Notes.Select(n => $"- {s.Distro}: note: {n}\n"))));
        if (kernelsText.Length > 0)
        {
            File.AppendAllText(Path.Combine(workDir, "fidelity.md"), "\n## Kernel selection\n\n" + kernelsText);
            context.Out.Write(string.Concat(setups.Select(s => s.KernelSelectionText())));
        }
        if (result.InstructionTime is { } it)
        {
            foreach (var g in it.Regressions)
                context.Out.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"FAIL {g.Module}/{g.Step} on {g.Kernel}: instruction time per call grew {g.Growth:0.0%} ({g.PreviousNs:0.#} → {g.CurrentNs:0.#} ns) against {it.Baseline}"));
            foreach (var f in it.Failures)
                context.Out.WriteLine($"FAIL {f.Kernel} {f.Module} {f.Kind} {f.Name}: {f.Reason}: {f.Message}");
        }
        context.Out.WriteLine($"fidelity: {(result.Passed ? "pass" : "FAIL")}{(unavailable ? " (some kernels unavailable)" : "")}; report: {Path.Combine(workDir, "fidelity.md")}");
        return result.Passed ? ExitCodes.Passed(unavailable) : ExitCodes.Failed;
    }

    /// <summary>
    /// --upstream=&lt;kernel repository&gt; --ref=&lt;tag or commit&gt;: the selftest files that call the selected modules'
    /// kfuncs, written under &lt;out&gt;/fidelity/upstream-selftests (docs/fidelity.md); null without --upstream.
    /// </summary>
    private static Upstream.SelftestTree? Selftests(CommandContext context)
    {
        var o = context.Options;
        if (o.Get("upstream") is not { } upstream)
            return o.Get("ref") is null ? null
                : throw new InputException(new Problem("--ref", 0, 0, "", "--ref names a ref of the upstream tree; give the tree too (--upstream=<kernel repository>)"));
        if (o.Get("ref") is not { } reference)
            throw new InputException(new Problem("--upstream", 0, 0, "", "fidelity with --upstream needs --ref=<tag or commit> of that tree (e.g. --ref=v6.18)"));
        var kfuncs = Catalog.Load(context.Tree).SelectModules(o.Get("module")).SelectMany(m => m.Kfuncs).Select(k => k.Name).ToList();
        var tree = Upstream.UpstreamSelftests.Extract(upstream, reference, kfuncs, Path.Combine(context.Layout.Fidelity, "upstream-selftests"));
        context.Out.WriteLine($"fidelity: upstream selftests from {upstream} at {tree.Ref}: {tree.Files.Count} files call the modules' kfuncs"
            + (tree.Files.Count == 0 ? "" : $" ({string.Join(", ", tree.Files.Select(f => f.Stem + (f.NotRun is null ? "" : " (not run)")))})"));
        return tree;
    }

    /// <summary>What this run's instruction-time figures are compared with: the report, its figures (read now, before this run replaces it), the threshold.</summary>
    private sealed record PreviousReport(string? Path, IReadOnlyDictionary<(string Module, string Step, string Kernel), double> Figures, double ThresholdPercent);

    /// <summary>--threshold (percent) and --previous (default: the fidelity.json this run replaces; none: no comparison), checked before anything boots.</summary>
    private static PreviousReport Comparison(CommandContext context)
    {
        var o = context.Options;
        var threshold = o.Get("threshold") is null ? DefaultThresholdPercent : MatrixOptions.Threshold(o.Get("threshold"));
        var given = o.Get("previous");
        if (given == "none") return new PreviousReport(null, new Dictionary<(string, string, string), double>(), threshold);
        var path = Path.GetFullPath(given ?? Path.Combine(context.Layout.Fidelity, "fidelity.json"));
        if (!File.Exists(path))
            return given is null ? new PreviousReport(path, new Dictionary<(string, string, string), double>(), threshold)
                : throw new InputException(new Problem("--previous", 0, 0, "", $"{path} does not exist; give an earlier fidelity.json, or --previous=none"));
        try
        {
            var report = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path)) ?? throw new System.Text.Json.JsonException("empty");
            return new PreviousReport(path, FidelityReport.PreviousInstructionTimes(report), threshold);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InputException(new Problem(path, 0, 0, "", $"is not a fidelity.json ({e.Message.Split('\n')[0]}); give an earlier report with --previous=<file>, or --previous=none"));
        }
    }

    /// <summary>
    /// The second boot per kernel: only the test_run load steps, under QEMU's instruction counting (docs/fidelity.md),
    /// compared with the previous report (--previous, else the fidelity.json this run replaces; --previous=none: no comparison).
    /// </summary>
    private static InstructionTime InstructionTimeRun(CommandContext context, IReadOnlyList<string> distros, PreviousReport comparison)
    {
        var (previousPath, previous, threshold) = comparison;
        var setups = distros.Select(d => SmokeSetup.Prepare(context, Path.Combine("fidelity", "instruction-time"), BootContent.FidelityInstructionTime, d,
            FidelityRun.KernelArguments, FidelityRun.TimeoutSeconds, sharedFolder: true)).ToList();
        var boots = setups.SelectMany(s => s.Boots).ToList();
        context.Out.WriteLine($"fidelity: instruction-time boots (-icount) of {boots.Count} kernels; logs in {setups[0].WorkDir}");
        var session = new SmokeSession(setups[0].Tools, setups[0].Vms, setups[0].Session.Options with { InstructionCount = true });
        var run = session.RunAsync(boots, v => context.Out.WriteLine("instruction time: " + SmokeReport.Line(v))).GetAwaiter().GetResult();
        var it = FidelityJudge.JudgeInstructionTime(run.Verdicts);
        var baseline = previous.Count == 0
            ? previousPath is null ? "nothing (--previous=none)" : $"nothing ({previousPath} absent or without instruction-time figures)"
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{previousPath}, threshold {threshold}%");
        var (compared, identical) = FidelityJudge.Agreement(it, previous);
        if (compared > 0) context.Out.WriteLine($"instruction time: {identical} of {compared} per-call figures identical to {previousPath}");
        return it with { Regressions = FidelityJudge.Regressions(it, previous, threshold / 100), Baseline = baseline, Compared = compared, Identical = identical };
    }
}
