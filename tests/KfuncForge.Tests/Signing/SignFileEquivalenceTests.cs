using System.Formats.Asn1;
using KfuncForge.Processes;
using KfuncForge.Signing;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Signing;

/// <summary>The signer against the kernel's own scripts/sign-file (Debian 12's linux-kbuild-6.1) on the same key, certificate and module.</summary>
public sealed class SignFileEquivalenceTests(TestKeys keys) : IClassFixture<TestKeys>
{
    [Theory]
    [InlineData("sha256", "pkcs8")]
    [InlineData("sha384", "pkcs8")]
    [InlineData("sha512", "pkcs8")]
    [InlineData("sha256", "pkcs1-pem")]
    [InlineData("sha512", "der")]
    [InlineData("sha256", "key-and-cert-in-one-pem")]
    public async Task Rsa_signature_is_byte_identical_to_sign_files(string hashName, string keyForm)
    {
        var (key, cert) = KeyIn(keyForm);
        var reference = keys.Combine($"ref-{hashName}-{keyForm}.ko");
        // sign-file reads PEM keys only; it always gets the PKCS#8 PEM (the same key).
        HostTools.Checked(HostTools.SignFile(), hashName, keys.RsaKey, keys.RsaCert, keys.Module, reference);

        var ours = keys.Combine($"ours-{hashName}-{keyForm}.ko");
        using var signingKey = SigningKey.Load(key, cert);
        var result = await new ModuleSigner(new KeySignatureSource(signingKey, KernelHashPolicy.Parse(hashName))).SignAsync(keys.Module, ours);

        Assert.Equal(await File.ReadAllBytesAsync(reference), await File.ReadAllBytesAsync(ours));
        Assert.Equal(hashName, result.Signature.Hash.Name);
        Assert.Equal(new FileInfo(keys.Module).Length, result.Signature.ContentLength);
    }

    [Theory]
    [InlineData("sha256", false)]
    [InlineData("sha384", true)]
    public async Task Ecdsa_signature_has_sign_files_exact_structure_and_each_verifies_the_others_way(string hashName, bool p384)
    {
        var (key, cert) = p384 ? (keys.Ec384Key, keys.Ec384Cert) : (keys.EcKey, keys.EcCert);
        var reference = keys.Combine($"ref-ec-{hashName}.ko");
        HostTools.Checked(HostTools.SignFile(), hashName, key, cert, keys.Module, reference);
        var ours = keys.Combine($"ours-ec-{hashName}.ko");
        using var signingKey = SigningKey.Load(key, cert);
        await new ModuleSigner(new KeySignatureSource(signingKey, KernelHashPolicy.Parse(hashName))).SignAsync(keys.Module, ours);

        // ECDSA signatures are randomised (OpenSSL 3.0 has no deterministic ECDSA): everything but the
        // signature value must match, and sign-file's signature must pass our verifier.
        var refBytes = await File.ReadAllBytesAsync(reference);
        var ourBytes = await File.ReadAllBytesAsync(ours);
        Assert.Equal(MaskSignature(refBytes), MaskSignature(ourBytes));
        ModuleSignatureVerifier.Verify(refBytes, signingKey.Certificate, KernelHashPolicy.Parse(hashName));
        ModuleSignatureVerifier.Verify(ourBytes, signingKey.Certificate, KernelHashPolicy.Parse(hashName));
        // And openssl verifies ours independently.
        var content = keys.Combine($"content-ec-{hashName}");
        var cms = keys.Combine($"ours-ec-{hashName}.p7s");
        var appended = ModuleSignatureTrailer.Parse(ourBytes);
        await File.WriteAllBytesAsync(content, ourBytes[..appended.ContentLength]);
        await File.WriteAllBytesAsync(cms, appended.Cms);
        HostTools.Checked("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", cms, "-content", content, "-certfile", cert, "-nointern", "-noverify", "-out", "/dev/null");
    }

    [Fact]
    public async Task Signing_the_same_module_twice_gives_identical_bytes()
    {
        using var key = SigningKey.Load(keys.RsaKey, keys.RsaCert);
        var signer = new ModuleSigner(new KeySignatureSource(key, ModuleHash.Sha256));
        var a = await signer.SignAsync(keys.Module, keys.Combine("twice-a.ko"));
        var b = await signer.SignAsync(keys.Module, keys.Combine("twice-b.ko"));
        Assert.Equal(a.Sha256, b.Sha256);
        Assert.Equal(await File.ReadAllBytesAsync(a.Path), await File.ReadAllBytesAsync(b.Path));
    }

