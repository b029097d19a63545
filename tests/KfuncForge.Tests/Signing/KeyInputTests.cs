using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KfuncForge.Diagnostics;
using KfuncForge.Model;
using KfuncForge.Signing;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Signing;

/// <summary>Every bad key input gives one clear error that names the file and never its contents.</summary>
public sealed class KeyInputTests(TestKeys keys) : IClassFixture<TestKeys>
{
    private static string ErrorOf(string key, string cert)
    {
        var e = Assert.Throws<InputException>(() => SigningKey.Load(key, cert));
        var problem = Assert.Single(e.Problems);
        return problem.ToString();
    }

    [Fact]
    public void Missing_key() =>
        Assert.Equal($"{keys.Combine("absent.pem")}: the module signing key does not exist; give the file with --key/--cert or signing.module_key/module_certificate in the profile, or set neither to sign with the development key",
            ErrorOf(keys.Combine("absent.pem"), keys.RsaCert));

    [Fact]
    public void Unreadable_key_a_directory() =>
        Assert.StartsWith($"{keys.Combine("module")}: the module signing key is a directory, not a file; give the file with --key", ErrorOf(keys.Combine("module"), keys.RsaCert));

    [Fact]
    public void Unreadable_key_a_path_through_a_file()
    {
        // As root, permission bits do not stop a read; a path that passes through a regular file cannot be read by anyone.
        var path = Path.Combine(keys.Module, "key.pem");
        Assert.StartsWith($"{path}: the module signing key does not exist", ErrorOf(path, keys.RsaCert));
    }

    [Fact]
    public void Wrong_type_a_certificate_given_as_the_key() =>
        Assert.Contains("holds no private key (found 'CERTIFICATE')", ErrorOf(keys.RsaCert, keys.RsaCert));

    [Fact]
    public void Wrong_type_a_der_certificate_given_as_the_key()
    {
        var der = keys.Combine("cert-as-key.der");
        File.WriteAllBytes(der, SigningKey.LoadCertificate(keys.RsaCert).RawData);
        Assert.Contains("holds a certificate, not a private key", ErrorOf(der, keys.RsaCert));
    }

    [Fact]
    public void Wrong_type_random_bytes() =>
        Assert.Contains("is not a private key (neither a PEM file nor DER", ErrorOf(keys.Module, keys.RsaCert));

    [Fact]
    public void Wrong_type_an_ed25519_key()
    {
        var ed = keys.Combine("ed25519.pem");
        HostTools.Checked("openssl", "genpkey", "-algorithm", "ed25519", "-out", ed);
        Assert.Contains("is an Ed25519 key; the kernel checks module signatures made with RSA or ECDSA", ErrorOf(ed, keys.RsaCert));
    }

    [Fact]
    public void Wrong_type_an_ecdsa_key_on_a_curve_the_kernel_cannot_check()
    {
        var k = keys.Combine("secp256k1.pem");
        HostTools.Checked("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-out", k);
        Assert.Contains("the kernel checks module signatures on NIST P-256 and P-384 only", ErrorOf(k, keys.RsaCert));
    }

    [Fact]
    public void Wrong_type_a_certificate_file_that_is_not_a_certificate() =>
        Assert.Equal($"{keys.RsaKey}: is a PEM file without a CERTIFICATE block; give the X.509 certificate (PEM or DER) that matches the key", ErrorOf(keys.RsaKey, keys.RsaKey));

    [Fact]
    public void Wrong_type_a_certificate_file_with_binary_garbage() =>
        Assert.Equal($"{keys.Module}: is not an X.509 certificate (neither PEM nor DER); give the certificate that matches the key", ErrorOf(keys.RsaKey, keys.Module));

    [Theory]
    [InlineData("pkcs8-pem")]
    [InlineData("traditional-pem")]
    [InlineData("pkcs8-der")]
    public void Password_protected_key(string form)
    {
        var path = keys.Combine($"encrypted-{form}");
        switch (form)
        {
            case "pkcs8-pem": HostTools.Checked("openssl", "pkcs8", "-topk8", "-in", keys.RsaKey, "-passout", "pass:secret", "-out", path); break;
            case "traditional-pem": HostTools.Checked("openssl", "rsa", "-in", keys.RsaKey, "-traditional", "-aes256", "-passout", "pass:secret", "-out", path); break;
            default: HostTools.Checked("openssl", "pkcs8", "-topk8", "-in", keys.RsaKey, "-passout", "pass:secret", "-outform", "DER", "-out", path); break;
        }
        Assert.StartsWith($"{path}: is protected by a passphrase; KfuncForge takes no passphrases.", ErrorOf(path, keys.RsaCert));
    }

    [Fact]
    public void Certificate_that_does_not_match_the_key()
    {
        var error = ErrorOf(keys.RsaKey, keys.OtherCert);
        Assert.StartsWith($"{keys.OtherCert}: the certificate (subject 'CN=KfuncForge test RSA signing key', serial ", error);
        Assert.EndsWith($"does not belong to the key '{keys.RsaKey}': their public keys differ. Give the certificate that was issued for this key", error);
    }

    [Fact]
    public void Errors_never_carry_key_material()
    {
        var keyText = File.ReadAllText(keys.RsaKey);
        var body = keyText.Split('\n')[1];
        foreach (var error in new[] { ErrorOf(keys.RsaKey, keys.OtherCert), ErrorOf(keys.RsaKey, keys.RsaKey), ErrorOf(keys.RsaCert, keys.RsaCert) })
            Assert.DoesNotContain(body, error);
        using var key = SigningKey.Load(keys.RsaKey, keys.RsaCert);
        Assert.DoesNotContain(body, key.ToString());
    }

