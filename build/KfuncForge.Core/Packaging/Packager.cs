using System.Globalization;
using System.Reflection;
using System.Security.Cryptography.X509Certificates;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Processes;
using KfuncForge.Signing;

namespace KfuncForge.Packaging;

/// <summary>
/// One package to make: a rendered cell, the signed module the build produced for it, the build's record
/// (kernel packages and pinned kbuild environment) and the digests of the module's definition files; when
/// given, the provenance records these for this package (Pipeline.PackageProvenance makes inputs with both).
/// </summary>
public sealed record PackageInput(RenderedCellFiles Cell, string SignedModule, Compilation.BuildRecord? Build = null,
    IReadOnlyList<ArtifactDigest>? ModuleDefinitions = null);

/// <summary>Everything a Package run needs besides its inputs. Keys are referred to, never held as bytes.</summary>
public sealed record PackagingSettings(
    string RepositoryPath,
    PackageFamily Family,
    string Architecture,
    DateTimeOffset SourceDate,
    X509Certificate2 ModuleCertificate,
    ModuleHash? ModuleHash,
    GpgKeyring Keyring,
    GpgKey PackageKey,
    ProvenanceInputs Provenance,
    string Distro)
{
    /// <summary>How many kernels of each line the repository keeps serving (the profile's packaging.retain).</summary>
    public int Retain { get; init; } = Model.PackageNaming.DefaultRetain;

    /// <summary>
    /// Every kernel this run planned, built or not (the build index's kernels); a served kernel among them is never carried
    /// over from the previous generation. Null: the kernels of the inputs.
    /// </summary>
    public IReadOnlyList<string>? CoveredKernels { get; init; }

    /// <summary>The lines the profile targets (6.1, 6.12): retention keeps no kernel of another line. Null: any line.</summary>
    public IReadOnlyList<string>? Lines { get; init; }

    /// <summary>The profile's kernel packaging (distros/kernel-packaging/&lt;name&gt;.yaml): apt holds are written for Debian's kernel meta packages only.</summary>
    public string? KernelPackaging { get; init; }
}

/// <summary>What a Package run published.</summary>
public sealed record PackagingResult(string Repository, string Generation, IReadOnlyList<BuiltPackage> Packages, IReadOnlyList<PackagedModule> Modules)
{
    /// <summary>Packages of earlier kernels served on from the previous generation (retention), byte for byte.</summary>
    public IReadOnlyList<ServedPackage> Carried { get; init; } = [];

    /// <summary>The published generation was made from exactly these inputs, so nothing was built or published.</summary>
    public bool Unchanged { get; init; }
}

