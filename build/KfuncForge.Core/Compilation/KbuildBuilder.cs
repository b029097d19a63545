using System.Diagnostics;
using System.Text;
using KfuncForge.Containers;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Processes;

namespace KfuncForge.Compilation;

/// <summary>One module source tree to build against one fetched kernel.</summary>
public sealed record KbuildRequest(
    DistroProfile Distro,
    KernelEntry Kernel,
    string Module,
    string SourceDir,
    string WorkDir,
    string LogFile,
    IReadOnlyList<string> Kfuncs)
{
    /// <summary>SOURCE_DATE_EPOCH of the run: the pinned KBUILD_BUILD_TIMESTAMP (see ReproducibleKbuild).</summary>
    public DateTimeOffset SourceDate { get; init; } = DateTimeOffset.UnixEpoch;

    /// <summary>Where finished builds are kept by their inputs (Pipeline.StageStore); with none, every build runs.</summary>
    public Pipeline.StageStore? Store { get; init; }
}

/// <summary>
/// Builds an out-of-tree module with kbuild inside the distro's environment:
/// `make -C &lt;headers&gt; M=&lt;dir&gt; modules`, with the kernel's tree and extras (vmlinux beside the
/// headers, resolve_btfids where the kbuild package lacks it) laid read-only over the rootfs, no
/// network, and only the module's own folder writable. Then checks the .ko (ModuleInspector).
/// </summary>
public sealed class KbuildBuilder(IContainerRunner container)
{
    /// <summary>Where the module folder appears inside the environment.</summary>
    public static string MountPoint(string module) => $"/tmp/kfuncforge/{module}";

    public static ContainerStep MakeStep(KernelEntry kernel, string module, string workDir, DateTimeOffset sourceDate, PaholeRecord? pahole = null) =>
        // -j as dkms does (one job per core): a module with several .c files compiles them side by side; the objects,
        // and so the module, are the same bytes in any order.
        new(["make", $"-j{Environment.ProcessorCount}", "-C", kernel.Facts.HeadersDir, $"M={MountPoint(module)}", .. pahole?.Flags is { } flags ? [$"PAHOLE_FLAGS={flags}"] : Array.Empty<string>(), "modules"])
        {
            Layers = kernel.Layers,
            Mounts = [new Mount(workDir, MountPoint(module), Writable: true)],
            WorkingDirectory = MountPoint(module),
            Environment = ReproducibleKbuild.Environment(sourceDate, MountPoint(module)),
            Timeout = TimeSpan.FromMinutes(15),
        };

    /// <summary>Why this kernel cannot give modules BTF, or null when it can.</summary>
    public static string? MissingPrerequisite(KernelEntry kernel)
    {
        var f = kernel.Facts;
        if (f.Config.GetValueOrDefault("CONFIG_DEBUG_INFO_BTF_MODULES") != "y")
            return $"{f.Release} is built without CONFIG_DEBUG_INFO_BTF_MODULES: modules get no BTF, so their kfuncs cannot register";
        if (!File.Exists(kernel.Vmlinux))
            return $"{f.Release}: no vmlinux with base BTF in the cache entry ({kernel.Vmlinux}); fetch the kernel again";
        var tools = KernelFetcher.ToolsDirInRoot(kernel.Tree, f.HeadersDir).TrimStart('/') + "/bpf/resolve_btfids/resolve_btfids";
        if (!File.Exists(Path.Combine(kernel.Tree, tools)) && !File.Exists(Path.Combine(kernel.Extras, tools)))
            return $"{f.Release}: no resolve_btfids in the kernel's kbuild tree; module .BTF_ids would stay unresolved";
        return null;
    }

