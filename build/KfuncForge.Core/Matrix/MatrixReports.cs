using System.Globalization;
using KfuncForge.Diagnostics;

namespace KfuncForge.Matrix;

/// <summary>Where a matrix run writes, under &lt;out&gt;/matrix/ (or --report-dir).</summary>
public sealed record MatrixLayout(string ReportDir)
{
    public string Json => Path.Combine(ReportDir, "matrix.json");
    public string Markdown => Path.Combine(ReportDir, "matrix.md");
    public string Html => Path.Combine(ReportDir, "matrix.html");
    public string History => Path.Combine(ReportDir, MatrixHistory.FileName);
    public string ShardsDir => Path.Combine(ReportDir, "shards");
    public string DefaultStore => Path.Combine(ReportDir, "cells");
    public string ShardFile(Shard shard) => Path.Combine(ShardsDir, shard.FileName);
}

/// <summary>Turns cells into the three reports, compares with the previous report, merges shards.</summary>
public static class MatrixReports
{
    public static MatrixDocument Document(MatrixRunResult run, MatrixSettings settings, string storeDir, string reportDir, bool withUniverse)
    {
        var cells = run.Cells.Select(c => c with { Logs = c.Key.Length == 0 ? null : Path.GetRelativePath(reportDir, Path.Combine(storeDir, c.Key)).Replace('\\', '/') }).ToList();
        return new MatrixDocument
        {
            Run = new MatrixRunInfo
            {
                Id = run.RunId,
                StartedAt = Time(run.Started),
                FinishedAt = Time(run.Started + run.Wall),
                WallSeconds = Math.Round(run.Wall.TotalSeconds, 1),
                Engine = MatrixRunner.EngineVersion,
                Until = MatrixCellRunner.Name(settings.Until),
                Filters = new MatrixFilters { Distro = settings.Distro, Module = settings.Module, Kernel = settings.Kernel },
                Shards = [settings.Shard.ToString()],
                Universe = withUniverse ? new SortedDictionary<string, double>(run.Universe.ToDictionary(), StringComparer.Ordinal) : null,
                Notes = run.Notes.Count > 0 ? run.Notes : null,
            },
            Summary = MatrixSummary.Of(cells),
            Cells = cells,
        };
    }