/// <summary>
/// The Package stage: verify every module against the configured certificate (fail closed, before
/// anything is written), make one package per (module, kernel) from its rendered files with an SBOM
/// and a provenance statement inside (and beside it), check the modules inside each finished package
/// again, write and sign the repository, and publish it atomically.
/// </summary>
public sealed class Packager(IProcessRunner runner)
{
    public async Task<PackagingResult> RunAsync(IReadOnlyList<PackageInput> inputs, PackagingSettings settings, CancellationToken cancellation = default)
    {
        if (inputs.Count == 0) throw new InputException(new Problem("package", 0, 0, "", "nothing to package"));
        Precheck(inputs, settings);
        // Retention: what the current generation serves for kernels this run does not cover, within each line's window.
        var (previous, served) = Retention.Read(settings.RepositoryPath);
        var covered = (settings.CoveredKernels ?? []).Concat(inputs.Select(i => i.Cell.Kernel)).ToHashSet(StringComparer.Ordinal);
        var kernels = inputs.Select(i => new Retention.Kernel(i.Cell.Kernel, i.Cell.Line)).DistinctBy(k => k.Release).ToList();
        var carried = Retention.Carried(served, kernels, covered, settings.Retain, settings.Lines?.ToHashSet(StringComparer.Ordinal));
        var metas = MetaCells(inputs);
        var servedKernels = kernels.Select(k => k.Release).Concat(carried.Select(c => c.Kernel)).ToHashSet(StringComparer.Ordinal);
        var servedModules = inputs.Select(i => (i.Cell.Kernel, i.Cell.Module)).Concat(carried.Select(c => (c.Kernel, c.Module))).ToHashSet();
        var carriedMeta = Retention.CarriedMeta(served, metas.ToDictionary(m => m.Key, m => m.Value.Cell.Fleet!.Version, StringComparer.Ordinal), servedModules);
        metas = metas.Where(m => !carriedMeta.Any(c => c.Name == m.Key)).ToDictionary(StringComparer.Ordinal);
        carried = [.. carried, .. carriedMeta];

        var key = InputsKey(inputs, settings, carried);
        var inputsFile = Path.Combine(settings.RepositoryPath, InputsFile);
        if (File.Exists(inputsFile) && (await File.ReadAllTextAsync(inputsFile, cancellation).ConfigureAwait(false)).Trim() == key)
            return new PackagingResult(Path.GetFullPath(settings.RepositoryPath), new DirectoryInfo(settings.RepositoryPath).LinkTarget ?? "", [], []) { Unchanged = true, Carried = carried };

        var packages = new List<BuiltPackage>();
        var modules = new List<PackagedModule>();
        var record = new List<ServedPackage>();
        var generation = await AtomicPublisher.PublishAsync(settings.RepositoryPath, async root =>
        {
            var work = Path.Combine(root, ".work");
            foreach (var input in inputs.OrderBy(i => i.Cell.Kernel, StringComparer.Ordinal).ThenBy(i => i.Cell.Module, StringComparer.Ordinal))
            {
                var built = await BuildOneAsync(input, settings, work, cancellation).ConfigureAwait(false);
                modules.AddRange(await new PayloadInspector(runner).VerifyModulesAsync(built.Path, settings.ModuleCertificate, settings.ModuleHash, cancellation).ConfigureAwait(false));
                packages.Add(built);
                record.Add(Served(input.Cell, built, settings.Family, meta: false));
            }
            foreach (var (_, input) in metas.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                var built = await BuildMetaAsync(input.Cell, settings, Path.Combine(work, "meta"), cancellation).ConfigureAwait(false);
                packages.Add(built);
                record.Add(Served(input.Cell, built, settings.Family, meta: true));
            }
            foreach (var old in carried)
            {
                // Served on byte for byte: the file the previous generation published, its modules' signatures verified again.
                var path = Retention.FileOf(previous!, old);
                if (!old.Meta)
                    modules.AddRange(await new PayloadInspector(runner).VerifyModulesAsync(path, settings.ModuleCertificate, settings.ModuleHash, cancellation).ConfigureAwait(false));
                packages.Add(new BuiltPackage(path, old.Name, old.Version, old.Architecture, old.Sha256, []));
                record.Add(old);
            }
            if (settings.Family == PackageFamily.Sysext)
                await SysextFeed.WriteAsync(root, packages, settings.Keyring, settings.PackageKey, settings.SourceDate, cancellation).ConfigureAwait(false);
            else if (settings.Family == PackageFamily.Deb)
            {
                var apt = new AptRepositorySettings(settings.Distro, "main", settings.Architecture, "KfuncForge", "KfuncForge",
                    $"KfuncForge kfunc modules for {settings.Distro}");
                await new AptRepository(runner).WriteAsync(root, packages, apt, settings.Keyring, settings.PackageKey, settings.SourceDate, cancellation).ConfigureAwait(false);
            }
            else
                await new YumRepository(runner).WriteAsync(root, packages, settings.Keyring, settings.PackageKey, settings.SourceDate, cancellation).ConfigureAwait(false);
            Directory.Delete(work, recursive: true);
            // What the result names is what the generation serves.
            for (var i = 0; i < packages.Count; i++) packages[i] = packages[i] with { Path = Path.Combine(root, RelativePath(settings.Family, packages[i])) };
            await File.WriteAllTextAsync(Path.Combine(root, ServedKernelsFile),
                string.Concat(servedKernels.Order(StringComparer.Ordinal).Select(k => k + "\n")), cancellation).ConfigureAwait(false);
            Retention.Write(root, record);
            FleetHolds.Write(root, settings, inputs, carried, previous);
            await File.WriteAllTextAsync(Path.Combine(root, InputsFile), key + "\n", cancellation).ConfigureAwait(false);
            StagedTree.Normalise(root, settings.SourceDate);
        }).ConfigureAwait(false);
        return new PackagingResult(Path.GetFullPath(settings.RepositoryPath), generation, packages, modules) { Carried = carried };
    }

