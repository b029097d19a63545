using System.Globalization;
using System.Text;

namespace KfuncForge.Matrix;

/// <summary>matrix.md: a summary for a CI job page ($GITHUB_STEP_SUMMARY): counts, regressions, the grid by module, failures with reasons.</summary>
public static class MarkdownReport
{
    public static string Render(MatrixDocument doc)
    {
        var sb = new StringBuilder();
        var s = doc.Summary;
        var inv = CultureInfo.InvariantCulture;
        sb.Append("## KfuncForge compatibility matrix\n\n");
        sb.Append(inv, $"Run `{doc.Run.Id}` ({doc.Run.StartedAt}, {doc.Run.WallSeconds:0} s, until {doc.Run.Until}, shards {string.Join(", ", doc.Run.Shards)}): ");
        sb.Append(inv, $"**{s.Cells} cells**: {s.Pass} pass, {s.Fail} fail, {s.Infeasible} infeasible, {s.Skipped} skipped, {s.Unavailable} unavailable; {s.Reused} reused, {s.Ran} run.\n\n");
        foreach (var note in doc.Run.Notes ?? []) sb.Append("> note: ").Append(Escape(note)).Append('\n');
        if (doc.Run.Notes is { Count: > 0 }) sb.Append('\n');

        if (doc.Regressions is { } r)
        {
            if (r.HasRegression)
            {
                sb.Append(inv, $"### Regressions since the previous run\n\n");
                foreach (var c in r.NewlyFailing) sb.Append($"- **newly failing** `{c.Id}` (was {c.Before}): {Escape(c.Reason)}\n");
                foreach (var l in r.SlowerLoads) sb.Append(inv, $"- **slower** `{l.Id}` {l.Load}: {l.Figure} {l.Before:0.##} → {l.After:0.##} ({l.WorsePercent:0.#}% worse; threshold {r.ThresholdPercent:0.#}%)\n");
                sb.Append('\n');
            }
            else sb.Append("No regressions since the previous run.\n\n");
            if (r.Fixed.Count > 0)
            {
                sb.Append("Fixed since the previous run: ").Append(string.Join(", ", r.Fixed.Select(c => $"`{c.Id}`"))).Append("\n\n");
            }
        }

        var modules = doc.Cells.Select(c => c.Module).Distinct().Order(StringComparer.Ordinal).ToList();
        sb.Append("| distro | kernel | ").Append(string.Join(" | ", modules)).Append(" |\n");
        sb.Append("| --- | --- |").Append(string.Concat(modules.Select(_ => " --- |"))).Append('\n');
        foreach (var row in doc.Cells.GroupBy(c => (c.Distro, c.Kernel)).OrderBy(g => g.Key.Distro, StringComparer.Ordinal).ThenBy(g => g.Key.Kernel, StringComparer.Ordinal))
        {
            sb.Append($"| {row.Key.Distro} | {row.Key.Kernel} |");
            foreach (var m in modules)
            {
                var cell = row.FirstOrDefault(c => c.Module == m);
                sb.Append(' ').Append(cell is null ? "" : Badge(cell)).Append(" |");
            }
            sb.Append('\n');
        }
        sb.Append('\n');

        var notable = doc.Cells.Where(c => c.Status is CellStatus.Fail or CellStatus.Unavailable or CellStatus.Skipped or CellStatus.Infeasible).ToList();
        if (notable.Count > 0)
        {
            sb.Append("| cell | status | reason |\n| --- | --- | --- |\n");
            foreach (var c in notable.OrderBy(c => c.Status switch { CellStatus.Fail => 0, CellStatus.Unavailable => 1, _ => 2 }).ThenBy(c => c.Id, StringComparer.Ordinal))
                sb.Append($"| `{c.Id}` | {c.Status} | {Escape(c.Reason)} |\n");
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static string Badge(CellRecord c)
    {
        var counts = c.Kfuncs.GroupBy(k => k.Verdict).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key}");
        var mark = c.Status switch { CellStatus.Pass => "✅", CellStatus.Fail => "❌", CellStatus.Infeasible => "⛔", CellStatus.Unavailable => "🚫", _ => "⏭️" };
        return c.Status is CellStatus.Pass or CellStatus.Fail ? $"{mark} {c.Status} ({string.Join(", ", counts)})" : $"{mark} {c.Status}";
    }

    private static string Escape(string? text) =>
        (text ?? "").Replace("|", "\\|").Replace("\n", " ") is var t && t.Length > 300 ? t[..300] + "…" : (text ?? "").Replace("|", "\\|").Replace("\n", " ");
}
