using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using KfuncForge.Diagnostics;
using KfuncForge.Processes;

namespace KfuncForge.Packaging;

/// <summary>A file to add to a package beside what the rendered packaging files install (SBOM, provenance).</summary>
public sealed record ExtraFile(string InstallPath, byte[] Content);

/// <summary>A package file on disk.</summary>
public sealed record BuiltPackage(string Path, string Name, string Version, string Architecture, string Sha256, IReadOnlyList<ArtifactDigest> Payload)
{
    public string FileName => System.IO.Path.GetFileName(Path);
}

/// <summary>What the Debian packaging of a cell says, read from the rendered debian/ folder (the only source of truth).</summary>
public sealed record DebPackagePlan(string Name, string Version, string Architecture, IReadOnlyList<KeyValuePair<string, string>> Control,
    IReadOnlyList<(string Source, string InstallPath, UnixFileMode Mode)> Files, IReadOnlyDictionary<string, byte[]> MaintainerScripts);

/// <summary>
/// Builds a .deb with dpkg-deb from a staged tree derived from a rendered cell's debian/ files:
/// DEBIAN/control from debian/control's binary paragraph and debian/changelog's version, the
/// maintainer scripts from debian/&lt;package&gt;.{preinst,postinst,prerm,postrm} (#DEBHELPER# removed:
/// no debhelper runs), the payload from debian/&lt;package&gt;.install and the install lines of
/// debian/rules. Reproducible: fixed modes, root owner, mtimes and ar dates from SOURCE_DATE_EPOCH.
/// </summary>
public sealed partial class DebPackageBuilder(IProcessRunner runner)
{
    private static readonly string[] ScriptNames = ["preinst", "postinst", "prerm", "postrm"];

    [GeneratedRegex(@"^(?<source>[a-z0-9][a-z0-9+.-]+) \((?<version>[^)\s]+)\) ")]
    private static partial Regex ChangelogHead();

    [GeneratedRegex(@"^\s*install\s+-D\s+-m\s+(?<mode>[0-7]{3,4})\s+(?<source>\S+)\s+debian/(?<package>[a-z0-9][a-z0-9+.-]+)(?<target>/\S+)\s*$")]
    private static partial Regex RulesInstall();

    [GeneratedRegex(@"\$\{([^}]+)\}")]
    private static partial Regex Substvar();

