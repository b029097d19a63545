using System.Text.RegularExpressions;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Processes;
using KfuncForge.Upstream;

namespace KfuncForge.Vm;

/// <summary>
/// Turns the pipeline's plan and the build stage's outputs into one BootPlan per kernel: every module
/// planned for that kernel (with its in-tree dependencies), and every smoke and load program whose
/// kfuncs are native or backported there, compiled against that kernel's BTF. What cannot run is kept
/// as NotRun with the reason.
/// </summary>
public sealed partial class SmokePlanner(GuestTools tools, BootEntry entry = BootEntry.Auto, BootContent content = BootContent.Smoke)
{
    /// <summary>Upstream's selftests to run beside the fidelity cases (Fidelity with --upstream), or null.</summary>
    public SelftestTree? Selftests { get; init; }

    [GeneratedRegex(@"^iter(\.s)?/(tcp|udp)$")]
    private static partial Regex SocketIterSection();

    public async Task<IReadOnlyList<BootPlan>> MakeAsync(Plan plan, BuildIndex index, CancellationToken cancellation = default)
    {
        var boots = new List<BootPlan>();
        foreach (var facts in plan.Kernels)
        {
            var cells = plan.Cells.Where(c => c.Kernel == facts).ToList();
            var kernel = MatchKernel(facts, index);
            if (kernel is null)
            {
                var cases = cells.SelectMany(c => c.Entries.Select(Case)).ToList();
                var notRun = cells.Where(c => c.Entries.Any(e => e.Verdict != Verdict.Infeasible))
                    .Select(c => new NotRun(c.Module.Name, "kernel", $"kernel {facts.Release} was not fetched: the build index has no kernel for it", FailureReason.KernelMissing))
                    .ToList();
                boots.Add(new BootPlan($"{plan.Distro.Id}/{facts.Release}", plan.Distro.Id, new GuestKernel(facts.Release, ""), [], [], [], cases, notRun));
                continue;
            }
            boots.Add(await ForKernelAsync(plan.Distro.Id, kernel, cells, index, cancellation).ConfigureAwait(false));
        }
        return boots;
    }

    /// <summary>The index's kernel for a plan kernel: the same release, or (before Fetch resolved the plan) the newest release of its line and flavour.</summary>
    public static IndexedKernel? MatchKernel(KernelFacts facts, BuildIndex index)
    {
        var exact = index.Kernels.FirstOrDefault(k => k.Release == facts.Release);
        if (exact is not null) return exact;
        if (facts.IsResolved) return null;
        var line = $"{facts.Version.Major}.{facts.Version.Minor}";
        return index.Kernels
            .Where(k => KernelVersion.TryParse(k.Release, out var v) && v.Major == facts.Version.Major && v.Minor == facts.Version.Minor && (k.Line is null || k.Line == line))
            .Where(k => facts.Flavour is null || IsFlavour(k.Release, facts.Flavour))
            .OrderByDescending(k => KernelVersion.Parse(k.Release))
            .ThenByDescending(k => k.Release, StringComparer.Ordinal)
            .FirstOrDefault();
    }

    /// <summary>"6.1.0-56-amd64" and "6.12.117+deb12-amd64" are amd64; "6.1.0-56-cloud-amd64" is not.</summary>
    private static bool IsFlavour(string release, string flavour) =>
        release.EndsWith("-" + flavour, StringComparison.Ordinal) && release[..^(flavour.Length + 1)] is { Length: > 0 } rest && char.IsDigit(rest[^1]);

    private static KfuncCase Case(PlanEntry e) => new(e.Module, e.Kfunc, e.Verdict, e.Reason);

