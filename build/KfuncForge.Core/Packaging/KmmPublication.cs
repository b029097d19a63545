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

    public static async Task<Published> PublishAsync(IProcessRunner runner, CacheDirectory cache, string target, DistroProfile distro,
        IReadOnlyList<PackageInput> inputs, DateTimeOffset sourceDate, Action<string> log, CancellationToken cancellation = default)
    {
        var byModule = inputs.GroupBy(i => i.Cell.Module, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        var key = Matrix.CellKey.Digest(string.Concat(
            new[] { "kfuncforge-kmm-inputs/1", Pipeline.StageKeys.Engine, distro.Packaging.KmodImage, Packager.Epoch(sourceDate), KmodBaseBuilder.RecipeVersion.ToString(System.Globalization.CultureInfo.InvariantCulture) }
                .Concat(inputs.OrderBy(i => i.Cell.Kernel, StringComparer.Ordinal).ThenBy(i => i.Cell.Module, StringComparer.Ordinal)
                    .Select(i => $"{i.Cell.Kernel} {i.Cell.Module} {Pipeline.StageKeys.FileDigest(i.SignedModule)}"))
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
                results.AddRange(await images.WriteAsync(root, module.Key, repository,
                    module.OrderBy(i => i.Cell.Kernel, StringComparer.Ordinal).Select(i => new KmodImageInput(i.Cell.Kernel, i.SignedModule, module.Key + ".ko")).ToList(),
                    sourceDate, cancellation).ConfigureAwait(false));
            }
            await File.WriteAllTextAsync(Path.Combine(root, InputsFile), key + "\n", cancellation).ConfigureAwait(false);
            StagedTree.Normalise(root, sourceDate);
        }).ConfigureAwait(false);
        return new Published(Path.GetFullPath(target), results, Unchanged: false);
    }
}