    public static DebPackagePlan Plan(RenderedCellFiles cell, string architecture)
    {
        var controlPath = cell.Path("debian/control");
        var paragraphs = Deb822.Parse(File.ReadAllText(controlPath), controlPath);
        var binaries = paragraphs.Where(p => p["Package"] is not null).ToList();
        if (binaries.Count != 1)
            throw new InputException(new Problem(controlPath, 0, 0, "Package", $"has {binaries.Count} binary package paragraphs; a cell makes exactly one package"));
        var source = paragraphs.FirstOrDefault(p => p["Source"] is not null);
        var binary = binaries[0];
        var name = binary.Require("Package", controlPath);

        var changelogPath = cell.Path("debian/changelog");
        var head = File.Exists(changelogPath) ? ChangelogHead().Match(File.ReadLines(changelogPath).FirstOrDefault() ?? "") : Match.Empty;
        if (!head.Success) throw new InputException(new Problem(changelogPath, 1, 1, "", "the first line is not 'package (version) distribution; urgency=...'"));
        var version = head.Groups["version"].Value;
        PackageNames.RequireDeb(name, version, controlPath);

        var arch = binary.Require("Architecture", controlPath);
        var resolvedArch = arch is "any" or "linux-any" || arch == architecture ? architecture
            : arch == "all" ? "all"
            : throw new InputException(new Problem(controlPath, 0, 0, "Architecture", $"'{arch}' does not include the target architecture {architecture}"));

        var maintainer = binary["Maintainer"] ?? source?.Require("Maintainer", controlPath) ?? throw new InputException(new Problem(controlPath, 0, 0, "Maintainer", "is missing"));
        var control = new List<KeyValuePair<string, string>>
        {
            new("Package", name),
        };
        if (source?["Source"] is { } sourceName && sourceName != name) control.Add(new("Source", sourceName));
        control.Add(new("Version", version));
        control.Add(new("Architecture", resolvedArch));
        control.Add(new("Maintainer", maintainer));
        foreach (var field in new[] { "Pre-Depends", "Depends", "Recommends", "Suggests", "Breaks", "Conflicts", "Provides", "Replaces" })
            if (binary[field] is { } rel && Relations(rel, controlPath, field) is { Length: > 0 } value)
                control.Add(new(field, value));
        foreach (var field in new[] { "Section", "Priority" })
            if ((binary[field] ?? source?[field]) is { } v) control.Add(new(field, v));
        if ((binary["Homepage"] ?? source?["Homepage"]) is { } homepage) control.Add(new("Homepage", homepage));
        control.Add(new("Description", binary.Require("Description", controlPath)));

        var files = new List<(string, string, UnixFileMode)>();
        var installPath = cell.Path($"debian/{name}.install");
        if (File.Exists(installPath))
        {
            var lineNo = 0;
            foreach (var line in File.ReadAllLines(installPath))
            {
                lineNo++;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 0 || parts[0].StartsWith('#')) continue;
                if (parts.Length != 2 || parts.Any(p => p.IndexOfAny(['*', '?', '[']) >= 0))
                    throw new InputException(new Problem(installPath, lineNo, 1, "", "expected 'source target-folder' without wildcards"));
                files.Add((parts[0], "/" + parts[1].Trim('/') + "/" + Path.GetFileName(parts[0]), StagedTree.FileMode));
            }
        }
        var rulesPath = cell.Path("debian/rules");
        if (File.Exists(rulesPath))
            foreach (var line in File.ReadAllLines(rulesPath))
                if (RulesInstall().Match(line) is { Success: true } m && m.Groups["package"].Value == name)
                    files.Add((m.Groups["source"].Value, m.Groups["target"].Value, (UnixFileMode)Convert.ToInt32(m.Groups["mode"].Value, 8)));
        foreach (var (src, _, _) in files)
            if (src.Contains("..", StringComparison.Ordinal) || Path.IsPathRooted(src))
                throw new InputException(new Problem(cell.Directory, 0, 0, "", $"the packaging installs '{src}', which is outside the cell"));

