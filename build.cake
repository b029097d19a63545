// KfuncForge's task graph. Wiring only: every task runs one verb of the engine (build/KfuncForge.Cli),
// whose logic is ordinary C# tested with xunit. `dotnet cake --tree` shows the pipeline,
// `--description` explains each task, `--dryrun` prints the plan and what would run.

var target = Argument("target", "Package");

// ---------------------------------------------------------------------------------------------
// One context, built once and read by every task. Options are not listed here: the engine's own table
// (`kfuncforge options`, each verb's accepted options) decides which verb gets which of the options given.
// ---------------------------------------------------------------------------------------------
public sealed class BuildParameters
{
    /// <summary>Cake's own arguments: never passed to the engine.</summary>
    private static readonly HashSet<string> CakeOwn = new(StringComparer.OrdinalIgnoreCase)
    {
        "target", "configuration", "verbosity", "v", "dryrun", "whatif", "noop", "description", "showdescription", "tree", "showtree",
        "exclusive", "e", "bootstrap", "skip-bootstrap", "debug", "d", "version", "info", "help", "h", "paths_tools", "settings_skipverification",
    };

    public BuildParameters(ICakeContext context)
    {
        Root = context.MakeAbsolute(context.Directory(".")).FullPath;
        Configuration = context.Argument("configuration", "Release");
        Given = context.Arguments.GetArguments()
            .Where(a => !CakeOwn.Contains(a.Key))
            .ToDictionary(a => a.Key.ToLowerInvariant(), a => a.Value.LastOrDefault() ?? "", StringComparer.Ordinal);
    }

    public string Root { get; }
    public string Configuration { get; }

    /// <summary>Every option given on the command line (besides Cake's own), by name.</summary>
    public IReadOnlyDictionary<string, string> Given { get; }

    public string Get(string name) => Given.TryGetValue(name, out var value) && !string.IsNullOrEmpty(value) ? value : null;

    public string EngineProject => System.IO.Path.Combine(Root, "build", "KfuncForge.Cli", "KfuncForge.Cli.csproj");
    public string EngineDll => System.IO.Path.Combine(Root, "artifacts", "engine", "bin", "KfuncForge.Cli", Configuration.ToLowerInvariant(), "kfuncforge.dll");
    public string TestProject => System.IO.Path.Combine(Root, "tests", "KfuncForge.Tests", "KfuncForge.Tests.csproj");

    private Dictionary<string, HashSet<string>> _accepts;

