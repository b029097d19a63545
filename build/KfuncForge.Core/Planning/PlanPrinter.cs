using System.Text;

namespace KfuncForge.Planning;

/// <summary>The plan as a table for humans (dry runs, the Plan target).</summary>
public static class PlanPrinter
{
    public static string Format(Plan plan)
    {
        var sb = new StringBuilder();
        sb.Append("plan for ").Append(plan.Distro.Id).Append(" (").Append(plan.Distro.Name).Append(")\n");
        foreach (var group in plan.Cells.GroupBy(c => c.Kernel.Release))
        {
            var kernel = group.First().Kernel;
            sb.Append("kernel ").Append(kernel.Release)
              .Append(kernel.IsResolved ? "" : " (not fetched yet: decisions by version line only)").Append('\n');
            foreach (var cell in group)
            {
                sb.Append("  module ").Append(cell.Module.Name).Append(cell.NeedsModule ? ": build\n" : ": nothing to build\n");
                var width = cell.Entries.Max(e => e.Kfunc.Length);
                foreach (var e in cell.Entries)
                {
                    sb.Append("    ").Append(e.Kfunc.PadRight(width)).Append("  ")
                      .Append(e.Verdict.ToString().ToLowerInvariant().PadRight(10)).Append(' ').Append(e.Reason).Append('\n');
                    if (e.Verdict == Verdict.Backport)
                        foreach (var (reason, count) in DeclaredDifferences(cell, e.Kfunc))
                            sb.Append("    ").Append(new string(' ', width + 13))
                              .Append($"differs from upstream here in {count} fidelity case{(count == 1 ? "" : "s")} (declared): {reason}\n");
                }
            }
        }
        return sb.ToString();
    }

    /// <summary>The module's declared fidelity differences (docs/fidelity.md) that cover this kernel for one kfunc: reason and number of cases.</summary>
    public static IReadOnlyList<(string Reason, int Cases)> DeclaredDifferences(BuildCell cell, string kfunc) =>
        (cell.Module.Fidelity?.Cases ?? [])
            .Where(c => c.Kfunc == kfunc)
            .Select(c => c.DifferenceOn(cell.Kernel.Effective))
            .OfType<KfuncForge.Model.DeclaredDifference>()
            .GroupBy(d => d.Reason, StringComparer.Ordinal)
            .Select(g => (g.Key, g.Count()))
            .ToList();
}
