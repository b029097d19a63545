using KfuncForge.Definitions;
using KfuncForge.Diagnostics;
using KfuncForge.Planning;

namespace KfuncForge.Cli.Commands;

/// <summary>Prints native / backport / infeasible for every (module, kfunc, kernel) without building anything.</summary>
public sealed class PlanCommand : ICommand
{
    public string Name => "plan";
    public string Summary => "print the plan: native / backport / infeasible per module, kfunc and kernel, with reasons";
    public IReadOnlyCollection<string> Accepts => ["distro", "module", "kernel"];

    public int Run(CommandContext context)
    {
        var plan = MakePlan(context);
        context.Out.Write(PlanPrinter.Format(plan));
        return ExitCodes.Ok;
    }

    /// <summary>Definitions → selected distro, modules and kernels → plan. Shared by every command that needs a plan.</summary>
    public static Plan MakePlan(CommandContext context)
    {
        var catalog = Catalog.Load(context.Tree);
        var distro = catalog.Distro(context.Options.Get("distro", "debian12"));
        var modules = catalog.SelectModules(context.Options.Get("module"));
        var kernels = KernelSelection.Select(distro, context.Options.Get("kernel"));
        return Planner.Make(distro, kernels, modules);
    }
}
