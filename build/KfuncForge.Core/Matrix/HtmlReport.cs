using System.Globalization;
using System.Net;
using System.Text;

namespace KfuncForge.Matrix;

/// <summary>
/// matrix.html: one self-contained page (inline CSS and SVG, no script, nothing fetched): the grid
/// (distro/kernel rows, kfunc columns grouped by module), each cell's details with links to its logs,
/// and plots of run durations and load figures over the runs in the history.
/// </summary>
public static class HtmlReport
{
    /// <summary>The grid's colours, also the legend. Tests look for them in the screenshot.</summary>
    public static readonly IReadOnlyDictionary<string, string> Colours = new Dictionary<string, string>
    {
        ["backport"] = "#2e9e44",
        ["native"] = "#2b6cb0",
        ["fail"] = "#d62d20",
        ["infeasible"] = "#f0a030",
        ["skipped"] = "#9a9a9a",
        ["unavailable"] = "#7b3fa0",
        ["not_tested"] = "#b7dfb9",
    };

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The colour class of one kfunc in one cell.</summary>
    public static string Class(CellRecord cell, KfuncOutcome k) =>
        cell.Status == CellStatus.Skipped ? "skipped"
        : cell.Status == CellStatus.Unavailable ? "unavailable"
        : k.Verdict == "infeasible" ? "infeasible"
        : k.Smoke == StageStatus.Fail || (cell.Status == CellStatus.Fail && k.Smoke != StageStatus.Pass) ? "fail"
        : k.Smoke is null && cell.Stages.Smoke?.Status != StageStatus.Pass ? "not_tested"
        : k.Verdict == "native" ? "native" : "backport";

    public static string Render(MatrixDocument doc, MatrixHistory history)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
        sb.Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n");
        sb.Append($"<title>KfuncForge matrix {E(doc.Run.Id)}</title>\n<style>\n");
        sb.Append("body{font-family:sans-serif;margin:16px;color:#222;background:#fff}h1{font-size:20px;margin:0 0 6px}h2{font-size:16px;margin:18px 0 6px}");
        sb.Append("table.grid{border-collapse:collapse}table.grid th,table.grid td{border:1px solid #fff;padding:0}table.grid th{font-size:11px;font-weight:normal;background:#eee;padding:2px 4px}");
        sb.Append("table.grid th.k{writing-mode:vertical-rl;transform:rotate(180deg);vertical-align:bottom;text-align:left;white-space:nowrap}table.grid th.row{text-align:left;white-space:nowrap}");
        sb.Append("table.grid td a{display:block;width:26px;height:26px}table.grid th.mod{background:#ddd;font-weight:bold}");
        foreach (var (name, colour) in Colours) sb.Append(Inv, $".{name}{{background:{colour}}}");
        sb.Append(".legend span{display:inline-block;padding:2px 8px;margin-right:6px;color:#fff;font-size:12px}.legend span.not_tested{color:#222}");
        sb.Append("table.list{border-collapse:collapse;font-size:12px}table.list td,table.list th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}");
        sb.Append("details{margin:4px 0;font-size:13px}summary{cursor:pointer}.st{display:inline-block;padding:0 6px;color:#fff;border-radius:3px}.st.pass{background:#2e9e44}");
        sb.Append(".st.fail{background:#d62d20}.st.infeasible{background:#f0a030}.st.skipped{background:#9a9a9a}.st.unavailable{background:#7b3fa0}.reg{color:#d62d20;font-weight:bold}svg{background:#fafafa;border:1px solid #ddd}");
        sb.Append("\n</style></head><body>\n");

        var s = doc.Summary;
        sb.Append($"<h1>KfuncForge compatibility matrix</h1>\n<p>Run <code>{E(doc.Run.Id)}</code>, started {E(doc.Run.StartedAt)}, {doc.Run.WallSeconds.ToString("0", Inv)} s, until {E(doc.Run.Until)}, shards {E(string.Join(", ", doc.Run.Shards))}. ");
        sb.Append(Inv, $"<b>{s.Cells} cells</b>: {s.Pass} pass, {s.Fail} fail, {s.Infeasible} infeasible, {s.Skipped} skipped, {s.Unavailable} unavailable; {s.Reused} reused from earlier runs, {s.Ran} run.</p>\n");
        foreach (var note in doc.Run.Notes ?? []) sb.Append($"<p class=\"note\">note: {E(note)}</p>\n");
        sb.Append("<p class=\"legend\">");
        foreach (var name in Colours.Keys) sb.Append($"<span class=\"{name}\">{name.Replace('_', ' ')}</span>");
        sb.Append("</p>\n");

