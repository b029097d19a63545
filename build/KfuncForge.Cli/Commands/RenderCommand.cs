using KfuncForge.Diagnostics;
using KfuncForge.Rendering;

namespace KfuncForge.Cli.Commands;

/// <summary>Renders module sources, Kbuild and packaging files for every planned cell that needs a module.</summary>
public sealed class RenderCommand : ICommand
{
    public string Name => "render";
    public string Summary => "render module sources, Kbuild, DKMS and packaging files into <out>/render/<distro>/<kernel>/<module>/";
    public IReadOnlyCollection<string> Accepts => ["distro", "module", "kernel", "source-date-epoch"];

    public int Run(CommandContext context)
    {
        var plan = KernelCommandSupport.Select(context).NominalPlan();
        var templates = TemplateSet.Load(context.Tree.Templates);
        var date = context.Options.Get("source-date-epoch") is { } epoch
            ? SourceDate.Parse(epoch, "--source-date-epoch")
            : SourceDate.Resolve(context.Tree.Root);
        var renderer = new Renderer(templates, date, Provenance.ProjectProvenance.Read(context.Tree.Root));
        var root = context.Layout.Render;
        var rendered = 0;
        foreach (var cell in plan.Cells)
        {
            if (!cell.NeedsModule)
            {
                context.Out.WriteLine($"skip   {cell.Key}: no kfunc needs a backport ({string.Join("; ", cell.Entries.Select(e => $"{e.Kfunc} {e.Verdict.ToString().ToLowerInvariant()}").Distinct())})");
                continue;
            }
            var result = renderer.Render(cell, root);
            rendered++;
            context.Out.WriteLine($"render {cell.Key}: {result.Files.Count} files, {cell.Backports.Count} kfuncs → {Path.GetRelativePath(context.Tree.Root, result.Directory)}");
        }
        context.Out.WriteLine($"rendered {rendered} of {plan.Cells.Count} cells for {plan.Distro.Id}");
        return ExitCodes.Ok;
    }
}
