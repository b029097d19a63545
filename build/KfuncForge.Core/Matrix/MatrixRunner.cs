using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using KfuncForge.Containers;
using KfuncForge.Definitions;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Processes;
using KfuncForge.Signing;
using KfuncForge.Vm;

namespace KfuncForge.Matrix;

/// <summary>What a matrix run works on and how; the command line fills it in.</summary>
public sealed record MatrixSettings
{
    public required SourceTree Tree { get; init; }
    public required string StoreDir { get; init; }
    public string? Distro { get; init; }
    public string? Module { get; init; }
    public string? Kernel { get; init; }
    public string? Container { get; init; }
    public string? Cache { get; init; }
    public MatrixStage Until { get; init; } = MatrixStage.Package;
    public Shard Shard { get; init; } = Shard.Whole;
    public int Jobs { get; init; } = 1;
    public bool RerunFailed { get; init; }
    public TimeSpan VmTimeout { get; init; } = TimeSpan.FromSeconds(180);
    public AcceleratorRequest Accelerator { get; init; } = AcceleratorRequest.Auto;
    public DateTimeOffset SourceDate { get; init; } = DateTimeOffset.UnixEpoch;

    /// <summary>The previous report's cells, for the expected cost of each cell (sharding).</summary>
    public IReadOnlyDictionary<string, CellRecord>? Previous { get; init; }

    /// <summary>The package signing keyring and key id from the command line (else the profile's key id, else the development key).</summary>
    public string? GnupgHome { get; init; }

    /// <summary>The stage results shared with the stage verbs (&lt;out&gt;/store): a build with the same inputs is taken from there.</summary>
    public Pipeline.StageStore? StageStore { get; init; }
    public string? PackageKeyId { get; init; }

    /// <summary>
    /// What each profile's published repository serves (Packaging/Retention.cs): a served kernel the index no longer lists is
    /// still a cell while it is among the newest packaging.retain of its line and its cache entry is here. Null: none.
    /// </summary>
    public Func<DistroProfile, IReadOnlyList<Packaging.ServedPackage>>? Served { get; init; }

    /// <summary>The module key a profile's signing settings name (the Sign stage's rule).</summary>
    public required Func<SigningSettings, ModuleKeyRequest> KeyRequest { get; init; }
}

/// <summary>What a run did: every cell of this shard (reused or run), and the whole matrix's cells with their expected costs.</summary>
public sealed record MatrixRunResult(IReadOnlyList<CellRecord> Cells, IReadOnlyDictionary<string, double> Universe, DateTimeOffset Started, TimeSpan Wall, string RunId)
{
    /// <summary>What kernel resolution skipped, and why; in every report.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
}

/// <summary>Progress of a run, for the terminal (MatrixProgress).</summary>
public interface IMatrixObserver
{
    void Planned(int total, int reused, int toRun, IReadOnlyDictionary<string, double> expectedSeconds);
    void Started(string id);
    void Finished(CellRecord record, bool reused);
    void Note(string line);
}

/// <summary>
/// The nightly matrix: every distro profile × target kernel (resolved from the live index) × module.
/// Each cell is keyed by what it depends on; a cell whose key is in the store is reused, the others
/// run the real stages (MatrixCellRunner) and are stored whole as they finish, so a killed run loses
/// at most the cells it was running.
/// </summary>
public sealed class MatrixRunner(MatrixSettings settings, IProcessRunner processes, IMatrixObserver observer)
{
    internal sealed class DistroRun
    {
        public required DistroProfile Distro { get; init; }
        public KernelWorkspace? Workspace { get; init; }
        public DebianIndex? Index { get; init; }
        public string Toolchain { get; init; } = "";
        public string Definitions { get; init; } = "";
        private readonly ConcurrentDictionary<string, Lazy<Task<KernelEntry>>> _kernels = new(StringComparer.Ordinal);

