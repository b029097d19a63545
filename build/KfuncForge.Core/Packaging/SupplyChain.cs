using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace KfuncForge.Packaging;

/// <summary>The project's own state for provenance: the commit and whether the work tree differed from it.</summary>
public sealed record SourceRevision(string? Commit, bool? Dirty, IReadOnlyList<string> DirtyPaths, string? Reason)
{
    public static SourceRevision Unknown(string reason) => new(null, null, [], reason);

    public static SourceRevision From(Provenance.ProjectProvenance project) => new(project.Commit, project.Dirty, project.DirtyPaths, project.Reason);
}

/// <summary>A named input or output with its SHA-256 (and, for packages from an archive, a package URL).</summary>
public sealed record ArtifactDigest(string Name, string Sha256, string? Uri = null)
{
    public static ArtifactDigest OfFile(string name, string path, string? uri = null) =>
        new(name, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))), uri);

    public static ArtifactDigest OfBytes(string name, byte[] bytes) => new(name, Convert.ToHexStringLower(SHA256.HashData(bytes)));
}

/// <summary>Everything a package's SBOM and provenance say about how it was made.</summary>
public sealed record ProvenanceInputs(
    SourceRevision Source,
    IReadOnlyList<ArtifactDigest> KernelPackages,
    IReadOnlyList<ArtifactDigest> Definitions,
    IReadOnlyList<ArtifactDigest> Templates,
    IReadOnlyDictionary<string, string> Toolchain,
    IReadOnlyDictionary<string, string> BuildEnvironment);

/// <summary>What one package is: identity, payload files, and the module's signature facts.</summary>
public sealed record PackageDescription(
    string Name, string Version, string Architecture, string Family, string Distro, string Kernel, string Module,
    string Purl, IReadOnlyList<ArtifactDigest> Payload, IReadOnlyList<ArtifactDigest> RenderedFiles,
    string ModuleSignatureHash, string ModuleSigner);

/// <summary>
/// CycloneDX 1.6 SBOMs and in-toto v1 statements with a SLSA v1 provenance predicate, written with a
/// fixed key order and no wall-clock time (the time is SOURCE_DATE_EPOCH), so equal inputs give equal bytes.
/// </summary>
public static class SupplyChain
{
    public const string SbomFileName = "sbom.cdx.json";
    public const string ProvenanceFileName = "provenance.intoto.json";
    public const string BuildType = "urn:kfuncforge:build-type:kernel-module-package:v1";
    public const string BuilderId = "urn:kfuncforge:builder:package-stage";

