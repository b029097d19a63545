using KfuncForge.Cli.Commands;
using KfuncForge.Definitions;
using KfuncForge.Diagnostics;

namespace KfuncForge.Cli;

/// <summary>The engine's command line: dispatch, error reporting and exit codes (0 ok, 1 failed, 2 bad input, 3 some kernel unavailable).</summary>
public static class Cli
{
    public static readonly string[] CommonOptions = ["root", "out", "templates"];

    public const int MaxProblemsShown = 200;
    public const int MaxProblemChars = 2000;

    public static IReadOnlyList<ICommand> Commands { get; } =
    [
        new ValidateCommand(),
        new PlanCommand(),
        new RenderCommand(),
        new FetchCommand(),
        new BuildCommand(),
        new BenchBuildCommand(),
        new BenchPackageCommand(),
        new SmokeCommand(),
        new BenchSmokeCommand(),
        new FidelityCommand(),
        new SignCommand(),
        new PackageCommand(),
        new InstallCheckCommand(),
        new ImportCommand(),
        new DriftCommand(),
        new MatrixCommand(),
        new MatrixMergeCommand(),
        new MatrixCiCommand(),
        new RunCommand(),
        new OptionsCommand(),
    ];

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Count == 0 || args[0] is "-h" or "--help" or "help")
        {
            stdout.WriteLine("usage: kfuncforge <command> [--root=<source tree>] [--templates=<dir>] [--out=<artifacts dir>] [options]");
            foreach (var c in Commands) stdout.WriteLine($"  {c.Name,-10} {c.Summary}");
            return args.Count == 0 ? ExitCodes.BadInput : ExitCodes.Ok;
        }
        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            stderr.WriteLine($"error: unknown command '{args[0]}'; known: {string.Join(", ", Commands.Select(c => c.Name))}");
            return ExitCodes.BadInput;
        }
        try
        {
            var options = Options.Parse(args.Skip(1).ToList(), CommonOptions.Concat(command.Accepts).ToHashSet(StringComparer.Ordinal), command.Name);
            var root = Path.GetFullPath(options.Get("root") ?? FindRoot(Directory.GetCurrentDirectory()));
            OptionGrammar.Check(options, root);
            var tree = new SourceTree(root, options.Get("templates") is { } t ? Path.GetFullPath(t) : null);
            var artifacts = Path.GetFullPath(options.Get("out") ?? Path.Combine(root, "artifacts"));
            return command.Run(new CommandContext(options, tree, artifacts, stdout, stderr));
        }
        catch (InputException e)
        {
            // Bounded, whatever the input: at most MaxProblemsShown problems, each at most MaxProblemChars long.
            foreach (var p in e.Problems.Take(MaxProblemsShown))
                stderr.WriteLine($"error: {(p.ToString() is var text && text.Length > MaxProblemChars ? text[..MaxProblemChars] + "… (cut)" : text)}");
            if (e.Problems.Count > MaxProblemsShown) stderr.WriteLine($"… and {e.Problems.Count - MaxProblemsShown} more problems not shown");
            stderr.WriteLine($"{e.Problems.Count} problem{(e.Problems.Count == 1 ? "" : "s")} found; nothing was written. Fix them and run again.");
            return ExitCodes.BadInput;
        }
        catch (UnauthorizedAccessException e)
        {
            stderr.WriteLine($"error: permission denied: {e.Message} Pass --out=<a folder you can write> (or --cache=) and run again.");
            return ExitCodes.BadInput;
        }
        catch (StageException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("KFUNCFORGE_DEBUG") is null)
        {
            stderr.WriteLine($"internal error ({e.GetType().Name}): {e.Message}");
            stderr.WriteLine("This is a bug in KfuncForge; rerun with KFUNCFORGE_DEBUG=1 for the stack trace and report it.");
            return ExitCodes.Failed;
        }
    }

    /// <summary>The source tree is the nearest folder upwards that holds both kfunc-modules/ and distros/.</summary>
    public static string FindRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, "kfunc-modules")) && Directory.Exists(Path.Combine(dir.FullName, "distros")))
                return dir.FullName;
        throw new InputException(new Problem(start, 0, 0, "", "not inside a KfuncForge source tree (no kfunc-modules/ and distros/ above this folder); pass --root"));
    }
}