    /// <summary>
    /// Merges shard files into one report: every shard of the same split and the same cell universe
    /// must be there, each cell exactly once. Problems are all reported together (exit 2).
    /// </summary>
    public static MatrixDocument Merge(IReadOnlyList<string> shardFiles)
    {
        if (shardFiles.Count == 0)
            throw new InputException(new Problem("matrix-merge", 0, 0, "", "no shard results to merge; run `kfuncforge matrix --shard=<i>/<N>` for each shard first, or pass --shards=<dir>"));
        var docs = shardFiles.Order(StringComparer.Ordinal).Select(f => (File: f, Doc: MatrixDocument.Load(f, "shard result"))).ToList();
        var problems = new List<Problem>();
        var notShards = docs.Where(d => d.Doc.Run.Shards.Count != 1 || d.Doc.Run.Universe is null).ToList();
        if (notShards.Count > 0)
            throw new InputException(notShards.Select(d => new Problem(d.File, 0, 0, "run", "is not one shard's result (a merged report, or a file from elsewhere); keep only the files `matrix --shard=<i>/<N>` wrote in the shards folder")).ToList());
        var shards = docs.Select(d => (d.File, Shard: Shard.Parse(d.Doc.Run.Shards[0], d.File))).ToList();
        var counts = shards.Select(s => s.Shard.Count).Distinct().ToList();
        if (counts.Count > 1)
            problems.Add(new Problem(docs[0].File, 0, 0, "run.shards", $"the shard files come from different splits ({string.Join(", ", shards.Select(s => $"{Path.GetFileName(s.File)}: {s.Shard}"))}); merge the files of one run only"));
        else
        {
            var missing = Enumerable.Range(0, counts[0]).Where(i => shards.All(s => s.Shard.Index != i)).ToList();
            if (missing.Count > 0)
                problems.Add(new Problem(Path.GetDirectoryName(docs[0].File) ?? ".", 0, 0, "", $"shard{(missing.Count == 1 ? "" : "s")} {string.Join(", ", missing.Select(i => $"{i}/{counts[0]}"))} missing; run them (or restore their results) before merging"));
            foreach (var dup in shards.GroupBy(s => s.Shard.Index).Where(g => g.Count() > 1))
                problems.Add(new Problem(dup.First().File, 0, 0, "", $"shard {dup.Key}/{counts[0]} is given twice: {string.Join(", ", dup.Select(d => d.File))}"));
        }
        var universes = docs.Select(d => d.Doc.Run.Universe?.Keys.Order(StringComparer.Ordinal).ToList() ?? []).ToList();
        if (universes.Any(u => !u.SequenceEqual(universes[0])))
            problems.Add(new Problem(docs[0].File, 0, 0, "run.universe", "the shards saw different cells (a kernel upload between their runs, or different filters); rerun every shard against the same index"));
        var cells = docs.SelectMany(d => d.Doc.Cells).ToList();
        foreach (var dup in cells.GroupBy(c => c.Id).Where(g => g.Count() > 1))
            problems.Add(new Problem(dup.Key, 0, 0, "", "is in more than one shard"));
        var absent = universes[0].Except(cells.Select(c => c.Id), StringComparer.Ordinal).ToList();
        if (absent.Count > 0 && problems.Count == 0)
            problems.Add(new Problem(docs[0].File, 0, 0, "", $"cells of the matrix that no shard reported: {string.Join(", ", absent)}"));
        if (problems.Count > 0) throw new InputException(problems);

        var first = docs.Select(d => d.Doc.Run).OrderBy(r => r.StartedAt, StringComparer.Ordinal).First();
        var finished = docs.Select(d => d.Doc.Run.FinishedAt).Max(StringComparer.Ordinal)!;
        var ordered = cells.OrderBy(c => c.Id, StringComparer.Ordinal).ToList();
        return new MatrixDocument
        {
            Run = first with
            {
                Id = string.Join("+", docs.Select(d => d.Doc.Run.Id).Distinct().Order(StringComparer.Ordinal)) is var ids && ids.Length > 80 ? first.Id + $"+{docs.Count - 1}" : ids,
                FinishedAt = finished,
                WallSeconds = Math.Round(docs.Max(d => d.Doc.Run.WallSeconds), 1),
                Shards = shards.Select(s => s.Shard).OrderBy(s => s.Index).Select(s => s.ToString()).ToList(),
                Universe = null,
                Notes = docs.SelectMany(d => d.Doc.Run.Notes ?? []).Distinct(StringComparer.Ordinal).ToList() is { Count: > 0 } notes ? notes : null,
            },
            Summary = MatrixSummary.Of(ordered),
            Cells = ordered,
        };
    }

    /// <summary>Compares with the previous report (when there is one), then writes matrix.json, matrix.md, matrix.html and history.json, each whole.</summary>
    public static MatrixDocument Publish(MatrixDocument doc, MatrixDocument? previous, string? previousName, double thresholdPercent, MatrixLayout layout, MatrixHistory history)
    {
        if (previous is not null)
            doc = doc with { Regressions = RegressionCheck.Compare(previous.Cells, doc.Cells, thresholdPercent, previousName) };
        var updated = history.With(doc);
        MatrixJson.WriteAtomic(layout.Json, MatrixJson.Serialize(doc));
        MatrixJson.WriteAtomic(layout.Markdown, MarkdownReport.Render(doc));
        MatrixJson.WriteAtomic(layout.Html, HtmlReport.Render(doc, updated));
        MatrixJson.WriteAtomic(layout.History, MatrixJson.Serialize(updated));
        if (Environment.GetEnvironmentVariable("GITHUB_STEP_SUMMARY") is { Length: > 0 } summary)
            File.AppendAllText(summary, MarkdownReport.Render(doc));
        return doc;
    }

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
