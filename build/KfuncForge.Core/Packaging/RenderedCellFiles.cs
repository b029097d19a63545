using System.Security.Cryptography;
using System.Text.Json;
using KfuncForge.Diagnostics;
using KfuncForge.Model;

namespace KfuncForge.Packaging;

/// <summary>
/// One rendered cell (artifacts/render/&lt;distro&gt;/&lt;kernel&gt;/&lt;module&gt;/) as the packager reads it:
/// its manifest (kfuncforge-render.json) and the packaging files the templates produced. Files are
/// checked against the manifest's hashes, so a package is only ever made from what was rendered.
/// </summary>
public sealed record RenderedCellFiles(string Directory, string Distro, string Kernel, string Module, string ModuleVersion, PackageFamily Family, IReadOnlyDictionary<string, string> Files)
{
    /// <summary>The project's commit and dirty state when the cell was rendered (kfuncforge-provenance.json), when recorded.</summary>
    public SourceRevision? RenderedFrom { get; init; }

    /// <summary>
    /// The module file the packaging installs (kfuncforge-render.json's module_file): &lt;module&gt;.ko, or with the
    /// compression suffix the kernel's config asks for (.ko.xz, .ko.zst). Package compresses the signed module to it.
    /// </summary>
    public string ModuleFile { get => _moduleFile ?? Module + ".ko"; init => _moduleFile = value; }

    private readonly string? _moduleFile;

    /// <summary>The meta package this cell renders (kfuncforge-render.json's fleet), when the profile has one.</summary>
    public FleetRecord? Fleet { get; init; }

    /// <summary>The line the cell's kernel belongs to and its order within the line (the meta version), for retention.</summary>
    public string Line => Fleet?.Line ?? Retention.LineOf(Kernel);
    public string Order => Fleet?.Version ?? Kernel;

    /// <summary>The cell's meta package files (fleet/) as a cell of their own: its debian/ or rpm/ makes the meta package.</summary>
    public RenderedCellFiles FleetView() => this with { Directory = Path(Rendering.Renderer.FleetFolder) };

    public const string ManifestName = "kfuncforge-render.json";

    public string Path(string relative) => System.IO.Path.Combine(Directory, relative);

    public static RenderedCellFiles Load(string directory)
    {
        var dir = System.IO.Path.GetFullPath(directory);
        var manifest = System.IO.Path.Combine(dir, ManifestName);
        if (!File.Exists(manifest))
            throw new InputException(new Problem(dir, 0, 0, "", $"is not a rendered cell (no {ManifestName}); run the Render stage first"));
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(File.ReadAllBytes(manifest)).RootElement;
        }
        catch (JsonException e)
        {
            throw new InputException(new Problem(manifest, 0, 0, "", $"is not valid JSON: {e.Message}"));
        }
        string Text(string key) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
            : throw new InputException(new Problem(manifest, 0, 0, key, "is missing"));
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (root.TryGetProperty("files", out var fileList))
            foreach (var f in fileList.EnumerateObject()) files[f.Name] = f.Value.GetString() ?? "";

        var problems = new List<Problem>();
        foreach (var (relative, expected) in files)
        {
            var full = System.IO.Path.Combine(dir, relative);
            if (!File.Exists(full)) problems.Add(new Problem(full, 0, 0, "", "is listed in the render manifest but missing; render again"));
            else if (Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(full))) != expected)
                problems.Add(new Problem(full, 0, 0, "", "was changed after rendering; packages are made only from rendered files (render again, or change the template)"));
        }
        if (problems.Count > 0) throw new InputException(problems);

        var family = File.Exists(System.IO.Path.Combine(dir, "debian", "control")) ? PackageFamily.Deb
            : System.IO.Directory.Exists(System.IO.Path.Combine(dir, "rpm")) ? PackageFamily.Rpm
            : File.Exists(System.IO.Path.Combine(dir, "sysext", "install")) ? PackageFamily.Sysext
            : throw new InputException(new Problem(dir, 0, 0, "", "has neither debian/control, rpm/*.spec nor sysext/install; nothing to package"));
        var moduleFile = root.TryGetProperty("module_file", out var mf) && mf.ValueKind == JsonValueKind.String ? mf.GetString()! : Text("module") + ".ko";
        if (moduleFile != Text("module") + ".ko" + (ModuleCompression.SuffixOf(moduleFile) ?? "?"))
            throw new InputException(new Problem(manifest, 0, 0, "module_file", $"'{moduleFile}' is not {Text("module")}.ko with an optional .xz, .zst or .gz; render again"));
        FleetRecord? fleet = null;
        if (root.TryGetProperty("fleet", out var fleetJson) && fleetJson.ValueKind == JsonValueKind.Object)
        {
            string Field(string key) => fleetJson.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
                : throw new InputException(new Problem(manifest, 0, 0, "fleet." + key, "is missing; render again"));
            fleet = new FleetRecord(Field("package"), Field("version"), Field("line"), Field("flavour"));
        }
        return new RenderedCellFiles(dir, Text("distro"), Text("kernel"), Text("module"), Text("module_version"), family, files)
        {
            ModuleFile = moduleFile,
            Fleet = fleet,
            RenderedFrom = ReadProvenance(System.IO.Path.Combine(dir, Rendering.Renderer.ProvenanceFile)),
        };
    }

    /// <summary>A cell's meta package: its name, version, and the kernel line it follows.</summary>
    public sealed record FleetRecord(string Package, string Version, string Line, string Flavour);

    private static SourceRevision? ReadProvenance(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            var p = JsonDocument.Parse(File.ReadAllBytes(path)).RootElement;
            string? Str(string key) => p.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            bool? dirty = p.TryGetProperty("dirty", out var d) && d.ValueKind is JsonValueKind.True or JsonValueKind.False ? d.GetBoolean() : null;
            var paths = p.TryGetProperty("dirty_paths", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().Select(x => x.GetString() ?? "").ToList() : [];
            return new SourceRevision(Str("commit"), dirty, paths, Str("reason"));
        }
        catch (JsonException e)
        {
            throw new InputException(new Problem(path, 0, 0, "", $"is not valid JSON: {e.Message}; render again"));
        }
    }
}
