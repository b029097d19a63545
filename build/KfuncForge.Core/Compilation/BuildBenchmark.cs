using System.Diagnostics;
using KfuncForge.Containers;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Planning;
using KfuncForge.Rendering;

namespace KfuncForge.Compilation;

/// <summary>One repetition: the engine's build of the cell and the bare `make M=` in the same environment.</summary>
public sealed record BenchSample(int Repetition, TimeSpan Engine, TimeSpan Bare, TimeSpan EngineKbuild = default)
{
    /// <summary>`dkms build` of the same rendered sources on the same headers (DkmsBaseline), when measured.</summary>
    public DkmsRun? Dkms { get; init; }

    /// <summary>What the engine adds around kbuild in its own run: render, copy, sandbox argv, .ko checks, log.</summary>
    public TimeSpan Overhead => Engine - EngineKbuild;
}

/// <summary>
/// Measures the engine's overhead on a warm cache: for one (module, kernel) cell, alternately times the
/// engine's whole build of the cell (render, fresh copy, kbuild in the sandbox, .ko checks, log) and a bare
/// `make -C headers M=dir modules` run through the same sandbox on a clean copy of the same sources.
/// Alternating keeps both under the same machine conditions; medians are compared.
/// </summary>
public static class BuildBenchmark
{
    public static async Task<IReadOnlyList<BenchSample>> RunAsync(BuildCell cell, KernelEntry kernel, IContainerRunner container, Renderer renderer,
        BuildLayout layout, int repetitions, Action<string> log, CancellationToken cancellation = default, DkmsBaseline? dkms = null)
    {
        var builder = new KbuildBuilder(container);
        var distro = cell.Distro;
        var module = cell.Module.Name;
        var kfuncs = cell.Backports.Select(b => b.Kfunc).ToList();
        var benchRoot = Path.Combine(layout.ArtifactsDir, "bench", distro.Id, kernel.Release);
        var bareDir = Path.Combine(benchRoot, "bare", module);

        async Task<(TimeSpan, CellResult)> Engine()
        {
            var watch = Stopwatch.StartNew();
            var rendered = renderer.Render(cell, layout.RenderRoot);
            var result = await builder.BuildAsync(new KbuildRequest(distro, kernel, module, rendered.Directory,
                Path.Combine(benchRoot, "engine", module), Path.Combine(benchRoot, "engine", module + ".log"), kfuncs) { SourceDate = renderer.SourceDate }, cancellation);
            return (watch.Elapsed, result);
        }

        async Task<TimeSpan> Bare()
        {
            KbuildBuilder.PrepareWorkDir(Renderer.CellDirectory(layout.RenderRoot, cell), bareDir);
            var spec = container.Command(distro, KbuildBuilder.MakeStep(kernel, module, bareDir, renderer.SourceDate));
            var processes = Processes.ProcessRunner.Instance;
            var watch = Stopwatch.StartNew();
            var result = await processes.RunAsync(spec, cancellation);
            var elapsed = watch.Elapsed;
            if (!result.Succeeded) throw new StageException($"bare make failed: {Processes.CommandLine.Tail(result.Stderr, 5)}");
            return elapsed;
        }

        Task<DkmsRun>? Dkms() => dkms?.RunAsync(kernel, Renderer.CellDirectory(layout.RenderRoot, cell), Path.Combine(benchRoot, "dkms", module), renderer.SourceDate, cancellation);

        log($"warm-up: one untimed build of {module} for {kernel.Release}");
        var (_, warm) = await Engine();
        if (warm.IsFailure) throw new StageException($"the warm-up build failed, nothing to measure: {warm.Reason}");
        await Bare();
        if (Dkms() is { } warmDkms) await warmDkms;

        var samples = new List<BenchSample>();
        for (var i = 1; i <= repetitions; i++)
        {
            var (engine, result) = await Engine();
            if (result.IsFailure) throw new StageException($"repetition {i}: the engine's build failed: {result.Reason}");
            var bare = await Bare();
            var baseline = Dkms() is { } d ? await d : null;
            samples.Add(new BenchSample(i, engine, bare, result.KbuildTime ?? TimeSpan.Zero) { Dkms = baseline });
            log($"rep {i}: engine {engine.TotalSeconds:0.000} s (of which kbuild {(result.KbuildTime ?? TimeSpan.Zero).TotalSeconds:0.000} s), bare make {bare.TotalSeconds:0.000} s" +
                (baseline is null ? "" : $", dkms build {baseline.Build.TotalSeconds:0.000} s"));
        }
        return samples;
    }

    public static TimeSpan Median(IEnumerable<TimeSpan> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count == 0 ? TimeSpan.Zero
            : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2]
            : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    public static double MedianRatio(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static string DkmsLines(IReadOnlyList<BenchSample> samples, TimeSpan engine)
    {
        var runs = samples.Where(s => s.Dkms is not null).ToList();
        if (runs.Count == 0) return "  dkms build: not measured (--dkms=off, or a container backend other than bwrap)\n";
        var dkms = Median(runs.Select(s => s.Dkms!.Build));
        var paired = MedianRatio(runs.Select(s => s.Engine / s.Dkms!.Build));
        var btf = runs.All(s => s.Dkms!.HasBtf) ? "has .BTF" : runs.Any(s => s.Dkms!.Module is null) ? "no module found" : "has NO .BTF (its kfuncs would not register)";
        return $"  dkms build of the same sources on the same headers:  median {dkms.TotalSeconds:0.000} s (min {runs.Min(s => s.Dkms!.Build).TotalSeconds:0.000}, max {runs.Max(s => s.Dkms!.Build).TotalSeconds:0.000}); its module {btf}\n" +
               $"  ratio engine / dkms build: {engine / dkms:0.000} of the medians; {paired:0.000} median of the per-repetition ratios (target <= 1.0)\n";
    }

    public static string Report(IReadOnlyList<BenchSample> samples, string what)
    {
        var engine = Median(samples.Select(s => s.Engine));
        var bare = Median(samples.Select(s => s.Bare));
        var ratio = bare > TimeSpan.Zero ? engine / bare : double.NaN;
        var paired = MedianRatio(samples.Where(s => s.Bare > TimeSpan.Zero).Select(s => s.Engine / s.Bare));
        var overhead = Median(samples.Select(s => s.Overhead));
        return $"bench-build {what}: {samples.Count} repetitions, warm cache\n" +
               $"  engine build (render + copy + kbuild + checks): median {engine.TotalSeconds:0.000} s (min {samples.Min(s => s.Engine).TotalSeconds:0.000}, max {samples.Max(s => s.Engine).TotalSeconds:0.000})\n" +
               $"  bare make M= in the same sandbox:                median {bare.TotalSeconds:0.000} s (min {samples.Min(s => s.Bare).TotalSeconds:0.000}, max {samples.Max(s => s.Bare).TotalSeconds:0.000})\n" +
               $"  engine's own work around kbuild (render, copy, checks, log): median {overhead.TotalMilliseconds:0} ms\n" +
               $"  ratio engine / bare: {ratio:0.000} of the medians; {paired:0.000} median of the per-repetition ratios (target <= 1.25)\n" +
               DkmsLines(samples, engine);
    }
}
