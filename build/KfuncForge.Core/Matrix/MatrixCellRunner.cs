using System.Diagnostics;
using System.Globalization;
using KfuncForge.Compilation;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Packaging;
using KfuncForge.Pipeline;
using KfuncForge.Planning;
using KfuncForge.Processes;
using KfuncForge.Rendering;
using KfuncForge.Signing;
using KfuncForge.Vm;

namespace KfuncForge.Matrix;

/// <summary>
/// Runs one cell through the pipeline's own stage code, in a staging folder of the store: plan (with
/// the fetched kernel's facts), render and kbuild (KbuildBuilder), one QEMU boot of that kernel with
/// that module (SmokeSession), signing (ModuleSigner, the Sign stage's keys and digest rule) and a
/// package with its repository (Packager). A stage that fails stops the cell; the others are not run.
/// </summary>
internal sealed class MatrixCellRunner : IAsyncDisposable
{
    private readonly MatrixSettings _settings;
    private readonly IProcessRunner _processes;
    private readonly CellStore _store;
    private readonly string _runId;
    private readonly Renderer _renderer;
    private readonly GuestTools _tools;
    private readonly QemuVmRunner _vms;
    private readonly Lock _lock = new();
    private Task<AcceleratorChoice>? _accelerator;
    private readonly Dictionary<string, Task<PackageSigningKey>> _packageKeys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task<ProvenanceInputs>> _provenance = new(StringComparer.Ordinal);

    public MatrixCellRunner(MatrixSettings settings, IProcessRunner processes, CellStore store, string runId)
    {
        _settings = settings;
        _processes = processes;
        _store = store;
        _runId = runId;
        _renderer = new Renderer(TemplateSet.Load(settings.Tree.Templates), settings.SourceDate, Provenance.ProjectProvenance.Read(settings.Tree.Root));
        _tools = new GuestTools(new ContentCache(settings.Cache ?? ContentCache.DefaultRoot()), processes);
        _vms = new QemuVmRunner(processes);
    }

    private sealed class CellWork(string staging)
    {
        public string Staging { get; } = staging;
        public CellStages Stages { get; set; } = new();
        public List<KfuncOutcome> Kfuncs { get; set; } = [];
        public List<LoadFigure> Loads { get; } = [];
        public string? FailedStage { get; set; }
        public string? Reason { get; set; }
        public bool Infeasible { get; set; }

        /// <summary>The kernel's packages could not be fetched: the cell is unavailable, not failed.</summary>
        public bool Unavailable { get; set; }
    }

    public async Task<CellRecord> RunAsync(MatrixRunner.PlannedCell cell, CancellationToken cancellation)
    {
        var work = new CellWork(_store.Begin(cell.Key));
        var clock = Stopwatch.StartNew();
        var current = MatrixStage.Plan;
        var transient = false;
        try
        {
            await CellAsync(cell, work, s => current = s, cancellation).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Anything a stage throws fails that stage of this cell only, and the next run tries it again.
            transient = true;
            work.FailedStage ??= Name(current);
            work.Reason ??= OneLine(e.Message);
            work.Stages = Set(work.Stages, current, new StageOutcome { Status = StageStatus.Fail, Reason = OneLine(e.Message) });
        }
        var until = _settings.Until;
        foreach (var stage in Enum.GetValues<MatrixStage>().Where(s => s <= until))
            if (Get(work.Stages, stage) is null)
                work.Stages = Set(work.Stages, stage, new StageOutcome
                {
                    Status = work.FailedStage is null && !work.Unavailable ? StageStatus.NotNeeded : StageStatus.NotRun,
                    Reason = work.Unavailable ? "the kernel is unavailable" : work.FailedStage is null ? (work.Infeasible ? "every kfunc is infeasible on this kernel" : "no kfunc needs a module on this kernel") : $"{work.FailedStage} failed",
                });
        var record = new CellRecord
        {
            Id = cell.Id.Id, Distro = cell.Id.Distro, Kernel = cell.Id.Kernel, Module = cell.Id.Module, Key = cell.Key,
            Status = work.FailedStage is not null ? CellStatus.Fail : work.Unavailable ? CellStatus.Unavailable : work.Infeasible ? CellStatus.Infeasible : CellStatus.Pass,
            Reason = work.FailedStage is not null ? $"{work.FailedStage}: {work.Reason}" : work.Reason,
            Kfuncs = work.Kfuncs, Stages = work.Stages, Loads = work.Loads,
            Seconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
            RecordedAt = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            RunId = _runId,
            Transient = transient || work.Unavailable ? true : null,
            Inputs = new SortedDictionary<string, string>(cell.Inputs.ToDictionary(), StringComparer.Ordinal),
        };
        _store.Commit(work.Staging, record);
        return record;
    }

