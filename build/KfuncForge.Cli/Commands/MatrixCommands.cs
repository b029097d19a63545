using System.Globalization;
using KfuncForge.Diagnostics;
using KfuncForge.Matrix;
using KfuncForge.Processes;
using KfuncForge.Rendering;
using KfuncForge.Vm;

namespace KfuncForge.Cli.Commands;

/// <summary>
/// The nightly matrix: every distro × kernel × module through plan, build, smoke, sign and package,
/// incremental (cells keyed by their inputs, reused from the store), resumable, shardable; writes
/// matrix.json, matrix.md and matrix.html and fails on regressions (docs/matrix.md).
/// </summary>
public sealed class MatrixCommand : ICommand
{
    public string Name => "matrix";
    public string Summary => "run the compatibility matrix (distro × kernel × module), incremental and shardable; reports in <out>/matrix/";
    public IReadOnlyCollection<string> Accepts => ["distro", "module", "kernel", "container", "cache", "jobs", "shard", "until", "store", "report-dir",
        "previous", "threshold", "rerun-failed", "timeout", "accel", "source-date-epoch", "progress",
        "key", "cert", "signer-command", "keys-dir", "gnupg-home", "package-key-id"];

    public int Run(CommandContext context)
    {
        var o = context.Options;
        var shard = Shard.Parse(o.Get("shard"));
        var until = MatrixOptions.Until(o.Get("until"));
        var threshold = MatrixOptions.Threshold(o.Get("threshold"));
        var accel = SmokeSetup.Accelerator(o);
        var jobs = o.Int("jobs", Environment.ProcessorCount);
        var timeout = TimeSpan.FromSeconds(o.Int("timeout", 180));
        var layout = MatrixOptions.Layout(context);
        var store = o.Get("store") is { } st ? Path.GetFullPath(st) : layout.DefaultStore;
        var (previous, previousPath) = MatrixOptions.Previous(context, layout);
        var date = o.Get("source-date-epoch") is { } epoch ? SourceDate.Parse(epoch, "--source-date-epoch") : SourceDate.Resolve(context.Tree.Root);

        var settings = new MatrixSettings
        {
            Tree = context.Tree, StoreDir = store, Distro = o.Get("distro"), Module = o.Get("module"), Kernel = o.Get("kernel"),
            Container = o.Get("container"), Cache = o.Get("cache"), Until = until, Shard = shard, Jobs = jobs,
            RerunFailed = o.Flag("rerun-failed"), VmTimeout = timeout, Accelerator = accel, SourceDate = date,
            Previous = previous?.Cells.ToDictionary(c => c.Id, StringComparer.Ordinal),
            KeyRequest = profile => SignCommand.KeyRequest(context, profile),
            GnupgHome = o.Get("gnupg-home"), PackageKeyId = o.Get("package-key-id"), StageStore = Pipeline.StageStore.In(context.ArtifactsDir),
            Served = profile => Packaging.Retention.Read(context.Layout.Repository(profile.Id, profile.Family)).Packages.Where(p => !p.Meta).ToList(),
        };
        var live = o.Get("progress") switch
        {
            null or "auto" => MatrixProgress.IsInteractive() && ReferenceEquals(context.Out, Console.Out),
            "live" => true,
            "plain" => false,
            var other => throw MatrixOptions.Bad("--progress", $"must be auto, live or plain, not '{other}'"),
        };
        MatrixRunResult result;
        using (var progress = new MatrixProgress(context.Out, live, jobs))
            result = new MatrixRunner(settings, ProcessRunner.Instance, progress).RunAsync().GetAwaiter().GetResult();

        if (!shard.IsWhole)
        {
            var doc = MatrixReports.Document(result, settings, store, layout.ReportDir, withUniverse: true);
            var file = layout.ShardFile(shard);
            MatrixJson.WriteAtomic(file, MatrixJson.Serialize(doc));
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"shard {shard}: {doc.Summary.Cells} of {result.Universe.Count} cells (expected {result.Universe.Where(u => doc.Cells.Any(c => c.Id == u.Key)).Sum(u => u.Value):0} s of {result.Universe.Values.Sum():0} s), {doc.Summary.Reused} reused, {doc.Summary.Fail} failed, in {result.Wall.TotalSeconds:0} s"));
            context.Out.WriteLine($"shard results: {file}; merge every shard with `kfuncforge matrix-merge` (Cake: MatrixMerge)");
            return ExitCodes.Ok;
        }
        var whole = MatrixReports.Document(result, settings, store, layout.ReportDir, withUniverse: false);
        return MatrixOptions.Finish(context, whole, previous, previousPath, threshold, layout);
    }
}