    [Fact]
    public void A_hash_the_kernel_does_not_support_names_the_ones_it_does()
    {
        var kernel = Kernel("6.1.0-56-amd64", ("CONFIG_MODULE_SIG_HASH", "\"sha256\""), ("CONFIG_CRYPTO_SHA256", "y"), ("CONFIG_CRYPTO_SHA512", "m"), ("CONFIG_CRYPTO_SHA1", "y"));
        var e = Assert.Throws<InputException>(() => KernelHashPolicy.Resolve("sha512", kernel));
        Assert.Equal("signing.module_hash: 'sha512' is not a hash the kernel 6.1.0-56-amd64 can check module signatures with; it accepts sha1, sha224, sha256", e.Problems[0].ToString());
        e = Assert.Throws<InputException>(() => KernelHashPolicy.Resolve("md5", kernel));
        Assert.Contains("'md5' is not a hash the kernel 6.1.0-56-amd64 can check", e.Message);
        e = Assert.Throws<InputException>(() => KernelHashPolicy.Parse("md5"));
        Assert.Equal("--hash: 'md5' is not a hash the kernel can check module signatures with; kernels accept sha1, sha224, sha256, sha384, sha512, sha3-256, sha3-384, sha3-512 (each kernel a subset: see its Kconfig)", e.Problems[0].ToString());
    }

    [Fact]
    public void The_hash_comes_from_the_kernels_config_when_the_profile_says_so()
    {
        var kernel = Kernel("6.12.117+deb12-amd64", ("CONFIG_MODULE_SIG_HASH", "\"sha512\""), ("CONFIG_CRYPTO_SHA256", "y"), ("CONFIG_CRYPTO_SHA512", "y"), ("CONFIG_CRYPTO_SHA1", "y"));
        Assert.Equal(ModuleHash.Sha512, KernelHashPolicy.Resolve(KernelHashPolicy.FromKernelConfig, kernel));
        // 6.11 dropped SHA-1 from the kernel's choice.
        Assert.DoesNotContain(ModuleHash.Sha1, KernelHashPolicy.Allowed(kernel));
        var unknown = new KernelFacts("6.1-amd64", new KernelVersion(6, 1, 0), "amd64", null, null, null);
        var e = Assert.Throws<InputException>(() => KernelHashPolicy.Resolve(KernelHashPolicy.FromKernelConfig, unknown));
        Assert.Contains("the config of 6.1-amd64 is not known yet", e.Message);
        var unsigned = Kernel("6.1.0-56-amd64", ("CONFIG_CRYPTO_SHA256", "y"));
        Assert.Contains("has no CONFIG_MODULE_SIG_HASH", Assert.Throws<InputException>(() => KernelHashPolicy.Resolve(KernelHashPolicy.FromKernelConfig, unsigned)).Message);
    }

    [Fact]
    public void Sha224_is_refused_by_the_in_process_signer_with_the_way_out()
    {
        using var key = SigningKey.Load(keys.RsaKey, keys.RsaCert);
        var e = Assert.Throws<InputException>(() => new KeySignatureSource(key, ModuleHash.Sha224));
        Assert.Contains("sha224 is accepted by the kernel but not by KfuncForge's in-process signer", e.Message);
    }

    [Fact]
    public void The_development_key_has_the_kernels_signing_extensions_and_stays_outside_the_tree()
    {
        using var temp = TestTree.Temp();
        var files = DevelopmentKey.Ensure(temp.Combine("keys"), TestTree.RepoRoot, rsaBits: 2048);
        Assert.True(files.Created);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(files.KeyPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(files.Directory));
        using var cert = X509CertificateLoader.LoadCertificateFromFile(files.CertificateDerPath);
        var bc = cert.Extensions.OfType<X509BasicConstraintsExtension>().Single();
        Assert.True(bc.Critical);
        Assert.False(bc.CertificateAuthority);
        Assert.Equal(X509KeyUsageFlags.DigitalSignature, cert.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages);
        Assert.Equal("1.3.6.1.5.5.7.3.3", Assert.Single(cert.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>()).Value);
        var ski = cert.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifier;
        Assert.Equal(ski, Convert.ToHexString(cert.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().Single().KeyIdentifier!.Value.Span));
        Assert.StartsWith("KfuncForge development module signing key ", cert.GetNameInfo(X509NameType.SimpleName, false));

        var warning = files.Warning(cert);
        Assert.Contains($"mokutil --import {files.CertificateDerPath}", warning);
        Assert.Contains("WARNING", warning);

        var again = DevelopmentKey.Ensure(temp.Combine("keys"), TestTree.RepoRoot);
        Assert.False(again.Created);
        Assert.Equal(File.ReadAllBytes(files.CertificateDerPath), File.ReadAllBytes(again.CertificateDerPath));

        var e = Assert.Throws<InputException>(() => DevelopmentKey.Ensure(Path.Combine(TestTree.RepoRoot, "artifacts", "keys"), TestTree.RepoRoot));
        Assert.Contains("must not be kept inside the source tree", e.Message);
    }

    private static KernelFacts Kernel(string release, params (string Key, string Value)[] config) =>
        new(release, KernelVersion.Parse(release), "amd64", config.ToDictionary(c => c.Key, c => c.Value), null, null);
}
