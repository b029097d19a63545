namespace KfuncForge.Compilation;

/// <summary>A module the Build stage produced: its cell folder (rendered files + build outputs) and the .ko in it.</summary>
public sealed record BuiltCell(string Distro, string Release, string Module, string Directory)
{
    public string ModuleFile => Path.Combine(Directory, Module + ".ko");

    /// <summary>Where the Sign stage writes this module's signed copy.</summary>
    public string SignedPath(string artifactsDir) => SignedPathOf(artifactsDir, Distro, Release, Module);

    public static string SignedPathOf(string artifactsDir, string distro, string release, string module) => new Pipeline.ArtifactsLayout(artifactsDir).Signed(distro, release, module);

    /// <summary>Every built module of a distro under &lt;artifacts&gt;/build/&lt;distro&gt;/&lt;release&gt;/&lt;module&gt;/, sorted.</summary>
    public static IReadOnlyList<BuiltCell> Find(string artifactsDir, string distro)
    {
        var root = new Pipeline.ArtifactsLayout(artifactsDir).BuildDistro(distro);
        if (!System.IO.Directory.Exists(root)) return [];
        return System.IO.Directory.GetDirectories(root).Order(StringComparer.Ordinal)
            .SelectMany(kernel => System.IO.Directory.GetDirectories(kernel).Order(StringComparer.Ordinal)
                .Select(cell => new BuiltCell(distro, Path.GetFileName(kernel), Path.GetFileName(cell), cell)))
            .Where(c => File.Exists(c.ModuleFile) && File.Exists(Path.Combine(c.Directory, "kfuncforge-render.json")))
            .ToList();
    }
}