/// <summary>Merges the shards' results (shards/*.json) into one matrix.json, matrix.md and matrix.html, and checks for regressions.</summary>
public sealed class MatrixMergeCommand : ICommand
{
    public string Name => "matrix-merge";
    public string Summary => "merge the matrix shards' results into one report (matrix.json, .md, .html) and check for regressions";
    public IReadOnlyCollection<string> Accepts => ["shards", "report-dir", "previous", "threshold"];

    public int Run(CommandContext context)
    {
        var threshold = MatrixOptions.Threshold(context.Options.Get("threshold"));
        var layout = MatrixOptions.Layout(context);
        var dir = context.Options.Get("shards") is { } d ? Path.GetFullPath(d) : layout.ShardsDir;
        var files = Directory.Exists(dir) ? Directory.GetFiles(dir, "*-of-*.json") : [];
        if (files.Length == 0)
            throw MatrixOptions.Bad(dir, "holds no shard results (<i>-of-<N>.json); run `dotnet cake --target=Matrix --shard=<i>/<N>` for every shard first, or pass --shards=<dir>");
        var (previous, previousPath) = MatrixOptions.Previous(context, layout);
        var merged = MatrixReports.Merge(files);
        context.Out.WriteLine($"merged {files.Length} shard{(files.Length == 1 ? "" : "s")} ({string.Join(", ", merged.Run.Shards)}): {merged.Summary.Cells} cells");
        return MatrixOptions.Finish(context, merged, previous, previousPath, threshold, layout);
    }
}

/// <summary>Writes the CI definitions that run the matrix in shards: a GitHub Actions workflow and a Kubernetes Indexed Job with the merge after it.</summary>
public sealed class MatrixCiCommand : ICommand
{
    public string Name => "matrix-ci";
    public string Summary => "generate the CI definitions for a sharded matrix: GitHub Actions workflow, Kubernetes Indexed Job + merge";
    public IReadOnlyCollection<string> Accepts => ["shards", "image", "runner", "schedule", "report-dir"];

    public int Run(CommandContext context)
    {
        var o = context.Options;
        var text = o.Get("shards") ?? "4";
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1 || n > Shard.MaxCount)
            throw MatrixOptions.Bad("--shards", $"must be a whole number from 1 to {Shard.MaxCount}, not '{text}'");
        var settings = new CiSettings { Shards = n };
        if (o.Get("image") is { } image) settings = settings with { Image = image };
        if (o.Get("runner") is { } runner) settings = settings with { Runner = runner.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) };
        if (o.Get("schedule") is { } schedule) settings = settings with { Schedule = schedule };
        var dir = Path.Combine(MatrixOptions.Layout(context).ReportDir, "ci");
        var github = Path.Combine(dir, CiDefinitions.GithubFile);
        var kubernetes = Path.Combine(dir, CiDefinitions.KubernetesFile);
        MatrixJson.WriteAtomic(github, CiDefinitions.Github(settings));
        MatrixJson.WriteAtomic(kubernetes, CiDefinitions.Kubernetes(settings));
        context.Out.WriteLine($"GitHub Actions workflow ({n} shards): {github}  (copy to .github/workflows/)");
        context.Out.WriteLine($"Kubernetes Indexed Job ({n} shards) and merge Job: {kubernetes}  (kubectl apply -f)");
        return ExitCodes.Ok;
    }
}

