using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace KfuncForge.Vm;

/// <summary>Per-kernel medians of the sequential phase.</summary>
public sealed record KernelBench(
    string Release,
    int Samples,
    double BareBootSeconds,
    double HarnessSeconds,
    double BootSeconds,
    double GuestBootSeconds,
    double LoadSeconds,
    double TestsSeconds,
    double ImageSeconds,
    double OverheadSeconds,
    bool Passed)
{
    /// <summary>The same bare boot under instruction counting (-icount shift=0,sleep=off): what that mode costs in wall time.</summary>
    public double BareIcountBootSeconds { get; init; }

    public double IcountCost => BareBootSeconds > 0 ? BareIcountBootSeconds / BareBootSeconds : 0;

    // OverheadSeconds: what the harness adds beyond a bare boot of the same kernel and the guest's own
    // work, the median over rounds of (harness - bare - load - tests) measured back to back. Not
    // clamped: a value near zero or below says the difference is within the machine's noise.

    /// <summary>OverheadSeconds as a share of the bare boot.</summary>
    public double OverheadRatio => BareBootSeconds > 0 ? OverheadSeconds / BareBootSeconds : 0;
}

public sealed record BenchResult(AcceleratorChoice Accelerator, int Slots, int Rounds, IReadOnlyList<KernelBench> Kernels, int ParallelBoots, TimeSpan ParallelWall, int FailedBoots)
{
    /// <summary>Harness boots per hour with Slots VMs at once (the parallel phase).</summary>
    public double BootsPerHour => ParallelWall.TotalSeconds > 0 ? ParallelBoots / ParallelWall.TotalHours : 0;

    /// <summary>Harness boots per hour one at a time (from the sequential phase's medians).</summary>
    public double SequentialBootsPerHour => Kernels.Count == 0 ? 0 : 3600 / Kernels.Average(k => k.HarnessSeconds);
}

/// <summary>
/// Measures the harness on this machine. Sequential phase: for each kernel, alternately a bare boot
/// (busybox /init that reports once and powers off) and a full harness boot (image, QEMU, agent, all
/// tests, judgement), Rounds times, one VM at a time, so the two are measured under the same load.
/// Parallel phase: every kernel's harness boot Rounds times with the run's VM slots, for boots per hour.
/// </summary>
public sealed class SmokeBenchmark(SmokeSession session, GuestTools tools, IVmRunner vms)
{
    public async Task<BenchResult> RunAsync(IReadOnlyList<BootPlan> boots, int rounds, Action<string>? progress = null, CancellationToken cancellation = default)
    {
        var bootable = boots.Where(b => b.Kernel.Image.Length > 0).ToList();
        var agent = await tools.AgentAsync(session.Options.AgentSourceDir, cancellation).ConfigureAwait(false);
        var accel = await session.AcceleratorAsync(bootable, cancellation).ConfigureAwait(false);
        var bare = await session.Images.BuildBareAsync().ConfigureAwait(false);

        var samples = bootable.ToDictionary(b => b.Id, _ => new List<(double Bare, BootVerdict Harness, double HarnessWall, double BareIcount)>());
        for (var round = 0; round < rounds; round++)
            foreach (var plan in bootable)
            {
                var dir = Path.Combine(session.Options.WorkDir, "bench", SmokeSession.SafeName(plan.Id), $"bare-{round}");
                var shape = new VmShape(accel.Accelerator, session.Options.MemoryMiB);
                var b = await BareAsync(plan, bare, shape, dir, cancellation).ConfigureAwait(false);
                var bi = await BareAsync(plan, bare, shape with { InstructionCount = true }, dir + "-icount", cancellation).ConfigureAwait(false);
                var clock = Stopwatch.StartNew();
                var h = await session.BootAsync(plan, agent, accel.Accelerator, null, cancellation).ConfigureAwait(false);
                var wall = clock.Elapsed.TotalSeconds;
                samples[plan.Id].Add((b.Wall.TotalSeconds, h, wall, bi.Wall.TotalSeconds));
                progress?.Invoke(string.Create(CultureInfo.InvariantCulture, $"round {round + 1}/{rounds} {plan.Kernel.Release}: bare {b.Wall.TotalSeconds:0.00} s (-icount {bi.Wall.TotalSeconds:0.00} s), harness {wall:0.00} s ({(h.Passed ? "pass" : "FAIL")})"));
            }

        var kernels = bootable.Select(plan =>
        {
            var s = samples[plan.Id];
            return new KernelBench(plan.Kernel.Release, s.Count,
                Median(s.Select(x => x.Bare)), Median(s.Select(x => x.HarnessWall)),
                Median(s.Select(x => x.Harness.Timings?.HostFirstRecordSeconds ?? 0)),
                Median(s.Select(x => x.Harness.Timings?.GuestBootSeconds ?? 0)), Median(s.Select(x => x.Harness.Timings?.LoadSeconds ?? 0)),
                Median(s.Select(x => x.Harness.Timings?.TestsSeconds ?? 0)), Median(s.Select(x => x.Harness.Timings?.ImageSeconds ?? 0)),
                Median(s.Select(x => x.HarnessWall - x.Bare - (x.Harness.Timings?.LoadSeconds ?? 0) - (x.Harness.Timings?.TestsSeconds ?? 0))),
                s.All(x => x.Harness.Passed)) { BareIcountBootSeconds = Median(s.Select(x => x.BareIcount)) };
        }).ToList();

        var many = Enumerable.Range(0, rounds).SelectMany(r => bootable.Select(b => b with { Id = $"{b.Id}#{r}" })).ToList();
        var parallelClock = Stopwatch.StartNew();
        var run = await session.RunAsync(many, v => progress?.Invoke("parallel: " + SmokeReport.Line(v)), null, cancellation).ConfigureAwait(false);
        var parallelWall = parallelClock.Elapsed;
        return new BenchResult(accel, run.Slots, rounds, kernels, many.Count, parallelWall, run.Verdicts.Count(v => !v.Passed));
    }

