using KfuncForge.Model;

namespace KfuncForge.Pipeline;

/// <summary>
/// Where every stage writes under the artifacts folder (--out, default &lt;tree&gt;/artifacts); the one place that
/// spells these paths, beside the cache layout (Caching/CacheDirectory) for what is kept across trees.
/// </summary>
public sealed record ArtifactsLayout(string Root)
{
    public string Render => Path.Combine(Root, "render");
    public string Build => Path.Combine(Root, "build");
    public string BuildDistro(string distro) => Path.Combine(Build, distro);
    public string BuildCell(string distro, string release, string module) => Path.Combine(Build, distro, release, module);
    public string BuildLog(string distro, string release, string module) => Path.Combine(Build, distro, release, module + ".log");
    public string BuildIndex(string distro) => Path.Combine(Build, distro, "build-index.json");
    public string Sign(string distro) => Path.Combine(Root, "sign", distro);
    public string Signed(string distro, string release, string module) => Path.Combine(Sign(distro), release, module + ".ko");
    public string Smoke(string distro) => Path.Combine(Root, "smoke", distro);
    public string SmokePasses(string distro) => Path.Combine(Smoke(distro), Vm.SmokePasses.FileName);
    public string Repository(string distro, PackageFamily family) => Path.Combine(Root, "repo", distro, RepositoryFolder(family));

    /// <summary>The KMM kmod images and Module manifests of a distro (Packaging/KmmPublication.cs).</summary>
    public string Kmm(string distro) => Path.Combine(Root, "kmm", distro);

    /// <summary>A package family's repository folder: apt, yum or sysext.</summary>
    public static string RepositoryFolder(PackageFamily family) => family switch { PackageFamily.Deb => "apt", PackageFamily.Rpm => "yum", _ => "sysext" };
    public string InstallCheck(string distro) => Path.Combine(Root, "install-check", distro);
    public string Fidelity => Path.Combine(Root, "fidelity");
    public string Matrix => Path.Combine(Root, "matrix");
    public string Store => Path.Combine(Root, "store");
    public string Bench(string name, string distro) => Path.Combine(Root, name, distro);
}
