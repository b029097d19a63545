using System.Text.Json;
using KfuncForge.Diagnostics;

namespace KfuncForge.Matrix;

/// <summary>The run a report comes from. Times are data (when it ran), never inputs of a cell.</summary>
public sealed record MatrixRunInfo
{
    public required string Id { get; init; }
    public required string StartedAt { get; init; }
    public required string FinishedAt { get; init; }
    public required double WallSeconds { get; init; }
    public required string Engine { get; init; }
    public required string Until { get; init; }
    public MatrixFilters Filters { get; init; } = new();

    /// <summary>The shard this file holds ("0/2"), or, in a merged report, every shard merged.</summary>
    public IReadOnlyList<string> Shards { get; init; } = ["0/1"];

    /// <summary>What kernel resolution skipped and why ("debian12: 6.12.118+deb12-amd64: image not yet published …; using 6.12.117+deb12-amd64").</summary>
    public IReadOnlyList<string>? Notes { get; init; }

    /// <summary>In a shard's file: every cell of the whole matrix with its expected cost, so the merge can check nothing is missing.</summary>
    public IReadOnlyDictionary<string, double>? Universe { get; init; }
}

public sealed record MatrixFilters
{
    public string? Distro { get; init; }
    public string? Module { get; init; }
    public string? Kernel { get; init; }
}

public sealed record MatrixSummary
{
    public int Cells { get; init; }
    public int Pass { get; init; }
    public int Fail { get; init; }
    public int Infeasible { get; init; }
    public int Skipped { get; init; }
    public int Unavailable { get; init; }
    public int Reused { get; init; }
    public int Ran { get; init; }

    public static MatrixSummary Of(IReadOnlyList<CellRecord> cells) => new()
    {
        Cells = cells.Count,
        Pass = cells.Count(c => c.Status == CellStatus.Pass),
        Fail = cells.Count(c => c.Status == CellStatus.Fail),
        Infeasible = cells.Count(c => c.Status == CellStatus.Infeasible),
        Skipped = cells.Count(c => c.Status == CellStatus.Skipped),
        Unavailable = cells.Count(c => c.Status == CellStatus.Unavailable),
        Reused = cells.Count(c => c.Reused == true),
        Ran = cells.Count(c => c.Reused == false),
    };
}

/// <summary>matrix.json (and a shard's shards/&lt;i&gt;-of-&lt;N&gt;.json): the schema is documented in docs/matrix.md.</summary>
public sealed record MatrixDocument
{
    public const string SchemaName = "kfuncforge-matrix/1";

    public string Schema { get; init; } = SchemaName;
    public required MatrixRunInfo Run { get; init; }
    public required MatrixSummary Summary { get; init; }

    /// <summary>Every cell, ordered by id.</summary>
    public required IReadOnlyList<CellRecord> Cells { get; init; }

    public RegressionReport? Regressions { get; init; }

    public static MatrixDocument Load(string path, string what)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException e)
        {
            throw Bad(path, $"cannot read the {what}: {e.Message}");
        }
        try
        {
            var doc = MatrixJson.Deserialize<MatrixDocument>(text);
            if (doc.Schema != SchemaName)
                throw Bad(path, $"the {what} has schema '{doc.Schema}'; this engine reads '{SchemaName}'. Pass a report of this version, or move the file away to start a new history");
            var dupes = doc.Cells.GroupBy(c => c.Id).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            if (dupes.Count > 0) throw Bad(path, $"the {what} lists cells twice: {string.Join(", ", dupes)}");
            return doc;
        }
        catch (JsonException e)
        {
            throw new InputException(new Problem(path, (int)(e.LineNumber ?? -1) + 1, (int)(e.BytePositionInLine ?? 0) + 1, e.Path ?? "",
                $"the {what} is not a valid matrix report ({e.Message.Split(" Path:")[0]}); it was left as it is. Restore it, pass another with --previous=<file>, or move it away to start without a comparison"));
        }
    }

    private static InputException Bad(string path, string message) => new(new Problem(path, 0, 0, "", message));
}