    private async Task<BootPlan> ForKernelAsync(string distro, IndexedKernel kernel, IReadOnlyList<BuildCell> cells, BuildIndex index, CancellationToken cancellation)
    {
        var vmlinux = kernel.Btf is null || entry != BootEntry.BzImage ? await tools.VmlinuxAsync(kernel.Image, cancellation).ConfigureAwait(false) : null;
        var btf = kernel.Btf ?? vmlinux!;
        var pvh = entry != BootEntry.BzImage && vmlinux is not null && ElfFile.Load(vmlinux).HasPvhEntry();
        if (entry == BootEntry.Pvh && !pvh)
            throw new InvalidDataException($"--boot=pvh: kernel {kernel.Release} has no PVH entry point (CONFIG_PVH)");
        var vmlinuxH = await tools.VmlinuxHeaderAsync(btf, cancellation).ConfigureAwait(false);
        var modules = new List<GuestModule>();
        var dependencies = new List<GuestModule>();
        var smoke = new List<GuestSmoke>();
        var loads = new List<GuestLoad>();
        var cases = new List<KfuncCase>();
        var notRun = new List<NotRun>();

        foreach (var cell in cells)
        {
            var module = cell.Module;
            cases.AddRange(cell.Entries.Select(Case));
            var verdicts = cell.Entries.ToDictionary(e => e.Kfunc, StringComparer.Ordinal);
            var built = true;
            if (cell.NeedsModule)
            {
                var ko = index.Modules.FirstOrDefault(m => m.Kernel == kernel.Release && m.Module == module.Name);
                if (ko is null)
                {
                    built = false;
                    notRun.Add(new NotRun(module.Name, "module", $"no built {module.Name}.ko for {kernel.Release} in the build index", FailureReason.NotBuilt));
                }
                else
                {
                    try
                    {
                        foreach (var dep in await DependenciesAsync(ko.Ko, kernel, cancellation).ConfigureAwait(false))
                        {
                            var known = dependencies.FirstOrDefault(d => d.Name == dep.Name);
                            if (known is null) dependencies.Add(dep with { RequiredBy = [module.Name] });
                            else dependencies[dependencies.IndexOf(known)] = known with { RequiredBy = [.. known.RequiredBy, module.Name] };
                        }
                        modules.Add(new GuestModule(module.Name, ko.Ko, GuestModuleKind.Built, cell.Backports.Select(b => b.Kfunc).ToList()));
                    }
                    catch (InvalidDataException e)
                    {
                        built = false;
                        notRun.Add(new NotRun(module.Name, "module", e.Message, FailureReason.DependencyFailed));
                    }
                }
            }

            string? Blocked(IEnumerable<string> kfuncs)
            {
                foreach (var k in kfuncs)
                {
                    if (!verdicts.TryGetValue(k, out var e)) return $"{k} is not planned for this kernel";
                    if (e.Verdict == Verdict.Infeasible) return $"{k} is infeasible on {kernel.Release}: {e.Reason}";
                    if (e.Verdict == Verdict.Backport && !built) return $"{k} needs {module.Name}.ko, which was not built";
                }
                return null;
            }

            // The kernel's BPF level (its version, or the distro's backported level when higher), as the planner uses it.
            var version = cell.Kernel.IsResolved ? cell.Kernel.Effective
                : KernelVersion.TryParse(kernel.Release, out var v) ? (cell.Kernel.BpfLevel is { } level && level > v ? level : v) : default;
            if (content == BootContent.Smoke)
                foreach (var s in module.Smoke)
                {
                    if (!s.Kernels.Contains(version)) { notRun.Add(new NotRun(module.Name, $"smoke {s.Name}", $"written for kernels {s.Kernels}, not {version}", null)); continue; }
                    if (Blocked(s.Calls) is { } why) { notRun.Add(new NotRun(module.Name, $"smoke {s.Name}", why, null)); continue; }
                    var obj = await CompileAsync(module, s.Source, vmlinuxH, notRun, $"smoke {s.Name}", cancellation).ConfigureAwait(false);
                    if (obj is not null) smoke.Add(new GuestSmoke(module.Name, s.Name, obj, s.Program, s.Section, s.Calls, s.Expect));
                }
            else if (content != BootContent.FidelityInstructionTime && module.Fidelity is { } suite)
                await FidelityCasesAsync(module, suite, version, Blocked, vmlinuxH, smoke, notRun, cancellation).ConfigureAwait(false);
            if (content is BootContent.Fidelity or BootContent.FidelityCasesOnly && Selftests is { } tree)
                await SelftestsAsync(module, tree, version, Blocked, vmlinuxH, smoke, notRun, cancellation).ConfigureAwait(false);

            IReadOnlyList<LoadStep> steps = content switch
            {
                BootContent.FidelityCasesOnly => [],
                BootContent.Fidelity when module.Fidelity is { } withLoad => withLoad.StepsAround(module.Load.Steps),
                // Per-call figures: the test_run steps (socket runs are timed by the host's wall clock, and take minutes under -icount).
                BootContent.FidelityInstructionTime => (module.Fidelity is { } timed ? timed.StepsAround(module.Load.Steps) : module.Load.Steps)
                    .Where(l => l.Driver == LoadDriver.TestRun).ToList(),
                _ => module.Load.Steps,
            };
            foreach (var l in steps)
            {
                // A baseline calls no kfunc; every other step needs its kfunc on this kernel.
                if (l.Kfunc.Length > 0 && Blocked([l.Kfunc]) is { } why) { notRun.Add(new NotRun(module.Name, $"load {l.Name}", why, null)); continue; }
                var obj = await CompileAsync(module, l.Program, vmlinuxH, notRun, $"load {l.Name}", cancellation).ConfigureAwait(false);
                if (obj is null) continue;
                var programs = ElfFile.Load(obj).BpfPrograms();
                if (l.Entry is { } entryName)
                {
                    var chosen = programs.Where(p => p.Program == entryName).ToList();
                    if (chosen.Count == 0)
                        notRun.Add(new NotRun(module.Name, $"load {l.Name}", $"{l.Program} has no BPF program named {entryName} (entry)", FailureReason.BadLoadProfile));
                    programs = chosen;
                }
                if (programs.Count == 0 && l.Entry is not null) continue;
                if (l.Driver == LoadDriver.SocketIterator)
                {
                    var iters = programs.Where(p => SocketIterSection().IsMatch(p.Section)).ToList();
                    if (iters.Count == 0)
                        notRun.Add(new NotRun(module.Name, $"load {l.Name}", $"{l.Program} has no iter/tcp or iter/udp program for the socket_iterator driver", FailureReason.BadLoadProfile));
                    foreach (var (program, section) in iters)
                        loads.Add(new GuestLoad(module.Name, iters.Count == 1 ? l.Name : $"{l.Name}:{section[(section.IndexOf('/') + 1)..]}", l.Kfunc, obj, program, l.Driver, l.Sockets));
                }
                else if (programs.Count != 1)
                    notRun.Add(new NotRun(module.Name, $"load {l.Name}", $"{l.Program} holds {programs.Count} programs; a test_run load file must hold exactly one", FailureReason.BadLoadProfile));
                else
                    loads.Add(new GuestLoad(module.Name, l.Name, l.Kfunc, obj, programs[0].Program, l.Driver, l.Repeat));
            }
        }

        var guestKernel = new GuestKernel(kernel.Release, kernel.Image, btf, kernel.ModulesDir) { BootImage = pvh ? vmlinux! : kernel.Image };
        return new BootPlan($"{distro}/{kernel.Release}", distro, guestKernel, [.. dependencies, .. modules], smoke, loads, cases, notRun);
    }

