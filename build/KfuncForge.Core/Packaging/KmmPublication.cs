using KfuncForge.Caching;
using KfuncForge.Containers;
using KfuncForge.Definitions;
using KfuncForge.Model;
using KfuncForge.Processes;

namespace KfuncForge.Packaging;

/// <summary>
/// The Kubernetes path of a Package run (docs/packaging.md, "Kubernetes: KMM kmod images"): for every module and kernel the
/// run packaged, a kmod image (KmodImages) with the signed module, uncompressed, as KMM's preflight looks for it, and per
/// module a KMM Module manifest mapping each kernel release to its image. Published like a repository: &lt;out&gt;/kmm/&lt;distro&gt;
/// is a link to a complete generation (AtomicPublisher), rewritten only when what it is made from changes.
/// </summary>
public static class KmmPublication
{
    public const string InputsFile = "kfuncforge-kmm-inputs.sha256";

    public sealed record Published(string Folder, IReadOnlyList<KmodImageResult> Images, bool Unchanged);

    /// <param name="carried">Packages the repository serves on for earlier kernels (retention): their images are served on too, from the current folder.</param>
    public static async Task<Published> PublishAsync(IProcessRunner runner, CacheDirectory cache, string target, DistroProfile distro,
        IReadOnlyList<PackageInput> inputs, IReadOnlyList<ServedPackage> carried, DateTimeOffset sourceDate, Action<string> log, CancellationToken cancellation = default)
    {
        var byModule = inputs.GroupBy(i => i.Cell.Module, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        // Images of retained kernels, as the current folder has them (a kernel whose image it lacks gets none).
        var fresh = inputs.Select(i => (i.Cell.Kernel, i.Cell.Module)).ToHashSet();
        var previous = Directory.Exists(target) ? Path.GetFullPath(new DirectoryInfo(target).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? target) : null;
        var kept = carried.Where(c => !c.Meta && !fresh.Contains((c.Kernel, c.Module)) && previous is not null && File.Exists(Path.Combine(previous, KmodImages.ArchiveName(c.Module, c.Kernel))))
            .Select(c => (c.Kernel, c.Module, Archive: Path.Combine(previous!, KmodImages.ArchiveName(c.Module, c.Kernel))))
            .DistinctBy(c => (c.Kernel, c.Module)).OrderBy(c => c.Module, StringComparer.Ordinal).ThenBy(c => c.Kernel, StringComparer.Ordinal).ToList();
        var key = Matrix.CellKey.Digest(string.Concat(
            new[] { "kfuncforge-kmm-inputs/1", Pipeline.StageKeys.Engine, distro.Packaging.KmodImage, Packager.Epoch(sourceDate), KmodBaseBuilder.RecipeVersion.ToString(System.Globalization.CultureInfo.InvariantCulture) }
                .Concat(inputs.OrderBy(i => i.Cell.Kernel, StringComparer.Ordinal).ThenBy(i => i.Cell.Module, StringComparer.Ordinal)
                    .Select(i => $"{i.Cell.Kernel} {i.Cell.Module} {Pipeline.StageKeys.FileDigest(i.SignedModule)}"))
                .Concat(kept.Select(k => $"kept {k.Kernel} {k.Module} {Pipeline.StageKeys.FileDigest(k.Archive)}"))
                .Select(l => l + "\n")));
        var keyFile = Path.Combine(target, InputsFile);
        if (File.Exists(keyFile) && File.ReadAllText(keyFile).Trim() == key)
            return new Published(Path.GetFullPath(target), [], Unchanged: true);

        var baseLayer = await new KmodBaseBuilder(runner, cache, AptMirrors.FromHost()).EnsureAsync(log: log, cancellation: cancellation).ConfigureAwait(false);
        var images = new KmodImages(runner, baseLayer);
        var results = new List<KmodImageResult>();
        await AtomicPublisher.PublishAsync(target, async root =>
        {
            foreach (var module in byModule)
            {
                var repository = Names.Expand(distro.Packaging.KmodImage, new Dictionary<string, string> { ["module"] = module.Key, ["module_dashed"] = module.Key.Replace('_', '-') });
                var written = await images.WriteAsync(root, module.Key, repository,
                    module.OrderBy(i => i.Cell.Kernel, StringComparer.Ordinal).Select(i => new KmodImageInput(i.Cell.Kernel, i.SignedModule, module.Key + ".ko")).ToList(),
                    sourceDate, cancellation).ConfigureAwait(false);
                results.AddRange(written);
                var retained = kept.Where(k => k.Module == module.Key).ToList();
                if (retained.Count == 0) continue;
                foreach (var k in retained) File.Copy(k.Archive, Path.Combine(root, Path.GetFileName(k.Archive)));
                // The Module maps the retained kernels too, to the images their archives were made as.
                var mappings = written.Select(r => (r.Kernel, r.ImageReference)).Concat(retained.Select(k => (k.Kernel, $"{repository}:{KmodImages.Tag(k.Kernel)}")))
                    .OrderBy(m => m.Item1, StringComparer.Ordinal).ToList();
                await File.WriteAllTextAsync(Path.Combine(root, KmodImages.ModuleManifestName(module.Key)), KmodImages.ModuleManifest(module.Key, mappings), cancellation).ConfigureAwait(false);
            }
            await File.WriteAllTextAsync(Path.Combine(root, InputsFile), key + "\n", cancellation).ConfigureAwait(false);
            StagedTree.Normalise(root, sourceDate);
        }).ConfigureAwait(false);
        return new Published(Path.GetFullPath(target), results, Unchanged: false);
    }
}
