using System.Globalization;

namespace KfuncForge.Matrix;

public sealed record CellChange
{
    public required string Id { get; init; }
    public required string Before { get; init; }
    public required string After { get; init; }
    public string? Reason { get; init; }
}

public sealed record LoadChange
{
    public required string Id { get; init; }
    public required string Load { get; init; }
    public required string Figure { get; init; }
    public required double Before { get; init; }
    public required double After { get; init; }

    /// <summary>How much worse, in percent (always positive for a regression).</summary>
    public required double WorsePercent { get; init; }
}

/// <summary>What changed since the previous report. A regression (exit 1) is a newly failing cell or a load figure worse than the threshold.</summary>
public sealed record RegressionReport
{
    public string? Previous { get; init; }
    public required double ThresholdPercent { get; init; }
    public IReadOnlyList<CellChange> NewlyFailing { get; init; } = [];
    public IReadOnlyList<CellChange> Fixed { get; init; } = [];
    public IReadOnlyList<LoadChange> SlowerLoads { get; init; } = [];

    /// <summary>Cells of the previous report that this run does not have (a kernel replaced by a newer upload, a module removed).</summary>
    public IReadOnlyList<string> Gone { get; init; } = [];

    public IReadOnlyList<string> New { get; init; } = [];

    public bool HasRegression => NewlyFailing.Count > 0 || SlowerLoads.Count > 0;

    public IEnumerable<string> RegressedCells => NewlyFailing.Select(c => c.Id).Concat(SlowerLoads.Select(l => l.Id)).Distinct().Order(StringComparer.Ordinal);
}

public static class RegressionCheck
{
    /// <summary>Load figures under TCG on a shared 2-core machine varied by up to 84% between two runs of the same cells (docs/matrix.md).</summary>
    public const double DefaultThresholdPercent = 50;

    /// <summary>
    /// Compares this run's cells with the previous report's. Cells only compared where both have them;
    /// a cell that was skipped or did not reach the smoke stage has no figures to compare.
    /// </summary>
    public static RegressionReport Compare(IReadOnlyList<CellRecord> previous, IReadOnlyList<CellRecord> current, double thresholdPercent, string? previousName)
    {
        var before = previous.ToDictionary(c => c.Id, StringComparer.Ordinal);
        var now = current.ToDictionary(c => c.Id, StringComparer.Ordinal);
        var failing = new List<CellChange>();
        var fixedCells = new List<CellChange>();
        var slower = new List<LoadChange>();
        foreach (var cell in current.OrderBy(c => c.Id, StringComparer.Ordinal))
        {
            if (!before.TryGetValue(cell.Id, out var old)) continue;
            if (cell.Status == CellStatus.Fail && old.Status != CellStatus.Fail)
                failing.Add(new CellChange { Id = cell.Id, Before = old.Status, After = cell.Status, Reason = cell.Reason });
            else if (old.Status == CellStatus.Fail && cell.Status == CellStatus.Pass)
                fixedCells.Add(new CellChange { Id = cell.Id, Before = old.Status, After = cell.Status, Reason = old.Reason });
            var oldLoads = old.Loads.GroupBy(l => l.Name).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
            foreach (var load in cell.Loads.OrderBy(l => l.Name, StringComparer.Ordinal))
            {
                if (!oldLoads.TryGetValue(load.Name, out var was) || load.Figure is not { } f || was.Figure is not { } w || w.LowerIsBetter != f.LowerIsBetter || w.Value <= 0 || f.Value <= 0) continue;
                var worse = f.LowerIsBetter ? (f.Value - w.Value) / w.Value * 100 : (w.Value - f.Value) / w.Value * 100;
                if (worse > thresholdPercent)
                    slower.Add(new LoadChange
                    {
                        Id = cell.Id, Load = load.Name, Figure = f.LowerIsBetter ? "ns_per_call" : "sockets_per_second",
                        Before = w.Value, After = f.Value, WorsePercent = Math.Round(worse, 1),
                    });
            }
        }
        return new RegressionReport
        {
            Previous = previousName,
            ThresholdPercent = thresholdPercent,
            NewlyFailing = failing,
            Fixed = fixedCells,
            SlowerLoads = slower,
            Gone = before.Keys.Where(k => !now.ContainsKey(k)).Order(StringComparer.Ordinal).ToList(),
            New = now.Keys.Where(k => !before.ContainsKey(k)).Order(StringComparer.Ordinal).ToList(),
        };
    }

    public static IEnumerable<string> Describe(RegressionReport r)
    {
        foreach (var c in r.NewlyFailing) yield return $"newly failing: {c.Id} (was {c.Before}): {c.Reason}";
        foreach (var l in r.SlowerLoads)
            yield return string.Create(CultureInfo.InvariantCulture, $"load regression: {l.Id} {l.Load}: {l.Figure} {l.Before:0.##} → {l.After:0.##} ({l.WorsePercent:0.#}% worse, threshold {r.ThresholdPercent:0.#}%)");
        foreach (var c in r.Fixed) yield return $"fixed: {c.Id} (was failing: {c.Reason})";
    }
}
