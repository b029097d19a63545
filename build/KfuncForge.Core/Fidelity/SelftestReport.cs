using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using KfuncForge.Vm;

namespace KfuncForge.Fidelity;

/// <summary>The upstream selftests' part of fidelity.json and fidelity.md.</summary>
public static class SelftestReport
{
    public static string Name(SelftestStatus s) => s switch
    {
        SelftestStatus.NotRun => "not_run",
        _ => s.ToString().ToLowerInvariant(),
    };

    /// <summary>Per kernel: how many programs passed, failed, matched a declared difference, were not run or skipped.</summary>
    public static IEnumerable<(string Kernel, IReadOnlyDictionary<SelftestStatus, int> Counts)> Totals(SelftestRun run) =>
        run.Programs.SelectMany(p => p.Kernels).GroupBy(k => k.Kernel)
            .Select(g => (g.Key, (IReadOnlyDictionary<SelftestStatus, int>)Enum.GetValues<SelftestStatus>().ToDictionary(s => s, s => g.Count(k => k.Status == s))));

    public static JsonObject Json(SelftestRun run)
    {
        var totals = new JsonObject();
        foreach (var (kernel, counts) in Totals(run))
            totals[kernel] = new JsonObject(counts.Select(c => KeyValuePair.Create(Name(c.Key), (JsonNode?)c.Value)));
        return new JsonObject
        {
            ["tree"] = run.Tree,
            ["ref"] = run.Ref,
            ["commit"] = run.Commit,
            ["passed"] = run.Passed,
            ["totals"] = totals,
            ["programs"] = new JsonArray(run.Programs.Select(p => (JsonNode)new JsonObject
            {
                ["module"] = p.Module,
                ["file"] = p.File,
                ["program"] = p.Program,
                ["kfuncs"] = new JsonArray(p.Kfuncs.Select(k => (JsonNode)JsonValue.Create(k)!).ToArray()),
                ["upstream"] = p.Upstream,
                ["passed"] = p.Passed,
                ["kernels"] = new JsonArray(p.Kernels.Select(k => (JsonNode)new JsonObject
                {
                    ["release"] = k.Kernel,
                    ["mode"] = k.Mode is { } m ? SmokeReport.Name(m) : null,
                    ["status"] = Name(k.Status),
                    ["observed"] = k.Observed,
                    ["declared_reason"] = k.DeclaredReason,
                    ["message"] = k.Message,
                }).ToArray()),
            }).ToArray()),
        };
    }

    public static void Markdown(StringBuilder sb, SelftestRun run)
    {
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"## Upstream selftests\n\nFrom `{run.Tree}` at {run.Ref} ({run.Commit[..Math.Min(12, run.Commit.Length)]}): the programs of tools/testing/selftests/bpf/progs that call the modules' kfuncs, judged by upstream's own annotations. ");
        sb.Append("✓ passed, `D<n>` a declared difference (reasons below the table), ✗ failed, `n/r` not run (reasons below), – kfunc infeasible there.\n\n");
        if (run.Programs.Count == 0) { sb.Append("No selftest program of that tree calls these modules' kfuncs.\n\n"); return; }
        var kernels = run.Programs[0].Kernels.Select(k => k.Kernel).ToList();
        sb.Append("| kernel | passed | declared | failed | not run | skipped |\n|---|---|---|---|---|---|\n");
        foreach (var (kernel, c) in Totals(run))
            sb.Append(inv, $"| {kernel} | {c[SelftestStatus.Passed]} | {c[SelftestStatus.Declared]} | {c[SelftestStatus.Failed]} | {c[SelftestStatus.NotRun]} | {c[SelftestStatus.Skipped]} |\n");
        var reasons = run.Programs.SelectMany(p => p.Kernels).Select(k => k.DeclaredReason).OfType<string>().Distinct().ToList();
        var notRun = run.Programs.SelectMany(p => p.Kernels).Where(k => k.Status == SelftestStatus.NotRun).Select(k => k.Message).Distinct().ToList();
        sb.Append("\n| module | file | program | upstream |").Append(string.Concat(kernels.Select(k => $" {k} |"))).Append('\n');
        sb.Append("|---|---|---|---|").Append(string.Concat(kernels.Select(_ => "---|"))).Append('\n');
        foreach (var p in run.Programs)
        {
            sb.Append(inv, $"| {p.Module} | {Path.GetFileName(p.File)} | {p.Program} | {Cell(p.Upstream)} |");
            foreach (var k in p.Kernels)
                sb.Append(' ').Append(k.Status switch
                {
                    SelftestStatus.Passed => "✓",
                    SelftestStatus.Declared => $"D{reasons.IndexOf(k.DeclaredReason!) + 1}",
                    SelftestStatus.Failed => $"✗ {Cell(k.Observed)}",
                    SelftestStatus.NotRun => $"n/r{notRun.IndexOf(k.Message) + 1}",
                    _ => "–",
                }).Append(" |");
            sb.Append('\n');
        }
        if (reasons.Count > 0)
        {
            sb.Append("\nDeclared differences met by selftests:\n\n");
            for (var i = 0; i < reasons.Count; i++) sb.Append(inv, $"{i + 1}. {reasons[i]}\n");
        }
        if (notRun.Count > 0)
        {
            sb.Append("\nNot run:\n\n");
            for (var i = 0; i < notRun.Count; i++) sb.Append(inv, $"{i + 1}. {Cell(notRun[i])}\n");
        }
        var failed = run.Programs.SelectMany(p => p.Kernels.Where(k => k.Status == SelftestStatus.Failed).Select(k => (p, k))).ToList();
        if (failed.Count > 0)
        {
            sb.Append("\nFailed:\n\n");
            foreach (var (p, k) in failed) sb.Append(inv, $"- {p.Module} {Path.GetFileName(p.File)} {p.Program} on {k.Kernel}: {k.Message}\n");
        }
        sb.Append('\n');
    }

    private static string Cell(string s) => s.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
