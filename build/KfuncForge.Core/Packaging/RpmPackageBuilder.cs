using System.Globalization;
using System.Security.Cryptography;
using KfuncForge.Diagnostics;
using KfuncForge.Processes;

namespace KfuncForge.Packaging;

/// <summary>
/// Builds a kmod RPM with rpmbuild from the cell's rendered spec (rpm/*.spec), with the signed module,
/// the cell's modules-load.d file and the supply-chain files staged as its %_sourcedir. Reproducible:
/// SOURCE_DATE_EPOCH with %use_source_date_epoch_as_buildtime and %clamp_mtime_to_source_date_epoch,
/// a fixed %_buildhost, no build-id links, and no ~/.rpmmacros (HOME is a fresh folder).
/// Signs with rpmsign at a fixed signature time so signed packages are reproducible too.
/// </summary>
public sealed class RpmPackageBuilder(IProcessRunner runner)
{
    public const string BuildHost = "kfuncforge";

    /// <summary>Names the supply-chain files get in %_sourcedir, for a spec that installs them.</summary>
    public const string SbomSourceName = "kfuncforge-" + SupplyChain.SbomFileName;
    public const string ProvenanceSourceName = "kfuncforge-" + SupplyChain.ProvenanceFileName;

    /// <summary>The name the module's certificate (Signing/ShippedCertificate) gets in %_sourcedir.</summary>
    public const string CertificateSourceName = "kfuncforge-module-certificate.der";

    public static string SpecPath(RenderedCellFiles cell)
    {
        var dir = cell.Path("rpm");
        var specs = Directory.Exists(dir) ? Directory.GetFiles(dir, "*.spec") : [];
        return specs.Length == 1 ? specs[0]
            : throw new InputException(new Problem(dir, 0, 0, "", $"has {specs.Length} spec files; a cell makes exactly one package"));
    }

    /// <summary>Whether the rendered spec installs the SBOM and provenance (see docs/packaging.md for the two lines a kmod spec template needs).</summary>
    public static bool InstallsSupplyChainFiles(RenderedCellFiles cell)
    {
        var text = File.ReadAllText(SpecPath(cell));
        return text.Contains(SbomSourceName, StringComparison.Ordinal) && text.Contains(ProvenanceSourceName, StringComparison.Ordinal);
    }

    /// <summary>The cell's spec, with its Name checked as written (rpmspec's own message on a bad name is terse).</summary>
    public static string CheckSpec(RenderedCellFiles cell)
    {
        var spec = SpecPath(cell);
        if (File.ReadLines(spec).FirstOrDefault(l => l.StartsWith("Name:", StringComparison.Ordinal)) is { } nameLine
            && nameLine["Name:".Length..].Trim() is var literal && !literal.Contains('%'))
            PackageNames.RequireRpmName(literal, spec);
        return spec;
    }

