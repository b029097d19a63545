using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using KfuncForge.Diagnostics;
using KfuncForge.Processes;

namespace KfuncForge.Packaging;

/// <summary>Names and descriptions written into an apt repository's Release file.</summary>
public sealed record AptRepositorySettings(string Suite, string Component, string Architecture, string Origin, string Label, string Description);

/// <summary>
/// A signed apt repository in the standard layout:
/// <code>
/// pool/&lt;component&gt;/&lt;package&gt;/&lt;file&gt;.deb
/// dists/&lt;suite&gt;/&lt;component&gt;/binary-&lt;arch&gt;/{Packages,Packages.gz}
/// dists/&lt;suite&gt;/{Release,InRelease,Release.gpg}
/// kfuncforge-archive-keyring.{gpg,asc}   (the signing key's public part)
/// </code>
/// Packages and Release are written here (sorted, dates from SOURCE_DATE_EPOCH); InRelease and
/// Release.gpg come from gpg at a fixed signature time.
/// </summary>
public sealed class AptRepository(IProcessRunner runner)
{
    public const string KeyringFileName = "kfuncforge-archive-keyring.gpg";
    public const string ArmoredKeyFileName = "kfuncforge-archive-keyring.asc";

    public async Task WriteAsync(string root, IReadOnlyList<BuiltPackage> packages, AptRepositorySettings settings, GpgKeyring keyring, GpgKey key,
        DateTimeOffset sourceDate, CancellationToken cancellation = default)
    {
        var stanzas = new List<(string Name, string Version, string Text)>();
        foreach (var package in packages)
        {
            var relative = $"pool/{settings.Component}/{package.Name}/{package.FileName}";
            var target = Path.Combine(root, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(package.Path, target, overwrite: true);
            File.SetLastWriteTimeUtc(target, sourceDate.UtcDateTime);
            foreach (var sidecar in Directory.GetFiles(Path.GetDirectoryName(package.Path)!, package.FileName + ".*"))
            {
                var copy = Path.Combine(Path.GetDirectoryName(target)!, Path.GetFileName(sidecar));
                File.Copy(sidecar, copy, overwrite: true);
                File.SetLastWriteTimeUtc(copy, sourceDate.UtcDateTime);
            }

            var fields = await ControlFieldsAsync(package.Path, cancellation).ConfigureAwait(false);
            var bytes = await File.ReadAllBytesAsync(package.Path, cancellation).ConfigureAwait(false);
            fields.Add(new("Filename", relative));
            fields.Add(new("Size", bytes.Length.ToString(CultureInfo.InvariantCulture)));
            fields.Add(new("MD5sum", Convert.ToHexStringLower(MD5.HashData(bytes))));
            fields.Add(new("SHA256", Convert.ToHexStringLower(SHA256.HashData(bytes))));
            stanzas.Add((package.Name, package.Version, Deb822.Format(fields)));
        }
        var duplicate = stanzas.GroupBy(s => (s.Name, s.Version)).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InputException(new Problem("package", 0, 0, "", $"two packages are named {duplicate.Key.Name} {duplicate.Key.Version}; each (module, kernel) needs its own name"));
        var packagesText = string.Join("\n", stanzas.OrderBy(s => s.Name, StringComparer.Ordinal).ThenBy(s => s.Version, StringComparer.Ordinal).Select(s => s.Text));
        var packagesBytes = Encoding.UTF8.GetBytes(packagesText);

        var dist = Path.Combine(root, "dists", settings.Suite);
        var indexDir = $"{settings.Component}/binary-{settings.Architecture}";
        var indexes = new SortedDictionary<string, byte[]>(StringComparer.Ordinal)
        {
            [$"{indexDir}/Packages"] = packagesBytes,
            [$"{indexDir}/Packages.gz"] = StagedTree.Gzip(packagesBytes),
        };
        foreach (var (rel, bytes) in indexes) StagedTree.Write(Path.Combine(dist, rel), bytes);

        var release = new StringBuilder();
        release.Append("Origin: ").Append(settings.Origin).Append('\n');
        release.Append("Label: ").Append(settings.Label).Append('\n');
        release.Append("Suite: ").Append(settings.Suite).Append('\n');
        release.Append("Codename: ").Append(settings.Suite).Append('\n');
        release.Append("Date: ").Append(sourceDate.UtcDateTime.ToString("ddd, dd MMM yyyy HH:mm:ss 'UTC'", CultureInfo.InvariantCulture)).Append('\n');
        release.Append("Architectures: ").Append(settings.Architecture).Append('\n');
        release.Append("Components: ").Append(settings.Component).Append('\n');
        release.Append("Description: ").Append(settings.Description).Append('\n');
        release.Append("Acquire-By-Hash: no\n");
        release.Append("SHA256:\n");
        foreach (var (rel, bytes) in indexes)
            release.Append(' ').Append(Convert.ToHexStringLower(SHA256.HashData(bytes))).Append(' ')
                .Append(bytes.Length.ToString(CultureInfo.InvariantCulture).PadLeft(16)).Append(' ').Append(rel).Append('\n');
        var releasePath = Path.Combine(dist, "Release");
        StagedTree.Write(releasePath, Encoding.UTF8.GetBytes(release.ToString()));

        await keyring.ClearSignAsync(key, releasePath, Path.Combine(dist, "InRelease"), sourceDate, cancellation).ConfigureAwait(false);
        await keyring.DetachSignAsync(key, releasePath, Path.Combine(dist, "Release.gpg"), sourceDate, cancellation).ConfigureAwait(false);
        await keyring.ExportPublicKeyAsync(key, armor: false, Path.Combine(root, KeyringFileName), cancellation).ConfigureAwait(false);
        await keyring.ExportPublicKeyAsync(key, armor: true, Path.Combine(root, ArmoredKeyFileName), cancellation).ConfigureAwait(false);
        StagedTree.Normalise(root, sourceDate);
    }

    private async Task<List<KeyValuePair<string, string>>> ControlFieldsAsync(string deb, CancellationToken cancellation)
    {
        var r = await runner.CheckedAsync(new ProcessSpec("dpkg-deb", ["--field", deb]) { Timeout = TimeSpan.FromMinutes(1) }, cancellation).ConfigureAwait(false);
        return Deb822.Parse(r.Stdout, deb).Single().Fields.ToList();
    }
}
