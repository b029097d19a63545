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
        var plan = KernelCommandSupport.Select(context).NominalPlan();
        context.Out.Write(PlanPrinter.Format(plan));
        return ExitCodes.Ok;
    }
}
