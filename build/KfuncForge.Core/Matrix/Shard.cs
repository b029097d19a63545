using System.Globalization;
using System.Text.RegularExpressions;
using KfuncForge.Diagnostics;

namespace KfuncForge.Matrix;

/// <summary>One shard of a matrix run: --shard=i/N, 0 ≤ i &lt; N. The whole matrix is 0/1.</summary>
public sealed partial record Shard(int Index, int Count)
{
    public static readonly Shard Whole = new(0, 1);

    public const int MaxCount = 256;

    public bool IsWhole => Count == 1;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");

    /// <summary>The file a shard's results go to: shards/&lt;i&gt;-of-&lt;N&gt;.json.</summary>
    public string FileName => string.Create(CultureInfo.InvariantCulture, $"{Index}-of-{Count}.json");

    [GeneratedRegex(@"^(?<i>[0-9]{1,4})/(?<n>[0-9]{1,4})$")]
    private static partial Regex Pattern();

    public static Shard Parse(string? text, string where = "--shard")
    {
        if (text is null) return Whole;
        var m = Pattern().Match(text.Trim());
        if (!m.Success)
            throw Bad(where, $"'{text}' is not a shard; write --shard=<index>/<count> with whole numbers, e.g. --shard=0/2 and --shard=1/2 for two runners");
        var i = int.Parse(m.Groups["i"].Value, CultureInfo.InvariantCulture);
        var n = int.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
        if (n < 1 || n > MaxCount)
            throw Bad(where, $"'{text}': the shard count must be between 1 and {MaxCount}");
        if (i >= n)
            throw Bad(where, $"'{text}': shard indexes count from 0, so a run split {n} ways has shards 0/{n} to {n - 1}/{n}");
        return new Shard(i, n);
    }

    private static InputException Bad(string where, string message) => new(new Problem(where, 0, 0, "", message));
}

/// <summary>
/// Splits cells into N shards of about equal expected cost: longest first, each to the shard with
/// the least cost so far (ties: the lower shard; equal costs: cell id order). The same cells and
/// costs give the same split on every runner.
/// </summary>
public static class ShardPlanner
{
    public static IReadOnlyList<IReadOnlyList<string>> Partition(IReadOnlyDictionary<string, double> costs, int count)
    {
        var shards = Enumerable.Range(0, count).Select(_ => new List<string>()).ToList();
        var loads = new double[count];
        foreach (var (id, cost) in costs.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal))
        {
            var best = 0;
            for (var s = 1; s < count; s++)
                if (loads[s] < loads[best]) best = s;
            shards[best].Add(id);
            loads[best] += cost;
        }
        return shards.Select(s => (IReadOnlyList<string>)s.Order(StringComparer.Ordinal).ToList()).ToList();
    }

    public static IReadOnlySet<string> Select(IReadOnlyDictionary<string, double> costs, Shard shard) =>
        Partition(costs, shard.Count)[shard.Index].ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Expected seconds of a cell: its duration in the previous report when it ran there, else the cost
    /// model (a skipped cell costs nothing; otherwise the stages it goes through, measured on this
    /// project's 2-core machine under TCG: docs/matrix.md).
    /// </summary>
    public static double Cost(string id, bool skipped, MatrixStage until, IReadOnlyDictionary<string, CellRecord>? previous)
    {
        if (skipped) return 0;
        if (previous is not null && previous.TryGetValue(id, out var p) && p.Status != CellStatus.Skipped && p.Seconds > 0)
            return Math.Round(p.Seconds, 1);
        return ModelSeconds.Where(m => m.Stage <= until).Sum(m => m.Seconds);
    }

    public static readonly (MatrixStage Stage, double Seconds)[] ModelSeconds =
    [
        (MatrixStage.Plan, 1), (MatrixStage.Build, 8), (MatrixStage.Smoke, 15), (MatrixStage.Sign, 1), (MatrixStage.Package, 3),
    ];
}
