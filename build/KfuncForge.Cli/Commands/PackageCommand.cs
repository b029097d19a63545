using KfuncForge.Definitions;
using KfuncForge.Diagnostics;
using KfuncForge.Model;
using KfuncForge.Packaging;
using KfuncForge.Pipeline;
using KfuncForge.Processes;
using KfuncForge.Rendering;
using KfuncForge.Signing;

namespace KfuncForge.Cli.Commands;

/// <summary>
/// Packages signed modules from rendered cells into DEB or RPM packages and a signed repository.
/// Until the build stage is wired, the modules are named explicitly: --cell=&lt;rendered cell&gt;[,...] --ko=&lt;signed .ko&gt;[,...].
/// </summary>
public sealed class PackageCommand : ICommand
{
    public string Name => "package";
    public string Summary => "package signed modules from rendered cells (--cell, --ko) into .deb/.rpm and a signed repository";
    public IReadOnlyCollection<string> Accepts => ["distro", "cache", "cell", "ko", "key", "cert", "signer-command", "hash", "kernel-config", "kernel-release", "keys-dir",
        "repo", "gnupg-home", "package-key-id", "arch", "source-date-epoch"];

    public int Run(CommandContext context) => RunAsync(context).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(CommandContext context)
    {
        var o = context.Options;
        var catalog = Catalog.Load(context.Tree);
        var distro = catalog.Distro(o.Get("distro", "debian12"));
        var repo = o.Get("repo") ?? context.Layout.Repository(distro.Id, distro.Family);
        List<string> cells, modules;
        IReadOnlyList<Kernels.UnavailableKernel> unavailable = [];
        IReadOnlyList<string>? covered = null;
        if (o.Get("cell") is null && o.Get("ko") is null)
        {
            // Pipeline mode: exactly the last build's cells, signed from that build and passed by SmokeTest.
            var selection = PublishSelection.FromLastBuild(context.Layout, distro, repo);
            unavailable = selection.Unavailable;
            covered = selection.Covered;
            cells = selection.Cells.Select(c => c.CellDir).ToList();
            modules = selection.Cells.Select(c => c.SignedModule).ToList();
        }
        else
        {
            cells = Split(o.Get("cell") ?? throw Bad("--cell", "name the rendered cell folder(s): --cell=artifacts/render/<distro>/<kernel>/<module>[,...]"));
            modules = Split(o.Get("ko") ?? throw Bad("--ko", "name the signed module(s), one per --cell entry: --ko=<path>[,...]"));
        }
        if (cells.Count != modules.Count) throw Bad("--ko", $"{modules.Count} modules for {cells.Count} cells; give one signed module per rendered cell, in the same order");
        var inputs = cells.Zip(modules, (c, m) => PackageProvenance.Input(context.Tree, c, m)).ToList();
        var mismatched = inputs.Where(i => i.Cell.Distro != distro.Id).Select(i => new Problem(i.Cell.Directory, 0, 0, "", $"was rendered for {i.Cell.Distro}, not {distro.Id}")).ToList();
        if (mismatched.Count > 0) throw new InputException(mismatched);

        var hash = SignCommand.ResolveHash(context, distro.Signing.ModuleHash);
        using var certificate = SignCommand.ModuleCertificate(context, distro.Signing);

        var runner = ProcessRunner.Instance;
        await using var packageKey = await PackageSigningKey.ResolveAsync(runner, o.Get("gnupg-home"), o.Get("package-key-id") ?? distro.Signing.PackageKeyId).ConfigureAwait(false);
        var sourceDate = o.Get("source-date-epoch") is { } epoch ? SourceDate.Parse(epoch, "--source-date-epoch") : SourceDate.Resolve(context.Tree.Root);
        var provenance = await PackageProvenance.ForRunAsync(context.Tree, distro, runner).ConfigureAwait(false);
        var settings = new PackagingSettings(repo, distro.Family, o.Get("arch", "amd64"), sourceDate, certificate, hash, packageKey.Keyring, packageKey.Key, provenance, distro.Id)
        {
            Retain = distro.Packaging.Retain,
            CoveredKernels = covered,
            Lines = distro.Kernels.Select(t => $"{t.Line.Major}.{t.Line.Minor}").Distinct(StringComparer.Ordinal).ToList(),
            KernelPackaging = distro.KernelPackaging.Name,
        };
        var result = await new Packager(runner).RunAsync(inputs, settings).ConfigureAwait(false);
        // Kubernetes fleets: a KMM kmod image per kernel and a Module manifest per module (docs/packaging.md).
        if (distro.Family != PackageFamily.Sysext)
        {
            var kmm = await KmmPublication.PublishAsync(runner, new Caching.CacheDirectory(o.Get("cache") ?? Caching.CacheDirectory.DefaultRoot()), context.Layout.Kmm(distro.Id), distro, inputs, result.Carried, sourceDate,
                context.Out.WriteLine).ConfigureAwait(false);
            context.Out.WriteLine(kmm.Unchanged ? $"unchanged: {kmm.Folder} already holds the KMM kmod images of these modules"
                : $"KMM: {kmm.Images.Count} kmod image(s) and Module manifest(s) in {kmm.Folder} ({string.Join(", ", kmm.Images.Select(i => i.ImageReference))})");
        }
        if (result.Unchanged)
        {
            context.Out.WriteLine($"unchanged: {result.Repository} already serves exactly these packages (generation {result.Generation}, same inputs); nothing published");
            foreach (var u in unavailable) context.Out.WriteLine($"{u.Kernel}: unavailable, not packaged: {u.Reason}");
            return ExitCodes.Passed(unavailable.Count > 0);
        }
        foreach (var p in result.Packages) context.Out.WriteLine($"package {p.FileName}: sha256 {p.Sha256}");
        foreach (var m in result.Modules) context.Out.WriteLine($"verified {m.InstallPath}: {m.Signature.Hash.Name} signature by '{m.Signature.Signer}'");
        foreach (var c in result.Carried)
            context.Out.WriteLine($"kept {c.File}: {(c.Meta ? $"meta package of {c.Kernel}, newer than this run's" : $"kernel {c.Kernel} is among the newest {distro.Packaging.Retain} of Linux {c.Line} (packaging.retain) and was not built this run")}; served on as published");
        var publicKey = distro.Family switch
        {
            PackageFamily.Deb => AptRepository.KeyringFileName,
            PackageFamily.Sysext => SysextFeed.PublicKeyFileName,
            _ => YumRepository.PublicKeyFileName,
        };
        context.Out.WriteLine($"published {result.Repository} (signed by {packageKey.Key.Fingerprint}; public key: {Path.Combine(result.Repository, publicKey)})");
        if (packageKey.Warning(Path.Combine(result.Repository, publicKey)) is { } warning) context.Err.WriteLine(warning);
        foreach (var u in unavailable) context.Out.WriteLine($"{u.Kernel}: unavailable, not packaged: {u.Reason}");
        return ExitCodes.Passed(unavailable.Count > 0);
    }

    private static List<string> Split(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    private static InputException Bad(string where, string message) => new(new Problem(where, 0, 0, "", message));
}