    public async Task<CellResult> BuildAsync(KbuildRequest request, CancellationToken cancellation = default)
    {
        var watch = Stopwatch.StartNew();
        var release = request.Kernel.Release;
        TimeSpan? kbuild = null;
        CellResult Result(CellOutcome outcome, string reason, string? ko = null) =>
            new(request.Distro.Id, release, request.Module, outcome, reason, watch.Elapsed, ko, request.LogFile) { KbuildTime = kbuild };

        Directory.CreateDirectory(Path.GetDirectoryName(request.LogFile)!);
        var log = new StringBuilder();
        log.Append($"# kfuncforge build: module {request.Module} for {release} ({request.Distro.Id}), container {container.Name}\n");
        try
        {
            if (MissingPrerequisite(request.Kernel) is { } missing)
                return Result(CellOutcome.Failed, missing);

            PrepareWorkDir(request.SourceDir, request.WorkDir);
            var key = request.Store is null ? null : InputKey(request);
            if (key is not null && request.Store!.Find(StoreStage, key) is { } stored)
            {
                // The same sources, kernel packages, build environment and engine: the stored module is this build's.
                foreach (var name in new[] { request.Module + ".ko", BuildRecord.FileName })
                    File.Copy(Path.Combine(stored, name), Path.Combine(request.WorkDir, name), overwrite: true);
                log.Append($"# reused the build stored under {stored} (its inputs are unchanged)\n");
                return Result(CellOutcome.Built, $"unchanged, reused ({await File.ReadAllTextAsync(Path.Combine(stored, ReasonFile), cancellation)})", Path.Combine(request.WorkDir, request.Module + ".ko"));
            }
            var pahole = await PaholeAsync(request, cancellation);
            log.Append($"# pahole: {pahole.Reason}\n");
            var step = MakeStep(request.Kernel, request.Module, request.WorkDir, request.SourceDate, pahole);
            var result = await container.RunAsync(request.Distro, step, cancellation);
            kbuild = result.Duration;
            log.Append(result.LogText());
            if (!result.Succeeded)
                return Result(CellOutcome.Failed, result.TimedOut ? $"kbuild timed out after {step.Timeout?.TotalMinutes:0} min" : $"kbuild failed (exit {result.ExitCode}): {CompilerMessage(result, request.Module)}");
            if ((result.Stdout + result.Stderr).Contains("Skipping BTF generation", StringComparison.Ordinal))
                return Result(CellOutcome.Failed, "kbuild skipped BTF generation (it found no vmlinux): the module's kfuncs would never register");

            var ko = Path.Combine(request.WorkDir, request.Module + ".ko");
            if (!File.Exists(ko)) return Result(CellOutcome.Failed, $"kbuild succeeded but produced no {request.Module}.ko");
            var baseBtf = ReadBaseBtf(request.Kernel);
            var checks = ModuleInspector.Inspect(ko, release, request.Kfuncs, baseBtf).ToList();
            if (KabiReport.StablelistOf(request.Kernel) is { } stablelist) checks.Add(KabiReport.Check(ko, stablelist));
            foreach (var c in checks) log.Append($"# check {c.Name}: {(c.Passed ? "ok" : "FAILED")}: {c.Detail}\n");
            var failed = checks.Where(c => !c.Passed).ToList();
            new BuildRecord { Kernel = release, KernelPackages = request.Kernel.Facts.Packages, KbuildEnvironment = step.Environment, Pahole = pahole }.Save(request.WorkDir);
            if (failed.Count > 0) return Result(CellOutcome.Failed, string.Join("; ", failed.Select(c => $"{c.Name}: {c.Detail}")), ko);
            var reason = string.Join("; ", checks.Select(c => $"{c.Name} {ShortDetail(c)}"));
            if (key is not null)
                request.Store!.Put(StoreStage, key, dir =>
                {
                    foreach (var name in new[] { request.Module + ".ko", BuildRecord.FileName }) File.Copy(Path.Combine(request.WorkDir, name), Path.Combine(dir, name));
                    File.WriteAllText(Path.Combine(dir, ReasonFile), reason);
                });
            return Result(CellOutcome.Built, reason, ko);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Diagnostics.StageException or ProcessFailedException)
        {
            log.Append($"# error: {e.Message}\n");
            return Result(CellOutcome.Failed, e.Message);
        }
        finally
        {
            log.Append($"# {watch.Elapsed.TotalSeconds:0.00} s\n");
            await File.WriteAllTextAsync(request.LogFile, log.ToString(), CancellationToken.None);
        }
    }