/// <summary>What the matrix verbs share: option parsing, the previous report, publishing and the exit code.</summary>
internal static class MatrixOptions
{
    public static MatrixStage Until(string? text) =>
        text is null ? MatrixStage.Package
        : Enum.TryParse<MatrixStage>(text, ignoreCase: true, out var stage) && Enum.IsDefined(stage) && !text.Any(char.IsDigit) ? stage
        : throw Bad("--until", $"'{text}' is not a stage; use one of {string.Join(", ", Enum.GetValues<MatrixStage>().Select(s => s.ToString().ToLowerInvariant()))}");

    public static double Threshold(string? text) =>
        text is null ? RegressionCheck.DefaultThresholdPercent
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 && double.IsFinite(v) ? v
        : throw Bad("--threshold", $"must be a percentage (how much worse a load figure may get before it counts as a regression), e.g. 25, not '{text}'");

    public static MatrixLayout Layout(CommandContext context) =>
        new(context.Options.Get("report-dir") is { } r ? Path.GetFullPath(r) : context.Layout.Matrix);

    /// <summary>--previous, else the report already in the report folder (which this run will replace), else none.</summary>
    public static (MatrixDocument? Doc, string? Path) Previous(CommandContext context, MatrixLayout layout)
    {
        var path = context.Options.Get("previous") is { } p ? Path.GetFullPath(p) : layout.Json;
        if (!File.Exists(path))
        {
            if (context.Options.Get("previous") is not null) throw Bad(path, "the previous report (--previous) does not exist");
            return (null, null);
        }
        MatrixHistory.Load(layout.History);
        return (MatrixDocument.Load(path, "previous report"), path);
    }

    public static int Finish(CommandContext context, MatrixDocument doc, MatrixDocument? previous, string? previousPath, double threshold, MatrixLayout layout)
    {
        var history = MatrixHistory.Load(layout.History);
        doc = MatrixReports.Publish(doc, previous, previousPath is null ? null : Path.GetFileName(previousPath), threshold, layout, history);
        var s = doc.Summary;
        context.Out.WriteLine();
        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"matrix: {s.Cells} cells: {s.Pass} pass, {s.Fail} fail, {s.Infeasible} infeasible, {s.Skipped} skipped, {s.Unavailable} unavailable; {s.Reused} reused, {s.Ran} run; {doc.Run.WallSeconds:0} s"));
        context.Out.WriteLine($"reports: {layout.Json}, {layout.Markdown}, {layout.Html}");
        if (doc.Regressions is { } r)
        {
            foreach (var line in RegressionCheck.Describe(r)) context.Out.WriteLine(line);
            if (r.HasRegression)
            {
                context.Err.WriteLine($"error: regression since {r.Previous}: {string.Join(", ", r.RegressedCells)}");
                return ExitCodes.Failed;
            }
            return Unavailable(context, doc);
        }
        var failing = doc.Cells.Where(c => c.Status == CellStatus.Fail).Select(c => c.Id).ToList();
        if (failing.Count == 0) return Unavailable(context, doc);
        context.Err.WriteLine($"error: no previous report to compare with, and {failing.Count} cell{(failing.Count == 1 ? "" : "s")} failed: {string.Join(", ", failing)}");
        return ExitCodes.Failed;
    }

    public static InputException Bad(string where, string message) => new(new Problem(where, 0, 0, "", message));

    /// <summary>Unavailable cells are not regressions of ours, but the night did not test them: say which, and exit non-zero.</summary>
    private static int Unavailable(CommandContext context, MatrixDocument doc)
    {
        var cells = doc.Cells.Where(c => c.Status == CellStatus.Unavailable).ToList();
        if (cells.Count == 0) return ExitCodes.Ok;
        context.Err.WriteLine($"error: {cells.Count} cell{(cells.Count == 1 ? " was" : "s were")} unavailable (tried again on the next run): " +
                              string.Join("; ", cells.GroupBy(c => c.Reason).Select(g => $"{string.Join(", ", g.Select(c => c.Id))}: {g.Key}")));
        return ExitCodes.Unavailable;
    }
}
