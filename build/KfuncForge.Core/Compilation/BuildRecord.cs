using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using KfuncForge.Kernels;

namespace KfuncForge.Compilation;

/// <summary>
/// How a module was built, written beside the .ko (kfuncforge-build.json in the cell's build folder) so the
/// Package stage records what really happened: the kernel packages the module was built against (name,
/// version, SHA-256 from the archive's index, verified when fetched) and the pinned kbuild environment.
/// </summary>
public sealed record BuildRecord
{
    public const string FileName = "kfuncforge-build.json";

    public int Format { get; init; } = 1;
    public required string Kernel { get; init; }
    public required IReadOnlyList<PackageRecord> KernelPackages { get; init; }
    public required IReadOnlyDictionary<string, string> KbuildEnvironment { get; init; }

    /// <summary>How pahole encoded the module's BTF, and why (ReproduciblePahole); absent in records of older builds.</summary>
    public PaholeRecord? Pahole { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public void Save(string cellDir) =>
        File.WriteAllText(Path.Combine(cellDir, FileName), JsonSerializer.Serialize(this, Json) + "\n");

    /// <summary>The record of a built cell, or null for cells built before builds wrote one.</summary>
    public static BuildRecord? TryLoad(string cellDir)
    {
        var file = Path.Combine(cellDir, FileName);
        if (!File.Exists(file)) return null;
        try
        {
            return JsonSerializer.Deserialize<BuildRecord>(File.ReadAllText(file), Json);
        }
        catch (JsonException e)
        {
            throw new Diagnostics.InputException(new Diagnostics.Problem(file, (int)(e.LineNumber ?? 0) + 1, (int)(e.BytePositionInLine ?? 0) + 1, e.Path ?? "",
                $"is not a valid build record ({e.Message}); rebuild the module (Build target)"));
        }
    }
}

/// <summary>
/// The variables that make a kbuild run reproducible: the build identity kbuild would otherwise take from
/// the clock, the user and the host, and a prefix map so the module's build folder never reaches the object
/// files (DWARF comp_dir, __FILE__). One place: the build uses it and records it for the provenance.
/// </summary>
public static class ReproducibleKbuild
{
    public const string User = "kfuncforge";
    public const string Host = "kfuncforge";

    /// <summary>The kernel's own format for KBUILD_BUILD_TIMESTAMP (`date`'s default in the C locale, UTC).</summary>
    public static string Timestamp(DateTimeOffset sourceDate)
    {
        var t = sourceDate.UtcDateTime;
        return string.Create(CultureInfo.InvariantCulture, $"{t:ddd MMM} {t.Day,2} {t:HH:mm:ss} UTC {t:yyyy}");
    }

    /// <param name="buildDir">The module's folder as the compiler sees it (inside the build environment).</param>
    public static IReadOnlyDictionary<string, string> Environment(DateTimeOffset sourceDate, string buildDir) =>
        new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["SOURCE_DATE_EPOCH"] = sourceDate.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            ["KBUILD_BUILD_TIMESTAMP"] = Timestamp(sourceDate),
            ["KBUILD_BUILD_USER"] = User,
            ["KBUILD_BUILD_HOST"] = Host,
            // KCFLAGS reaches every C compile of the module, including the generated .mod.c; file-prefix-map
            // covers debug info (-fdebug-prefix-map) and __FILE__ (-fmacro-prefix-map).
            ["KCFLAGS"] = $"-ffile-prefix-map={buildDir.TrimEnd('/')}/=",
        };
}
