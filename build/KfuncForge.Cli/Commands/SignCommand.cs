using System.Security.Cryptography.X509Certificates;
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
    public IReadOnlyCollection<string> Accepts => ["distro", "ko", "output", "key", "cert", "signer-command", "hash", "kernel-config", "kernel-release", "keys-dir", "verify-only",
        "module", "kernel", "container", "cache"];

    public int Run(CommandContext context)
    {
        var o = context.Options;
        if (o.Get("ko") is null) return SignBuilt(context);
        var ko = o.Get("ko")!;
        var distro = Catalog.Load(context.Tree).Distro(o.Get("distro", "debian12"));
        var hash = ResolveHash(context, distro.Signing.ModuleHash);

        if (o.Flag("verify-only"))
        {
            using var cert = ModuleCertificate(context, distro.Signing);
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

    /// <summary>
    /// Pipeline mode (no --ko): signs every module the Build stage produced for the distro, each with the
    /// digest its own kernel's config asks for, into &lt;out&gt;/sign/&lt;distro&gt;/&lt;release&gt;/&lt;module&gt;.ko, and verifies it.
    /// </summary>
    private static int SignBuilt(CommandContext context)
    {
        var distro = Catalog.Load(context.Tree).Distro(context.Options.Get("distro", "debian12"));
        // Exactly what the last build made (its build index), never a folder an earlier build left behind.
        var index = Vm.BuildIndex.Load(Vm.BuildIndex.DefaultPath(context.ArtifactsDir, distro.Id));
        var built = index.BuiltCells(context.ArtifactsDir, distro.Id)
            .Where(c => context.Options.Get("module") is not { } m || c.Module == m).ToList();
        foreach (var u in index.Unavailable) context.Out.WriteLine($"{u.Kernel}: unavailable, nothing to sign: {u.Reason}");
        if (built.Count == 0)
            throw new StageException($"no built modules for {distro.Id} in {Vm.BuildIndex.DefaultPath(context.ArtifactsDir, distro.Id)}; run the Build target first");
        var kernels = index.Kernels.Where(k => k.Entry is not null).Select(k => Kernels.KernelEntry.TryOpen(k.Entry!)).OfType<Kernels.KernelEntry>().ToDictionary(k => k.Release);
        var missing = built.Where(c => !kernels.ContainsKey(c.Release))
            .Select(c => new Problem(c.Directory, 0, 0, "", $"the kernel {c.Release} is not in the cache any more; run the Build target again")).ToList();
        if (missing.Count > 0) throw new InputException(missing);

        var requests = built.Select(c => new Pipeline.SignRequest(c.Release, c.Module, c.ModuleFile, c.SignedPath(context.ArtifactsDir), kernels[c.Release])).ToList();
        var signed = Pipeline.SignStage.RunAsync(requests, distro, KeyRequest(context, distro.Signing), context.Options.Get("hash"), ProcessRunner.Instance, context.Err.WriteLine)
            .GetAwaiter().GetResult();
        foreach (var s in signed)
            context.Out.WriteLine($"signed {s.Request.Release}/{s.Request.Module}: {s.Hash.Name}, {s.KeyDescription}, sha256 {s.Signed.Sha256} → {Path.GetRelativePath(context.ArtifactsDir, s.Signed.Path)}");
        return ExitCodes.Passed(index.Unavailable.Count > 0);
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

    /// <summary>
    /// The certificate the modules are checked against (Package) and enrolled with (Secure Boot boots): the configured
    /// one, else the development key's, which must exist by then (the Sign stage makes it).
    /// </summary>
    internal static X509Certificate2 ModuleCertificate(CommandContext context, Model.SigningSettings profile)
    {
        var request = KeyRequest(context, profile);
        var certPath = request.Certificate ?? Path.Combine(request.DevelopmentKeyDirectory, DevelopmentKey.CertificateDerFileName);
        // A configured certificate that is missing or wrong is reported by LoadCertificate itself; this is only the unconfigured case.
        if (request.Certificate is null && !File.Exists(certPath))
            throw Bad(certPath, "no module signing certificate is configured and no development key exists yet; sign the modules first (kfuncforge sign), or give --cert");
        return SigningKey.LoadCertificate(certPath);
    }

    private static InputException Bad(string where, string message) => new(new Problem(where, 0, 0, "", message));
}