    private async Task CellAsync(MatrixRunner.PlannedCell cell, CellWork work, Action<MatrixStage> at, CancellationToken cancellation)
    {
        var distro = cell.Run.Distro;
        var module = cell.Module;

        // Plan, with the kernel's own facts.
        var watch = Stopwatch.StartNew();
        KernelEntry entry;
        try
        {
            entry = await cell.Run.FetchAsync(cell.Kernel!, cancellation).ConfigureAwait(false);
        }
        catch (StageException e)
        {
            work.Unavailable = true;
            work.Reason = $"fetch failed: {OneLine(e.Message)}";
            work.Kfuncs = module.Kfuncs.Select(k => new KfuncOutcome { Kfunc = k.Name, Verdict = CellStatus.Unavailable, Reason = work.Reason }).ToList();
            return;
        }
        var plan = Planner.Make(distro, [entry.ToFacts(distro.BpfLevel)], [module]);
        var planned = plan.Cells.Single();
        await File.WriteAllTextAsync(Path.Combine(work.Staging, "plan.txt"), PlanPrinter.Format(plan), cancellation).ConfigureAwait(false);
        work.Kfuncs = planned.Entries.Select(e => new KfuncOutcome { Kfunc = e.Kfunc, Verdict = SmokeReport.Name(e.Verdict), Reason = e.Reason }).ToList();
        work.Stages = work.Stages with { Plan = Done(watch, $"{planned.Backports.Count} backport, {planned.Entries.Count(e => e.Verdict == Verdict.Native)} native, {planned.Entries.Count(e => e.Verdict == Verdict.Infeasible)} infeasible", "plan.txt") };
        if (planned.Entries.All(e => e.Verdict == Verdict.Infeasible))
        {
            work.Infeasible = true;
            work.Reason = BuildPipeline.NothingToBuild(planned).Item2;
            return;
        }
        if (_settings.Until < MatrixStage.Build) return;

        // Build: render and kbuild in the distro's environment.
        at(MatrixStage.Build);
        RenderedCell? rendered = null;
        string? ko = null;
        if (planned.NeedsModule)
        {
            watch.Restart();
            rendered = _renderer.Render(planned, Path.Combine(work.Staging, "render"));
            var built = await new KbuildBuilder(cell.Run.Workspace!.Container).BuildAsync(new KbuildRequest(distro, entry, module.Name, rendered.Directory,
                Path.Combine(work.Staging, "build", module.Name), Path.Combine(work.Staging, "build.log"), planned.Backports.Select(b => b.Kfunc).ToList()) { SourceDate = _settings.SourceDate, Store = _settings.StageStore }, cancellation).ConfigureAwait(false);
            if (built.IsFailure)
            {
                Fail(work, MatrixStage.Build, built.Reason, watch, "build.log");
                return;
            }
            ko = built.Ko;
            work.Stages = work.Stages with { Build = Done(watch, OneLine(built.Reason), "build.log") };
        }
        if (_settings.Until < MatrixStage.Smoke) return;

        // Smoke: one boot of this kernel with this module, every smoke and load program.
        at(MatrixStage.Smoke);
        watch.Restart();
        var smokeDir = Path.Combine(work.Staging, "smoke");
        var index = new BuildIndex
        {
            Kernels = [new IndexedKernel { Release = entry.Release, Image = entry.Vmlinuz, Btf = File.Exists(entry.Vmlinux) ? entry.Vmlinux : null, Entry = entry.Dir }],
            Modules = ko is null ? [] : [new IndexedModule { Kernel = entry.Release, Module = module.Name, Ko = ko }],
        };
        var boots = await new SmokePlanner(_tools).MakeAsync(plan, index, cancellation).ConfigureAwait(false);
        var accelerator = await AcceleratorAsync(boots, cancellation).ConfigureAwait(false);
        var session = new SmokeSession(_tools, _vms, new SmokeOptions(smokeDir)
        {
            Accelerator = accelerator.Accelerator == Accelerator.Kvm ? AcceleratorRequest.Kvm : AcceleratorRequest.Tcg,
            Jobs = 1, Timeout = _settings.VmTimeout,
        });
        var run = await session.RunAsync(boots, cancellation: cancellation).ConfigureAwait(false);
        var verdict = run.Verdicts.Single();
        await File.WriteAllTextAsync(Path.Combine(smokeDir, "result.json"), SmokeReport.Json(SmokeReport.Boot(verdict, work.Staging)), cancellation).ConfigureAwait(false);
        var cellVerdict = verdict.Cells.FirstOrDefault(c => c.Module == module.Name);
        ApplySmoke(work, verdict, cellVerdict);
        var console = verdict.Boot is { } b ? Path.GetRelativePath(work.Staging, b.Request.ConsoleLog) : "smoke/result.json";
        if (cellVerdict is null || !cellVerdict.Passed)
        {
            var failure = cellVerdict?.PrimaryFailure;
            Fail(work, MatrixStage.Smoke, failure is null ? "the boot tested nothing for this module" : $"{SmokeReport.Name(failure.Reason!.Value)}: {failure.Message}", watch, console);
            return;
        }
        work.Stages = work.Stages with
        {
            Smoke = Done(watch, string.Create(CultureInfo.InvariantCulture,
                $"{cellVerdict.Checks.Count(c => c.Status == CheckStatus.Pass)} checks passed ({accelerator.Accelerator.ToString().ToUpperInvariant()}, boot {verdict.Timings?.WallSeconds:0.0} s)"), console),
        };
        if (_settings.Until < MatrixStage.Sign || ko is null || rendered is null) return;

        // Sign with the profile's key (else the development key) and the digest the kernel's config asks for.
        at(MatrixStage.Sign);
        watch.Restart();
        var signLog = new System.Text.StringBuilder();
        var signed = (await SignStage.RunAsync([new SignRequest(entry.Release, module.Name, ko, Path.Combine(work.Staging, "sign", module.Name + ".ko"), entry)],
            distro, _settings.KeyRequest(distro.Signing), null, _processes, w => signLog.Append(w).Append('\n'), cancellation).ConfigureAwait(false)).Single();
        await File.WriteAllTextAsync(Path.Combine(work.Staging, "sign.log"),
            $"signed {module.Name}.ko for {entry.Release}: {signed.Hash.Name}, {signed.KeyDescription}, sha256 {signed.Signed.Sha256}\n{signLog}", cancellation).ConfigureAwait(false);
        work.Stages = work.Stages with { Sign = Done(watch, $"{signed.Hash.Name} signature by '{signed.Signed.Signature.Signer}'", "sign.log") };
        if (_settings.Until < MatrixStage.Package) return;

        // Package: a .deb/.rpm and its signed repository, from the built cell's files and the signed module, with the
        // package verb's own key choice and provenance.
        at(MatrixStage.Package);
        watch.Restart();
        var packageKey = await PackageKeyAsync(distro).ConfigureAwait(false);
        using var certificate = SigningKey.LoadCertificate(signed.CertificatePath);
        var provenance = await ProvenanceAsync(distro, cancellation).ConfigureAwait(false);
        var repo = Path.Combine(work.Staging, "package", Pipeline.ArtifactsLayout.RepositoryFolder(distro.Family));
        var packaged = await new Packager(_processes).RunAsync([PackageProvenance.Input(_settings.Tree, Path.GetDirectoryName(ko)!, signed.Signed.Path)],
            new PackagingSettings(repo, distro.Family, "amd64", _settings.SourceDate, certificate, signed.Hash, packageKey.Keyring, packageKey.Key, provenance, distro.Id), cancellation).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(work.Staging, "package.log"),
            string.Concat(packaged.Packages.Select(p => $"package {p.FileName}: sha256 {p.Sha256}\n")) + $"repository {Path.GetRelativePath(work.Staging, repo)} signed by {packageKey.Key.Fingerprint}\n", cancellation).ConfigureAwait(false);
        work.Stages = work.Stages with { Package = Done(watch, string.Join(", ", packaged.Packages.Select(p => p.FileName)), "package.log") };
    }

    /// <summary>Per kfunc: the smoke checks that concern it (registration, programs calling it, its loads; module, boot and kernel checks concern all).</summary>
    private static void ApplySmoke(CellWork work, BootVerdict verdict, CellVerdict? cell)
    {
        var calls = verdict.Plan.Smoke.GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.SelectMany(s => s.Calls).ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
        var loads = verdict.Plan.Loads.GroupBy(l => l.Name).ToDictionary(g => g.Key, g => g.First().Kfunc, StringComparer.Ordinal);
        bool Concerns(CheckResult c, string kfunc) => c.Kind switch
        {
            "registration" => c.Name == kfunc,
            "smoke" => calls.TryGetValue(c.Name, out var k) && k.Contains(kfunc),
            "load" => loads.TryGetValue(c.Name, out var l) && l == kfunc,
            "module" or "kernel" or "boot" => true,
            _ => false,
        };
        var checks = cell?.Checks ?? [];
        work.Kfuncs = work.Kfuncs.Select(k =>
        {
            var mine = checks.Where(c => Concerns(c, k.Kfunc) && c.Status != CheckStatus.Skipped).ToList();
            return k with { Smoke = mine.Any(c => c.Status == CheckStatus.Fail) ? StageStatus.Fail : mine.Any(c => c.Status == CheckStatus.Pass) ? StageStatus.Pass : null };
        }).ToList();
        foreach (var l in verdict.Loads.Where(l => l.Module == (cell?.Module ?? "")).OrderBy(l => l.Name, StringComparer.Ordinal))
            work.Loads.Add(new LoadFigure
            {
                Name = l.Name, Kfunc = l.Kfunc, Verdict = SmokeReport.Name(l.Verdict), Passed = l.Passed, Proto = l.Proto,
                NsPerCall = Round(l.NsPerCall), CallsPerSecond = Round(l.CallsPerSecond), SocketsPerSecond = Round(l.SocketsPerSecond),
            });
    }

    private Task<AcceleratorChoice> AcceleratorAsync(IReadOnlyList<BootPlan> boots, CancellationToken cancellation)
    {
        lock (_lock)
            return _accelerator ??= new SmokeSession(_tools, _vms, new SmokeOptions(Path.Combine(_store.Root, ".probe")) { Accelerator = _settings.Accelerator })
                .AcceleratorAsync(boots, cancellation);
    }

    private Task<PackageSigningKey> PackageKeyAsync(DistroProfile distro)
    {
        lock (_lock)
        {
            if (!_packageKeys.TryGetValue(distro.Id, out var key))
                _packageKeys[distro.Id] = key = PackageSigningKey.ResolveAsync(_processes, _settings.GnupgHome, _settings.PackageKeyId ?? distro.Signing.PackageKeyId);
            return key;
        }
    }

    private Task<ProvenanceInputs> ProvenanceAsync(DistroProfile distro, CancellationToken cancellation)
    {
        lock (_lock)
        {
            if (!_provenance.TryGetValue(distro.Id, out var inputs))
                _provenance[distro.Id] = inputs = PackageProvenance.ForRunAsync(_settings.Tree, distro, _processes, cancellation);
            return inputs;
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The development keyring is the engine's own: leave no gpg-agent running behind the run.
        foreach (var key in _packageKeys.Values.Where(k => k.IsCompletedSuccessfully)) await key.Result.DisposeAsync().ConfigureAwait(false);
    }

    private static StageOutcome Done(Stopwatch watch, string reason, string? log) =>
        new() { Status = StageStatus.Pass, Reason = reason, Seconds = Math.Round(watch.Elapsed.TotalSeconds, 1), Log = log };

    private static void Fail(CellWork work, MatrixStage stage, string reason, Stopwatch watch, string? log)
    {
        work.FailedStage = Name(stage);
        work.Reason = OneLine(reason);
        work.Stages = Set(work.Stages, stage, new StageOutcome { Status = StageStatus.Fail, Reason = OneLine(reason), Seconds = Math.Round(watch.Elapsed.TotalSeconds, 1), Log = log });
    }

    public static string Name(MatrixStage stage) => stage.ToString().ToLowerInvariant();

    private static StageOutcome? Get(CellStages s, MatrixStage stage) => stage switch
    {
        MatrixStage.Plan => s.Plan, MatrixStage.Build => s.Build, MatrixStage.Smoke => s.Smoke, MatrixStage.Sign => s.Sign, _ => s.Package,
    };

    private static CellStages Set(CellStages s, MatrixStage stage, StageOutcome o) => stage switch
    {
        MatrixStage.Plan => s with { Plan = o }, MatrixStage.Build => s with { Build = o }, MatrixStage.Smoke => s with { Smoke = o },
        MatrixStage.Sign => s with { Sign = o }, _ => s with { Package = o },
    };

    private static double? Round(double? v) => v is null ? null : Math.Round(v.Value, 2);

    private static string OneLine(string text) => string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
