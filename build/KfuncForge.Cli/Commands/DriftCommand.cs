using KfuncForge.Definitions;
using KfuncForge.Diagnostics;
using KfuncForge.Upstream;

namespace KfuncForge.Cli.Commands;

/// <summary>Compares every kfunc's recorded upstream state with a kernel git repository at a newer ref; exit 1 when upstream moved.</summary>
public sealed class DriftCommand : ICommand
{
    public string Name => "drift";
    public string Summary => "compare recorded upstream kfuncs with a newer ref; exit 1 when one moved";
    public IReadOnlyCollection<string> Accepts => ["upstream", "ref", "module"];

    public int Run(CommandContext context)
    {
        var o = context.Options;
        var missing = new List<Problem>();
        if (o.Get("upstream") is null) missing.Add(new Problem("command line", 0, 0, "", "drift needs --upstream=<path to a kernel git repository>"));
        if (o.Get("ref") is null) missing.Add(new Problem("command line", 0, 0, "", "drift needs --ref=<tag or commit> to compare with (e.g. --ref=v6.18)"));
        if (missing.Count > 0) throw new InputException(missing);

        var catalog = Catalog.Load(context.Tree);
        var modules = catalog.SelectModules(o.Get("module"));
        var report = DriftCheck.Run(modules, o.Get("upstream")!, o.Get("ref")!);
        var w = context.Out;
        var count = report.Items.Count;
        w.WriteLine($"drift: {count} kfunc{(count == 1 ? "" : "s")} in {modules.Count} module{(modules.Count == 1 ? "" : "s")} against {report.Upstream} at {report.At.Name} ({report.At.CommitId[..12]})");
        foreach (var item in report.Items)
        {
            var state = item.State switch
            {
                DriftState.Changed => "CHANGED",
                DriftState.Unchecked => "unchecked",
                _ => "unchanged",
            };
            w.WriteLine($"  {item.Kfunc} ({item.Module}): {state}");
            foreach (var change in item.Changes) w.WriteLine($"    {change}");
            if (item.LastChange is { } c) w.WriteLine($"    last changed upstream by {c.Short} \"{c.Subject}\" ({c.When:yyyy-MM-dd})");
            foreach (var note in item.Notes) w.WriteLine($"    note: {note}");
        }
        var moved = report.Items.Count(i => i.State == DriftState.Changed);
        w.WriteLine($"  cost: scanned {report.Scan.FilesRead} C files ({report.Scan.BytesRead / (1024 * 1024)} MiB) in {report.Scan.Elapsed.TotalSeconds:F1} s; total {report.Elapsed.TotalSeconds:F1} s");
        if (moved == 0)
        {
            w.WriteLine("no upstream drift.");
            return ExitCodes.Ok;
        }
        w.WriteLine($"{moved} of {count} kfunc{(count == 1 ? "" : "s")} moved upstream: review their backports, then run import for each at {report.At.Name} to record the new state.");
        return ExitCodes.Failed;
    }
}