    public const string StoreStage = "build";
    private const string ReasonFile = "checks.txt";

    /// <summary>The render's own records (which commit rendered the cell, and how): kbuild never reads them, so they are not build inputs.</summary>
    private static bool RenderRecord(string relativePath) => relativePath is Packaging.RenderedCellFiles.ManifestName or Rendering.Renderer.ProvenanceFile;

    /// <summary>
    /// What a build's result depends on: the engine, the rendered sources (every file's digest), the kernel's packages, the
    /// build environment's package list, the pinned timestamp, the module and the kfuncs it must provide.
    /// </summary>
    public string InputKey(KbuildRequest request) => Matrix.CellKey.Of(new Dictionary<string, string>
    {
        ["engine"] = Pipeline.StageKeys.Engine,
        ["sources"] = Matrix.CellKey.OfTree(request.SourceDir, RenderRecord),
        ["kernel_packages"] = Pipeline.StageKeys.KernelPackages(request.Kernel.Facts.Packages),
        ["environment"] = Pipeline.StageKeys.Environment(container, request.Distro),
        ["source_date"] = request.SourceDate.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["cell"] = Matrix.CellKey.Digest($"{request.Distro.Id}\n{request.Kernel.Release}\n{request.Module}\n{string.Join(",", request.Kfuncs)}"),
    });

    /// <summary>A fresh copy of the rendered sources, so objects never land in the render output and stale objects never survive.</summary>
    public static void PrepareWorkDir(string source, string work)
    {
        if (Directory.Exists(work)) Directory.Delete(work, true);
        Directory.CreateDirectory(work);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(work, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>Each kernel's pahole decision, made once per builder (one builder serves a whole run's cells).</summary>
    private readonly Dictionary<string, Task<PaholeRecord>> _pahole = new(StringComparer.Ordinal);

    private Task<PaholeRecord> PaholeAsync(KbuildRequest request, CancellationToken cancellation)
    {
        lock (_pahole)
        {
            var key = $"{request.Distro.Id}/{request.Kernel.Release}";
            if (!_pahole.TryGetValue(key, out var decision) || decision.IsFaulted || decision.IsCanceled)
                _pahole[key] = decision = ReproduciblePahole.DecideAsync(container, request.Distro, request.Kernel, cancellation);
            return decision;
        }
    }

    /// <summary>Each kernel's base BTF, read once per builder (one builder serves a whole run's cells).</summary>
    private readonly Dictionary<string, byte[]> _baseBtf = new(StringComparer.Ordinal);

    private byte[]? ReadBaseBtf(KernelEntry kernel)
    {
        lock (_baseBtf)
        {
            if (_baseBtf.TryGetValue(kernel.Vmlinux, out var cached)) return cached;
            var elf = ElfFile.Load(kernel.Vmlinux);
            var blob = elf.Section(".BTF") is { } s ? elf.Bytes(s).ToArray() : null;
            if (blob is not null) _baseBtf[kernel.Vmlinux] = blob;
            return blob;
        }
    }

    /// <summary>The lines that say why kbuild failed (a full disk, compiler errors, missing symbols; paths shown relative to the module), else the tail of the output.</summary>
    public static string CompilerMessage(ProcessResult result, string module) =>
        CommandLine.Reason((result.Stderr + "\n" + result.Stdout).Replace(MountPoint(module) + "/", ""));

    private static string ShortDetail(ModuleCheck c) => c.Name == "vermagic" ? $"'{c.Detail}'" : $"({c.Detail})";
}
