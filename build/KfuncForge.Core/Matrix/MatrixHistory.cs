namespace KfuncForge.Matrix;

/// <summary>One earlier run as the plots need it: when, how long, and each cell's status, duration and load figures.</summary>
public sealed record HistoryRun
{
    public required string RunId { get; init; }
    public required string StartedAt { get; init; }
    public required double WallSeconds { get; init; }
    public required IReadOnlyDictionary<string, HistoryCell> Cells { get; init; }
}

public sealed record HistoryCell
{
    public required string Status { get; init; }
    public required double Seconds { get; init; }
    public IReadOnlyDictionary<string, double> Loads { get; init; } = new SortedDictionary<string, double>(StringComparer.Ordinal);
}

/// <summary>history.json beside the report: the last runs (oldest first), for the HTML page's plots.</summary>
public sealed record MatrixHistory
{
    public const int Keep = 30;
    public const string FileName = "history.json";

    public string Schema { get; init; } = "kfuncforge-matrix-history/1";
    public IReadOnlyList<HistoryRun> Runs { get; init; } = [];

    public static MatrixHistory Load(string path) =>
        !File.Exists(path) ? new MatrixHistory()
        : LoadExisting(path);

    private static MatrixHistory LoadExisting(string path)
    {
        try
        {
            return MatrixJson.Deserialize<MatrixHistory>(File.ReadAllText(path));
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new Diagnostics.InputException(new Diagnostics.Problem(path, (int)(e.LineNumber ?? -1) + 1, 0, e.Path ?? "",
                $"the run history is not valid ({e.Message.Split(" Path:")[0]}); it was left as it is. Restore it or move it away to start a new history"));
        }
    }

    /// <summary>This history with the run appended (a run already present, e.g. a merge repeated, replaces its entry), keeping the last Keep.</summary>
    public MatrixHistory With(MatrixDocument doc)
    {
        var run = new HistoryRun
        {
            RunId = doc.Run.Id, StartedAt = doc.Run.StartedAt, WallSeconds = doc.Run.WallSeconds,
            Cells = new SortedDictionary<string, HistoryCell>(doc.Cells.ToDictionary(c => c.Id, c => new HistoryCell
            {
                Status = c.Status, Seconds = c.Seconds,
                Loads = new SortedDictionary<string, double>(c.Loads.Where(l => l.Figure is not null).GroupBy(l => l.Name).ToDictionary(g => g.Key, g => g.First().Figure!.Value.Value), StringComparer.Ordinal),
            }), StringComparer.Ordinal),
        };
        var runs = Runs.Where(r => r.RunId != run.RunId).Append(run).ToList();
        return this with { Runs = runs.Skip(Math.Max(0, runs.Count - Keep)).ToList() };
    }
}
