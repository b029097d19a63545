// KfuncForge's task graph. Wiring only: every task runs one verb of the engine (build/KfuncForge.Cli),
// whose logic is ordinary C# tested with xunit. `dotnet cake --tree` shows the pipeline,
// `--description` explains each task, `--dryrun` prints the plan and what would run.

var target = Argument("target", "Package");

// ---------------------------------------------------------------------------------------------
// One typed context, built once and read by every task.
// ---------------------------------------------------------------------------------------------
public sealed class BuildParameters
{
    public BuildParameters(ICakeContext context)
    {
        Root = context.MakeAbsolute(context.Directory(".")).FullPath;
        Distro = context.Argument("distro", "debian12");
        Module = context.Argument<string>("module", null);
        Kernel = context.Argument<string>("kernel", null);
        Out = context.Argument<string>("out", null);
        Container = context.Argument<string>("container", null);
        Cache = context.Argument<string>("cache", null);
        Upstream = context.Argument<string>("upstream", null);
        Ref = context.Argument<string>("ref", null);
        Kfunc = context.Argument<string>("kfunc", null);
        Index = context.Argument<string>("index", null);
        Jobs = context.Argument<string>("jobs", null);
        Repeat = context.Argument<string>("repeat", null);
        Accel = context.Argument<string>("accel", null);
        Rounds = context.Argument<string>("rounds", null);
        SecureBoot = context.Argument<string>("secure-boot", null);
        Icount = context.Argument<string>("icount", null);
        Distros = context.Argument<string>("distros", null);
        DistroGiven = context.HasArgument("distro");
        Shard = context.Argument<string>("shard", null);
        Until = context.Argument<string>("until", null);
        Previous = context.Argument<string>("previous", null);
        Threshold = context.Argument<string>("threshold", null);
        Shards = context.Argument<string>("shards", null);
        Commit = context.Argument<string>("commit", null);
        Release = context.Argument<string>("release", null);
        Configuration = context.Argument("configuration", "Release");
        Artifacts = Out ?? System.IO.Path.Combine(Root, "artifacts");
    }

    public string Root { get; }
    public string Distro { get; }
    public string Module { get; }
    public string Kernel { get; }
    public string Out { get; }
    public string Container { get; }
    public string Cache { get; }
    public string Upstream { get; }
    public string Ref { get; }
    public string Kfunc { get; }
    public string Index { get; }
    public string Jobs { get; }
    public string Repeat { get; }
    public string Accel { get; }
    public string Rounds { get; }
    public string SecureBoot { get; }
    public string Icount { get; }
    public string Distros { get; }
    public bool DistroGiven { get; }
    public string Shard { get; }
    public string Until { get; }
    public string Previous { get; }
    public string Threshold { get; }
    public string Shards { get; }
    public string Commit { get; }
    public string Release { get; }

    /// <summary>The matrix covers every profile unless --distro was given (the other targets default to debian12).</summary>
    public string[] MatrixOptions => DistroGiven
        ? new[] { "distro", "module", "kernel", "container", "cache", "jobs", "accel", "out", "shard", "until", "previous", "threshold" }
        : new[] { "module", "kernel", "container", "cache", "jobs", "accel", "out", "shard", "until", "previous", "threshold" };
    public string Configuration { get; }
    public string Artifacts { get; }

    public string EngineProject => System.IO.Path.Combine(Root, "build", "KfuncForge.Cli", "KfuncForge.Cli.csproj");
    public string EngineDll => System.IO.Path.Combine(Root, "artifacts", "engine", "bin", "KfuncForge.Cli", Configuration.ToLowerInvariant(), "kfuncforge.dll");
    public string TestProject => System.IO.Path.Combine(Root, "tests", "KfuncForge.Tests", "KfuncForge.Tests.csproj");