    /// <summary>Per meta package name, the input whose kernel is the newest of its line (the meta version grows with the kernel).</summary>
    private static Dictionary<string, PackageInput> MetaCells(IReadOnlyList<PackageInput> inputs) =>
        inputs.Where(i => i.Cell.Fleet is not null)
            .GroupBy(i => i.Cell.Fleet!.Package, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderByDescending(i => i.Cell.Fleet!.Version, Kernels.DebVersion.Comparer).ThenBy(i => i.Cell.Kernel, StringComparer.Ordinal).First(), StringComparer.Ordinal);

    /// <summary>Where a package lands in a generation (AptRepository's pool, YumRepository's Packages/, a sysext feed's top).</summary>
    public static string RelativePath(PackageFamily family, BuiltPackage package) => family switch
    {
        PackageFamily.Deb => $"pool/main/{package.Name}/{package.FileName}",
        PackageFamily.Rpm => $"Packages/{package.FileName}",
        _ => package.FileName,
    };

    private static ServedPackage Served(RenderedCellFiles cell, BuiltPackage built, PackageFamily family, bool meta) =>
        new(cell.Kernel, cell.Line, cell.Order, cell.Module, built.Name, built.Version, built.Architecture, RelativePath(family, built), built.Sha256) { Meta = meta };

    /// <summary>
    /// The meta package of a line, from the fleet/ files the newest kernel's cell rendered: Debian's debian/ (the kernel guard
    /// under /etc/kernel/postinst.d), or RPM's spec (the kernel-install plugin), signed like every RPM.
    /// </summary>
    private async Task<BuiltPackage> BuildMetaAsync(RenderedCellFiles cell, PackagingSettings settings, string work, CancellationToken cancellation)
    {
        var fleet = cell.FleetView();
        if (settings.Family == PackageFamily.Deb)
            return await new DebPackageBuilder(runner).BuildAsync(fleet, null, settings.Architecture, [], work, settings.SourceDate, cancellation).ConfigureAwait(false);
        var plugins = Directory.GetFiles(fleet.Directory, "*.install");
        if (plugins.Length != 1)
            throw new InputException(new Problem(fleet.Directory, 0, 0, "", $"has {plugins.Length} kernel-install plugins (*.install); the meta package installs exactly one (templates/fleet/kernel-install.sbn)"));
        var plugin = plugins[0];
        var builder = new RpmPackageBuilder(runner);
        var built = await builder.BuildAsync(fleet, null, PackageNames.RpmArchitecture(settings.Architecture),
            [new ExtraFile("/usr/lib/kernel/install.d/" + Path.GetFileName(plugin), await File.ReadAllBytesAsync(plugin, cancellation).ConfigureAwait(false))],
            work, settings.SourceDate, cancellation).ConfigureAwait(false);
        return await builder.SignAsync(built, settings.Keyring, settings.PackageKey, settings.SourceDate, cancellation).ConfigureAwait(false);
    }

    /// <summary>The key of everything a generation was made from (InputsKey), beside its repository metadata.</summary>
    public const string InputsFile = "kfuncforge-inputs.sha256";