    public async Task<BuiltPackage> BuildAsync(RenderedCellFiles cell, string? module, string rpmArchitecture, IReadOnlyList<ExtraFile> extras,
        string outputDirectory, DateTimeOffset sourceDate, CancellationToken cancellation = default)
    {
        var spec = CheckSpec(cell);
        Directory.CreateDirectory(outputDirectory);
        var work = Path.Combine(outputDirectory, $".rpm-work-{Guid.NewGuid():N}");
        try
        {
            var sources = Path.Combine(work, "SOURCES");
            var home = Path.Combine(work, "home");
            Directory.CreateDirectory(home);
            // A meta package (module null) installs no module: its files come as extras.
            if (module is not null)
                StagedTree.Write(Path.Combine(sources, cell.ModuleFile), await File.ReadAllBytesAsync(module, cancellation).ConfigureAwait(false));
            var loadDir = cell.Path("modules-load.d");
            if (Directory.Exists(loadDir))
                foreach (var f in Directory.GetFiles(loadDir))
                    StagedTree.Write(Path.Combine(sources, "modules-load.d", Path.GetFileName(f)), await File.ReadAllBytesAsync(f, cancellation).ConfigureAwait(false));
            foreach (var extra in extras)
                StagedTree.Write(Path.Combine(sources, extra.InstallPath.StartsWith(Signing.ShippedCertificate.Directory + "/", StringComparison.Ordinal)
                    ? CertificateSourceName
                    : Path.GetFileName(extra.InstallPath) switch
                    {
                        SupplyChain.SbomFileName => SbomSourceName,
                        SupplyChain.ProvenanceFileName => ProvenanceSourceName,
                        var other => other,
                    }), extra.Content);
            StagedTree.Normalise(sources, sourceDate);

            var epoch = sourceDate.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            var env = new Dictionary<string, string?> { ["SOURCE_DATE_EPOCH"] = epoch, ["HOME"] = home, ["LC_ALL"] = "C", ["TZ"] = "UTC" };
            var defines = Defines(work, sources);

            var query = await runner.RunAsync(new ProcessSpec("rpmspec", ["-q", "--srpm", "--qf", "%{NAME}\\n%{VERSION}\\n%{RELEASE}\\n", "--target", rpmArchitecture, .. defines, spec])
            { Environment = env, Timeout = TimeSpan.FromMinutes(2) }, cancellation).ConfigureAwait(false);
            if (!query.Succeeded) throw new InputException(new Problem(spec, 0, 0, "", $"rpmspec cannot read the spec: {CommandLine.Tail(query.Stderr, 6)}"));
            var fields = query.Stdout.Split('\n');
            var (name, version, release) = (fields[0].Trim(), fields[1].Trim(), fields[2].Trim());
            PackageNames.RequireRpm(name, version, release, spec);

            var build = await runner.RunAsync(new ProcessSpec("rpmbuild", ["-bb", "--target", rpmArchitecture, .. defines, spec])
            { Environment = env, Timeout = TimeSpan.FromMinutes(10) }, cancellation).ConfigureAwait(false);
            if (!build.Succeeded) throw new StageException($"rpmbuild could not build {name}: {new ProcessFailedException(build).Message}");
            var built = Directory.GetFiles(Path.Combine(work, "RPMS"), "*.rpm", SearchOption.AllDirectories);
            if (built.Length != 1) throw new StageException($"rpmbuild made {built.Length} packages from {spec}; expected one");
            var output = Path.Combine(outputDirectory, Path.GetFileName(built[0]));
            File.Move(built[0], output, overwrite: true);
            File.SetLastWriteTimeUtc(output, sourceDate.UtcDateTime);

            var payload = await PayloadDigestsAsync(output, cancellation).ConfigureAwait(false);
            return new BuiltPackage(output, name, $"{version}-{release}", rpmArchitecture, Sha256(output), payload);
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Signs the package in place with rpmsign (header signature), at the key's fixed signature time.</summary>
    public async Task<BuiltPackage> SignAsync(BuiltPackage package, GpgKeyring keyring, GpgKey key, DateTimeOffset sourceDate, CancellationToken cancellation = default)
    {
        var home = Path.Combine(Path.GetDirectoryName(package.Path)!, $".rpmsign-home-{Guid.NewGuid():N}");
        Directory.CreateDirectory(home);
        try
        {
            var extra = string.Join(' ', GpgKeyring.FixedTimeArguments(key, sourceDate).Append("--batch").Append("--no-tty"));
            var spec = new ProcessSpec("rpmsign", ["--addsign",
                "--define", $"__gpg {GpgKeyring.GpgPath()}",
                "--define", $"_gpg_path {keyring.Home}",
                "--define", $"_gpg_name {key.Fingerprint}",
                "--define", "_gpg_digest_algo sha512",
                "--define", $"_gpg_sign_cmd_extra_args {extra}",
                package.Path])
            {
                Environment = new Dictionary<string, string?> { ["HOME"] = home, ["GNUPGHOME"] = keyring.Home, ["LC_ALL"] = "C" },
                Timeout = TimeSpan.FromMinutes(5),
            };
            var result = await runner.RunAsync(spec, cancellation).ConfigureAwait(false);
            if (!result.Succeeded) throw new StageException($"rpmsign could not sign {package.FileName}: {new ProcessFailedException(result).Message}");
            File.SetLastWriteTimeUtc(package.Path, sourceDate.UtcDateTime);
            return package with { Sha256 = Sha256(package.Path) };
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    private static string[] Defines(string work, string sources) =>
    [
        "--define", $"_topdir {work}",
        "--define", $"_sourcedir {sources}",
        "--define", $"_rpmdir {Path.Combine(work, "RPMS")}",
        "--define", $"_buildhost {BuildHost}",
        "--define", "use_source_date_epoch_as_buildtime 1",
        "--define", "clamp_mtime_to_source_date_epoch 1",
        "--define", "_build_id_links none",
    ];

    private async Task<IReadOnlyList<ArtifactDigest>> PayloadDigestsAsync(string rpm, CancellationToken cancellation)
    {
        var q = await runner.CheckedAsync(new ProcessSpec("rpm", ["-qp", "--nosignature", "--qf", "[%{FILENAMES}\\t%{FILEDIGESTS}\\t%{FILEMODES:perms}\\n]", rpm])
        { Timeout = TimeSpan.FromMinutes(1), Environment = new Dictionary<string, string?> { ["LC_ALL"] = "C" } }, cancellation).ConfigureAwait(false);
        return q.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t'))
            .Where(f => f.Length == 3 && f[2].StartsWith('-')).Select(f => new ArtifactDigest(f[0], f[1])).ToList();
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