    /// <summary>
    /// A module's fidelity cases for one kernel: the suite's one source compiled against this kernel, each
    /// case its program of the same name, expecting upstream's result or the difference declared for
    /// this kernel.
    /// </summary>
    private async Task FidelityCasesAsync(KfuncModule module, FidelitySuite suite, KernelVersion version, Func<IEnumerable<string>, string?> blocked,
        string vmlinuxH, List<GuestSmoke> smoke, List<NotRun> notRun, CancellationToken cancellation)
    {
        var runnable = suite.Cases.Where(c =>
        {
            if (blocked([c.Kfunc]) is not { } why) return true;
            notRun.Add(new NotRun(module.Name, $"fidelity {c.Name}", why, null));
            return false;
        }).ToList();
        if (runnable.Count == 0) return;
        var obj = await CompileAsync(module, suite.Source, vmlinuxH, notRun, "fidelity suite", cancellation).ConfigureAwait(false);
        if (obj is null) return;
        var programs = ElfFile.Load(obj).BpfPrograms().ToDictionary(p => p.Program, p => p.Section, StringComparer.Ordinal);
        foreach (var c in runnable)
        {
            if (!programs.TryGetValue(c.Name, out var section))
            {
                notRun.Add(new NotRun(module.Name, $"fidelity {c.Name}", $"{suite.Source} has no BPF program named {c.Name}; a case runs the program of its name", FailureReason.BadLoadProfile));
                continue;
            }
            if (c.Sockets is not null && !SocketIterSection().IsMatch(section))
            {
                notRun.Add(new NotRun(module.Name, $"fidelity {c.Name}", $"case {c.Name} sets 'sockets' but its program is {section}, not an iter/tcp or iter/udp program", FailureReason.BadLoadProfile));
                continue;
            }
            smoke.Add(new GuestSmoke(module.Name, c.Name, obj, c.Name, section, [c.Kfunc], c.ExpectOn(version)) { Sockets = c.Sockets, Declared = c.DifferenceOn(version) });
        }
    }

