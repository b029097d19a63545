using System.Diagnostics;
using System.Globalization;
using KfuncForge.Diagnostics;

namespace KfuncForge.Cli.Commands;

/// <summary>
/// The Package target's stages in one engine process: validate, build (which fetches), smoke, sign and package (with
/// --secure-boot=on, sign also before smoke), each
/// given the options it takes, stopping at the first that fails (exit 1 or 2) and going on past unavailable kernels
/// (exit 3, reported at the end). One process pays the runtime's start and the engine's JIT once instead of per
/// stage; what each stage does, and what it reuses from the store, is the same as when its verb runs alone.
/// </summary>
public sealed class RunCommand : ICommand
{
    public static readonly string[] Stages = ["validate", "build", "smoke", "sign", "package"];

    public string Name => "run";
    public string Summary => "run the Package target's stages (validate, build, smoke, sign, package) in one process; --until=<stage> stops after that stage";
    public IReadOnlyCollection<string> Accepts => [.. Stages.SelectMany(s => Cli.Commands.Single(c => c.Name == s).Accepts).Distinct(StringComparer.Ordinal)
        .Where(o => o is not ("ko" or "cell" or "output" or "verify-only" or "dryrun" or "index")), "until"];

    public int Run(CommandContext context)
    {
        var until = context.Options.Get("until", "package");
        if (!Stages.Contains(until))
            throw new InputException(new Problem("--until", 0, 0, "", $"must be one of {string.Join(", ", Stages)}, not '{until}'"));
        var unavailable = false;
        var stages = Stages.Take(Array.IndexOf(Stages, until) + 1).ToList();
        // Under Secure Boot the guests load the signed modules, so they are signed before the smoke boots (as the SmokeTest target does).
        if (context.Options.OnOff("secure-boot", false) && stages.Contains("smoke")) stages.Insert(stages.IndexOf("smoke"), "sign");
        foreach (var stage in stages)
        {
            var command = Cli.Commands.Single(c => c.Name == stage);
            var options = context.Options.Only(command.Accepts);
            context.Out.WriteLine($"== {stage}");
            var watch = Stopwatch.StartNew();
            var exit = command.Run(context with { Options = options });
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"== {stage}: exit {exit} in {watch.Elapsed.TotalSeconds:0.00} s"));
            if (exit == ExitCodes.Unavailable) unavailable = true;
            else if (exit != ExitCodes.Ok) return exit;
        }
        return ExitCodes.Passed(unavailable);
    }
}