        public Task<KernelEntry> FetchAsync(ResolvedKernel kernel, CancellationToken cancellation) =>
            _kernels.GetOrAdd(kernel.Release.Release, _ => new Lazy<Task<KernelEntry>>(() => Workspace!.Fetcher.FetchAsync(Distro, kernel, Index!, cancellation))).Value;
    }

    private readonly List<string> _notes = [];

    internal sealed record PlannedCell(MatrixCellId Id, DistroRun Run, KfuncModule Module, ResolvedKernel? Kernel, string Key, IReadOnlyDictionary<string, string> Inputs, CellRecord? Fixed);

    public static string EngineVersion => Pipeline.StageKeys.Engine;

    public async Task<MatrixRunResult> RunAsync(CancellationToken cancellation = default)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var runId = started.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..6];
        var catalog = Catalog.Load(settings.Tree);
        var distros = SelectDistros(catalog, settings.Distro);
        var modules = catalog.SelectModules(settings.Module);
        var store = new CellStore(settings.StoreDir);
        var stored = store.LoadAll();
        store.SweepStaging();
        if (settings.Until >= MatrixStage.Smoke && HostRequirements.Missing(GuestImageBuilder.DefaultBusybox) is { Count: > 0 } missing)
            throw new StageException($"the smoke stage needs host tools that are missing: {string.Join(", ", missing)}. Run `dotnet cake --target=Setup` (build/host-packages.txt), or stop earlier with --until=build");

        var host = await HostToolchainAsync(cancellation).ConfigureAwait(false);
        var cells = await EnumerateAsync(distros, modules, host, cancellation).ConfigureAwait(false);
        var universe = cells.ToDictionary(c => c.Id.Id, c => ShardPlanner.Cost(c.Id.Id, c.Fixed is not null, settings.Until, settings.Previous), StringComparer.Ordinal);
        var mine = ShardPlanner.Select(universe, settings.Shard);
        var selected = cells.Where(c => mine.Contains(c.Id.Id)).ToList();

        var results = new ConcurrentDictionary<string, CellRecord>(StringComparer.Ordinal);
        var toRun = new List<PlannedCell>();
        foreach (var cell in selected)
        {
            if (cell.Fixed is not null) results[cell.Id.Id] = cell.Fixed;
            else if (stored.TryGetValue(cell.Key, out var record) && record.Transient != true && !(settings.RerunFailed && record.Status == CellStatus.Fail))
                results[cell.Id.Id] = record with { Reused = true };
            else toRun.Add(cell);
        }
        observer.Planned(selected.Count, results.Values.Count(r => r.Reused == true), toRun.Count,
            toRun.ToDictionary(c => c.Id.Id, c => universe[c.Id.Id], StringComparer.Ordinal));
        foreach (var r in results.Values.OrderBy(r => r.Id, StringComparer.Ordinal)) observer.Finished(r, r.Reused == true);

        await using var runner = new MatrixCellRunner(settings, processes, store, runId);
        using var gate = new SemaphoreSlim(Math.Max(1, settings.Jobs));
        // Longest first, so the slowest cells do not start last.
        await Task.WhenAll(toRun.OrderByDescending(c => universe[c.Id.Id]).ThenBy(c => c.Id.Id, StringComparer.Ordinal).Select(async cell =>
        {
            await gate.WaitAsync(cancellation).ConfigureAwait(false);
            try
            {
                observer.Started(cell.Id.Id);
                var record = await runner.RunAsync(cell, cancellation).ConfigureAwait(false);
                results[cell.Id.Id] = record with { Reused = false };
                observer.Finished(record, false);
            }
            finally
            {
                gate.Release();
            }
        })).ConfigureAwait(false);

        var ordered = results.Values.OrderBy(r => r.Id, StringComparer.Ordinal).ToList();
        return new MatrixRunResult(ordered, universe, started, clock.Elapsed, runId) { Notes = _notes };
    }

    /// <summary>--distro takes one profile id or a comma-separated list; default: every profile.</summary>
    public static IReadOnlyList<DistroProfile> SelectDistros(Catalog catalog, string? filter)
    {
        if (filter is null) return catalog.Distros.OrderBy(d => d.Id, StringComparer.Ordinal).ToList();
        var names = filter.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var unknown = names.Where(n => catalog.Distros.All(d => d.Id != n)).ToList();
        if (unknown.Count > 0 || names.Length == 0)
            throw new InputException(new Problem("--distro", 0, 0, "", $"unknown distro profile{(unknown.Count == 1 ? "" : "s")} {string.Join(", ", unknown.Select(u => $"'{u}'"))}; known: {string.Join(", ", catalog.Distros.Select(d => d.Id).Order(StringComparer.Ordinal))} (one per distros/<id>.yaml; several: --distro=debian12,debian13)"));
        return names.Distinct(StringComparer.Ordinal).Select(n => catalog.Distros.Single(d => d.Id == n)).OrderBy(d => d.Id, StringComparer.Ordinal).ToList();
    }

    private async Task<List<PlannedCell>> EnumerateAsync(IReadOnlyList<DistroProfile> distros, IReadOnlyList<KfuncModule> modules, IReadOnlyDictionary<string, string> host, CancellationToken cancellation)
    {
        var cells = new List<PlannedCell>();
        var kernelProblems = new List<Problem>();
        var matchedKernel = settings.Kernel is null;
        var templates = CellKey.OfTree(settings.Tree.Templates);
        var moduleDigests = modules.ToDictionary(m => m.Name, m => CellKey.OfTree(Path.Combine(settings.Tree.Modules, m.Name)), StringComparer.Ordinal);
        // Cells decided before anything runs (skipped, or failed for the whole profile), one per nominal kernel and module.
        void AddFixedCells(DistroProfile distro, string status, string reason)
        {
            IReadOnlyList<KernelFacts> nominal;
            try
            {
                nominal = KernelSelection.Select(distro, settings.Kernel);
                matchedKernel = true;
            }
            catch (InputException bad)
            {
                kernelProblems.AddRange(bad.Problems);
                return;
            }
            foreach (var k in nominal)
                foreach (var m in modules)
                {
                    var id = new MatrixCellId(distro.Id, k.Release, m.Name);
                    cells.Add(new PlannedCell(id, new DistroRun { Distro = distro }, m, null, "", new Dictionary<string, string>(), FixedRecord(id, status, reason, m)));
                }
        }

        foreach (var distro in distros)
        {
            var definitions = CellKey.OfFiles([Path.Combine(settings.Tree.Distros, distro.Id + ".yaml"), Path.Combine(settings.Tree.KernelPackagings, distro.KernelPackaging.Name + ".yaml")]);
            if (distro.Kernels.All(t => t.Tree is not null))
            {
                // Kernels given as build trees live on one machine, not in an archive the nightly matrix can follow.
                AddFixedCells(distro, CellStatus.Skipped,
                    $"{distro.Id}'s kernels are build trees on the machine that has them, not archive packages the matrix can fetch: run `dotnet cake --target=Package --distro={distro.Id} --kernel-tree=<dir>` there (docs/kernel-trees.md)");
                continue;
            }
            KernelWorkspace workspace;
            DebianIndex index;
            try
            {
                workspace = await KernelWorkspace.OpenAsync(distro, settings.Container, settings.Cache, processes, observer.Note, cancellation).ConfigureAwait(false);
                index = await workspace.Fetcher.IndexAsync(distro, cancellation).ConfigureAwait(false);
            }
            catch (Exception e) when (e is StageException or ProcessFailedException or IOException)
            {
                // Profiles no backend here can serve (RPM family, Ubuntu: their archives and images need a registry) are skipped, not failed.
                // Anything else (the archive unreachable, the rootfs not buildable) fails the profile's cells, and the next run retries them.
                AddFixedCells(distro, distro.NeedsContainerEngine ? CellStatus.Skipped : CellStatus.Fail, distro.NeedsContainerEngine
                    ? $"needs docker or podman with {distro.ContainerImage} from its registry: {distro.Id}'s kernels come from its own archive through that image ({OneLine(e.Message)})"
                    : $"plan: the {distro.Id} environment or its kernel index could not be prepared: {OneLine(e.Message)}");
                continue;
            }
            KernelResolution resolution;
            try
            {
                resolution = KernelFetcher.Select(distro, index, settings.Kernel);
                matchedKernel = true;
            }
            catch (InputException bad) when (settings.Kernel is not null)
            {
                kernelProblems.AddRange(bad.Problems.Select(p => p with { Message = $"{distro.Id}: {p.Message}" }));
                continue;
            }
            foreach (var note in resolution.Notes)
            {
                _notes.Add($"{distro.Id}: {note}");
                observer.Note($"note: {distro.Id}: {note}");
            }
            // A kernel the index cannot supply is a cell state: its cells are reported, never stored, and tried again next run.
            foreach (var gone in resolution.Unavailable)
                foreach (var m in modules)
                {
                    var id = new MatrixCellId(distro.Id, gone.Kernel, m.Name);
                    cells.Add(new PlannedCell(id, new DistroRun { Distro = distro }, m, null, "", new Dictionary<string, string>(), FixedRecord(id, CellStatus.Unavailable, gone.Reason, m)));
                }
            var kernels = resolution.Kernels.Concat(Retained(distro, workspace, resolution)).ToList();
            var toolchain = host.ToDictionary();
            toolchain["environment"] = Pipeline.StageKeys.Environment(workspace.Container, distro);
            var run = new DistroRun
            {
                Distro = distro, Workspace = workspace, Index = index, Definitions = definitions,
                Toolchain = CellKey.Digest(string.Concat(toolchain.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}={t.Value}\n"))),
            };
            var signing = SigningDigest(distro);
            foreach (var kernel in kernels)
                foreach (var module in modules)
                {
                    var id = new MatrixCellId(distro.Id, kernel.Release.Release, module.Name);
                    var inputs = new SortedDictionary<string, string>(StringComparer.Ordinal)
                    {
                        ["cell"] = CellKey.Digest(id.Id),
                        ["engine"] = CellKey.Digest($"{EngineVersion}\nuntil={settings.Until}"),
                        ["distro"] = definitions,
                        ["module"] = moduleDigests[module.Name],
                        ["templates"] = templates,
                        ["kernel_packages"] = Pipeline.StageKeys.KernelPackages(kernel.Packages.Select(p => (p.Package, p.Version, p.Sha256))),
                        ["toolchain"] = run.Toolchain,
                        ["signing"] = signing,
                    };
                    cells.Add(new PlannedCell(id, run, module, kernel, CellKey.Of(inputs), inputs, null));
                }
        }
        if (!matchedKernel || (cells.Count == 0 && kernelProblems.Count > 0)) throw new InputException(kernelProblems);
        foreach (var p in kernelProblems) observer.Note($"note: {p.Message} (--kernel does not apply there; that profile is left out)");
        return cells;
    }

    /// <summary>Served kernels still in the retention window that the index no longer lists, from the kernel cache (not with --kernel).</summary>
    private IEnumerable<ResolvedKernel> Retained(DistroProfile distro, KernelWorkspace workspace, KernelResolution resolution)
    {
        if (settings.Kernel is not null || settings.Served?.Invoke(distro) is not { Count: > 0 } served) yield break;
        var have = resolution.Kernels.Select(k => k.Release.Release).Concat(resolution.Unavailable.Select(u => u.Kernel)).ToHashSet(StringComparer.Ordinal);
        var lines = distro.Kernels.Select(t => $"{t.Line.Major}.{t.Line.Minor}").ToHashSet(StringComparer.Ordinal);
        var kernels = served.Where(p => lines.Contains(p.Line)).Select(p => new Packaging.Retention.Kernel(p.Kernel, p.Line)).DistinctBy(k => k.Release).ToList();
        var window = Packaging.Retention.Window(resolution.Kernels.Select(k => new Packaging.Retention.Kernel(k.Release.Release, $"{k.UpstreamVersion.Major}.{k.UpstreamVersion.Minor}")).Concat(kernels),
            distro.Packaging.Retain);
        foreach (var kept in kernels.Where(k => !have.Contains(k.Release) && window.Contains(k.Release)).OrderBy(k => k.Release, StringComparer.Ordinal))
        {
            if (KernelEntry.TryOpen(workspace.Fetcher.EntryDir(distro, kept.Release)) is not { Facts.Packages.Count: > 0 } entry) continue;
            var note = $"{kept.Release}: kept: the repository serves it and it is among the newest {distro.Packaging.Retain} of Linux {kept.Line} (packaging.retain); tested from the kernel cache";
            _notes.Add($"{distro.Id}: {note}");
            observer.Note($"note: {distro.Id}: {note}");
            yield return ResolvedKernel.FromCache(entry, note);
        }
    }

    private static CellRecord FixedRecord(MatrixCellId id, string status, string reason, KfuncModule module) => new()
    {
        Id = id.Id, Distro = id.Distro, Kernel = id.Kernel, Module = id.Module, Key = "", Status = status, Reason = reason,
        Kfuncs = module.Kfuncs.Select(k => new KfuncOutcome { Kfunc = k.Name, Verdict = status, Reason = reason }).ToList(),
        Stages = new CellStages(),
    };

    /// <summary>
    /// The keys a cell is signed and packaged with: the module certificate's bytes (the configured one, else the
    /// development key's), the external signer, and the repository keyring and key id. Another key signs another package.
    /// </summary>
    private string SigningDigest(DistroProfile distro)
    {
        if (settings.Until < MatrixStage.Sign) return CellKey.Digest("not signed");
        var request = settings.KeyRequest(distro.Signing);
        // The development key is made now if missing (Sign would make it), so the first run's cells keep their key.
        var certificate = request.Certificate ?? (request.SignerCommand is null && request.Key is null
            ? Signing.DevelopmentKey.Ensure(request.DevelopmentKeyDirectory, request.SourceRoot).CertificateDerPath
            : "none");
        return CellKey.Digest(string.Join("\n", Pipeline.StageKeys.FileDigest(certificate), string.Join(" ", request.SignerCommand ?? []),
            settings.GnupgHome ?? "development", settings.PackageKeyId ?? distro.Signing.PackageKeyId ?? "development"));
    }

    /// <summary>Versions of the host tools the chosen stages run (smoke: QEMU, clang, bpftool, gcc for the agent; package: dpkg-deb, gpg).</summary>
    private async Task<IReadOnlyDictionary<string, string>> HostToolchainAsync(CancellationToken cancellation)
    {
        var tools = new List<(string Name, string[] Argv)>();
        if (settings.Until >= MatrixStage.Smoke)
            tools.AddRange([("qemu", ["qemu-system-x86_64", "--version"]), ("clang", ["clang", "--version"]), ("bpftool", ["bpftool", "version"]), ("gcc", ["gcc", "--version"])]);
        if (settings.Until >= MatrixStage.Package)
            tools.AddRange([("dpkg-deb", ["dpkg-deb", "--version"]), ("gpg", ["gpg", "--version"])]);
        var versions = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, argv) in tools)
        {
            var r = await processes.RunAsync(new ProcessSpec(argv[0], argv[1..]) { Timeout = TimeSpan.FromSeconds(30), Environment = new Dictionary<string, string?> { ["LC_ALL"] = "C" } }, cancellation).ConfigureAwait(false);
            versions[name] = r.Succeeded ? r.Stdout.Split('\n')[0].Trim() : "unavailable";
        }
        return versions;
    }

    private static string OneLine(string text) =>
        string.Join("; ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Replace(":; ", ": ");
}
