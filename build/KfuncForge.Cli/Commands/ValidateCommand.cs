using KfuncForge.Definitions;
using KfuncForge.Diagnostics;

namespace KfuncForge.Cli.Commands;

/// <summary>Loads and checks every definition (modules, distro profiles, kernel packaging) and names the selected ones.</summary>
public sealed class ValidateCommand : ICommand
{
    public string Name => "validate";
    public string Summary => "check every definition; report all problems with file:line:column";
    public IReadOnlyCollection<string> Accepts => ["distro", "module"];

    public int Run(CommandContext context)
    {
        var catalog = Catalog.Load(context.Tree);
        var distro = catalog.Distro(context.Options.Get("distro", "debian12"));
        var modules = catalog.SelectModules(context.Options.Get("module"));
        context.Out.WriteLine($"definitions valid: {catalog.Modules.Count} modules ({catalog.Modules.Sum(m => m.Kfuncs.Count)} kfuncs), {catalog.Distros.Count} distro profiles");
        context.Out.WriteLine($"selected: distro {distro.Id} ({distro.Kernels.Count} kernel targets), modules {string.Join(", ", modules.Select(m => m.Name))}");
        return ExitCodes.Ok;
    }
}
