using System.Globalization;
using KfuncForge.Definitions;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Planning;
using KfuncForge.Processes;
using KfuncForge.Vm;

namespace KfuncForge.Cli.Commands;

/// <summary>Boots every planned kernel of a distro in QEMU, loads its modules, runs the smoke and load programs, reports.</summary>
public sealed class SmokeCommand : ICommand
{
    public string Name => "smoke";
    public string Summary => "boot each target kernel in QEMU, load its modules, run smoke and load programs; results in <out>/smoke/<distro>/";
    public IReadOnlyCollection<string> Accepts => [.. SmokeSetup.Options, "console", "secure-boot", "cert", "keys-dir"];

    public int Run(CommandContext context)
    {
        var setup = SmokeSetup.Prepare(context);
        if (context.Options.OnOff("secure-boot", false))
            setup = SecureBoot(context, setup);
        Action<VmEvent>? live = context.Options.Flag("console")
            ? e =>
            {
                var line = e switch
                {
                    ConsoleLine c => $"{c.BootId} | {c.Text}",
                    FaultDetected f => $"{f.BootId} ! {SmokeReport.Name(f.Fault.Kind)}: {f.Fault.Text}",
                    BootStarted b => $"{b.BootId} $ {b.Command}",
                    _ => null,
                };
                if (line is not null) context.Out.WriteLine(line);
            }
            : null;
        var outcome = Pipeline.SmokeStage.Run(setup, context.Layout, context.Out.WriteLine, live);
        context.Out.WriteLine();
        context.Out.Write(outcome.Summary);
        context.Out.WriteLine($"results: {outcome.Results}");
        return outcome.Passed ? ExitCodes.Passed(setup.Unavailable.Count > 0) : ExitCodes.Failed;
    }

    /// <summary>
    /// On request (--secure-boot=on): every kernel boots under UEFI Secure Boot with the signing certificate enrolled as a
    /// MOK (Vm/SecureBoot.cs), and loads the Sign stage's signed modules, which lockdown requires, instead of the built ones.
    /// </summary>
    private static Pipeline.SmokeBoots SecureBoot(CommandContext context, Pipeline.SmokeBoots setup)
    {
        if (SecureBootFirmware.Missing() is { Count: > 0 } missing)
            throw new StageException($"a Secure Boot smoke run needs host files that are missing: {string.Join(", ", missing)}. Run `dotnet cake --target=Setup` (build/host-packages.txt)");
        var distro = Catalog.Load(context.Tree).Distro(setup.Distro);
        using var certificate = SignCommand.ModuleCertificate(context, distro.Signing);
        if (context.Options.Get("boot") == "pvh")
            throw new InputException(new Problem("--boot", 0, 0, "", "pvh cannot be combined with --secure-boot=on: UEFI enters the kernel through the EFI stub of its packaged image; leave --boot out"));
        var unsigned = new List<string>();
        var stale = new List<string>();
        var boots = setup.Boots.Select(b => b with
        {
            // Through UEFI the packaged image is booted (its EFI stub), never the PVH entry of the ELF vmlinux.
            Kernel = b.Kernel with { BootImage = b.Kernel.Image },
            Modules = b.Modules.Select(m =>
            {
                if (m.Kind != GuestModuleKind.Built) return m;
                var signed = Compilation.BuiltCell.SignedPathOf(context.ArtifactsDir, setup.Distro, b.Kernel.Release, m.Name);
                if (!File.Exists(signed)) unsigned.Add($"{b.Kernel.Release}/{m.Name}");
                else if (!Signing.ModuleSignatureTrailer.IsSignedCopyOf(signed, m.KoPath)) stale.Add($"{b.Kernel.Release}/{m.Name}");
                return m with { KoPath = signed };
            }).ToList(),
        }).ToList();
        if (unsigned.Count > 0)
            throw new StageException($"under Secure Boot the kernel loads only signed modules, and these have no signed copy under {context.Layout.Sign(setup.Distro)}: {string.Join(", ", unsigned)}; run the Sign stage first (dotnet cake --target=Sign)");
        if (stale.Count > 0)
            throw new StageException($"the signed copies of {string.Join(", ", stale)} under {context.Layout.Sign(setup.Distro)} are not signatures of the modules just built (an older build); run the Sign stage again (dotnet cake --target=Sign)");
        context.Out.WriteLine($"smoke: Secure Boot on (OVMF test keys), {certificate.Subject} enrolled as a MOK, signed modules from {context.Layout.Sign(setup.Distro)}");
        // Every Secure Boot guest gets at least 1 GiB (SecureBootFirmware.MemoryMiB): the VM slots are counted with that size.
        var options = setup.Session.Options with
        {
            SecureBoot = new SecureBootGuests(new SecureBootFirmware(setup.Tools.Cache, ProcessRunner.Instance), certificate.RawData),
            MemoryMiB = SecureBootFirmware.MemoryMiB(0, setup.Session.Options.MemoryMiB),
        };
        return setup with { Boots = boots, Session = new SmokeSession(setup.Tools, setup.Vms, options) };
    }