    /// <summary>
    /// Upstream's selftest programs that call the module's kfuncs (Fidelity with --upstream): each file compiled
    /// against this kernel's vmlinux.h, the module's kfunc declarations and the tree's own headers; each program
    /// planned with upstream's annotations and the differences the module declares here for the kfuncs it calls.
    /// </summary>
    private async Task SelftestsAsync(KfuncModule module, SelftestTree tree, KernelVersion version, Func<IEnumerable<string>, string?> blocked,
        string vmlinuxH, List<GuestSmoke> smoke, List<NotRun> notRun, CancellationToken cancellation)
    {
        var kfuncs = module.Kfuncs.Select(k => k.Name).ToHashSet(StringComparer.Ordinal);
        var declarations = await KfuncDeclarationsAsync(module).ConfigureAwait(false);
        foreach (var file in tree.Calling(kfuncs))
        {
            var what = $"{SelftestPrefix}{file.Stem}";
            if (file.NotRun is { } why) { notRun.Add(new NotRun(module.Name, what, why, null)); continue; }
            string obj;
            try
            {
                obj = await tools.CompileBpfAsync(Path.Combine(tree.ProgsDir, file.Stem + ".c"), [vmlinuxH, Path.GetDirectoryName(declarations)!, .. tree.IncludeDirs], null, cancellation,
                    forcedInclude: declarations).ConfigureAwait(false);
            }
            catch (ProcessFailedException e)
            {
                // Not a failure of the module: upstream's file may need headers or types this kernel or harness lacks.
                notRun.Add(new NotRun(module.Name, what, $"clang could not compile {file.Source} for this kernel: {CommandLine.Tail(e.Result.Stderr, 8)}", null));
                continue;
            }
            foreach (var spec in Fidelity.SelftestSpecs.Read(obj).Where(p => !p.Auxiliary))
            {
                var name = $"{what}.{spec.Program}";
                // The kfuncs it calls itself; a program calling no extern at all (or only through a subprogram) belongs to its file's kfuncs.
                var calls = spec.Calls.Count == 0 ? file.Kfuncs.Where(kfuncs.Contains).ToList() : spec.Calls.Where(kfuncs.Contains).ToList();
                if (calls.Count == 0) { notRun.Add(new NotRun(module.Name, name, $"calls none of {module.Name}'s kfuncs (it calls {string.Join(", ", spec.Calls)})", null)); continue; }
                if (spec.Unsupported is { } tag) { notRun.Add(new NotRun(module.Name, name, $"uses {tag}, which this harness does not check", null)); continue; }
                if (blocked(calls) is { } stop) { notRun.Add(new NotRun(module.Name, name, stop, null)); continue; }
                // Only differences of cases shaped like the selftest (upstream refuses both, or loads both) can excuse it.
                var declared = module.Fidelity?.Cases.Where(c => calls.Contains(c.Kfunc) && (c.Expect.VerifierRejects is not null) == spec.ExpectFailure)
                    .Select(c => c.DifferenceOn(version)).OfType<DeclaredDifference>().Distinct().ToList() ?? [];
                var expect = spec.ExpectFailure ? new SmokeExpectation(null, spec.Messages.FirstOrDefault() ?? "") : new SmokeExpectation(spec.Retval ?? 0, null);
                smoke.Add(new GuestSmoke(module.Name, name, obj, spec.Program, spec.Section, calls, expect) { Selftest = new UpstreamSelftest(file.Source, spec, declared) });
            }
        }
    }

