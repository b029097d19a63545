using System.Text;

namespace KfuncForge.Compilation;

public enum CellOutcome { Built, Failed, Native, Infeasible, Unavailable }

/// <summary>What happened to one (module, kernel) cell, with the reason a person needs.</summary>
public sealed record CellResult(string Distro, string Kernel, string Module, CellOutcome Outcome, string Reason, TimeSpan Duration, string? Ko = null, string? Log = null)
{
    /// <summary>How long kbuild itself ran (the sandboxed make process), when it ran.</summary>
    public TimeSpan? KbuildTime { get; init; }

    public bool IsFailure => Outcome == CellOutcome.Failed;

    /// <summary>The cells of a kernel this run could not use: one per module, each with the reason.</summary>
    public static IEnumerable<CellResult> Unavailable(string distro, Kernels.UnavailableKernel kernel, IEnumerable<string> modules) =>
        modules.Select(m => new CellResult(distro, kernel.Kernel, m, CellOutcome.Unavailable, kernel.Reason, TimeSpan.Zero));
}

/// <summary>The table printed at the end of a build: every cell, its outcome and reason; plus the verdict for the exit code.</summary>
public static class BuildSummary
{
    public static string Format(IReadOnlyList<CellResult> results)
    {
        var sb = new StringBuilder();
        var kw = Math.Max(6, results.Select(r => r.Kernel.Length).DefaultIfEmpty(0).Max());
        var mw = Math.Max(6, results.Select(r => r.Module.Length).DefaultIfEmpty(0).Max());
        sb.Append($"{"kernel".PadRight(kw)}  {"module".PadRight(mw)}  {"outcome",-11}  {"time",6}  reason\n");
        foreach (var r in results)
            sb.Append($"{r.Kernel.PadRight(kw)}  {r.Module.PadRight(mw)}  {r.Outcome.ToString().ToLowerInvariant(),-11}  {r.Duration.TotalSeconds,5:0.0}s  {OneLine(r.Reason)}\n");
        var failed = results.Count(r => r.IsFailure);
        sb.Append($"{results.Count} cells: {results.Count(r => r.Outcome == CellOutcome.Built)} built, {failed} failed, " +
                  $"{results.Count(r => r.Outcome == CellOutcome.Native)} native, {results.Count(r => r.Outcome == CellOutcome.Infeasible)} infeasible" +
                  (results.Any(r => r.Outcome == CellOutcome.Unavailable) ? $", {results.Count(r => r.Outcome == CellOutcome.Unavailable)} unavailable" : "") + "\n");
        return sb.ToString();
    }

    private static string OneLine(string text) => text.Replace("\r", "").Replace("\n", " | ");
}
