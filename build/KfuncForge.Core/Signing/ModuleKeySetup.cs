using System.Text.Json;
using KfuncForge.Diagnostics;
using KfuncForge.Processes;

namespace KfuncForge.Signing;

/// <summary>Where the module signing key comes from for a run: files, a PKCS#11 URI, an external signer, or the development key.</summary>
public sealed record ModuleKeyRequest(string? Key, string? Certificate, IReadOnlyList<string>? SignerCommand, string DevelopmentKeyDirectory, string SourceRoot);

/// <summary>The chosen source, the certificate signatures are checked against, and (for the development key) the warning to print.</summary>
public sealed class ModuleKeySetup : IDisposable
{
    private readonly SigningKey? _key;

    private ModuleKeySetup(ISignatureSource source, string certificatePath, SigningKey? key, string? warning, string description)
    {
        Source = source;
        CertificatePath = certificatePath;
        _key = key;
        Warning = warning;
        Description = description;
    }

    public ISignatureSource Source { get; }
    public string CertificatePath { get; }
    public string? Warning { get; }
    public string Description { get; }

    /// <summary>
    /// Files (key and certificate, both or neither), a "pkcs11:" URI as the key, or an external signer
    /// command (with the certificate); with none of them, the development key (made if missing).
    /// </summary>
    public static ModuleKeySetup Resolve(ModuleKeyRequest request, ModuleHash hash, IProcessRunner runner)
    {
        if (request.SignerCommand is { } command)
        {
            if (request.Key is not null)
                throw Bad("signing.module_signer", "an external signer and a key were both given; give one of them");
            if (request.Certificate is null)
                throw Bad("signing.module_signer", "an external signer needs the certificate of its key (signing.module_certificate / --cert) to check what it returns");
            return new ModuleKeySetup(new ExternalSignatureSource(runner, command, request.Certificate, hash), request.Certificate, null, null,
                $"external signer {command[0]}, checked against {request.Certificate}");
        }
        if (request.Key is not null && Pkcs11Signer.IsUri(request.Key))
        {
            if (request.Certificate is null) throw Bad("signing.module_certificate", "a PKCS#11 key needs its certificate as a file");
            return new ModuleKeySetup(Pkcs11Signer.Create(runner, request.Key, request.Certificate, hash), request.Certificate, null, null,
                $"PKCS#11 token key, checked against {request.Certificate}");
        }
        if ((request.Key is null) != (request.Certificate is null))
            throw Bad(request.Key is null ? "signing.module_key" : "signing.module_certificate", "the module signing key and certificate are given together or not at all");
        if (request.Key is not null)
        {
            var key = SigningKey.Load(request.Key, request.Certificate!);
            return new ModuleKeySetup(new KeySignatureSource(key, hash), request.Certificate!, key, null, $"key {request.Key} ({key.Certificate.Subject})");
        }
        var files = DevelopmentKey.Ensure(request.DevelopmentKeyDirectory, request.SourceRoot);
        var devKey = SigningKey.Load(files.KeyPath, files.CertificateDerPath);
        return new ModuleKeySetup(new KeySignatureSource(devKey, hash), files.CertificateDerPath, devKey, files.Warning(devKey.Certificate),
            $"DEVELOPMENT key {files.KeyPath} ({devKey.Certificate.Subject})");
    }

    /// <summary>An argv list written as a JSON array of strings (the command line form of signing.module_signer).</summary>
    public static IReadOnlyList<string> ParseCommand(string json, string where)
    {
        try
        {
            var list = JsonSerializer.Deserialize<List<string>>(json);
            if (list is { Count: > 0 } && list.All(a => a is not null)) return list;
        }
        catch (JsonException)
        {
        }
        throw Bad(where, "must be a JSON array of strings, the command's argv (no shell): [\"/usr/local/bin/hsm-sign\",\"--hash\",\"{hash}\"]");
    }

    public void Dispose() => _key?.Dispose();

    private static InputException Bad(string where, string message) => new(new Problem(where, 0, 0, "", message));
}
