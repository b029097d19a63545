using System.Text.Json;
using System.Text.Json.Serialization;

namespace KfuncForge.Matrix;

/// <summary>The stages a matrix cell goes through, in order. `--until` stops after one of them.</summary>
public enum MatrixStage { Plan, Build, Smoke, Sign, Package }

/// <summary>One cell of the matrix: a distro profile, one of its target kernels, one module.</summary>
public sealed record MatrixCellId(string Distro, string Kernel, string Module)
{
    public string Id => $"{Distro}/{Kernel}/{Module}";

    public override string ToString() => Id;
}

/// <summary>Statuses of a cell (docs/matrix.md): pass, fail, infeasible (the plan says no kfunc can work there), skipped (cannot run here).</summary>
public static class CellStatus
{
    public const string Pass = "pass";
    public const string Fail = "fail";
    public const string Infeasible = "infeasible";
    public const string Skipped = "skipped";

    /// <summary>The kernel could not be used this run (not completely published, not fetchable): never stored, so the next run tries again.</summary>
    public const string Unavailable = "unavailable";

    public static readonly string[] All = [Pass, Fail, Infeasible, Skipped, Unavailable];
}

/// <summary>Statuses of one stage of a cell.</summary>
public static class StageStatus
{
    public const string Pass = "pass";
    public const string Fail = "fail";

    /// <summary>The stage has nothing to do for this cell (every kfunc native or infeasible: no module to build, sign or package).</summary>
    public const string NotNeeded = "not_needed";

    /// <summary>An earlier stage failed, or --until stopped before it.</summary>
    public const string NotRun = "not_run";
}

/// <summary>What one stage did for a cell.</summary>
public sealed record StageOutcome
{
    public required string Status { get; init; }
    public string? Reason { get; init; }
    public double Seconds { get; init; }

    /// <summary>The stage's log, relative to the cell's folder in the store.</summary>
    public string? Log { get; init; }
}

/// <summary>The plan's verdict for one kfunc of the cell and, when the smoke stage ran, whether its checks passed.</summary>
public sealed record KfuncOutcome
{
    public required string Kfunc { get; init; }
    public required string Verdict { get; init; }
    public required string Reason { get; init; }

    /// <summary>pass / fail from the smoke stage's checks that concern this kfunc; null when smoke did not test it.</summary>
    public string? Smoke { get; init; }
}

/// <summary>A load step's figures (smoke stage, under QEMU): what the regression check compares between runs.</summary>
public sealed record LoadFigure
{
    public required string Name { get; init; }
    public required string Kfunc { get; init; }
    public required string Verdict { get; init; }
    public required bool Passed { get; init; }
    public string? Proto { get; init; }
    public double? NsPerCall { get; init; }
    public double? CallsPerSecond { get; init; }
    public double? SocketsPerSecond { get; init; }

    /// <summary>The figure the regression check uses: ns per call (lower is better) or sockets per second (higher is better).</summary>
    [JsonIgnore]
    public (double Value, bool LowerIsBetter)? Figure =>
        NsPerCall is { } ns ? (ns, true) : SocketsPerSecond is { } sps ? (sps, false) : null;
}

/// <summary>The stages' outcomes of one cell; a stage that was not reached is null.</summary>
public sealed record CellStages
{
    public StageOutcome? Plan { get; init; }
    public StageOutcome? Build { get; init; }
    public StageOutcome? Smoke { get; init; }
    public StageOutcome? Sign { get; init; }
    public StageOutcome? Package { get; init; }

    public IEnumerable<(MatrixStage Stage, StageOutcome Outcome)> Ran()
    {
        if (Plan is not null) yield return (MatrixStage.Plan, Plan);
        if (Build is not null) yield return (MatrixStage.Build, Build);
        if (Smoke is not null) yield return (MatrixStage.Smoke, Smoke);
        if (Sign is not null) yield return (MatrixStage.Sign, Sign);
        if (Package is not null) yield return (MatrixStage.Package, Package);
    }
}

/// <summary>
/// The result of one cell as the store keeps it (record.json in the cell's folder) and as matrix.json
/// lists it. Written once, whole, when the cell is finished; never updated.
/// </summary>
public sealed record CellRecord
{
    public required string Id { get; init; }
    public required string Distro { get; init; }
    public required string Kernel { get; init; }
    public required string Module { get; init; }

    /// <summary>SHA-256 of everything the cell depends on (CellKey); empty for skipped cells, which are never stored.</summary>
    public required string Key { get; init; }

    public required string Status { get; init; }
    public string? Reason { get; init; }
    public required IReadOnlyList<KfuncOutcome> Kfuncs { get; init; }
    public required CellStages Stages { get; init; }
    public IReadOnlyList<LoadFigure> Loads { get; init; } = [];

    /// <summary>Wall time of the cell's own work (stages), in seconds.</summary>
    public double Seconds { get; init; }

    /// <summary>When the cell was run (UTC, ISO 8601) and by which run: data, never part of the key.</summary>
    public string? RecordedAt { get; init; }
    public string? RunId { get; init; }

    /// <summary>The digests that make up the key, by input, so a rerun can say what changed.</summary>
    public IReadOnlyDictionary<string, string> Inputs { get; init; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// True when the cell failed because a tool, a download or the environment failed (an exception), not
    /// because its result was judged: kept in the store for its logs, but the next run retries it.
    /// </summary>
    public bool? Transient { get; init; }

    /// <summary>In matrix.json only: true when this run took the cell from the store instead of running it.</summary>
    public bool? Reused { get; init; }

    /// <summary>In matrix.json only: the cell's folder (logs), relative to the report.</summary>
    public string? Logs { get; init; }

    public MatrixCellId CellId => new(Distro, Kernel, Module);
}

public static class MatrixJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        IndentSize = 2,
        NewLine = "\n",
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options) + "\n";

    public static T Deserialize<T>(string text) => JsonSerializer.Deserialize<T>(text, Options) ?? throw new JsonException("the file holds null");

    /// <summary>Writes a file whole: into a temporary file beside it, then renamed over it (a reader never sees half a file).</summary>
    public static void WriteAtomic(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var tmp = $"{path}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}