        var scripts = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var script in ScriptNames)
        {
            var path = cell.Path($"debian/{name}.{script}");
            if (!File.Exists(path)) continue;
            var text = string.Join("", File.ReadAllLines(path).Where(l => l.Trim() != "#DEBHELPER#").Select(l => l + "\n"));
            scripts[script] = Encoding.UTF8.GetBytes(text);
        }
        return new DebPackagePlan(name, version, resolvedArch, control, files, scripts);
    }

    /// <summary>
    /// Stages and builds the package. <paramref name="module"/> replaces the cell-relative file named
    /// by the render's module_file (the build's output, signed, compressed when the kernel asks); every other payload file comes from the cell.
    /// </summary>
    public async Task<BuiltPackage> BuildAsync(RenderedCellFiles cell, string? module, string architecture, IReadOnlyList<ExtraFile> extras,
        string outputDirectory, DateTimeOffset sourceDate, CancellationToken cancellation = default)
    {
        var plan = Plan(cell, architecture);
        // A meta package (module null) installs no module: every payload file comes from the cell.
        var moduleFile = module is null ? null : cell.ModuleFile;
        if (moduleFile is not null && !plan.Files.Any(f => f.Source == moduleFile))
            throw new InputException(new Problem(cell.Path("debian"), 0, 0, "", $"the Debian packaging never installs {moduleFile} (neither debian/{plan.Name}.install nor debian/rules)"));

        Directory.CreateDirectory(outputDirectory);
        var staging = Path.Combine(outputDirectory, $".deb-staging-{Guid.NewGuid():N}");
        try
        {
            var payload = new List<ArtifactDigest>();
            foreach (var (src, target, mode) in plan.Files)
            {
                var from = src == moduleFile ? module! : cell.Path(src);
                if (!File.Exists(from)) throw new InputException(new Problem(from, 0, 0, "", "is installed by the Debian packaging but does not exist"));
                var bytes = await File.ReadAllBytesAsync(from, cancellation).ConfigureAwait(false);
                StagedTree.Write(Path.Combine(staging, target.TrimStart('/')), bytes, (mode & UnixFileMode.UserExecute) != 0);
                payload.Add(ArtifactDigest.OfBytes(target, bytes));
            }
            foreach (var extra in extras)
            {
                StagedTree.Write(Path.Combine(staging, extra.InstallPath.TrimStart('/')), extra.Content);
                payload.Add(ArtifactDigest.OfBytes(extra.InstallPath, extra.Content));
            }
            var changelog = StagedTree.Gzip(await File.ReadAllBytesAsync(cell.Path("debian/changelog"), cancellation).ConfigureAwait(false));
            StagedTree.Write(Path.Combine(staging, "usr", "share", "doc", plan.Name, "changelog.Debian.gz"), changelog);

            var dataFiles = Directory.GetFiles(staging, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(staging, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();
            var md5 = new StringBuilder();
            long installedKiB = 0;
            foreach (var rel in dataFiles)
            {
                var bytes = await File.ReadAllBytesAsync(Path.Combine(staging, rel), cancellation).ConfigureAwait(false);
                md5.Append(Convert.ToHexStringLower(MD5.HashData(bytes))).Append("  ").Append(rel).Append('\n');
                installedKiB += (bytes.Length + 1023) / 1024;
            }
            installedKiB += Directory.GetDirectories(staging, "*", SearchOption.AllDirectories).Length;

            var control = plan.Control.ToList();
            var at = control.FindIndex(f => f.Key == "Maintainer") + 1;
            control.Insert(at, new("Installed-Size", installedKiB.ToString(CultureInfo.InvariantCulture)));
            var debian = Path.Combine(staging, "DEBIAN");
            StagedTree.Write(Path.Combine(debian, "control"), Encoding.UTF8.GetBytes(Deb822.Format(control)));
            StagedTree.Write(Path.Combine(debian, "md5sums"), Encoding.UTF8.GetBytes(md5.ToString()));
            // Files under /etc are configuration (Debian policy 10.7.2): dpkg keeps an administrator's change or removal.
            var conffiles = dataFiles.Where(f => f.StartsWith("etc/", StringComparison.Ordinal)).Select(f => "/" + f + "\n").ToList();
            if (conffiles.Count > 0) StagedTree.Write(Path.Combine(debian, "conffiles"), Encoding.UTF8.GetBytes(string.Concat(conffiles)));
            foreach (var (script, bytes) in plan.MaintainerScripts)
                StagedTree.Write(Path.Combine(debian, script), bytes, executable: true);
            StagedTree.Normalise(staging, sourceDate);

            var output = Path.Combine(outputDirectory, $"{plan.Name}_{StripEpoch(plan.Version)}_{plan.Architecture}.deb");
            var spec = new ProcessSpec("dpkg-deb", ["--root-owner-group", "-Zxz", "-z6", "--build", staging, output])
            {
                Environment = new Dictionary<string, string?> { ["SOURCE_DATE_EPOCH"] = sourceDate.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), ["LC_ALL"] = "C" },
                Timeout = TimeSpan.FromMinutes(5),
            };
            var result = await runner.RunAsync(spec, cancellation).ConfigureAwait(false);
            if (!result.Succeeded) throw new StageException($"dpkg-deb could not build {plan.Name}: {new ProcessFailedException(result).Message}");
            File.SetLastWriteTimeUtc(output, sourceDate.UtcDateTime);
            var sha = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(output, cancellation).ConfigureAwait(false)));
            return new BuiltPackage(output, plan.Name, plan.Version, plan.Architecture, sha, payload);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    private static string StripEpoch(string version) => version.Contains(':') ? version[(version.IndexOf(':') + 1)..] : version;

    /// <summary>A relationship field with debhelper's substitution variables resolved: none applies to a prebuilt module, so they expand to nothing.</summary>
    private static string Relations(string value, string where, string field)
    {
        var expanded = Substvar().Replace(value, m => m.Groups[1].Value is "misc:Depends" or "shlibs:Depends" or "misc:Pre-Depends" ? ""
            : throw new InputException(new Problem(where, 0, 0, field, $"uses ${{{m.Groups[1].Value}}}, which KfuncForge cannot fill in (only misc:Depends and shlibs:Depends, both empty for a prebuilt module)")));
        var parts = expanded.Replace("\n", " ").Split(',').Select(p => Regex.Replace(p.Trim(), @"\s+", " ")).Where(p => p.Length > 0);
        return string.Join(", ", parts);
    }
}