    public static byte[] Sbom(PackageDescription package, ProvenanceInputs inputs, DateTimeOffset sourceDate) => Json(w =>
    {
        var body = $"{package.Purl}|{string.Join(',', package.Payload.Select(p => p.Sha256))}";
        w.WriteString("bomFormat", "CycloneDX");
        w.WriteString("specVersion", "1.6");
        w.WriteString("serialNumber", "urn:uuid:" + NameUuid(body));
        w.WriteNumber("version", 1);
        w.WriteStartObject("metadata");
        w.WriteString("timestamp", Iso(sourceDate));
        w.WriteStartObject("tools");
        w.WriteStartArray("components");
        w.WriteStartObject();
        w.WriteString("type", "application");
        w.WriteString("name", "KfuncForge");
        w.WriteString("version", inputs.Toolchain.TryGetValue("kfuncforge", out var v) ? v : "unknown");
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartObject("component");
        WriteComponentHead(w, "application", package.Purl, package.Name, package.Version, package.Purl);
        Properties(w, [
            ("kfuncforge:distro", package.Distro), ("kfuncforge:kernel", package.Kernel), ("kfuncforge:module", package.Module),
            ("kfuncforge:source-commit", inputs.Source.Commit ?? "unknown"),
            ("kfuncforge:source-dirty", inputs.Source.Dirty is { } d ? (d ? "true" : "false") : "unknown")]);
        w.WriteEndObject();
        w.WriteEndObject();

        w.WriteStartArray("components");
        foreach (var file in package.Payload)
        {
            w.WriteStartObject();
            WriteComponentHead(w, "file", "file:" + file.Name, file.Name, null, null);
            Hashes(w, file.Sha256);
            if (file.Name.EndsWith(".ko", StringComparison.Ordinal))
                Properties(w, [("kfuncforge:module-signature-hash", package.ModuleSignatureHash), ("kfuncforge:module-signer", package.ModuleSigner)]);
            w.WriteEndObject();
        }
        foreach (var file in package.RenderedFiles)
        {
            w.WriteStartObject();
            WriteComponentHead(w, "file", "rendered:" + file.Name, file.Name, null, null);
            Hashes(w, file.Sha256);
            Properties(w, [("kfuncforge:role", "rendered source")]);
            w.WriteEndObject();
        }
        foreach (var kernel in inputs.KernelPackages)
        {
            w.WriteStartObject();
            WriteComponentHead(w, "operating-system", kernel.Uri ?? "kernel:" + kernel.Name, kernel.Name, null, kernel.Uri);
            Hashes(w, kernel.Sha256);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("dependencies");
        w.WriteStartObject();
        w.WriteString("ref", package.Purl);
        w.WriteStartArray("dependsOn");
        foreach (var f in package.Payload) w.WriteStringValue("file:" + f.Name);
        foreach (var k in inputs.KernelPackages) w.WriteStringValue(k.Uri ?? "kernel:" + k.Name);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndArray();
    });

    /// <summary>An in-toto v1 statement over <paramref name="subjects"/> with a SLSA v1 provenance predicate.</summary>
    public static byte[] Provenance(IReadOnlyList<ArtifactDigest> subjects, PackageDescription package, ProvenanceInputs inputs, DateTimeOffset sourceDate) => Json(w =>
    {
        w.WriteString("_type", "https://in-toto.io/Statement/v1");
        w.WriteStartArray("subject");
        foreach (var s in subjects.OrderBy(s => s.Name, StringComparer.Ordinal))
        {
            w.WriteStartObject();
            w.WriteString("name", s.Name);
            w.WriteStartObject("digest");
            w.WriteString("sha256", s.Sha256);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteString("predicateType", "https://slsa.dev/provenance/v1");
        w.WriteStartObject("predicate");
        w.WriteStartObject("buildDefinition");
        w.WriteString("buildType", BuildType);
        w.WriteStartObject("externalParameters");
        w.WriteString("distro", package.Distro);
        w.WriteString("kernel", package.Kernel);
        w.WriteString("module", package.Module);
        w.WriteString("package_family", package.Family);
        w.WriteString("architecture", package.Architecture);
        w.WriteEndObject();
        w.WriteStartObject("internalParameters");
        w.WriteNumber("source_date_epoch", sourceDate.ToUnixTimeSeconds());
        w.WriteString("module_signature_hash", package.ModuleSignatureHash);
        w.WriteString("module_signer", package.ModuleSigner);
        w.WriteStartObject("build_environment");
        foreach (var (k, val) in inputs.BuildEnvironment.OrderBy(e => e.Key, StringComparer.Ordinal)) w.WriteString(k, val);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteStartArray("resolvedDependencies");
        w.WriteStartObject();
        w.WriteString("name", "kfuncforge-source");
        if (inputs.Source.Commit is { } commit)
        {
            w.WriteStartObject("digest");
            w.WriteString("gitCommit", commit);
            w.WriteEndObject();
        }
        w.WriteStartObject("annotations");
        if (inputs.Source.Dirty is { } dirty) w.WriteBoolean("dirty", dirty); else w.WriteNull("dirty");
        w.WriteStartArray("dirty_paths");
        foreach (var p in inputs.Source.DirtyPaths) w.WriteStringValue(p);
        w.WriteEndArray();
        if (inputs.Source.Reason is { } reason) w.WriteString("reason", reason);
        w.WriteEndObject();
        w.WriteEndObject();
        Dependencies(w, "kernel-package", inputs.KernelPackages);
        Dependencies(w, "definition", inputs.Definitions);
        Dependencies(w, "template", inputs.Templates);
        Dependencies(w, "rendered", package.RenderedFiles);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartObject("runDetails");
        w.WriteStartObject("builder");
        w.WriteString("id", BuilderId);
        w.WriteStartObject("version");
        foreach (var (k, val) in inputs.Toolchain.OrderBy(e => e.Key, StringComparer.Ordinal)) w.WriteString(k, val);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
    });

    private static void Dependencies(Utf8JsonWriter w, string kind, IEnumerable<ArtifactDigest> items)
    {
        foreach (var d in items.OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            w.WriteStartObject();
            w.WriteString("name", $"{kind}:{d.Name}");
            if (d.Uri is not null) w.WriteString("uri", d.Uri);
            w.WriteStartObject("digest");
            w.WriteString("sha256", d.Sha256);
            w.WriteEndObject();
            w.WriteEndObject();
        }
    }

    private static void WriteComponentHead(Utf8JsonWriter w, string type, string bomRef, string name, string? version, string? purl)
    {
        w.WriteString("type", type);
        w.WriteString("bom-ref", bomRef);
        w.WriteString("name", name);
        if (version is not null) w.WriteString("version", version);
        if (purl is not null) w.WriteString("purl", purl);
    }

    private static void Hashes(Utf8JsonWriter w, string sha256)
    {
        w.WriteStartArray("hashes");
        w.WriteStartObject();
        w.WriteString("alg", "SHA-256");
        w.WriteString("content", sha256);
        w.WriteEndObject();
        w.WriteEndArray();
    }

    private static void Properties(Utf8JsonWriter w, IEnumerable<(string Name, string Value)> properties)
    {
        w.WriteStartArray("properties");
        foreach (var (name, value) in properties)
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteString("value", value);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>A name-based UUID (version 5 layout over SHA-256 of the text), stable for equal content.</summary>
    private static string NameUuid(string text)
    {
        var h = SHA256.HashData(Encoding.UTF8.GetBytes(text));
        h[6] = (byte)((h[6] & 0x0f) | 0x50);
        h[8] = (byte)((h[8] & 0x3f) | 0x80);
        var hex = Convert.ToHexStringLower(h.AsSpan(0, 16));
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..32]}";
    }

    private static byte[] Json(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, NewLine = "\n", Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }
}