    /// <summary>
    /// What a generation's bytes depend on: each package's rendered files, signed module, build record and definitions,
    /// the provenance and tool versions, the family, architecture, date, certificate, digest, repository key and the engine.
    /// </summary>
    public static string InputsKey(IReadOnlyList<PackageInput> inputs, PackagingSettings settings, IReadOnlyList<ServedPackage>? carried = null)
    {
        var text = new System.Text.StringBuilder("kfuncforge-package-inputs/2\n");
        text.Append("retain ").Append(settings.Retain).Append('\n');
        foreach (var c in carried ?? []) text.Append("carried ").Append(c.File).Append(' ').Append(c.Sha256).Append('\n');
        text.Append(Pipeline.StageKeys.Engine).Append('\n')
            .Append(string.Join("|", settings.Family, settings.Architecture, Epoch(settings.SourceDate), settings.ModuleCertificate.Thumbprint,
                settings.ModuleHash?.Name ?? "any", settings.PackageKey.Fingerprint, settings.Distro)).Append('\n')
            .Append(System.Text.Json.JsonSerializer.Serialize(settings.Provenance)).Append('\n');
        foreach (var input in inputs.OrderBy(i => i.Cell.Kernel, StringComparer.Ordinal).ThenBy(i => i.Cell.Module, StringComparer.Ordinal))
            text.Append(input.Cell.Kernel).Append(' ').Append(input.Cell.Module).Append('\n')
                .Append(System.Text.Json.JsonSerializer.Serialize(input.Cell.Files)).Append('\n')
                .Append(System.Text.Json.JsonSerializer.Serialize(input.Cell.RenderedFrom)).Append('\n')
                .Append(Pipeline.StageKeys.FileDigest(input.SignedModule)).Append('\n')
                .Append(System.Text.Json.JsonSerializer.Serialize(input.Build)).Append('\n')
                .Append(System.Text.Json.JsonSerializer.Serialize(input.ModuleDefinitions)).Append('\n');
        return Matrix.CellKey.Digest(text.ToString());
    }

    /// <summary>The kernel releases a generation serves, one per line, beside its repository metadata.</summary>
    public const string ServedKernelsFile = "kernels.txt";

    /// <summary>The kernels the currently published generation serves; null when nothing is published (or it predates the list).</summary>
    public static IReadOnlyList<string>? ServedKernels(string repositoryPath)
    {
        var file = Path.Combine(repositoryPath, ServedKernelsFile);
        return File.Exists(file) ? File.ReadAllLines(file).Where(l => l.Length > 0).ToList() : null;
    }

    /// <summary>Every problem with the inputs, found before anything is built: all reported together.</summary>
    private static void Precheck(IReadOnlyList<PackageInput> inputs, PackagingSettings settings)
    {
        var problems = new List<Problem>();
        var failures = new List<string>();
        foreach (var input in inputs)
        {
            if (input.Cell.Family != settings.Family)
                problems.Add(new Problem(input.Cell.Directory, 0, 0, "", $"is rendered for {input.Cell.Family.ToString().ToLowerInvariant()} packages, but this run makes {settings.Family.ToString().ToLowerInvariant()} packages"));
            else
                try
                {
                    if (settings.Family == PackageFamily.Deb) DebPackageBuilder.Plan(input.Cell, settings.Architecture);
                    else if (settings.Family == PackageFamily.Sysext) SysextImage.Plan(input.Cell);
                    else RpmPackageBuilder.CheckSpec(input.Cell);
                }
                catch (InputException e)
                {
                    problems.AddRange(e.Problems);
                }
            if (!File.Exists(input.SignedModule))
            {
                problems.Add(new Problem(input.SignedModule, 0, 0, "", "the module to package does not exist"));
                continue;
            }
            try
            {
                ModuleSignatureVerifier.Verify(File.ReadAllBytes(input.SignedModule), settings.ModuleCertificate, settings.ModuleHash);
            }
            catch (ModuleSignatureException e)
            {
                failures.Add($"{input.SignedModule}: {e.Message}");
            }
        }
        if (problems.Count > 0) throw new InputException(problems);
        if (failures.Count > 0)
            throw new StageException($"refusing to package: {failures.Count} module(s) not signed by '{settings.ModuleCertificate.Subject}' ({string.Join("; ", failures)}); nothing was published");
    }

