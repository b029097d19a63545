using System.Text.Json;

namespace KfuncForge.Vm;

/// <summary>One built module that passed SmokeTest on its kernel, by the SHA-256 of the exact .ko that passed.</summary>
public sealed record SmokePass(string Release, string Module, string Sha256);

/// <summary>
/// The modules that passed SmokeTest, kept in &lt;out&gt;/smoke/&lt;distro&gt;/smoke-passed.json: Package publishes a
/// module only when its .ko is byte for byte one that passed there ("nothing is packaged that did not pass in
/// QEMU"). Each smoke run replaces the entries of the cells it tested (a failure removes one) and keeps the
/// others, so a run narrowed with --module or --kernel does not forget what passed before.
/// </summary>
public static class SmokePasses
{
    public const string FileName = "smoke-passed.json";

    private sealed record Document(int Version, List<SmokePass> Cells);

    public static string PathFor(string artifactsDir, string distro) => new Pipeline.ArtifactsLayout(artifactsDir).SmokePasses(distro);

    /// <summary>The passes recorded so far; none when the file is missing or unreadable (then nothing counts as tested).</summary>
    public static IReadOnlyList<SmokePass> Load(string path)
    {
        try
        {
            return File.Exists(path) && JsonSerializer.Deserialize<Document>(File.ReadAllText(path), Options) is { Version: 1, Cells: { } cells }
                ? cells.Where(c => c is { Release: not null, Module: not null, Sha256: not null }).ToList()
                : [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    /// <summary>Records a smoke run's verdicts: every tested cell's old entry goes; those that passed come back with their module's hash.</summary>
    public static void Record(string path, IEnumerable<(SmokePass Cell, bool Passed)> tested)
    {
        var now = tested.ToList();
        var retested = now.Select(t => (t.Cell.Release, t.Cell.Module)).ToHashSet();
        var cells = Load(path).Where(p => !retested.Contains((p.Release, p.Module)))
            .Concat(now.Where(t => t.Passed).Select(t => t.Cell))
            .OrderBy(p => p.Release, StringComparer.Ordinal).ThenBy(p => p.Module, StringComparer.Ordinal).ToList();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = $"{path}.{Path.GetRandomFileName()}.tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(new Document(1, cells), Options) + "\n");
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Why a built module cannot be published for want of a smoke pass, or null when exactly this .ko passed.</summary>
    public static string? Unproven(IReadOnlyList<SmokePass> passes, string release, string module, string koFile)
    {
        var pass = passes.FirstOrDefault(p => p.Release == release && p.Module == module);
        if (pass is null) return $"{release}/{module} has not passed SmokeTest";
        return pass.Sha256 == ModuleSha256(koFile) ? null : $"{release}/{module} was built again since it passed SmokeTest";
    }

    /// <summary>SHA-256 of a module's own bytes, before any appended signature: a signed copy (Secure Boot smoke) and its built module hash alike.</summary>
    public static string ModuleSha256(string koFile)
    {
        var bytes = File.ReadAllBytes(koFile);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(0, Signing.ModuleSignatureTrailer.ContentLength(bytes))));
    }

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // releases as written: 6.12.117+deb12-amd64
    };
}