    /// <summary>Whether <paramref name="signed"/> is <paramref name="built"/> with a signature appended (the bytes before the trailer are the module's).</summary>
}

/// <summary>Measures boots per hour and where a boot's time goes (boot, load, tests, harness overhead vs a bare boot).</summary>
public sealed class BenchSmokeCommand : ICommand
{
    public string Name => "bench-smoke";
    public string Summary => "benchmark the smoke harness: boots/hour, per-kernel boot/load/tests split, overhead vs a bare QEMU boot";
    public IReadOnlyCollection<string> Accepts => [.. SmokeSetup.Options, "rounds"];

    public int Run(CommandContext context)
    {
        var setup = SmokeSetup.Prepare(context, "bench-smoke");
        var rounds = context.Options.Int("rounds", 3);
        var bench = new SmokeBenchmark(setup.Session, setup.Tools, setup.Vms);
        var result = bench.RunAsync(setup.Boots, rounds, line => context.Out.WriteLine(line)).GetAwaiter().GetResult();
        File.WriteAllText(Path.Combine(setup.WorkDir, "bench.json"), SmokeReport.Json(SmokeBenchmark.Json(result)));
        var text = SmokeBenchmark.Text(result);
        File.WriteAllText(Path.Combine(setup.WorkDir, "bench.txt"), text);
        context.Out.WriteLine();
        context.Out.Write(text);
        context.Out.WriteLine($"results: {Path.Combine(setup.WorkDir, "bench.json")}");
        return result.FailedBoots == 0 && result.Kernels.All(k => k.Passed) ? ExitCodes.Ok : ExitCodes.Failed;
    }
}

/// <summary>What the smoke, bench-smoke and fidelity verbs share: options, host requirements, plan + build index → boot plans, the session.</summary>
internal static class SmokeSetup
{
    public static readonly string[] Options = ["distro", "module", "kernel", "index", "cache", "jobs", "timeout", "memory", "accel", "boot", "busybox", "agent-source", "icount"];

    /// <summary>
    /// Folder: artifacts/&lt;folder&gt;/&lt;distro&gt;/, or artifacts/&lt;folder&gt;/ when several distros share it (sharedFolder).
    /// Content: smoke programs, or fidelity suites; distro: overrides --distro; kernelArguments: added to every guest's command line.
    /// </summary>
    /// <summary>--accel: auto (KVM when a probe guest boots under it, else TCG), tcg or kvm. Shared by every verb that boots.</summary>
    public static AcceleratorRequest Accelerator(Options o) => o.Get("accel", "auto") switch
    {
        "auto" => AcceleratorRequest.Auto,
        "tcg" => AcceleratorRequest.Tcg,
        "kvm" => AcceleratorRequest.Kvm,
        var other => throw new InputException(new Problem("command line", 0, 0, "", $"--accel must be auto, tcg or kvm, not '{other}'")),
    };

