using KfuncForge.Compilation;
using KfuncForge.Containers;
using KfuncForge.Definitions;
using KfuncForge.Diagnostics;
using KfuncForge.Model;
using KfuncForge.Packaging;
using KfuncForge.Processes;
using KfuncForge.Vm;

namespace KfuncForge.Cli.Commands;

/// <summary>
/// Installs each published package with apt from the signed repository into a fresh rootfs, boots it on its
/// kernel and runs depmod and modprobe there (Packaging/InstallCheck). Reports under &lt;out&gt;/install-check/&lt;distro&gt;/.
/// </summary>
public sealed class InstallCheckCommand : ICommand
{
    public string Name => "install-check";
    public string Summary => "install each packaged module with apt from the signed repository into a fresh rootfs, boot it in QEMU under Secure Boot with our key enrolled (--secure-boot=off: plain boot), depmod + modprobe; tampered, foreign-key and unsigned copies";
    public IReadOnlyCollection<string> Accepts => ["distro", "module", "kernel", "repo", "cache", "accel", "timeout", "secure-boot"];

    public int Run(CommandContext context) => RunAsync(context).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(CommandContext context)
    {
        var o = context.Options;
        var catalog = Catalog.Load(context.Tree);
        var distro = catalog.Distro(o.Get("distro", "debian12"));
        if (distro.Family != PackageFamily.Deb || distro.Rootfs is null)
            throw new StageException($"the install check installs from apt repositories into an mmdebstrap rootfs; {distro.Id} ({distro.Family.ToString().ToLowerInvariant()}) has none");
        var accelerator = o.Get("accel", "tcg") switch
        {
            // One boot per package: not worth a KVM probe (docs/smoke.md); auto means TCG here.
            "tcg" or "auto" => Accelerator.Tcg,
            "kvm" => Accelerator.Kvm,
            var other => throw new InputException(new Problem("--accel", 0, 0, "", $"must be auto, tcg or kvm, not '{other}'")),
        };
        // Secure Boot is the default: only with our key enrolled can the kernel tell our signature from any other (docs/signing.md).
        var secureBoot = o.OnOff("secure-boot", true);
        var repo = Path.GetFullPath(o.Get("repo") ?? context.Layout.Repository(distro.Id, PackageFamily.Deb));
        if (!File.Exists(Path.Combine(repo, AptRepository.KeyringFileName)))
            throw new InputException(new Problem(repo, 0, 0, "", $"is not a published apt repository (no {AptRepository.KeyringFileName}); run the Package target first, or give --repo"));
        var module = o.Get("module");
        var kernel = o.Get("kernel");
        var cells = BuiltCell.Find(context.ArtifactsDir, distro.Id)
            .Where(c => File.Exists(c.SignedPath(context.ArtifactsDir)))
            .Where(c => module is null || c.Module == module)
            .Where(c => kernel is null || c.Release == kernel || c.Release.StartsWith(kernel + ".", StringComparison.Ordinal))
            .ToList();
        if (cells.Count == 0)
            throw new StageException($"no packaged modules of {distro.Id}{(module is null ? "" : $" named {module}")}{(kernel is null ? "" : $" for kernel {kernel}")} under {Path.Combine(context.ArtifactsDir, "build", distro.Id)}; run the Package target first");

        var missing = HostRequirements.Missing(GuestImageBuilder.DefaultBusybox).Concat(HostRequirements.OnPath("mmdebstrap") ? [] : ["mmdebstrap (package mmdebstrap)"]).ToList();
        if (missing.Count > 0)
            throw new StageException($"the install check needs host tools that are missing: {string.Join(", ", missing)}. Run `dotnet cake --target=Setup` (build/host-packages.txt) or install them.");

        var runner = ProcessRunner.Instance;
        var check = new InstallCheck(runner, new GuestTools(new ContentCache(o.Get("cache") ?? ContentCache.DefaultRoot()), runner), new QemuVmRunner(runner));
        var mirrors = AptMirrors.FromHost();
        var failed = 0;
        foreach (var cell in cells)
        {
            var package = DebPackageBuilder.Plan(Packaging.RenderedCellFiles.Load(cell.Directory), "amd64").Name;
            var work = Path.Combine(context.Layout.InstallCheck(distro.Id), cell.Release, cell.Module);
            var request = new InstallCheckRequest(repo, distro.Id, package, cell.Release, cell.Module, work)
            {
                RootfsSuite = distro.Rootfs.Suite, ExtraSuites = distro.Rootfs.ExtraSuites, Components = distro.Rootfs.Components,
                Accelerator = accelerator, SecureBoot = secureBoot, BootTimeout = TimeSpan.FromSeconds(o.Int("timeout", 300)),
            };
            var result = await check.RunAsync(request, mirrors, line => context.Out.WriteLine(line)).ConfigureAwait(false);
            var summary = string.Join("\n", result.Summary()) + "\n";
            await File.WriteAllTextAsync(Path.Combine(work, "summary.txt"), summary).ConfigureAwait(false);
            context.Out.Write(summary);
            if (!result.Passed) failed++;
        }
        context.Out.WriteLine($"install check: {cells.Count - failed} of {cells.Count} passed; reports in {context.Layout.InstallCheck(distro.Id)}");
        return failed == 0 ? ExitCodes.Ok : ExitCodes.Failed;
    }
}