    /// <summary>Names of upstream selftest steps: "selftest.&lt;file stem&gt;[.&lt;program&gt;]".</summary>
    public const string SelftestPrefix = "selftest.";

    /// <summary>
    /// The module's kfuncs declared for BPF C (each prototype as module.yaml gives it, as a __ksym extern), after
    /// vmlinux.h: upstream's selftests get their declarations from a vmlinux.h that has them, which an older
    /// kernel's does not. Written once per module and content.
    /// </summary>
    private async Task<string> KfuncDeclarationsAsync(KfuncModule module)
    {
        var text = new System.Text.StringBuilder();
        text.Append("/* Written by KfuncForge from ").Append(module.Name).Append("/module.yaml: the kfuncs upstream's selftests call. */\n");
        text.Append("#include \"vmlinux.h\"\n#include <bpf/bpf_helpers.h>\n");
        foreach (var k in module.Kfuncs) text.Append("extern ").Append(k.Prototype).Append(" __ksym;\n");
        var content = text.ToString();
        var dir = await tools.Cache.GetOrCreateAsync("kfunc-declarations", Hashing.Text(content),
            temp => File.WriteAllTextAsync(Path.Combine(temp, "kfuncforge_kfuncs.h"), content)).ConfigureAwait(false);
        return Path.Combine(dir, "kfuncforge_kfuncs.h");
    }

    private async Task<string?> CompileAsync(KfuncModule module, string source, string vmlinuxH, List<NotRun> notRun, string what, CancellationToken cancellation)
    {
        try
        {
            return await tools.CompileBpfAsync(Path.Combine(module.Directory, source), [vmlinuxH, module.Directory], null, cancellation).ConfigureAwait(false);
        }
        catch (ProcessFailedException e)
        {
            notRun.Add(new NotRun(module.Name, what, $"clang could not compile {source}: {CommandLine.Tail(e.Result.Stderr, 8)}", FailureReason.BpfCompileFailed));
            return null;
        }
    }

    /// <summary>In-tree modules a built module needs (its .modinfo "depends="), found in the kernel's module tree, in load order.</summary>
    private async Task<IReadOnlyList<GuestModule>> DependenciesAsync(string ko, IndexedKernel kernel, CancellationToken cancellation)
    {
        var order = new List<GuestModule>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Dictionary<string, string>? tree = null;

        async Task Visit(string path, string name)
        {
            var file = await tools.ModuleFileAsync(path, cancellation).ConfigureAwait(false);
            var depends = ElfFile.Load(file).ModInfo()["depends"].SelectMany(d => d.Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList();
            foreach (var dep in depends.Select(Normalise))
            {
                if (!seen.Add(dep)) continue;
                if (kernel.ModulesDir is null)
                    throw new InvalidDataException($"{name} depends on {dep}, but the build index gives no modules_dir for {kernel.Release}");
                tree ??= Directory.EnumerateFiles(kernel.ModulesDir, "*.ko*", SearchOption.AllDirectories)
                    .Where(f => f.EndsWith(".ko", StringComparison.Ordinal) || f.Contains(".ko.", StringComparison.Ordinal))
                    .GroupBy(f => Normalise(Path.GetFileName(f)[..Path.GetFileName(f).IndexOf(".ko", StringComparison.Ordinal)]))
                    .ToDictionary(g => g.Key, g => g.OrderBy(f => f, StringComparer.Ordinal).First(), StringComparer.Ordinal);
                if (!tree.TryGetValue(dep, out var depPath))
                    throw new InvalidDataException($"{name} depends on {dep}, which is not in {kernel.ModulesDir}");
                await Visit(depPath, dep).ConfigureAwait(false);
                order.Add(new GuestModule(dep, depPath, GuestModuleKind.Dependency, []));
            }
        }

        await Visit(ko, Path.GetFileNameWithoutExtension(ko)).ConfigureAwait(false);
        return order;
    }

    private static string Normalise(string moduleName) => moduleName.Replace('-', '_');
}

/// <summary>How QEMU enters the kernel: Auto (PVH when the kernel has it), Pvh (required), BzImage (the image as packaged).</summary>
public enum BootEntry { Auto, Pvh, BzImage }