    private async Task<BootResult> BareAsync(BootPlan plan, GuestImage bare, VmShape shape, string dir, CancellationToken cancellation)
    {
        var b = await vms.RunAsync(new BootRequest($"bare/{plan.Kernel.Release}", plan.Kernel.BootImage, bare.Path, shape, session.Options.Timeout, dir), null, cancellation).ConfigureAwait(false);
        return b.Hello is not null ? b
            : throw new InvalidOperationException($"the bare boot of {plan.Kernel.Release}{(shape.InstructionCount ? " under -icount" : "")} did not report ({b.Outcome}: {b.Detail}); see {b.Request.ConsoleLog}");
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToList();
        if (v.Count == 0) return 0;
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }

    public static JsonObject Json(BenchResult r) => new()
    {
        ["accelerator"] = new JsonObject { ["kind"] = SmokeReport.Name(r.Accelerator.Accelerator), ["reason"] = r.Accelerator.Reason },
        ["cores"] = Environment.ProcessorCount,
        ["vms_at_once"] = r.Slots,
        ["rounds"] = r.Rounds,
        ["boots_per_hour"] = Math.Round(r.BootsPerHour, 1),
        ["sequential_boots_per_hour"] = Math.Round(r.SequentialBootsPerHour, 1),
        ["parallel_boots"] = r.ParallelBoots,
        ["parallel_wall_seconds"] = Math.Round(r.ParallelWall.TotalSeconds, 3),
        ["failed_boots"] = r.FailedBoots,
        ["kernels"] = new JsonArray(r.Kernels.Select(k => (JsonNode)new JsonObject
        {
            ["release"] = k.Release,
            ["samples"] = k.Samples,
            ["bare_boot_seconds"] = Math.Round(k.BareBootSeconds, 3),
            ["bare_icount_boot_seconds"] = Math.Round(k.BareIcountBootSeconds, 3),
            ["icount_cost_ratio"] = Math.Round(k.IcountCost, 3),
            ["harness_seconds"] = Math.Round(k.HarnessSeconds, 3),
            ["boot_seconds"] = Math.Round(k.BootSeconds, 3),
            ["kernel_clock_boot_seconds"] = Math.Round(k.GuestBootSeconds, 3),
            ["load_seconds"] = Math.Round(k.LoadSeconds, 4),
            ["tests_seconds"] = Math.Round(k.TestsSeconds, 3),
            ["image_seconds"] = Math.Round(k.ImageSeconds, 3),
            ["overhead_seconds"] = Math.Round(k.OverheadSeconds, 3),
            ["overhead_ratio"] = Math.Round(k.OverheadRatio, 3),
            ["passed"] = k.Passed,
        }).ToArray()),
    };

    public static string Text(BenchResult r)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Smoke benchmark: {SmokeReport.Name(r.Accelerator.Accelerator).ToUpperInvariant()} ({r.Accelerator.Reason}), {Environment.ProcessorCount} cores, {r.Rounds} rounds\n");
        sb.Append(CultureInfo.InvariantCulture, $"Throughput: {r.BootsPerHour:0} harness boots/hour with {r.Slots} VMs at once ({r.ParallelBoots} boots in {r.ParallelWall.TotalSeconds:0.0} s, {r.FailedBoots} failed); {r.SequentialBootsPerHour:0} boots/hour one at a time\n\n");
        sb.Append("Per kernel, medians of the sequential phase (seconds):\n");
        sb.Append(CultureInfo.InvariantCulture, $"  {"kernel",-28} {"bare",6} {"harness",8} {"boot",6} {"(kclk)",6} {"load",6} {"tests",6} {"image",6} {"overhead",9} {"ratio",6}\n");
        foreach (var k in r.Kernels)
            sb.Append(CultureInfo.InvariantCulture, $"  {k.Release,-28} {k.BareBootSeconds,6:0.00} {k.HarnessSeconds,8:0.00} {k.BootSeconds,6:0.00} {k.GuestBootSeconds,6:0.00} {k.LoadSeconds,6:0.000} {k.TestsSeconds,6:0.00} {k.ImageSeconds,6:0.00} {k.OverheadSeconds,9:0.00} {k.OverheadRatio,6:0.00}{(k.Passed ? "" : "  (tests FAILED)")}\n");
        sb.Append("\nbare: QEMU wall time of a busybox /init that reports once and powers off (same kernel, same entry); harness: image + QEMU + agent + judgement;\n");
        sb.Append("boot: QEMU start to the agent's first record (host clock; kclk: the kernel's own clock, which starts after firmware and decompression);\n");
        sb.Append("load/tests: the guest's clock (module loading; smoke and load programs);\n");
        sb.Append("overhead: median over rounds of (harness - bare - load - tests), back to back; ratio = overhead / bare (near or below 0: within noise).\n");
        sb.Append("\nInstruction-count mode (-icount shift=0,sleep=off; the fidelity run's instruction-time boots), bare boot, medians:\n");
        foreach (var k in r.Kernels)
            sb.Append(CultureInfo.InvariantCulture, $"  {k.Release,-28} {k.BareIcountBootSeconds,6:0.00} s = {k.IcountCost:0.00} x the plain bare boot\n");
        return sb.ToString();
    }
}
