using System.Text.Json.Nodes;
using KfuncForge.Kernels;
using KfuncForge.Vm;

namespace KfuncForge.Pipeline;

/// <summary>What a SmokeTest run boots: the boot plans of one distro, the session that boots them, and the kernels left out.</summary>
public sealed record SmokeBoots(string Distro, string WorkDir, GuestTools Tools, IVmRunner Vms, SmokeSession Session, IReadOnlyList<BootPlan> Boots,
    IReadOnlyList<UnavailableKernel> Unavailable, IReadOnlyList<string> Notes)
{
    /// <summary>The build index's unavailable kernels and resolution notes as report lines.</summary>
    public string KernelSelectionText() =>
        string.Concat(Unavailable.Select(u => $"kernel {u.Kernel}: UNAVAILABLE: {u.Reason}\n")) + string.Concat(Notes.Select(n => $"note: {n}\n"));

    /// <summary>The same for results.json.</summary>
    public void AddTo(JsonObject report)
    {
        report["unavailable"] = new JsonArray([.. Unavailable.Select(u => (JsonNode)new JsonObject { ["kernel"] = u.Kernel, ["reason"] = u.Reason })]);
        report["notes"] = new JsonArray([.. Notes.Select(n => (JsonNode)n)]);
    }
}

/// <summary>What a SmokeTest run did: whether every cell passed, and where its results are.</summary>
public sealed record SmokeOutcome(bool Passed, string Summary, string Results);

/// <summary>
/// The SmokeTest stage: boots whose every input passed before are taken from the store (SmokeReuse), the others are
/// booted; each boot's record goes to results.jsonl as it ends, a passing boot is stored, the modules that passed are
/// recorded by their bytes (smoke-passed.json, what Package publishes), and results.json and summary.txt are written.
/// </summary>
public static class SmokeStage
{
    public static SmokeOutcome Run(SmokeBoots setup, ArtifactsLayout layout, Action<string> log, Action<VmEvent>? live = null)
    {
        var results = Path.Combine(setup.WorkDir, "results.jsonl");
        File.Delete(results);
        log($"smoke: {setup.Boots.Count} kernels of {setup.Distro}; logs in {setup.WorkDir}");
        var store = new StageStore(layout.Store);
        var (toBoot, reused) = SmokeReuse.Split(store, setup.Boots, setup.Session.Options);
        foreach (var r in reused)
        {
            log($"{r.Line} [reused: passed before with exactly these inputs, key {r.Key[..12]}]");
            File.AppendAllText(results, r.Record + "\n");
        }
        var gate = new Lock();
        var run = setup.Session.RunAsync(toBoot, v =>
        {
            var record = SmokeReport.Boot(v, setup.WorkDir).ToJsonString();
            var line = SmokeReport.Line(v);
            lock (gate) log(line);
            File.AppendAllText(results, record + "\n");
            SmokeReuse.Keep(store, v, setup.Session.Options, record, line);
        }, live is null ? null : e => { lock (gate) live(e); }).GetAwaiter().GetResult();

        // What passed, by the bytes of the module the guest loaded: Package publishes nothing else (docs/smoke.md).
        static IEnumerable<(string Module, string Ko)> Built(BootPlan plan, IEnumerable<string> modules) =>
            modules.Select(m => (Module: m, Ko: plan.Modules.FirstOrDefault(x => x.Kind == GuestModuleKind.Built && x.Name == m)?.KoPath)).Where(x => x.Ko is not null)!;
        SmokePasses.Record(layout.SmokePasses(setup.Distro),
            run.Verdicts.SelectMany(v => Built(v.Plan, v.Cells.Select(c => c.Module)).Select(x => (new SmokePass(v.Plan.Kernel.Release, x.Module, SmokePasses.ModuleSha256(x.Ko)), v.Cells.First(c => c.Module == x.Module).Passed)))
                .Concat(reused.SelectMany(r => Built(r.Plan, r.Plan.CellModules).Select(x => (new SmokePass(r.Plan.Kernel.Release, x.Module, SmokePasses.ModuleSha256(x.Ko)), true)))));

        var report = SmokeReport.Run(run, setup.Distro, setup.WorkDir);
        setup.AddTo(report);
        report["reused"] = new JsonArray([.. reused.Select(r => JsonNode.Parse(r.Record))]);
        var options = setup.Session.Options;
        var summary = (toBoot.Count == 0 && reused.Count > 0 ? $"Smoke test of {setup.Distro}: no kernel booted, every boot's inputs passed before\n" : SmokeReport.Summary(run, setup.Distro))
            + (reused.Count > 0 ? $"reused: {string.Join(", ", reused.Select(r => r.Plan.Kernel.Release))} passed before with exactly these inputs (not booted again)\n" : "")
            + setup.KernelSelectionText()
            + (options.SecureBoot is null ? "" : $"secure boot: on; {SecureBootFirmware.Caveat}\n")
            + (options.InstructionCount ? $"load figures: {Fidelity.FidelityReport.InstructionTimeUnit}\n" : "");
        report["secure_boot"] = options.SecureBoot is not null;
        report["instruction_count"] = options.InstructionCount;
        var json = Path.Combine(setup.WorkDir, "results.json");
        File.WriteAllText(json, SmokeReport.Json(report));
        File.WriteAllText(Path.Combine(setup.WorkDir, "summary.txt"), summary);
        return new SmokeOutcome(toBoot.Count == 0 ? reused.Count > 0 : run.Passed, summary, json);
    }
}