    private async Task<BuiltPackage> BuildOneAsync(PackageInput input, PackagingSettings settings, string work, CancellationToken cancellation)
    {
        var cell = input.Cell;
        // Packages derive from the rendered files: the commit that rendered them is the one to record.
        settings = settings with
        {
            Provenance = settings.Provenance with
            {
                Source = cell.RenderedFrom ?? settings.Provenance.Source,
                Definitions = [.. settings.Provenance.Definitions, .. input.ModuleDefinitions ?? []],
            },
        };
        // What the module was really built against and with, as the build recorded it.
        if (input.Build is { } build)
            settings = settings with
            {
                Provenance = settings.Provenance with
                {
                    KernelPackages = KernelPackageDigests(build),
                    BuildEnvironment = new SortedDictionary<string, string>(build.KbuildEnvironment.ToDictionary(), StringComparer.Ordinal),
                },
            };
        var verified = ModuleSignatureVerifier.Verify(await File.ReadAllBytesAsync(input.SignedModule, cancellation).ConfigureAwait(false), settings.ModuleCertificate, settings.ModuleHash);
        // What ships: the signed module, compressed after signing when the kernel's config asks (the render's module_file).
        var shipped = input.SignedModule;
        if (cell.ModuleFile != cell.Module + ".ko")
        {
            shipped = Path.Combine(work, "modules", cell.Kernel, cell.ModuleFile);
            await ModuleCompression.WriteAsync(runner, input.SignedModule, ModuleCompression.SuffixOf(cell.ModuleFile)!, shipped, cancellation).ConfigureAwait(false);
        }
        var rendered = cell.Files.Where(f => f.Key != RenderedCellFiles.ManifestName).Select(f => new ArtifactDigest(f.Key, f.Value)).ToList();
        var outDir = Path.Combine(work, "out");
        // The public certificate of the signing key, for enrolment as a Machine Owner Key (docs/signing.md, "Secure Boot").
        var certificate = new ExtraFile(ShippedCertificate.PathFor(cell.Module, cell.Kernel), settings.ModuleCertificate.RawData);

        if (settings.Family == PackageFamily.Sysext)
        {
            var plan = SysextImage.Plan(cell);
            var builder = new SysextImage(runner);
            Directory.CreateDirectory(outDir);
            var docDir = $"/usr/share/doc/kfuncforge/{plan.Name}";
            var purl = $"pkg:generic/kfuncforge/{plan.Name}@{Uri.EscapeDataString(plan.Version)}?arch=x86-64&distro={settings.Distro}";
            var files = (await SysextImage.PayloadAsync(plan, cell, shipped, cancellation).ConfigureAwait(false))
                .Append((certificate.InstallPath, certificate.Content)).ToList();
            var payload = files.Select(f => ArtifactDigest.OfBytes(f.Item1, f.Item2)).ToList();
            var description = new PackageDescription(plan.Name, plan.Version, "x86-64", "sysext", settings.Distro, cell.Kernel, cell.Module, purl,
                payload, rendered, verified.Hash.Name, verified.Signer);
            files.Add(($"{docDir}/{SupplyChain.SbomFileName}", SupplyChain.Sbom(description, settings.Provenance, settings.SourceDate)));
            files.Add(($"{docDir}/{SupplyChain.ProvenanceFileName}", SupplyChain.Provenance(payload, description, settings.Provenance, settings.SourceDate)));
            var built = await builder.BuildAsync(plan, files, outDir, settings.SourceDate, cancellation).ConfigureAwait(false);
            await WriteSidecarsAsync(built, description, settings, cancellation).ConfigureAwait(false);
            return built;
        }
        if (settings.Family == PackageFamily.Deb)
        {
            var plan = DebPackageBuilder.Plan(cell, settings.Architecture);
            var docDir = $"/usr/share/doc/{plan.Name}/kfuncforge";
            var purl = $"pkg:deb/kfuncforge/{plan.Name}@{Uri.EscapeDataString(plan.Version)}?arch={plan.Architecture}&distro={settings.Distro}";
            var builder = new DebPackageBuilder(runner);
            // First pass: the payload without the supply-chain files, to learn the digests they describe.
            var payload = (await PayloadOfAsync(plan, cell, shipped, cancellation).ConfigureAwait(false))
                .Append(ArtifactDigest.OfBytes(certificate.InstallPath, certificate.Content)).ToList();
            var description = new PackageDescription(plan.Name, plan.Version, plan.Architecture, "deb", settings.Distro, cell.Kernel, cell.Module, purl,
                payload, rendered, verified.Hash.Name, verified.Signer);
            var extras = new List<ExtraFile>
            {
                certificate,
                new($"{docDir}/{SupplyChain.SbomFileName}", SupplyChain.Sbom(description, settings.Provenance, settings.SourceDate)),
                new($"{docDir}/{SupplyChain.ProvenanceFileName}", SupplyChain.Provenance(payload, description, settings.Provenance, settings.SourceDate)),
            };
            var built = await builder.BuildAsync(cell, shipped, settings.Architecture, extras, outDir, settings.SourceDate, cancellation).ConfigureAwait(false);
            await WriteSidecarsAsync(built, description, settings, cancellation).ConfigureAwait(false);
            return built;
        }
        else
        {
            var arch = PackageNames.RpmArchitecture(settings.Architecture);
            var builder = new RpmPackageBuilder(runner);
            var carries = RpmPackageBuilder.InstallsSupplyChainFiles(cell);
            var docDir = $"/usr/share/doc/{cell.Module}/kfuncforge";
            // When the spec installs the SBOM and provenance, a first build with empty stand-ins gives the payload they describe.
            IReadOnlyList<ExtraFile> standIns = carries
                ? [certificate, new($"{docDir}/{SupplyChain.SbomFileName}", "{}\n"u8.ToArray()), new($"{docDir}/{SupplyChain.ProvenanceFileName}", "{}\n"u8.ToArray())]
                : [certificate];
            var built = await builder.BuildAsync(cell, shipped, arch, standIns, outDir, settings.SourceDate, cancellation).ConfigureAwait(false);
            var payload = built.Payload.Where(p => !p.Name.EndsWith("/" + SupplyChain.SbomFileName, StringComparison.Ordinal)
                && !p.Name.EndsWith("/" + SupplyChain.ProvenanceFileName, StringComparison.Ordinal)).ToList();
            var purl = $"pkg:rpm/kfuncforge/{built.Name}@{Uri.EscapeDataString(built.Version)}?arch={arch}&distro={settings.Distro}";
            var description = new PackageDescription(built.Name, built.Version, arch, "rpm", settings.Distro, cell.Kernel, cell.Module, purl,
                payload, rendered, verified.Hash.Name, verified.Signer);
            if (carries)
            {
                var extras = new List<ExtraFile>
                {
                    certificate,
                    new($"{docDir}/{SupplyChain.SbomFileName}", SupplyChain.Sbom(description, settings.Provenance, settings.SourceDate)),
                    new($"{docDir}/{SupplyChain.ProvenanceFileName}", SupplyChain.Provenance(payload, description, settings.Provenance, settings.SourceDate)),
                };
                built = await builder.BuildAsync(cell, shipped, arch, extras, outDir, settings.SourceDate, cancellation).ConfigureAwait(false);
            }
            built = await builder.SignAsync(built, settings.Keyring, settings.PackageKey, settings.SourceDate, cancellation).ConfigureAwait(false);
            await WriteSidecarsAsync(built, description, settings, cancellation).ConfigureAwait(false);
            return built;
        }
    }