    /// <summary>The engine's option table (read once, after the Engine task compiled it); an option no verb takes is refused.</summary>
    public IReadOnlyDictionary<string, HashSet<string>> Accepts(ICakeContext context)
    {
        if (_accepts is not null) return _accepts;
        var exit = context.StartProcess("dotnet", new ProcessSettings { Arguments = new ProcessArgumentBuilder().AppendQuoted(EngineDll).Append("options"), RedirectStandardOutput = true, WorkingDirectory = Root }, out var lines);
        if (exit != 0) throw new CakeException(exit, "kfuncforge options failed; the engine's option table could not be read.");
        _accepts = lines.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(w => w.Length > 0)
            .ToDictionary(w => w[0], w => w.Skip(1).ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
        var known = _accepts.Values.SelectMany(v => v).ToHashSet(StringComparer.Ordinal);
        var unknown = Given.Keys.Where(k => !known.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            throw new CakeException(2, $"no task takes {string.Join(", ", unknown.Select(u => "--" + u))}; the options are {string.Join(", ", known.Order(StringComparer.Ordinal).Select(k => "--" + k))} (`dotnet cake --description` says which task uses which)");
        return _accepts;
    }

    /// <summary>The verb's argv: the options given that the verb takes, as --name=value entries, in name order.</summary>
    public ProcessArgumentBuilder EngineArguments(ICakeContext context, string verb)
    {
        var args = new ProcessArgumentBuilder().AppendQuoted(EngineDll).Append(verb);
        var accepts = Accepts(context)[verb];
        // A switch given without a value (--console) reaches the verb as --console=true.
        foreach (var (name, value) in Given.OrderBy(g => g.Key, StringComparer.Ordinal))
            if (accepts.Contains(name))
                args.AppendSwitchQuoted("--" + name, "=", string.IsNullOrEmpty(value) ? "true" : value);
        return args;
    }
}

Setup<BuildParameters>(context => new BuildParameters(context));

// Runs one engine verb; its exit code becomes Cake's (2 = bad input, 1 = failure). Exit 3 means every cell
// that could run passed but some kernel was unavailable: the next stage still runs on the rest, and the run
// exits 1 at the end (see the bottom of this file).
var unavailableIn = new List<string>();
void Engine(BuildParameters p, string verb)
{
    var exit = StartProcess("dotnet", new ProcessSettings { Arguments = p.EngineArguments(Context, verb), WorkingDirectory = p.Root });
    if (exit == 3)
    {
        Warning($"kfuncforge {verb}: some kernels were unavailable (see above); going on with the others.");
        unavailableIn.Add(verb);
        return;
    }
    if (exit != 0)
        throw new CakeException(exit, $"kfuncforge {verb} failed with exit code {exit}; the messages above say what and where.");
}

// ---------------------------------------------------------------------------------------------
// Tasks: leaves do work, entry targets aggregate.
// ---------------------------------------------------------------------------------------------
Task("Engine")
    .Description("Compile the KfuncForge engine (incremental; a fresh clone has no binaries).")
    .Does<BuildParameters>(p => DotNetBuild(p.EngineProject, new DotNetBuildSettings { Configuration = p.Configuration, NoLogo = true, Verbosity = DotNetVerbosity.Quiet }));

Task("Setup")
    .Description("Install the host packages the pipeline needs (build/host-packages.txt), when missing.")
    .Does<BuildParameters>(p =>
    {
        var exit = StartProcess("bash", new ProcessSettings { Arguments = new ProcessArgumentBuilder().AppendQuoted(System.IO.Path.Combine(p.Root, "build", "setup-host.sh")) });
        if (exit != 0) throw new CakeException(exit, "build/setup-host.sh could not install the host packages; see apt's messages above.");
    });

Task("Validate")
    .Description("Check every definition (kfunc-modules/, distros/) strictly; report all problems with file:line:column.")
    .IsDependentOn("Engine")
    .Does<BuildParameters>(p => Engine(p, "validate"));

Task("Plan")
    .Description("Print native / backport / infeasible for every module, kfunc and kernel of --distro, with reasons.")
    .IsDependentOn("Validate")
    .Does<BuildParameters>(p => Engine(p, "plan"));

Task("Render")
    .Description("Render module sources, Kbuild, DKMS and packaging files per kernel into artifacts/render/.")
    .IsDependentOn("Plan")
    .Does<BuildParameters>(p => Engine(p, "render"));

Task("Fetch")
    .Description("Fetch each target kernel's headers, kbuild and image through the distro's package manager (cached by checksum) and print its facts. --container=bwrap|podman|docker, --cache=<dir>.")
    .IsDependentOn("Setup")
    .IsDependentOn("Validate")
    .Does<BuildParameters>(p => Engine(p, "fetch"));

Task("Build")
    .Description("Plan with each kernel's real facts, render and build every cell with kbuild in the distro's environment (module BTF, .BTF_ids, vermagic checked). --jobs=N.")
    .IsDependentOn("Fetch")
    .Does<BuildParameters>(p => Engine(p, "build"));

Task("BenchBuild")
    .Description("Benchmark: the engine's build of one module on one kernel against a bare `make M=` in the same environment, warm cache; prints both and the ratio. --repeat=N.")
    .IsDependentOn("Fetch")
    .Does<BuildParameters>(p => Engine(p, "bench-build"));

Task("BenchPackage")
    .Description("Benchmark stage reuse: the Package verbs on a copy of the tree, first (empty store), with nothing changed, and after one module's C changed (--module); engine time per verb, cells rebuilt, boots rerun, ratios to the first round.")
    .IsDependentOn("Fetch")
    .Does<BuildParameters>(p => Engine(p, "bench-package"));

Task("SmokeTest")
    .Description("Boot each target kernel in QEMU (one boot per kernel, all its modules), run the smoke and load programs; results in artifacts/smoke/<distro>/. --secure-boot=on: sign first, then boot under UEFI Secure Boot with the certificate enrolled as a MOK (docs/signing.md).")
    .IsDependentOn("Build")
    .Does<BuildParameters>(p =>
    {
        if (p.Get("secure-boot") == "on") Engine(p, "sign");
        Engine(p, "smoke");
    });

Task("BenchSmoke")
    .Description("Benchmark the smoke harness: boots per hour, per-kernel boot/load/tests split, overhead vs a bare QEMU boot.")
    .IsDependentOn("Build")
    .Does<BuildParameters>(p => Engine(p, "bench-smoke"));

Task("Fidelity")
    .Description("Run every module's fidelity suite on native and backport kernels of several profiles in QEMU (--distros, default debian12,debian13: 6.1, 6.12 and 7.3), building each profile first; then the test_run load steps again in instruction time (-icount; --icount=off skips it), compared with the previous report (--previous, --threshold=<percent>, default 10); with --upstream=<kernel repository> --ref=<tag>, also upstream's own BPF selftests for the modules' kfuncs; fails on any undeclared difference or regression; report in artifacts/fidelity/.")
    .IsDependentOn("Setup")
    .IsDependentOn("Validate")
    .Does<BuildParameters>(p => Engine(p, "fidelity"));

Task("Sign")
    .Description("Sign every built module (the profile's key, else a development key outside the tree, with a warning naming the certificate to enroll), digest from each kernel's config; verified.")
    .IsDependentOn("Build")
    .Does<BuildParameters>(p => Engine(p, "sign"));

Task("Package")
    .Description("Build, smoke-test, sign and package every module for every target kernel of --distro, and publish a signed repository under artifacts/repo/<distro>/: the stages of the Build, SmokeTest and Sign targets in one engine process (verb run), each reusing what its unchanged inputs produced before (docs/pipeline.md); only modules that passed in QEMU byte for byte are published, each signature re-verified.")
    .IsDependentOn("Setup")
    .IsDependentOn("Engine")
    .Does<BuildParameters>(p => Engine(p, "run"));

Task("InstallCheck")
    .Description("Install each packaged module with apt from the signed repository (signed-by) into a fresh Debian rootfs, boot it in QEMU on its kernel under Secure Boot with the module certificate enrolled as a MOK (--secure-boot=off for a plain boot), run depmod and modprobe there; reports what the kernel does with tampered, foreign-key and unsigned copies. Reports in artifacts/install-check/<distro>/.")
    .IsDependentOn("Package")
    .Does<BuildParameters>(p => Engine(p, "install-check"));

Task("Matrix")
    .Description("Nightly compatibility matrix: every distro × kernel × module through plan, build, smoke, sign, package; cells reused when their inputs are unchanged; --shard=i/N, --until=<stage>, --previous, --threshold; reports in artifacts/matrix/.")
    .IsDependentOn("Setup")
    .IsDependentOn("Validate")
    .Does<BuildParameters>(p => Engine(p, "matrix"));

Task("MatrixMerge")
    .Description("Merge the matrix shards' results (artifacts/matrix/shards/) into matrix.json, matrix.md and matrix.html; fails on regressions vs the previous report.")
    .IsDependentOn("Engine")
    .Does<BuildParameters>(p => Engine(p, "matrix-merge"));

Task("MatrixCi")
    .Description("Generate the CI definitions that run the matrix in --shards=N shards: a GitHub Actions workflow and a Kubernetes Indexed Job with the merge after it (artifacts/matrix/ci/).")
    .IsDependentOn("Engine")
    .Does<BuildParameters>(p => Engine(p, "matrix-ci"));

Task("Import")
    .Description("Import a kfunc's definition and provenance from a kernel git repository, with a draft variant and smoke scaffolding: --upstream=<repo> --ref=<ref> --kfunc=<name> [--module=<name>] [--commit=<id>] [--release=<x.y>]; its calls are checked against --distro's fetched kernels.")
    .IsDependentOn("Engine")
    .Does<BuildParameters>(p => Engine(p, "import"));

Task("Drift")
    .Description("Compare every kfunc's recorded upstream definition with a newer ref: --upstream=<repo> --ref=<ref>; fails when upstream moved.")
    .IsDependentOn("Engine")
    .Does<BuildParameters>(p => Engine(p, "drift"));

Task("Test")
    .Description("Run the test suite (unit, golden, fixtures, integration).")
    .IsDependentOn("Setup")
    .Does<BuildParameters>(p => DotNetTest(p.TestProject, new DotNetTestSettings { Configuration = p.Configuration, NoLogo = true }));

Task("Clean")
    .Description("Delete artifacts/ (generated output only; caches outside the tree are kept).")
    .Does<BuildParameters>(p =>
    {
        var artifacts = System.IO.Path.Combine(p.Root, "artifacts");
        if (DirectoryExists(artifacts)) DeleteDirectory(artifacts, new DeleteDirectorySettings { Recursive = true, Force = true });
    });

// A dry run lists the tasks (Cake) and prints the plan: what each kernel would get, and why.
if (HasArgument("dryrun") || HasArgument("whatif") || HasArgument("noop"))
{
    var dry = new BuildParameters(Context);
    DotNetBuild(dry.EngineProject, new DotNetBuildSettings { Configuration = dry.Configuration, NoLogo = true, Verbosity = DotNetVerbosity.Quiet });
    Engine(dry, "plan");
}

// Cake wraps task failures and reports exit code 1; the engine's codes (1 failed, 2 bad input) are
// part of the interface, so pass them through.
try
{
    RunTarget(target);
    if (unavailableIn.Count > 0)
    {
        Error($"some kernels were unavailable in {string.Join(", ", unavailableIn.Distinct())}; their cells are reported above and tried again on the next run.");
        System.Environment.Exit(1);
    }
}
catch (Exception e)
{
    for (var inner = e; inner != null; inner = inner.InnerException)
        if (inner is CakeException cake && cake.ExitCode > 1)
        {
            Error(cake.Message);
            System.Environment.Exit(cake.ExitCode);
        }
    throw;
}
