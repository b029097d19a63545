using System.Globalization;
using System.Text;
using KfuncForge.Diagnostics;
using KfuncForge.Processes;

namespace KfuncForge.Packaging;

/// <summary>What a cell's system extension image holds, read from its rendered sysext/install (the only source of truth).</summary>
public sealed record SysextImagePlan(string Name, string Version, IReadOnlyList<(string Source, string Target)> Files)
{
    /// <summary>The image's file name: systemd-sysext takes the extension's name from it, and it must match the extension-release's suffix.</summary>
    public string FileName => Name + SysextImage.Extension;
}

/// <summary>
/// Builds a systemd-sysext image (Flatcar) from a rendered cell: a squashfs of /usr with the signed, compressed module,
/// the extension-release that ties it to the OS release, a unit that loads the module on its one kernel, the signing
/// certificate, the SBOM and the provenance. mksquashfs runs with every owner root, every time the source date, no
/// extended attributes and one processor, so the same inputs give the same image bytes.
/// </summary>
public sealed class SysextImage(IProcessRunner runner)
{
    public const string Extension = ".raw";
    public const string ReleasePrefix = "/usr/lib/extension-release.d/extension-release.";

    public static SysextImagePlan Plan(RenderedCellFiles cell)
    {
        var path = cell.Path("sysext/install");
        var files = new List<(string, string)>();
        var lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var parts = line.Split(' ');
            if (parts.Length != 2 || !parts[1].StartsWith("/usr/", StringComparison.Ordinal) || Definitions.Grammar.AbsolutePath(parts[1]) is not null
                || Definitions.Grammar.RelativePath(parts[0]) is not null)
                throw new InputException(new Problem(path, lineNo, 1, "", "must be 'source target': the source a file of the cell folder, the target a normalized absolute path under /usr/ (a system extension carries only /usr)"));
            files.Add((parts[0], parts[1]));
        }
        var releases = files.Where(f => f.Item2.StartsWith(ReleasePrefix, StringComparison.Ordinal)).ToList();
        if (releases.Count != 1)
            throw new InputException(new Problem(path, 0, 0, "", $"installs {releases.Count} files at {ReleasePrefix}<name>; an image has exactly one extension-release"));
        var name = releases[0].Item2[ReleasePrefix.Length..];
        if (Definitions.Grammar.PackageName(name) is { } bad)
            throw new InputException(new Problem(path, 0, 0, "", $"extension name '{Definitions.Grammar.Clip(name)}' {bad}"));
        if (files.Count(f => f.Item1 == cell.ModuleFile) != 1)
            throw new InputException(new Problem(path, 0, 0, "", $"must install the module {cell.ModuleFile} exactly once"));
        return new SysextImagePlan(name, cell.ModuleVersion, files);
    }

    /// <summary>The staged tree's files with their bytes: rendered files as they are, the module as Package compressed it.</summary>
    public static async Task<IReadOnlyList<(string Target, byte[] Content)>> PayloadAsync(SysextImagePlan plan, RenderedCellFiles cell, string shippedModule, CancellationToken cancellation)
    {
        var list = new List<(string, byte[])>();
        foreach (var (source, target) in plan.Files)
        {
            var from = source == cell.ModuleFile ? shippedModule : cell.Path(source);
            if (!File.Exists(from)) throw new InputException(new Problem(cell.Path("sysext/install"), 0, 0, "", $"installs {source}, which does not exist; render again"));
            list.Add((target, await File.ReadAllBytesAsync(from, cancellation).ConfigureAwait(false)));
        }
        return list;
    }

    /// <summary>Stages the files and writes the squashfs image; returns it as a built package.</summary>
    public async Task<BuiltPackage> BuildAsync(SysextImagePlan plan, IReadOnlyList<(string Target, byte[] Content)> files, string outDir, DateTimeOffset sourceDate, CancellationToken cancellation)
    {
        var stage = Path.Combine(outDir, ".stage-" + plan.Name);
        if (Directory.Exists(stage)) Directory.Delete(stage, recursive: true);
        foreach (var (target, content) in files) StagedTree.Write(Path.Combine(stage, target.TrimStart('/')), content);
        StagedTree.Normalise(stage, sourceDate);
        var image = Path.Combine(outDir, plan.FileName);
        var epoch = sourceDate.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        await runner.CheckedAsync(new ProcessSpec("mksquashfs",
            [stage, image, "-noappend", "-all-root", "-no-xattrs", "-comp", "xz", "-processors", "1", "-mkfs-time", epoch, "-all-time", epoch, "-no-progress", "-quiet"])
        {
            Timeout = TimeSpan.FromMinutes(10),
            // mksquashfs refuses SOURCE_DATE_EPOCH beside -mkfs-time/-all-time; the options say the same.
            Environment = new Dictionary<string, string?> { ["SOURCE_DATE_EPOCH"] = null, ["LC_ALL"] = "C" },
        }, cancellation).ConfigureAwait(false);
        Directory.Delete(stage, recursive: true);
        var payload = files.Select(f => ArtifactDigest.OfBytes(f.Target, f.Content)).OrderBy(d => d.Name, StringComparer.Ordinal).ToList();
        return new BuiltPackage(image, plan.Name, plan.Version, "x86-64", Caching.PackageStore.Sha256Of(image), payload);
    }
}

/// <summary>
/// The published folder of system extension images, in the layout systemd-sysupdate reads: the images, SHA256SUMS
/// (one "digest *name" line per image, sorted) and SHA256SUMS.gpg (a detached binary OpenPGP signature, which
/// sysupdate verifies with Verify=yes), plus the signing key's public part (import-pubring.gpg) for the hosts'
/// keyring. Each image's SBOM and provenance lie beside it.
/// </summary>
public sealed class SysextFeed
{
    public const string SumsFile = "SHA256SUMS";
    public const string PublicKeyFileName = "import-pubring.gpg";

    public static async Task WriteAsync(string root, IReadOnlyList<BuiltPackage> images, GpgKeyring keyring, GpgKey key, DateTimeOffset sourceDate, CancellationToken cancellation = default)
    {
        var sums = new StringBuilder();
        foreach (var image in images.OrderBy(i => i.FileName, StringComparer.Ordinal))
        {
            File.Copy(image.Path, Path.Combine(root, image.FileName), overwrite: true);
            foreach (var sidecar in Directory.GetFiles(Path.GetDirectoryName(image.Path)!, image.FileName + ".*"))
                File.Copy(sidecar, Path.Combine(root, Path.GetFileName(sidecar)), overwrite: true);
            sums.Append(image.Sha256).Append(" *").Append(image.FileName).Append('\n');
        }
        var sumsPath = Path.Combine(root, SumsFile);
        await File.WriteAllTextAsync(sumsPath, sums.ToString(), cancellation).ConfigureAwait(false);
        await keyring.DetachSignBinaryAsync(key, sumsPath, sumsPath + ".gpg", sourceDate, cancellation).ConfigureAwait(false);
        await keyring.ExportPublicKeyAsync(key, armor: false, Path.Combine(root, PublicKeyFileName), cancellation).ConfigureAwait(false);
        StagedTree.Normalise(root, sourceDate);
    }
}