        if (doc.Regressions is { } r)
        {
            sb.Append("<h2>Changes since the previous run</h2>\n<ul>");
            foreach (var line in RegressionCheck.Describe(r)) sb.Append($"<li{(line.StartsWith("fixed", StringComparison.Ordinal) ? "" : " class=\"reg\"")}>{E(line)}</li>");
            if (!r.HasRegression && r.Fixed.Count == 0) sb.Append("<li>no regressions</li>");
            sb.Append("</ul>\n");
        }

        Grid(sb, doc);
        Plots(sb, history);
        Details(sb, doc);
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    private static void Grid(StringBuilder sb, MatrixDocument doc)
    {
        var columns = doc.Cells.GroupBy(c => c.Module).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Module: g.Key, Kfuncs: g.SelectMany(c => c.Kfuncs.Select(k => k.Kfunc)).Distinct().Order(StringComparer.Ordinal).ToList())).ToList();
        var index = doc.Cells.Select((c, i) => (c.Id, i)).ToDictionary(x => x.Id, x => x.i, StringComparer.Ordinal);
        sb.Append("<h2>Grid</h2>\n<table class=\"grid\" id=\"grid\"><tr><th class=\"row\" rowspan=\"2\">distro / kernel</th>");
        foreach (var (module, kfuncs) in columns) sb.Append(Inv, $"<th class=\"mod\" colspan=\"{kfuncs.Count}\">{E(module)}</th>");
        sb.Append("</tr>\n<tr>");
        foreach (var (_, kfuncs) in columns)
            foreach (var k in kfuncs) sb.Append($"<th class=\"k\">{E(k)}</th>");
        sb.Append("</tr>\n");
        foreach (var row in doc.Cells.GroupBy(c => (c.Distro, c.Kernel)).OrderBy(g => g.Key.Distro, StringComparer.Ordinal).ThenBy(g => g.Key.Kernel, StringComparer.Ordinal))
        {
            sb.Append($"<tr><th class=\"row\">{E(row.Key.Distro)} / {E(row.Key.Kernel)}</th>");
            foreach (var (module, kfuncs) in columns)
            {
                var cell = row.FirstOrDefault(c => c.Module == module);
                foreach (var k in kfuncs)
                {
                    var outcome = cell?.Kfuncs.FirstOrDefault(x => x.Kfunc == k);
                    if (cell is null || outcome is null) { sb.Append("<td></td>"); continue; }
                    var cls = Class(cell, outcome);
                    var title = $"{cell.Id} {k}: {outcome.Verdict}{(outcome.Smoke is null ? "" : ", smoke " + outcome.Smoke)} ({outcome.Reason})";
                    sb.Append(Inv, $"<td class=\"{cls}\"><a href=\"#cell-{index[cell.Id]}\" title=\"{E(title)}\"></a></td>");
                }
            }
            sb.Append("</tr>\n");
        }
        sb.Append("</table>\n");
    }

    private static void Details(StringBuilder sb, MatrixDocument doc)
    {
        sb.Append("<h2>Cells</h2>\n");
        for (var i = 0; i < doc.Cells.Count; i++)
        {
            var c = doc.Cells[i];
            sb.Append(Inv, $"<details id=\"cell-{i}\"{(c.Status is CellStatus.Fail or CellStatus.Unavailable ? " open" : "")}><summary><span class=\"st {c.Status}\">{c.Status}</span> <b>{E(c.Id)}</b> ");
            sb.Append(Inv, $"{c.Seconds:0.0} s{(c.Reused == true ? ", reused" : "")}{(c.Reason is null ? "" : " — " + E(Short(c.Reason)))}</summary>\n");
            sb.Append("<table class=\"list\"><tr><th>stage</th><th>status</th><th>seconds</th><th>detail</th><th>log</th></tr>");
            foreach (var (stage, o) in c.Stages.Ran())
            {
                var log = o.Log is not null && c.Logs is not null ? $"<a href=\"{E(c.Logs + "/" + o.Log)}\">{E(o.Log)}</a>" : "";
                sb.Append(Inv, $"<tr><td>{stage.ToString().ToLowerInvariant()}</td><td>{E(o.Status)}</td><td>{o.Seconds:0.0}</td><td>{E(Short(o.Reason ?? ""))}</td><td>{log}</td></tr>");
            }
            sb.Append("</table>\n<table class=\"list\"><tr><th>kfunc</th><th>verdict</th><th>smoke</th><th>plan's reason</th></tr>");
            foreach (var k in c.Kfuncs) sb.Append($"<tr><td>{E(k.Kfunc)}</td><td>{E(k.Verdict)}</td><td>{E(k.Smoke ?? "")}</td><td>{E(k.Reason)}</td></tr>");
            sb.Append("</table>\n");
            if (c.Loads.Count > 0)
            {
                sb.Append("<table class=\"list\"><tr><th>load</th><th>kfunc</th><th>verdict</th><th>ns/call</th><th>calls/s</th><th>sockets/s</th></tr>");
                foreach (var l in c.Loads)
                    sb.Append(Inv, $"<tr><td>{E(l.Name)}</td><td>{E(l.Kfunc)}</td><td>{E(l.Verdict)}</td><td>{l.NsPerCall:0.##}</td><td>{l.CallsPerSecond:0}</td><td>{l.SocketsPerSecond:0.#}</td></tr>");
                sb.Append("</table>\n");
            }
            if (c.Logs is not null) sb.Append($"<p>All logs and outputs: <a href=\"{E(c.Logs)}/\">{E(c.Logs)}/</a></p>");
            sb.Append("</details>\n");
        }
    }

    private static void Plots(StringBuilder sb, MatrixHistory history)
    {
        var runs = history.Runs;
        sb.Append(Inv, $"<h2>Over the last {runs.Count} run{(runs.Count == 1 ? "" : "s")}</h2>\n");
        sb.Append("<p>Run wall time (s) and the sum of the cells' own durations (s, reused cells count their original time):</p>\n");
        sb.Append(Chart([("wall", "#2b6cb0", runs.Select(r => (double?)r.WallSeconds).ToList()), ("cells", "#2e9e44", runs.Select(r => (double?)r.Cells.Values.Sum(c => c.Seconds)).ToList())], 640, 160));
        var loads = runs.SelectMany(r => r.Cells.SelectMany(c => c.Value.Loads.Keys.Select(l => (Cell: c.Key, Load: l)))).Distinct().OrderBy(x => x.Cell, StringComparer.Ordinal).ThenBy(x => x.Load, StringComparer.Ordinal).ToList();
        if (loads.Count == 0) return;
        sb.Append("<p>Load figures per run (ns per call, or sockets per second for socket loads):</p>\n<table class=\"list\"><tr><th>cell</th><th>load</th><th>last</th><th>runs</th></tr>\n");
        foreach (var (cell, load) in loads)
        {
            var series = runs.Select(r => r.Cells.TryGetValue(cell, out var c) && c.Loads.TryGetValue(load, out var v) ? v : (double?)null).ToList();
            sb.Append(Inv, $"<tr><td>{E(cell)}</td><td>{E(load)}</td><td>{series.LastOrDefault(v => v is not null):0.##}</td><td>{Chart([(load, "#d62d20", series)], 240, 40)}</td></tr>\n");
        }
        sb.Append("</table>\n");
    }

    /// <summary>A line chart as inline SVG: one polyline per series over the runs, scaled to the largest value.</summary>
    public static string Chart(IReadOnlyList<(string Name, string Colour, IReadOnlyList<double?> Values)> series, int width, int height)
    {
        var sb = new StringBuilder();
        var max = series.SelectMany(s => s.Values).Where(v => v is not null).Select(v => v!.Value).DefaultIfEmpty(1).Max();
        if (max <= 0) max = 1;
        var n = series.Max(s => s.Values.Count);
        var pad = 4;
        sb.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">");
        if (height >= 100)
            sb.Append(Inv, $"<text x=\"{pad}\" y=\"12\" font-size=\"10\" fill=\"#555\">max {max:0.#}</text>");
        foreach (var (name, colour, values) in series)
        {
            var points = new List<string>();
            for (var i = 0; i < values.Count; i++)
            {
                if (values[i] is not { } v) continue;
                var x = n <= 1 ? width / 2.0 : pad + i * (width - 2.0 * pad) / (n - 1);
                var y = height - pad - v / max * (height - 2.0 * pad - (height >= 100 ? 12 : 0));
                points.Add(string.Create(Inv, $"{x:0.#},{y:0.#}"));
            }
            sb.Append($"<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{string.Join(' ', points)}\"><title>{E(name)}</title></polyline>");
            foreach (var p in points) sb.Append($"<circle cx=\"{p.Split(',')[0]}\" cy=\"{p.Split(',')[1]}\" r=\"2.5\" fill=\"{colour}\"/>");
        }
        sb.Append("</svg>");
        return sb.ToString();
    }

    private static string Short(string text) => text.Length > 400 ? text[..400] + "…" : text;

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