    [Fact]
    public async Task The_external_signer_hook_gives_the_same_bytes_as_the_in_process_signer()
    {
        // A hook as a PKCS#11 setup would use it, here with openssl and a key file: module on stdin, DER CMS on stdout.
        string[] argv = ["openssl", "cms", "-sign", "-binary", "-noattr", "-nocerts", "-nosmimecap", "-outform", "DER", "-md", "{hash}", "-signer", "{certificate}", "-inkey", keys.RsaKey];
        var viaHook = keys.Combine("hook.ko");
        var source = new ExternalSignatureSource(ProcessRunner.Instance, argv, keys.RsaCert, ModuleHash.Sha256);
        Assert.Equal("sha256", source.Command[10]);
        await new ModuleSigner(source).SignAsync(keys.Module, viaHook);

        var inProcess = keys.Combine("in-process.ko");
        using var signingKey = SigningKey.Load(keys.RsaKey, keys.RsaCert);
        await new ModuleSigner(new KeySignatureSource(signingKey, ModuleHash.Sha256)).SignAsync(keys.Module, inProcess);
        Assert.Equal(await File.ReadAllBytesAsync(inProcess), await File.ReadAllBytesAsync(viaHook));
    }

    [Fact]
    public async Task A_development_key_made_in_CSharp_is_accepted_by_sign_file_with_identical_output()
    {
        using var temp = TestTree.Temp();
        var files = DevelopmentKey.Ensure(temp.Combine("keys"), TestTree.RepoRoot, rsaBits: 2048);
        var reference = temp.Combine("ref.ko");
        HostTools.Checked(HostTools.SignFile(), "sha256", files.KeyPath, files.CertificateDerPath, keys.Module, reference);
        var ours = temp.Combine("ours.ko");
        using var key = SigningKey.Load(files.KeyPath, files.CertificateDerPath);
        await new ModuleSigner(new KeySignatureSource(key, ModuleHash.Sha256)).SignAsync(keys.Module, ours);
        Assert.Equal(await File.ReadAllBytesAsync(reference), await File.ReadAllBytesAsync(ours));
    }

    private (string Key, string Cert) KeyIn(string form)
    {
        switch (form)
        {
            case "pkcs8": return (keys.RsaKey, keys.RsaCert);
            case "pkcs1-pem":
            {
                var path = keys.Combine("rsa.pkcs1.pem");
                if (!File.Exists(path)) HostTools.Checked("openssl", "rsa", "-in", keys.RsaKey, "-traditional", "-out", path);
                return (path, keys.RsaCert);
            }
            case "der":
            {
                var key = keys.Combine("rsa.key.der");
                var cert = keys.Combine("rsa.cert.der");
                if (!File.Exists(key)) HostTools.Checked("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", keys.RsaKey, "-outform", "DER", "-out", key);
                if (!File.Exists(cert)) HostTools.Checked("openssl", "x509", "-in", keys.RsaCert, "-outform", "DER", "-out", cert);
                return (key, cert);
            }
            case "key-and-cert-in-one-pem":
            {
                var path = keys.Combine("signing_key.pem");
                if (!File.Exists(path)) File.WriteAllText(path, File.ReadAllText(keys.RsaKey) + File.ReadAllText(keys.RsaCert));
                return (path, path);
            }
            default: throw new ArgumentOutOfRangeException(nameof(form));
        }
    }

    /// <summary>The signed module with the ECDSA signature value and the lengths that depend on it blanked out.</summary>
    private static string MaskSignature(byte[] signed)
    {
        var appended = ModuleSignatureTrailer.Parse(signed);
        var r = new AsnReader(appended.Cms, AsnEncodingRules.DER).ReadSequence();
        var oid = r.ReadObjectIdentifier();
        var sd = r.ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 0)).ReadSequence();
        var parts = new List<string> { oid };
        parts.Add(Convert.ToHexString(sd.ReadEncodedValue().Span)); // version
        parts.Add(Convert.ToHexString(sd.ReadEncodedValue().Span)); // digest algorithms
        parts.Add(Convert.ToHexString(sd.ReadEncodedValue().Span)); // encapContentInfo
        var si = sd.ReadSetOf().ReadSequence();
        Assert.False(sd.HasData);
        for (var i = 0; i < 4; i++) parts.Add(Convert.ToHexString(si.ReadEncodedValue().Span)); // version, sid, digest, signature algorithm
        si.ReadOctetString();
        Assert.False(si.HasData);
        parts.Add(Convert.ToHexString(signed.AsSpan(0, appended.ContentLength)));
        parts.Add(Convert.ToHexString(signed.AsSpan(signed.Length - ModuleSignatureTrailer.TrailerSize, 8)));
        parts.Add(Convert.ToHexString(signed.AsSpan(signed.Length - ModuleSignatureTrailer.Magic.Length)));
        return string.Join('|', parts);
    }
}
