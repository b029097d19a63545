using System.Globalization;
using KfuncForge.Processes;

namespace KfuncForge.Packaging;

/// <summary>
/// A signed yum/dnf repository: Packages/*.rpm (each signed with rpmsign), repodata/ from createrepo_c
/// (no sqlite databases, timestamps from SOURCE_DATE_EPOCH), repodata/repomd.xml.asc (armored detached
/// signature) and RPM-GPG-KEY-kfuncforge (the signing key's public part) at the top.
/// </summary>
public sealed class YumRepository(IProcessRunner runner)
{
    public const string PublicKeyFileName = "RPM-GPG-KEY-kfuncforge";

    public async Task WriteAsync(string root, IReadOnlyList<BuiltPackage> packages, GpgKeyring keyring, GpgKey key, DateTimeOffset sourceDate, CancellationToken cancellation = default)
    {
        var pool = Path.Combine(root, "Packages");
        Directory.CreateDirectory(pool);
        foreach (var package in packages)
        {
            var target = Path.Combine(pool, package.FileName);
            File.Copy(package.Path, target, overwrite: true);
            File.SetLastWriteTimeUtc(target, sourceDate.UtcDateTime);
            foreach (var sidecar in Directory.GetFiles(Path.GetDirectoryName(package.Path)!, package.FileName + ".*"))
                File.Copy(sidecar, Path.Combine(pool, Path.GetFileName(sidecar)), overwrite: true);
        }
        StagedTree.Normalise(root, sourceDate);
        var epoch = sourceDate.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        await runner.CheckedAsync(new ProcessSpec("createrepo_c", ["--quiet", "--no-database", "--revision", epoch, "--set-timestamp-to-revision", root])
        {
            Timeout = TimeSpan.FromMinutes(10),
            Environment = new Dictionary<string, string?> { ["SOURCE_DATE_EPOCH"] = epoch, ["LC_ALL"] = "C" },
        }, cancellation).ConfigureAwait(false);
        var repomd = Path.Combine(root, "repodata", "repomd.xml");
        await keyring.DetachSignAsync(key, repomd, repomd + ".asc", sourceDate, cancellation).ConfigureAwait(false);
        await keyring.ExportPublicKeyAsync(key, armor: true, Path.Combine(root, PublicKeyFileName), cancellation).ConfigureAwait(false);
        StagedTree.Normalise(root, sourceDate);
    }
}