    public static Pipeline.SmokeBoots Prepare(CommandContext context, string folder = "smoke", BootContent content = BootContent.Smoke, string? distro = null,
        IReadOnlyList<string>? kernelArguments = null, int defaultTimeoutSeconds = 180, bool sharedFolder = false, Upstream.SelftestTree? selftests = null)
    {
        var o = context.Options;
        var busybox = o.Get("busybox", GuestImageBuilder.DefaultBusybox);
        var accel = Accelerator(o);
        var entry = o.Get("boot", "auto") switch
        {
            "auto" => BootEntry.Auto,
            "pvh" => BootEntry.Pvh,
            "bzimage" => BootEntry.BzImage,
            var other => throw new InputException(new Problem("command line", 0, 0, "", $"--boot must be auto, pvh or bzimage, not '{other}'")),
        };
        var jobs = o.Get("jobs") is null ? (int?)null : o.Int("jobs", 1);
        var timeout = TimeSpan.FromSeconds(o.Int("timeout", defaultTimeoutSeconds));
        var memory = o.Int("memory", 512);

        var missing = HostRequirements.Missing(busybox);
        if (missing.Count > 0)
            throw new StageException($"the VM stage needs host tools that are missing: {string.Join(", ", missing)}. Run `dotnet cake --target=Setup` (build/host-packages.txt) or install them.");

        var (plan, index) = PlanWithIndex(context, distro);
        var tools = new GuestTools(new ContentCache(o.Get("cache") ?? ContentCache.DefaultRoot()), ProcessRunner.Instance);
        var workDir = sharedFolder ? Path.Combine(context.ArtifactsDir, folder) : Path.Combine(context.ArtifactsDir, folder, plan.Distro.Id);
        Directory.CreateDirectory(workDir);
        var vms = new QemuVmRunner(ProcessRunner.Instance);
        var options = new SmokeOptions(workDir)
        {
            AgentSourceDir = o.Get("agent-source") is { } a ? Path.GetFullPath(a) : null,
            Accelerator = accel, Jobs = jobs, Timeout = timeout, MemoryMiB = memory, Busybox = busybox,
            KernelArguments = kernelArguments ?? [],
            // Smoke and bench-smoke on request; the fidelity run makes its instruction-time boots itself.
            InstructionCount = content == BootContent.Smoke && o.OnOff("icount", false),
        };
        IReadOnlyList<BootPlan> boots;
        try
        {
            boots = new SmokePlanner(tools, entry, content) { Selftests = selftests }.MakeAsync(plan, index).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is ProcessFailedException or InvalidDataException)
        {
            throw new StageException(e.Message);
        }
        foreach (var b in boots)
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"plan {b.Kernel.Release} ({(b.Kernel.IsPvh ? "PVH entry" : "bzImage")}): {b.Modules.Count(m => m.Kind == GuestModuleKind.Built)} modules (+{b.Modules.Count(m => m.Kind == GuestModuleKind.Dependency)} in-tree), {b.Smoke.Count} smoke, {b.Loads.Count} load, {b.NotRun.Count} not run"));
        var wanted = o.Get("kernel");
        var unavailable = index.Unavailable.Where(u => wanted is null || u.Kernel == wanted || u.Line == wanted).ToList();
        foreach (var u in unavailable) context.Out.WriteLine($"plan {u.Kernel}: unavailable: {u.Reason}");
        return new Pipeline.SmokeBoots(plan.Distro.Id, workDir, tools, vms, new SmokeSession(tools, vms, options), boots, unavailable, index.Notes);
    }

    /// <summary>
    /// The build index, and the plan: with the kernels' real facts when the index points at their fetched
    /// entries (what the build stage planned with), else by kernel line as `plan` does.
    /// </summary>
    private static (Plan, BuildIndex) PlanWithIndex(CommandContext context, string? distroId)
    {
        var catalog = Catalog.Load(context.Tree);
        var distro = catalog.Distro(distroId ?? context.Options.Get("distro", "debian12"));
        var modules = catalog.SelectModules(context.Options.Get("module"));
        var index = BuildIndex.Load(context.Options.Get("index") is { } i ? Path.GetFullPath(i) : BuildIndex.DefaultPath(context.ArtifactsDir, distro.Id));
        var entries = index.Kernels.Select(k => k.Entry is null ? null : KernelEntry.TryOpen(k.Entry)).ToList();
        if (entries.Count == 0 && index.Unavailable.Count > 0) return (Planner.Make(distro, [], modules), index);
        if (entries.Count == 0 || entries.Any(e => e is null))
            return (Planner.Make(distro, KernelSelection.Select(distro, context.Options.Get("kernel")), modules), index);
        var wanted = context.Options.Get("kernel");
        var facts = entries.Select(e => e!.ToFacts(distro.BpfLevel))
            .Where(f => wanted is null || f.Release == wanted || $"{f.Version.Major}.{f.Version.Minor}" == wanted)
            .ToList();
        if (facts.Count == 0)
            throw new InputException(new Problem("--kernel", 0, 0, "", $"kernel '{wanted}' is not in the build index; it has {string.Join(", ", index.Kernels.Select(k => k.Release))}"));
        return (Planner.Make(distro, facts, modules), index);
    }
}
