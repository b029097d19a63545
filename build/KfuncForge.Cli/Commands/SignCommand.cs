using KfuncForge.Definitions;
using KfuncForge.Diagnostics;
using KfuncForge.Processes;
using KfuncForge.Signing;

namespace KfuncForge.Cli.Commands;

/// <summary>Signs a kernel module as scripts/sign-file does (or, with --verify-only, checks a signed one).</summary>
public sealed class SignCommand : ICommand
{
    public string Name => "sign";
    public string Summary => "sign a kernel module (.ko) with the module key, or --verify-only a signed one";
    public IReadOnlyCollection<string> Accepts => ["distro", "ko", "output", "key", "cert", "signer-command", "hash", "kernel-config", "kernel-release", "keys-dir", "verify-only"];

    public int Run(CommandContext context)
    {
        var o = context.Options;
        var ko = o.Get("ko") ?? throw Bad("--ko", "name the module to sign: --ko=<path to .ko>");
        var distro = Catalog.Load(context.Tree).Distro(o.Get("distro", "debian12"));
        var hash = ResolveHash(context, distro.Signing.ModuleHash);

        if (o.Flag("verify-only"))
        {
            var request = KeyRequest(context, distro.Signing);
            var certPath = request.Certificate ?? Path.Combine(request.DevelopmentKeyDirectory, DevelopmentKey.CertificateDerFileName);
            using var cert = SigningKey.LoadCertificate(certPath);
            try
            {
                var v = ModuleSignatureVerifier.Verify(File.ReadAllBytes(ko), cert, hash);
                context.Out.WriteLine($"ok     {ko}: signed with {v.Hash.Name} ({v.KeyKind}) by '{v.Signer}', {v.SignatureLength}-byte signature over {v.ContentLength} bytes");
                return ExitCodes.Ok;
            }
            catch (ModuleSignatureException e)
            {
                context.Err.WriteLine($"error: {ko}: {e.Message}");
                return ExitCodes.Failed;
            }
        }

        if (hash is null) throw Bad("--hash", "name the digest (--hash=sha256) or give the target kernel's config (--kernel-config=/boot/config-<release>)");
        using var keys = ModuleKeySetup.Resolve(KeyRequest(context, distro.Signing), hash, ProcessRunner.Instance);
        if (keys.Warning is not null) context.Err.WriteLine(keys.Warning);
        var output = o.Get("output") ?? Path.Combine(context.ArtifactsDir, "sign", Path.GetFileName(ko));
        var signed = new ModuleSigner(keys.Source).SignAsync(ko, output).GetAwaiter().GetResult();
        context.Out.WriteLine($"signed {ko} → {signed.Path}: {signed.Signature.Hash.Name}, {keys.Description}, sha256 {signed.Sha256}");
        return ExitCodes.Ok;
    }

    /// <summary>The digest: --hash, else the kernel config's CONFIG_MODULE_SIG_HASH (checked against what that kernel accepts), else the profile's fixed choice.</summary>
    internal static ModuleHash? ResolveHash(CommandContext context, string profileHash)
    {
        var o = context.Options;
        if (o.Get("kernel-config") is { } configPath)
        {
            var kernel = KernelConfigFile.Read(configPath, o.Get("kernel-release"));
            return KernelHashPolicy.Resolve(o.Get("hash") ?? profileHash, kernel, o.Get("hash") is null ? "signing.module_hash" : "--hash");
        }
        if (o.Get("hash") is { } name) return KernelHashPolicy.Parse(name);
        return profileHash == KernelHashPolicy.FromKernelConfig ? null : KernelHashPolicy.Parse(profileHash, "signing.module_hash");
    }

    /// <summary>Key sources in order: the command line, then the profile (paths relative to the source tree), then the development key.</summary>
    internal static ModuleKeyRequest KeyRequest(CommandContext context, Model.SigningSettings profile)
    {
        var o = context.Options;
        string? Rooted(string? p) => p is null || Pkcs11Signer.IsUri(p) ? p : Path.GetFullPath(Path.Combine(context.Tree.Root, p));
        var fromCommandLine = o.Get("key") is not null || o.Get("cert") is not null || o.Get("signer-command") is not null;
        var key = fromCommandLine ? o.Get("key") : Rooted(profile.ModuleKey);
        var cert = fromCommandLine ? o.Get("cert") : Rooted(profile.ModuleCertificate);
        var signer = o.Get("signer-command") is { } json ? ModuleKeySetup.ParseCommand(json, "--signer-command") : null;
        return new ModuleKeyRequest(key, cert, signer, o.Get("keys-dir") ?? DevelopmentKey.DefaultDirectory(), context.Tree.Root);
    }

    private static InputException Bad(string where, string message) => new(new Problem(where, 0, 0, "", message));
}
