using System.Text;

namespace KfuncForge.Planning;

/// <summary>
/// The plan as a table for humans (dry runs, the Plan target, the matrix's plan.txt): one row per kernel, module
/// and kfunc with the verdict and the short code of the rule that decided; each distinct long reason is printed
/// once below the table and referred to by number, as is each fidelity difference the module declares there.
/// </summary>
public static class PlanPrinter
{
    /// <summary>Marks a kernel not fetched yet (decided by its version line only).</summary>
    public const string NotFetched = "†";

    public static string Format(Plan plan)
    {
        var notes = new List<string>();
        var differences = new List<string>();
        int Number(List<string> list, string text)
        {
            var at = list.IndexOf(text);
            if (at < 0) { list.Add(text); at = list.Count - 1; }
            return at + 1;
        }

        var rows = new List<string[]>();
        foreach (var group in plan.Cells.GroupBy(c => c.Kernel.Release))
        {
            var kernel = group.First().Kernel;
            var first = true;
            foreach (var cell in group)
                foreach (var e in cell.Entries)
                {
                    // The kfunc's own name is in many reasons; as "it" one note serves every kfunc with the same rule.
                    var note = $"{Number(notes, System.Text.RegularExpressions.Regex.Replace(e.Reason, $@"\b{e.Kfunc}\b", "it"))}";
                    if (e.Verdict == Verdict.Backport)
                    {
                        var declared = DeclaredDifferences(cell, e.Kfunc).Select(d => $"D{Number(differences, d.Reason)} ({d.Cases} case{(d.Cases == 1 ? "" : "s")})").ToList();
                        if (declared.Count > 0) note += "; differs: " + string.Join(", ", declared);
                    }
                    rows.Add([first ? kernel.Release + (kernel.IsResolved ? "" : " " + NotFetched) : "", cell.Module.Name, e.Kfunc,
                        e.Verdict.ToString().ToLowerInvariant(), e.Code, note]);
                    first = false;
                }
        }

        var sb = new StringBuilder();
        sb.Append("plan for ").Append(plan.Distro.Id).Append(" (").Append(plan.Distro.Name).Append(")\n\n");
        string[] header = ["kernel", "module", "kfunc", "plan", "code", "note"];
        var widths = header.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        void Row(string[] cells) => sb.Append(string.Join("  ", cells.Select((c, i) => i == cells.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd()).Append('\n');
        Row(header);
        foreach (var r in rows) Row(r);
        if (plan.Cells.Any(c => !c.Kernel.IsResolved))
            sb.Append(NotFetched).Append(" not fetched yet: decided by the version line only; Fetch reads the kernel's BTF, config and symbols\n");
        sb.Append("\nnotes:\n");
        for (var i = 0; i < notes.Count; i++) sb.Append($"  {i + 1}. {notes[i]}\n");
        if (differences.Count > 0)
        {
            sb.Append("declared differences (module.yaml fidelity cases that give another result than upstream on that kernel):\n");
            for (var i = 0; i < differences.Count; i++) sb.Append($"  D{i + 1}. {differences[i]}\n");
        }
        if (plan.Distro.Facts.Count > 0)
        {
            sb.Append($"verified facts (distros/{plan.Distro.Id}.yaml):\n");
            foreach (var f in plan.Distro.Facts) sb.Append($"  - {f.Fact} (source: {f.Source}; read {f.Date})\n");
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
