using System.Text.Json;
using KfuncForge.Matrix;
using KfuncForge.Vm;

namespace KfuncForge.Pipeline;

/// <summary>A boot not run again: its plan and the stored record of the run that passed with the same inputs.</summary>
public sealed record ReusedBoot(BootPlan Plan, string Key, string Record, string Line);

/// <summary>
/// SmokeTest results keyed by their inputs (StageStore "smoke"): a boot that passed is kept under a key over
/// everything it tested: the boot plan (kernel, modules, programs, expectations), the bytes of the kernel
/// image, of each module and of each BPF object, the guest options that change what runs (accelerator, memory,
/// Secure Boot and its certificate, instruction counting, kernel arguments, busybox, agent source) and the
/// engine. A later run with the same key takes the stored record instead of booting again; any change, or a
/// boot that failed, boots.
/// </summary>
public static class SmokeReuse
{
    public const string Stage = "smoke";
    private const string RecordFile = "boot.json";
    private const string LineFile = "line.txt";

    public static string BootKey(BootPlan plan, SmokeOptions options)
    {
        var files = new[] { plan.Kernel.Image, plan.Kernel.BootImage }
            .Concat(plan.Modules.Select(m => m.KoPath)).Concat(plan.Smoke.Select(s => s.Object)).Concat(plan.Loads.Select(l => l.Object))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        return CellKey.Of(new Dictionary<string, string>
        {
            ["engine"] = StageKeys.Engine,
            ["plan"] = CellKey.Digest(JsonSerializer.Serialize(plan)),
            ["files"] = CellKey.Digest(string.Concat(files.Select(f => $"{f}\0{StageKeys.FileDigest(f)}\n"))),
            ["guest"] = CellKey.Digest(string.Join("\n", options.Accelerator, options.MemoryMiB, options.InstructionCount, options.Busybox, StageKeys.FileDigest(options.Busybox),
                string.Join(" ", options.KernelArguments), options.AgentSourceDir is { } a ? StageKeys.FileDigest(Path.Combine(a, GuestTools.AgentSourceFile)) : "embedded",
                options.SecureBoot is { } sb ? Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(sb.Certificate)) : "off")),
        });
    }

    /// <summary>The boots to run, and those whose inputs passed before (taken from the store).</summary>
    public static (IReadOnlyList<BootPlan> Run, IReadOnlyList<ReusedBoot> Reused) Split(StageStore store, IReadOnlyList<BootPlan> boots, SmokeOptions options)
    {
        var run = new List<BootPlan>();
        var reused = new List<ReusedBoot>();
        foreach (var boot in boots)
        {
            var key = BootKey(boot, options);
            if (store.Find(Stage, key) is { } dir)
                reused.Add(new ReusedBoot(boot, key, File.ReadAllText(Path.Combine(dir, RecordFile)), File.ReadAllText(Path.Combine(dir, LineFile))));
            else
                run.Add(boot);
        }
        return (run, reused);
    }

    /// <summary>Keeps a boot that passed, with its record (results.jsonl's line) and its one-line verdict.</summary>
    public static void Keep(StageStore store, BootVerdict verdict, SmokeOptions options, string record, string line)
    {
        if (!verdict.Passed || verdict.Cells.Count == 0) return;
        store.Put(Stage, BootKey(verdict.Plan, options), dir =>
        {
            File.WriteAllText(Path.Combine(dir, RecordFile), record);
            File.WriteAllText(Path.Combine(dir, LineFile), line);
        });
    }
}