    /// <summary>The kernel packages a module was built against, with the SHA-256 the archive's index gave (and the fetch verified).</summary>
    public static IReadOnlyList<ArtifactDigest> KernelPackageDigests(Compilation.BuildRecord build) =>
        build.KernelPackages.OrderBy(p => p.Package, StringComparer.Ordinal)
            .Select(p => new ArtifactDigest(p.Package, p.Sha256, p.Uri ?? $"pkg:deb/debian/{p.Package}@{Uri.EscapeDataString(p.Version)}?distribution={p.Suite}"))
            .ToList();

    /// <summary>The files the Debian packaging installs, with their digests (what the in-package SBOM lists).</summary>
    private static async Task<IReadOnlyList<ArtifactDigest>> PayloadOfAsync(DebPackagePlan plan, RenderedCellFiles cell, string module, CancellationToken cancellation)
    {
        var list = new List<ArtifactDigest>();
        foreach (var (src, target, _) in plan.Files)
        {
            var from = src == cell.ModuleFile ? module : cell.Path(src);
            if (!File.Exists(from)) throw new InputException(new Problem(from, 0, 0, "", "is installed by the Debian packaging but does not exist"));
            list.Add(ArtifactDigest.OfBytes(target, await File.ReadAllBytesAsync(from, cancellation).ConfigureAwait(false)));
        }
        return list;
    }

