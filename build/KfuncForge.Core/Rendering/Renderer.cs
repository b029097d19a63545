using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KfuncForge.Definitions;
using KfuncForge.Planning;

namespace KfuncForge.Rendering;

/// <summary>What one cell rendered to: its folder and the files in it (relative, sorted).</summary>
public sealed record RenderedCell(BuildCell Cell, string Directory, IReadOnlyList<string> Files);

/// <summary>
/// Turns planned cells into module source trees: templates for the generated files, the selected
/// variants' C files copied beside them, and a manifest. Each cell is rendered into a temporary
/// folder and swapped in whole, so a failure leaves the previous output as it was.
/// </summary>
public sealed class Renderer(TemplateSet templates, DateTimeOffset sourceDate, Provenance.ProjectProvenance project)
{
    /// <summary>The SOURCE_DATE_EPOCH of this run: dates in rendered files, and the pinned kbuild timestamp of the modules built from them.</summary>
    public DateTimeOffset SourceDate => sourceDate;

    /// <summary>The project's commit and dirty state, beside the rendered files (kept apart so the sources themselves do not change with every commit).</summary>
    public const string ProvenanceFile = "kfuncforge-provenance.json";

    public static string CellDirectory(string renderRoot, BuildCell cell) =>
        Path.Combine(renderRoot, cell.Distro.Id, cell.Kernel.Release, cell.Module.Name);

    public RenderedCell Render(BuildCell cell, string renderRoot)
    {
        if (!cell.NeedsModule) throw new InvalidOperationException($"cell {cell.Key} has nothing to build");
        var final = CellDirectory(renderRoot, cell);
        var parent = Path.GetDirectoryName(final)!;
        Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, $".{cell.Module.Name}.rendering-{Environment.ProcessId}");
        if (Directory.Exists(staging)) Directory.Delete(staging, true);
        Directory.CreateDirectory(staging);
        try
        {
            var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
            var executables = new HashSet<string>(StringComparer.Ordinal);
            var model = RenderModel.For(cell, sourceDate);
            var package = RenderModel.PackageName(cell);
            var fleet = RenderModel.Fleet(cell);
            foreach (var spec in TemplateSet.Specs.Where(s => s.AppliesTo(cell.Distro.Family) && (fleet is not null || !s.Output.StartsWith(FleetFolder + "/", StringComparison.Ordinal))))
            {
                var output = spec.Output.Replace("{module}", cell.Module.Name).Replace("{package}", package).Replace("{meta}", fleet?.Name ?? "");
                files[output] = Encoding.UTF8.GetBytes(templates.Render(spec, model));
                if (spec.Executable) executables.Add(output);
            }
            foreach (var source in SourcesOf(cell))
                files[source] = File.ReadAllBytes(Path.Combine(cell.Module.Directory, source));

            files["kfuncforge-render.json"] = Manifest(cell, fleet, files);
            files[ProvenanceFile] = Encoding.UTF8.GetBytes(project.ToJson() + "\n");
            foreach (var (name, bytes) in files)
            {
                var path = Path.Combine(staging, name);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllBytes(path, bytes);
                if (!OperatingSystem.IsWindows())
                    File.SetUnixFileMode(path, executables.Contains(name)
                        ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute
                        : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }
            Swap(staging, final);
            return new RenderedCell(cell, final, files.Keys.ToList());
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, true);
        }
    }

    /// <summary>The selected variants' C files, and the headers beside them (a variant may include a local header).</summary>
    public static IReadOnlyList<string> SourcesOf(BuildCell cell)
    {
        var files = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var variant in cell.Backports.Select(e => e.Variant!))
        {
            files.Add(variant.File);
            var dir = Path.GetDirectoryName(Path.Combine(cell.Module.Directory, variant.File))!;
            foreach (var header in Directory.GetFiles(dir, "*.h"))
                files.Add(Path.GetRelativePath(cell.Module.Directory, header).Replace('\\', '/'));
        }
        return files.ToList();
    }

    /// <summary>The folder of a cell's meta package files (its own debian/ or rpm/ and the kernel guard): Package makes the meta package from it.</summary>
    public const string FleetFolder = "fleet";

    private static byte[] Manifest(BuildCell cell, RenderModel.FleetPackage? fleet, SortedDictionary<string, byte[]> files)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("generator", RenderModel.Generator);
            json.WriteString("distro", cell.Distro.Id);
            json.WriteString("kernel", cell.Kernel.Release);
            json.WriteBoolean("kernel_resolved", cell.Kernel.IsResolved);
            json.WriteString("module", cell.Module.Name);
            json.WriteString("module_version", cell.Module.Version);
            // The file the packaging installs: the signed module, compressed as the kernel's config asks.
            json.WriteString("module_file", cell.Module.Name + ".ko" + Packaging.ModuleCompression.Suffix(cell.Kernel.Config));
            if (fleet is not null)
            {
                // The meta package this kernel's cell renders (docs/packaging.md, "Rolling out to a fleet"): Package makes it from the newest kernel's cell of each line.
                json.WriteStartObject("fleet");
                json.WriteString("package", fleet.Name);
                json.WriteString("version", fleet.Version);
                json.WriteString("line", fleet.Line);
                json.WriteString("flavour", cell.Kernel.Flavour ?? "");
                json.WriteEndObject();
            }
            json.WriteStartArray("plan");
            foreach (var e in cell.Entries)
            {
                json.WriteStartObject();
                json.WriteString("kfunc", e.Kfunc);
                json.WriteString("verdict", e.Verdict.ToString().ToLowerInvariant());
                if (e.Variant is not null) json.WriteString("variant", e.Variant.Id);
                json.WriteString("reason", e.Reason);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartObject("files");
            foreach (var (name, bytes) in files)
                json.WriteString(name, Convert.ToHexStringLower(SHA256.HashData(bytes)));
            json.WriteEndObject();
            json.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    private static void Swap(string staging, string final)
    {
        if (!Directory.Exists(final))
        {
            Directory.Move(staging, final);
            return;
        }
        var old = final + $".old-{Environment.ProcessId}";
        Directory.Move(final, old);
        Directory.Move(staging, final);
        Directory.Delete(old, true);
    }
}

/// <summary>The date written into changelogs and specs: SOURCE_DATE_EPOCH when set, else the project's last commit, so the same commit renders the same bytes.</summary>
public static class SourceDate
{
    public static DateTimeOffset Parse(string text, string where) =>
        long.TryParse(text, out var seconds) && seconds is >= 0 and < 253402300800
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : throw new Diagnostics.InputException(new Diagnostics.Problem(where, 0, 0, "", $"'{text}' is not a number of seconds since 1970"));

    public static DateTimeOffset Resolve(string root)
    {
        if (Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH") is { Length: > 0 } text)
            return Parse(text, "SOURCE_DATE_EPOCH");
        try
        {
            var gitDir = LibGit2Sharp.Repository.Discover(root);
            if (gitDir is null) return DateTimeOffset.UnixEpoch;
            using var repo = new LibGit2Sharp.Repository(gitDir);
            return repo.Head.Tip is { } tip ? tip.Committer.When.ToUniversalTime() : DateTimeOffset.UnixEpoch;
        }
        catch (LibGit2Sharp.LibGit2SharpException)
        {
            return DateTimeOffset.UnixEpoch;
        }
    }
}
