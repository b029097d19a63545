using System.Security.Cryptography.X509Certificates;
using KfuncForge.Diagnostics;
using KfuncForge.Processes;

namespace KfuncForge.Signing;

/// <summary>Makes the detached CMS over a module's bytes. The certificate is what the result is checked against.</summary>
public interface ISignatureSource
{
    X509Certificate2 Certificate { get; }
    ModuleHash Hash { get; }

    /// <summary>The DER CMS SignedData over <paramref name="content"/> (whose bytes also sit in <paramref name="contentFile"/>).</summary>
    Task<byte[]> SignAsync(byte[] content, string contentFile, CancellationToken cancellation = default);
}

/// <summary>Signs in this process with a key loaded from files.</summary>
public sealed class KeySignatureSource(SigningKey key, ModuleHash hash) : ISignatureSource
{
    public X509Certificate2 Certificate => key.Certificate;
    public ModuleHash Hash { get; } = hash.InProcess ? hash
        : throw new InputException(new Problem("signing.module_hash", 0, 0, "", $"{hash.Name} is accepted by the kernel but not by KfuncForge's in-process signer; use {ModuleHash.Sha256.Name}/{ModuleHash.Sha384.Name}/{ModuleHash.Sha512.Name}, or the external signer hook"));

    public Task<byte[]> SignAsync(byte[] content, string contentFile, CancellationToken cancellation = default)
    {
        var digest = Hash.Digest(content);
        var signature = key.SignDigest(digest, Hash);
        return Task.FromResult(ModuleCms.Encode(key.Certificate, Hash, key.Kind, signature));
    }
}

/// <summary>
/// The hook for keys KfuncForge must not hold (HSMs, PKCS#11 tokens, a signing service): a command,
/// given as an argv list, that reads the module on stdin and writes a DER CMS SignedData (detached) on
/// stdout. "{hash}" and "{certificate}" in its arguments become the digest name and the certificate's
/// path. Its output is checked against the certificate before it is used.
/// </summary>
public sealed class ExternalSignatureSource : ISignatureSource
{
    private readonly IProcessRunner _runner;
    private readonly IReadOnlyList<string> _argv;
    private readonly string _certificatePath;

    private readonly IReadOnlyList<string> _secrets;

    public ExternalSignatureSource(IProcessRunner runner, IReadOnlyList<string> argv, string certificatePath, ModuleHash hash, TimeSpan? timeout = null, IReadOnlyList<string>? secrets = null)
    {
        _secrets = secrets ?? [];
        if (argv.Count == 0 || string.IsNullOrWhiteSpace(argv[0]))
            throw new InputException(new Problem("signing.module_signer", 0, 0, "", "the external signer command is empty; give an argv list such as [\"/usr/local/bin/hsm-sign\", \"--hash\", \"{hash}\"]"));
        _runner = runner;
        _argv = argv;
        _certificatePath = Path.GetFullPath(certificatePath);
        Certificate = SigningKey.LoadCertificate(_certificatePath);
        Hash = hash;
        Timeout = timeout ?? TimeSpan.FromMinutes(2);
    }

    public X509Certificate2 Certificate { get; }
    public ModuleHash Hash { get; }
    public TimeSpan Timeout { get; }

    /// <summary>The argv that will run, placeholders filled in.</summary>
    public IReadOnlyList<string> Command => _argv.Select(a => a.Replace("{hash}", Hash.Name, StringComparison.Ordinal)
        .Replace("{certificate}", _certificatePath, StringComparison.Ordinal)).ToList();

    public async Task<byte[]> SignAsync(byte[] content, string contentFile, CancellationToken cancellation = default)
    {
        var command = Command;
        var output = contentFile + ".cms";
        try
        {
            var spec = new ProcessSpec(command[0], command.Skip(1).ToList())
            {
                StdinFile = contentFile,
                StdoutFile = output,
                Timeout = Timeout,
                Secrets = _secrets,
            };
            var result = await _runner.RunAsync(spec, cancellation).ConfigureAwait(false);
            if (!result.Succeeded)
                throw new StageException($"the external module signer failed: {new ProcessFailedException(result).Message}");
            var cms = await File.ReadAllBytesAsync(output, cancellation).ConfigureAwait(false);
            if (cms.Length == 0) throw new StageException($"the external module signer ({command[0]}) wrote nothing on stdout; it must write a DER CMS signature");
            return cms;
        }
        finally
        {
            File.Delete(output);
        }
    }
}

/// <summary>
/// A key in a PKCS#11 token (HSM, smart card, SoftHSM), named by an RFC 7512 URI: signed through the
/// external signer hook with openssl's pkcs11 engine (Debian: libengine-pkcs11-openssl), which gives
/// the same CMS as sign-file. Put the PIN in a file (pin-source=file:...) rather than pin-value=...;
/// a pin-value is redacted from every log line.
/// </summary>
public static class Pkcs11Signer
{
    public static bool IsUri(string key) => key.StartsWith("pkcs11:", StringComparison.Ordinal);

    public static ExternalSignatureSource Create(IProcessRunner runner, string uri, string certificatePath, ModuleHash hash)
    {
        string[] argv = ["openssl", "cms", "-sign", "-binary", "-noattr", "-nocerts", "-nosmimecap", "-outform", "DER", "-md", "{hash}",
            "-signer", "{certificate}", "-engine", "pkcs11", "-keyform", "engine", "-inkey", uri];
        var secrets = uri.Split([';', '?', '&']).Where(p => p.StartsWith("pin-value=", StringComparison.Ordinal)).Select(p => p["pin-value=".Length..]).Where(p => p.Length > 0).ToList();
        return new ExternalSignatureSource(runner, argv, certificatePath, hash, secrets: [.. secrets, uri]);
    }
}
