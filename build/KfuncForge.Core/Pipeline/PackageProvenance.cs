using KfuncForge.Compilation;
using KfuncForge.Definitions;
using KfuncForge.Model;
using KfuncForge.Packaging;
using KfuncForge.Processes;

namespace KfuncForge.Pipeline;

/// <summary>
/// The one account of how a package was made, whoever runs the Package stage (the package verb or a
/// matrix cell): the project's revision, a digest per definition file (the profile, its kernel packaging,
/// the packaged module's own files) and per template, the packaging tools, and, from the build's record
/// beside the module, the kernel packages it was built against and the pinned kbuild environment.
/// Both paths call only this, so the same cell gets the same provenance bytes.
/// </summary>
public static class PackageProvenance
{
    /// <summary>What every package of a run shares: revision, profile definitions, templates, tool versions.</summary>
    public static async Task<ProvenanceInputs> ForRunAsync(SourceTree tree, DistroProfile distro, IProcessRunner runner, CancellationToken cancellation = default) =>
        new(SourceRevision.From(Provenance.ProjectProvenance.Read(tree.Root)),
            [],
            ProfileDefinitions(tree, distro),
            Files(tree.Templates, "templates"),
            await Packager.ToolVersionsAsync(runner, distro.Family, cancellation).ConfigureAwait(false),
            new Dictionary<string, string>());

    /// <summary>One package to make from a built cell folder (rendered files, build record) and its signed module.</summary>
    public static PackageInput Input(SourceTree tree, string builtCellDir, string signedModule)
    {
        var cell = RenderedCellFiles.Load(builtCellDir);
        var moduleDir = Path.Combine(tree.Modules, cell.Module);
        return new PackageInput(cell, Path.GetFullPath(signedModule), BuildRecord.TryLoad(builtCellDir), Files(moduleDir, tree.Display(moduleDir)));
    }

    private static List<ArtifactDigest> ProfileDefinitions(SourceTree tree, DistroProfile distro)
    {
        var list = new List<ArtifactDigest>();
        var profile = Path.Combine(tree.Distros, distro.Id + ".yaml");
        if (File.Exists(profile)) list.Add(ArtifactDigest.OfFile(tree.Display(profile), profile));
        var packaging = Path.Combine(tree.KernelPackagings, distro.KernelPackaging.Name + ".yaml");
        if (File.Exists(packaging)) list.Add(ArtifactDigest.OfFile(tree.Display(packaging), packaging));
        return list;
    }

    private static List<ArtifactDigest> Files(string dir, string prefix) =>
        !Directory.Exists(dir) ? []
        : Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => ArtifactDigest.OfFile(prefix + "/" + Path.GetRelativePath(dir, f).Replace('\\', '/'), f)).ToList();
}