    /// <summary>The options a verb gets from the command line: only those given, as --name=value argv entries.</summary>
    public ProcessArgumentBuilder EngineArguments(string verb, params string[] names)
    {
        var args = new ProcessArgumentBuilder().AppendQuoted(EngineDll).Append(verb);
        var values = new Dictionary<string, string>
        {
            ["distro"] = Distro, ["module"] = Module, ["kernel"] = Kernel, ["out"] = Out, ["container"] = Container,
            ["cache"] = Cache, ["upstream"] = Upstream, ["ref"] = Ref, ["kfunc"] = Kfunc, ["jobs"] = Jobs, ["repeat"] = Repeat,
            ["index"] = Index, ["accel"] = Accel, ["rounds"] = Rounds, ["distros"] = Distros, ["secure-boot"] = SecureBoot, ["icount"] = Icount,
            ["shard"] = Shard, ["until"] = Until, ["previous"] = Previous, ["threshold"] = Threshold, ["shards"] = Shards,
            ["commit"] = Commit, ["release"] = Release,
        };
        foreach (var name in names)
            if (values.TryGetValue(name, out var value) && !string.IsNullOrEmpty(value))
                args.AppendSwitchQuoted("--" + name, "=", value);
        return args;
    }
}

Setup<BuildParameters>(context => new BuildParameters(context));

