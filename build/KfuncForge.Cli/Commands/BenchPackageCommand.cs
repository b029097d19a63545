using System.Globalization;
using KfuncForge.Definitions;
using KfuncForge.Diagnostics;
using KfuncForge.Processes;

namespace KfuncForge.Cli.Commands;

/// <summary>
/// Benchmark of stage reuse (issue 14): what the Package target runs (the run verb: validate, build, smoke, sign,
/// package in one engine process) on a copy of the source tree with a fresh artifacts folder, three times: first
/// (empty store: everything runs; the baseline), again with nothing changed (three times, the median counts), and after one module's C source
/// changed. Prints each stage's time, the engine process's wall time, the cells built or reused and the boots run or
/// reused, and the ratios to the first round. Writes the same to &lt;out&gt;/bench-package/&lt;distro&gt;/bench.txt.
/// </summary>
public sealed class BenchPackageCommand : ICommand
{
    public string Name => "bench-package";
    public string Summary => "benchmark: the Package stages first, with nothing changed, and after one module's C changed; engine time, cells rebuilt, boots rerun";
    public IReadOnlyCollection<string> Accepts => ["distro", "module", "container", "cache"];

    private static readonly string[] Verbs = RunCommand.Stages;

    private sealed record Round(string Name, IReadOnlyList<(string Verb, TimeSpan Wall)> Verbs, TimeSpan Engine, int Built, int Reused, int Boots, int BootsReused);

    public int Run(CommandContext context)
    {
        var o = context.Options;
        var catalog = Catalog.Load(context.Tree);
        var distro = catalog.Distro(o.Get("distro", "debian12"));
        var module = o.Get("module") is { } m ? catalog.SelectModules(m).Single() : catalog.Modules.OrderBy(x => x.Name, StringComparer.Ordinal).First();
        var bench = context.Layout.Bench("bench-package", distro.Id);
        var tree = Path.Combine(bench, "tree");
        var output = Path.Combine(bench, "out");
        if (Directory.Exists(bench)) Directory.Delete(bench, recursive: true);
        foreach (var (from, name) in new[] { (context.Tree.Modules, "kfunc-modules"), (context.Tree.Distros, "distros"), (context.Tree.Templates, "templates") })
            Copy(from, Path.Combine(tree, name));
        var source = Directory.GetFiles(Path.Combine(tree, "kfunc-modules", module.Name, "src"), "*.c").Order(StringComparer.Ordinal).FirstOrDefault()
                     ?? throw new StageException($"{module.Name} has no C source under src/ to change; pick another --module");

        string[] Args() =>
        [
            typeof(BenchPackageCommand).Assembly.Location, "run", $"--root={tree}", $"--out={output}", $"--distro={distro.Id}",
            .. o.Get("cache") is { } cache ? [$"--cache={cache}"] : Array.Empty<string>(),
            .. o.Get("container") is { } container ? [$"--container={container}"] : Array.Empty<string>(),
        ];
        var dotnet = Environment.ProcessPath ?? "dotnet";
        Round Run(string name)
        {
            var r = ProcessRunner.Instance.RunAsync(new ProcessSpec(dotnet, Args()) { Timeout = TimeSpan.FromMinutes(30) }).GetAwaiter().GetResult();
            if (r.ExitCode != 0) throw new StageException($"{name}: kfuncforge run failed (exit {r.ExitCode}): {CommandLine.Tail(r.Stderr + r.Stdout, 8)}");
            var lines = r.Stdout.Split('\n');
            var times = Verbs.Select(v => (v, TimeSpan.FromSeconds(lines.Where(l => l.StartsWith($"== {v}: exit ", StringComparison.Ordinal))
                .Select(l => double.Parse(l.Split(' ')[^2], CultureInfo.InvariantCulture)).Sum()))).ToList();
            int Count(string text) => lines.Count(l => l.Contains(text, StringComparison.Ordinal));
            var reused = Count("unchanged, reused");
            var round = new Round(name, times, r.Duration, Count(" built ") - reused, reused, Count("] completed in ") - Count("[reused:"), Count("[reused:"));
            context.Out.WriteLine(Line(round));
            return round;
        }

        context.Out.WriteLine($"bench-package {distro.Id}: the Package target's stages (kfuncforge run, one engine process), on a copy of the tree in {bench}");
        context.Out.WriteLine(Header());
        var first = Run("first (empty store)");
        // Nothing changed, three times: the median round (by engine time) is the figure; one round is at the mercy of the machine.
        var same = new[] { Run("nothing changed (1)"), Run("nothing changed (2)"), Run("nothing changed (3)") }.OrderBy(r => r.Engine).ElementAt(1) with { Name = "nothing changed (median)" };
        context.Out.WriteLine(Line(same));
        File.AppendAllText(source, $"\nstatic int kff_bench_package_changed __used = {DateTime.UtcNow.Ticks % 1000};\n");
        var changed = Run($"{module.Name} C changed");
        var start = Median(Enumerable.Range(0, 5).Select(_ => ProcessRunner.Instance.RunAsync(new ProcessSpec(dotnet, [typeof(BenchPackageCommand).Assembly.Location, "--help"])).GetAwaiter().GetResult().Duration));

        var summary = string.Create(CultureInfo.InvariantCulture,
            $"nothing changed / first: {same.Engine / first.Engine:0.000} of the engine process's wall time ({same.Engine.TotalSeconds:0.00} s against {first.Engine.TotalSeconds:0.00} s; target: at most 3 s)\n" +
            $"{module.Name} C changed / first: {changed.Engine / first.Engine:0.000} ({changed.Built} of {first.Built} cells rebuilt, {changed.Boots} of {first.Boots} boots run)\n" +
            $"engine process start (kfuncforge --help, median of 5): {start.TotalSeconds:0.000} s\n");
        context.Out.Write(summary);
        Directory.CreateDirectory(bench);
        File.WriteAllText(Path.Combine(bench, "bench.txt"), string.Join('\n', new[] { Header() }.Concat(new[] { first, same, changed }.Select(Line))) + "\n" + summary);
        context.Out.WriteLine($"figures: {Path.Combine(bench, "bench.txt")}");
        return ExitCodes.Ok;
    }

    private static string Header() => $"{"round",-28} {string.Join(" ", Verbs.Select(v => $"{v,9}"))} {"engine",8}  built/reused  boots run/reused";

    private static string Line(Round r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Name,-28} {string.Join(" ", r.Verbs.Select(v => $"{v.Wall.TotalSeconds,8:0.00}s"))} {r.Engine.TotalSeconds,7:0.00}s  {r.Built,5}/{r.Reused,-6}  {r.Boots,5}/{r.BootsReused}");

    private static TimeSpan Median(IEnumerable<TimeSpan> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    private static void Copy(string from, string to)
    {
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
