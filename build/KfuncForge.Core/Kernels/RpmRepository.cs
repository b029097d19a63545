using System.IO.Compression;
using System.Xml.Linq;
using KfuncForge.Diagnostics;
using KfuncForge.Processes;

namespace KfuncForge.Kernels;

/// <summary>One package of an RPM repository's primary metadata: what dnf resolves, and the checksum a download is verified against.</summary>
public sealed record RpmPackageEntry(string Name, string Epoch, string Version, string Release, string Arch, string ChecksumType, string Checksum, string Location, long Size)
{
    /// <summary>name-version-release.arch, as `dnf download` takes it and as rhel.yaml's patterns expand.</summary>
    public string Nevra => $"{Name}-{Version}-{Release}.{Arch}";
}

/// <summary>
/// An RPM repository's metadata (repodata/repomd.xml and the primary file it names), read in C#: the packages with
/// their SHA-256 and location. dnf fetches; this says what the fetched file must be.
/// </summary>
public static class RpmRepository
{
    private static readonly XNamespace Repo = "http://linux.duke.edu/metadata/repo";
    private static readonly XNamespace Common = "http://linux.duke.edu/metadata/common";

    /// <summary>The packages of the repository whose repodata/ folder is given (the primary file gz, xz or zst compressed).</summary>
    public static async Task<IReadOnlyList<RpmPackageEntry>> LoadAsync(string repodata, IProcessRunner runner, CancellationToken cancellation = default)
    {
        try
        {
            return await ReadAsync(repodata, runner, cancellation).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.Xml.XmlException or NullReferenceException or InvalidOperationException or FormatException or IOException)
        {
            throw new StageException($"the RPM repository metadata in {repodata} cannot be read ({e.GetType().Name}: {e.Message.Split('\n')[0]}); check the repository (createrepo_c makes valid metadata)");
        }
    }

    private static async Task<IReadOnlyList<RpmPackageEntry>> ReadAsync(string repodata, IProcessRunner runner, CancellationToken cancellation)
    {
        var repomd = Path.Combine(repodata, "repomd.xml");
        if (!File.Exists(repomd)) throw new StageException($"{repodata} has no repomd.xml: not RPM repository metadata");
        var primary = XDocument.Load(repomd).Root?.Elements(Repo + "data").FirstOrDefault(d => (string?)d.Attribute("type") == "primary")
            ?.Element(Repo + "location")?.Attribute("href")?.Value
            ?? throw new StageException($"{repomd} names no primary metadata");
        if (Path.IsPathRooted(primary) || primary.Split('/').Contains(".."))
            throw new StageException($"{repomd} names its primary metadata at '{primary}', outside the repository");
        var file = Path.Combine(Path.GetDirectoryName(repodata)!, primary);
        XDocument doc;
        if (file.EndsWith(".gz", StringComparison.Ordinal))
        {
            await using var gz = new GZipStream(File.OpenRead(file), CompressionMode.Decompress);
            doc = await XDocument.LoadAsync(gz, LoadOptions.None, cancellation).ConfigureAwait(false);
        }
        else if (file.EndsWith(".xz", StringComparison.Ordinal) || file.EndsWith(".zst", StringComparison.Ordinal))
        {
            var plain = file + $".plain-{Guid.NewGuid():N}";
            try
            {
                await runner.CheckedAsync(new ProcessSpec(file.EndsWith(".xz", StringComparison.Ordinal) ? "xz" : "zstd", ["-d", "-c", file]) { StdoutFile = plain }, cancellation).ConfigureAwait(false);
                doc = XDocument.Load(plain);
            }
            finally
            {
                File.Delete(plain);
            }
        }
        else doc = XDocument.Load(file);
        var entries = doc.Root!.Elements(Common + "package").Where(p => (string?)p.Attribute("type") == "rpm").Select(p =>
        {
            var v = p.Element(Common + "version")!;
            var sum = p.Element(Common + "checksum")!;
            return new RpmPackageEntry(p.Element(Common + "name")!.Value, (string?)v.Attribute("epoch") ?? "0", (string)v.Attribute("ver")!, (string)v.Attribute("rel")!,
                p.Element(Common + "arch")!.Value, (string)sum.Attribute("type")!, sum.Value.Trim(), (string)p.Element(Common + "location")!.Attribute("href")!,
                long.TryParse((string?)p.Element(Common + "size")?.Attribute("package"), out var size) ? size : -1);
        }).ToList();
        // What the metadata says becomes a file name in the package store and a download path: checked, never trusted.
        foreach (var e in entries)
            if (!System.Text.RegularExpressions.Regex.IsMatch(e.Checksum, "^[0-9a-f]{64}\\z") && e.ChecksumType == "sha256"
                || Path.IsPathRooted(e.Location) || e.Location.Split('/').Contains(".."))
                throw new StageException($"{repomd}: package {e.Nevra} has a malformed checksum or location ('{e.Checksum}', '{e.Location}')");
        return entries;
    }
}