// Runs one engine verb; its exit code becomes Cake's (2 = bad input, 1 = failure). Exit 3 means every cell
// that could run passed but some kernel was unavailable: the next stage still runs on the rest, and the run
// exits 1 at the end (see the bottom of this file).
var unavailableIn = new List<string>();
void Engine(BuildParameters p, string verb, params string[] options)
{
    var exit = StartProcess("dotnet", new ProcessSettings { Arguments = p.EngineArguments(verb, options), WorkingDirectory = p.Root });
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
    .Does<BuildParameters>(p => Engine(p, "validate", "distro", "module"));

Task("Plan")
    .Description("Print native / backport / infeasible for every module, kfunc and kernel of --distro, with reasons.")
    .IsDependentOn("Validate")
    .Does<BuildParameters>(p => Engine(p, "plan", "distro", "module", "kernel"));

Task("Render")
    .Description("Render module sources, Kbuild, DKMS and packaging files per kernel into artifacts/render/.")
    .IsDependentOn("Plan")
    .Does<BuildParameters>(p => Engine(p, "render", "distro", "module", "kernel", "out"));

Task("Fetch")
    .Description("Fetch each target kernel's headers, kbuild and image through the distro's package manager (cached by checksum) and print its facts. --container=bwrap|podman|docker, --cache=<dir>.")
    .IsDependentOn("Setup")
    .IsDependentOn("Validate")
    .Does<BuildParameters>(p => Engine(p, "fetch", "distro", "module", "kernel", "container", "cache", "out"));

Task("Build")
    .Description("Plan with each kernel's real facts, render and build every cell with kbuild in the distro's environment (module BTF, .BTF_ids, vermagic checked). --jobs=N.")
    .IsDependentOn("Fetch")
    .Does<BuildParameters>(p => Engine(p, "build", "distro", "module", "kernel", "container", "cache", "jobs", "out"));

Task("BenchBuild")
    .Description("Benchmark: the engine's build of one module on one kernel against a bare `make M=` in the same environment, warm cache; prints both and the ratio. --repeat=N.")
    .IsDependentOn("Fetch")
    .Does<BuildParameters>(p => Engine(p, "bench-build", "distro", "module", "kernel", "container", "cache", "repeat"));

Task("BenchPackage")
    .Description("Benchmark stage reuse: the Package verbs on a copy of the tree, first (empty store), with nothing changed, and after one module's C changed (--module); engine time per verb, cells rebuilt, boots rerun, ratios to the first round.")
    .IsDependentOn("Fetch")
    .Does<BuildParameters>(p => Engine(p, "bench-package", "distro", "module", "container", "cache"));

// The Sign stage's options: the Sign task, and a Secure Boot smoke run (which loads the signed modules).
string[] SignOptions = { "distro", "module", "container", "cache", "out" };

Task("SmokeTest")
    .Description("Boot each target kernel in QEMU (one boot per kernel, all its modules), run the smoke and load programs; results in artifacts/smoke/<distro>/. --secure-boot=on: sign first, then boot under UEFI Secure Boot with the certificate enrolled as a MOK (docs/signing.md).")
    .IsDependentOn("Build")
    .Does<BuildParameters>(p =>
    {
        if (p.SecureBoot == "on") Engine(p, "sign", SignOptions);
        Engine(p, "smoke", "distro", "module", "kernel", "out", "cache", "index", "jobs", "accel", "secure-boot", "icount");
    });

Task("BenchSmoke")
    .Description("Benchmark the smoke harness: boots per hour, per-kernel boot/load/tests split, overhead vs a bare QEMU boot.")
    .IsDependentOn("Build")
    .Does<BuildParameters>(p => Engine(p, "bench-smoke", "distro", "module", "kernel", "out", "cache", "index", "jobs", "accel", "rounds", "icount"));

Task("Fidelity")
    .Description("Run every module's fidelity suite on native and backport kernels of several profiles in QEMU (--distros, default debian12,debian13: 6.1, 6.12 and 7.3), building each profile first; then the test_run load steps again in instruction time (-icount; --icount=off skips it), compared with the previous report (--previous, --threshold=<percent>, default 10); with --upstream=<kernel repository> --ref=<tag>, also upstream's own BPF selftests for the modules' kfuncs; fails on any undeclared difference or regression; report in artifacts/fidelity/.")
    .IsDependentOn("Setup")
    .IsDependentOn("Validate")
    .Does<BuildParameters>(p => Engine(p, "fidelity", "distros", "module", "container", "cache", "jobs", "accel", "out", "icount", "previous", "threshold", "upstream", "ref"));

Task("Sign")
    .Description("Sign every built module (the profile's key, else a development key outside the tree, with a warning naming the certificate to enroll), digest from each kernel's config; verified.")
    .IsDependentOn("Build")
    .Does<BuildParameters>(p => Engine(p, "sign", SignOptions));

Task("Package")
    .Description("Package every signed module as .deb/.rpm per kernel (each signature re-verified first) and publish a signed repository under artifacts/repo/<distro>/.")
    .IsDependentOn("SmokeTest")
    .IsDependentOn("Sign")
    .Does<BuildParameters>(p => Engine(p, "package", "distro", "out"));

Task("InstallCheck")
    .Description("Install each packaged module with apt from the signed repository (signed-by) into a fresh Debian rootfs, boot it in QEMU on its kernel under Secure Boot with the module certificate enrolled as a MOK (--secure-boot=off for a plain boot), run depmod and modprobe there; reports what the kernel does with tampered, foreign-key and unsigned copies. Reports in artifacts/install-check/<distro>/.")
    .IsDependentOn("Package")
    .Does<BuildParameters>(p => Engine(p, "install-check", "distro", "module", "kernel", "out", "cache", "accel", "secure-boot"));

Task("Matrix")
    .Description("Nightly compatibility matrix: every distro × kernel × module through plan, build, smoke, sign, package; cells reused when their inputs are unchanged; --shard=i/N, --until=<stage>, --previous, --threshold; reports in artifacts/matrix/.")
    .IsDependentOn("Setup")
    .IsDependentOn("Validate")
    .Does<BuildParameters>(p => Engine(p, "matrix", p.MatrixOptions));

Task("MatrixMerge")
    .Description("Merge the matrix shards' results (artifacts/matrix/shards/) into matrix.json, matrix.md and matrix.html; fails on regressions vs the previous report.")
    .IsDependentOn("Engine")
    .Does<BuildParameters>(p => Engine(p, "matrix-merge", "out", "previous", "threshold"));

Task("MatrixCi")
    .Description("Generate the CI definitions that run the matrix in --shards=N shards: a GitHub Actions workflow and a Kubernetes Indexed Job with the merge after it (artifacts/matrix/ci/).")
    .IsDependentOn("Engine")
    .Does<BuildParameters>(p => Engine(p, "matrix-ci", "out", "shards"));

Task("Import")
    .Description("Import a kfunc's definition and provenance from a kernel git repository, with a draft variant and smoke scaffolding: --upstream=<repo> --ref=<ref> --kfunc=<name> [--module=<name>] [--commit=<id>] [--release=<x.y>]; its calls are checked against --distro's fetched kernels.")
    .IsDependentOn("Engine")
    .Does<BuildParameters>(p => Engine(p, "import", "upstream", "ref", "kfunc", "module", "commit", "release", "distro", "cache"));

Task("Drift")
    .Description("Compare every kfunc's recorded upstream definition with a newer ref: --upstream=<repo> --ref=<ref>; fails when upstream moved.")
    .IsDependentOn("Engine")
    .Does<BuildParameters>(p => Engine(p, "drift", "upstream", "ref", "module"));

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
    Engine(dry, "plan", "distro", "module", "kernel");
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
