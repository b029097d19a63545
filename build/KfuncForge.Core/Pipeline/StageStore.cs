using KfuncForge.Containers;
using KfuncForge.Matrix;
using KfuncForge.Model;

namespace KfuncForge.Pipeline;

/// <summary>
/// Stage results keyed by their inputs, shared by every path that runs a stage (the stage verbs, the matrix,
/// fidelity's builds): &lt;artifacts&gt;/store/&lt;stage&gt;/&lt;key&gt;/. A result is written in a staging folder and
/// renamed into place in one step, so a folder named by a key is always complete; a stage whose key is
/// already there is not run again. Only successes are stored: a failure is always tried again.
/// </summary>
public sealed class StageStore(string root)
{
    public string Root { get; } = Path.GetFullPath(root);

    public static StageStore In(string artifactsDir) => new(new ArtifactsLayout(artifactsDir).Store);

    /// <summary>The finished result of <paramref name="stage"/> under <paramref name="key"/>, or null.</summary>
    public string? Find(string stage, string key)
    {
        var dir = Path.Combine(Root, stage, key);
        return Directory.Exists(dir) ? dir : null;
    }

    /// <summary>
    /// Stores a result: <paramref name="fill"/> writes it into a fresh folder, which then takes the key's name (a result
    /// stored first by another run is kept). The store only saves work: when it cannot be written (disk full, no
    /// permission), the result is not kept and the stage's own outcome stands; null says so.
    /// </summary>
    public string? Put(string stage, string key, Action<string> fill)
    {
        var target = Path.Combine(Root, stage, key);
        var staging = Path.Combine(Root, stage, $".tmp-{key[..16]}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        try
        {
            Directory.CreateDirectory(staging);
            fill(staging);
            Directory.Move(staging, target);
            return target;
        }
        catch (IOException) when (Directory.Exists(target))
        {
            return target;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        finally
        {
            try
            {
                if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }
}

/// <summary>The inputs every stage key shares: the engine build and the build environment.</summary>
public static class StageKeys
{
    /// <summary>The engine's build (deterministic: the same sources give the same id), so a changed engine reruns every stage.</summary>
    public static string Engine => typeof(StageKeys).Assembly.ManifestModule.ModuleVersionId.ToString("N");

    /// <summary>The build environment's exact package list (bwrap: the rootfs's dpkg status), else the backend, image and toolchain names.</summary>
    public static string Environment(IContainerRunner container, DistroProfile distro)
    {
        if (container is BwrapRunner bwrap)
        {
            var status = Path.Combine(bwrap.RootDir(distro), "var", "lib", "dpkg", "status");
            if (File.Exists(status)) return CellKey.OfFiles([status]);
        }
        // podman over the same rootfs, imported: the same packages, but its own results (the backends are compared byte for byte).
        if (container is EngineRunner { } engine && engine.ImportsRootfs(distro) && engine.RootfsStatus(distro) is { } imported && File.Exists(imported))
            return CellKey.Digest($"{container.Name}\n{CellKey.OfFiles([imported])}");
        return CellKey.Digest($"{container.Name}\n{distro.ContainerImage}\n{string.Join(",", distro.Toolchain)}");
    }

    /// <summary>A kernel's packages as the archive's index names them (name, version, SHA-256).</summary>
    public static string KernelPackages(IEnumerable<(string Package, string Version, string Sha256)> packages) =>
        CellKey.Digest(string.Concat(packages.OrderBy(p => p.Package, StringComparer.Ordinal).Select(p => $"{p.Package} {p.Version} {p.Sha256}\n")));

    public static string KernelPackages(IEnumerable<Kernels.PackageRecord> packages) => KernelPackages(packages.Select(p => (p.Package, p.Version, p.Sha256)));

    /// <summary>SHA-256 of a file's bytes, or "missing".</summary>
    public static string FileDigest(string path) => File.Exists(path) ? Vm.Hashing.File(path) : "missing";
}