    /// <summary>Beside each package: its SBOM and a provenance statement whose subject is the package file itself.</summary>
    private static async Task WriteSidecarsAsync(BuiltPackage built, PackageDescription description, PackagingSettings settings, CancellationToken cancellation)
    {
        var subject = new ArtifactDigest(built.FileName, built.Sha256);
        await File.WriteAllBytesAsync(built.Path + ".intoto.json", SupplyChain.Provenance([subject], description with { Payload = built.Payload }, settings.Provenance, settings.SourceDate), cancellation).ConfigureAwait(false);
        await File.WriteAllBytesAsync(built.Path + ".cdx.json", SupplyChain.Sbom(description with { Payload = built.Payload }, settings.Provenance, settings.SourceDate), cancellation).ConfigureAwait(false);
    }

    /// <summary>Versions of the packaging tools and the engine, for the provenance statement.</summary>
    public static async Task<IReadOnlyDictionary<string, string>> ToolVersionsAsync(IProcessRunner runner, PackageFamily family, CancellationToken cancellation = default)
    {
        var versions = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["kfuncforge"] = typeof(Packager).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0",
            ["dotnet"] = Environment.Version.ToString(),
        };
        (string Name, string File, string[] Args)[] tools = family == PackageFamily.Deb
            ? [("dpkg-deb", "dpkg-deb", ["--version"]), ("gpg", "gpg", ["--version"])]
            : family == PackageFamily.Sysext
            ? [("mksquashfs", "mksquashfs", ["-version"]), ("xz", "xz", ["--version"]), ("gpg", "gpg", ["--version"])]
            : [("rpmbuild", "rpmbuild", ["--version"]), ("rpmsign", "rpm", ["--version"]), ("createrepo_c", "createrepo_c", ["--version"]), ("gpg", "gpg", ["--version"])];
        foreach (var (name, file, args) in tools)
        {
            var r = await runner.RunAsync(new ProcessSpec(file, args) { Timeout = TimeSpan.FromSeconds(30), Environment = new Dictionary<string, string?> { ["LC_ALL"] = "C" } }, cancellation).ConfigureAwait(false);
            versions[name] = r.Succeeded ? r.Stdout.Split('\n')[0].Trim() : "unavailable";
        }
        return versions;
    }

    public static string Epoch(DateTimeOffset date) => date.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
}
