using KfuncForge.Signing;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Signing;

/// <summary>The `kfuncforge sign` verb: key sources, hash from the kernel config, development key warning, verify-only, exit codes.</summary>
public sealed class SignCommandTests(TestKeys keys) : IClassFixture<TestKeys>
{
    private static readonly string Root = Path.Combine(TestTree.Golden, "two-sets", "input");

    private static string KernelConfig(TempDir temp, string hash, string sha512 = "y")
    {
        var path = temp.Combine("config-6.1.0-56-amd64");
        File.WriteAllText(path, $"#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86 6.1.158 Kernel Configuration\n#\nCONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_HASH=\"{hash}\"\nCONFIG_CRYPTO_SHA256=y\nCONFIG_CRYPTO_SHA512={sha512}\n# CONFIG_CRYPTO_SHA1 is not set\n");
        return path;
    }

    [Fact]
    public void Signs_with_the_hash_of_the_kernel_config_like_sign_file()
    {
        using var temp = TestTree.Temp();
        var output = temp.Combine("out.ko");
        var r = TestTree.Run("sign", "--root", Root, "--out", temp.Path, "--ko", keys.Module, "--output", output, "--key", keys.RsaKey, "--cert", keys.RsaCert, "--kernel-config", KernelConfig(temp, "sha512"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"signed {keys.Module} → {output}: sha512, key {keys.RsaKey}", r.Stdout);
        var reference = temp.Combine("ref.ko");
        HostTools.Checked(HostTools.SignFile(), "sha512", keys.RsaKey, keys.RsaCert, keys.Module, reference);
        Assert.Equal(File.ReadAllBytes(reference), File.ReadAllBytes(output));

        var ok = TestTree.Run("sign", "--root", Root, "--ko", output, "--cert", keys.RsaCert, "--verify-only", "--kernel-config", KernelConfig(temp, "sha512"));
        Assert.Equal(0, ok.ExitCode);
        Assert.StartsWith($"ok     {output}: signed with sha512 (Rsa) by 'CN=KfuncForge test RSA signing key'", ok.Stdout);
        var wrong = TestTree.Run("sign", "--root", Root, "--ko", output, "--cert", keys.OtherCert, "--verify-only", "--hash", "sha512");
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("signed by another certificate", wrong.Stderr);
    }

    [Fact]
    public void Signs_with_an_existing_DKMS_MOK_key_pair_like_sign_file()
    {
        // The pair DKMS makes on a Secure Boot host (/var/lib/dkms/mok.key, mok.pub), made the way dkms 3 makes it:
        // an unencrypted PEM key and a DER certificate named .pub. A host that enrolled it once loads our modules too.
        using var temp = TestTree.Temp();
        var (key, pub) = (temp.Combine("mok.key"), temp.Combine("mok.pub"));
        HostTools.Checked("openssl", "req", "-new", "-x509", "-nodes", "-days", "36500", "-subj", "/CN=DKMS module signing key",
            "-newkey", "rsa:2048", "-keyout", key, "-outform", "DER", "-out", pub);
        var output = temp.Combine("out.ko");

        var r = TestTree.Run("sign", "--root", Root, "--out", temp.Path, "--ko", keys.Module, "--output", output, "--key", key, "--cert", pub, "--kernel-config", KernelConfig(temp, "sha512"));

        Assert.True(r.ExitCode == 0, r.Stderr);
        var reference = temp.Combine("ref.ko");
        HostTools.Checked(HostTools.SignFile(), "sha512", key, pub, keys.Module, reference);
        Assert.Equal(File.ReadAllBytes(reference), File.ReadAllBytes(output));
        var ok = TestTree.Run("sign", "--root", Root, "--ko", output, "--cert", pub, "--verify-only", "--hash", "sha512");
        Assert.Equal(0, ok.ExitCode);
        Assert.Contains("by 'CN=DKMS module signing key'", ok.Stdout);
    }

    [Fact]
    public void A_hash_the_kernel_cannot_check_is_exit_code_2_naming_the_ones_it_can()
    {
        using var temp = TestTree.Temp();
        var r = TestTree.Run("sign", "--root", Root, "--out", temp.Path, "--ko", keys.Module, "--key", keys.RsaKey, "--cert", keys.RsaCert, "--kernel-config", KernelConfig(temp, "sha512", sha512: "m"));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: signing.module_hash: 'sha512' is not a hash the kernel 6.1.0-56-amd64 can check module signatures with; it accepts sha224, sha256\n1 problem found; nothing was written. Fix them and run again.\n", r.Stderr);
        Assert.False(Directory.Exists(temp.Combine("sign")));
    }

    [Fact]
    public void Without_a_configured_key_a_development_key_is_made_outside_the_tree_with_a_loud_warning()
    {
        using var temp = TestTree.Temp();
        var keysDir = temp.Combine("keys");
        var r = TestTree.Run("sign", "--root", Root, "--out", temp.Path, "--ko", keys.Module, "--hash", "sha256", "--keys-dir", keysDir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var der = Path.Combine(keysDir, DevelopmentKey.CertificateDerFileName);
        Assert.Contains("WARNING: no module signing key was configured", r.Stderr);
        Assert.Contains($"mokutil --import {der}", r.Stderr);
        var keyText = File.ReadAllText(Path.Combine(keysDir, DevelopmentKey.KeyFileName));
        foreach (var line in keyText.Split('\n').Where(l => l.Length > 40 && !l.StartsWith("-----", StringComparison.Ordinal)))
            Assert.DoesNotContain(line, r.Stdout + r.Stderr);
        var signed = Path.Combine(temp.Path, "sign", Path.GetFileName(keys.Module));
        var verify = TestTree.Run("sign", "--root", Root, "--ko", signed, "--verify-only", "--hash", "sha256", "--keys-dir", keysDir);
        Assert.True(verify.ExitCode == 0, verify.Stderr);
    }

    [Fact]
    public void A_password_protected_key_on_the_command_line_is_exit_code_2()
    {
        using var temp = TestTree.Temp();
        var encrypted = temp.Combine("enc.pem");
        HostTools.Checked("openssl", "pkcs8", "-topk8", "-in", keys.RsaKey, "-passout", "pass:secret", "-out", encrypted);
        var r = TestTree.Run("sign", "--root", Root, "--out", temp.Path, "--ko", keys.Module, "--hash", "sha256", "--key", encrypted, "--cert", keys.RsaCert);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"error: {encrypted}: is protected by a passphrase", r.Stderr);
    }

    [Fact]
    public void The_external_signer_hook_from_the_command_line()
    {
        using var temp = TestTree.Temp();
        var hook = $"[\"openssl\",\"cms\",\"-sign\",\"-binary\",\"-noattr\",\"-nocerts\",\"-outform\",\"DER\",\"-md\",\"{{hash}}\",\"-signer\",\"{{certificate}}\",\"-inkey\",\"{keys.RsaKey}\"]";
        var output = temp.Combine("hook.ko");
        var r = TestTree.Run("sign", "--root", Root, "--out", temp.Path, "--ko", keys.Module, "--output", output, "--hash", "sha384", "--cert", keys.RsaCert, "--signer-command", hook);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("external signer openssl", r.Stdout);
        var reference = temp.Combine("ref.ko");
        HostTools.Checked(HostTools.SignFile(), "sha384", keys.RsaKey, keys.RsaCert, keys.Module, reference);
        Assert.Equal(File.ReadAllBytes(reference), File.ReadAllBytes(output));

        var bad = TestTree.Run("sign", "--root", Root, "--out", temp.Path, "--ko", keys.Module, "--hash", "sha384", "--signer-command", hook);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("an external signer needs the certificate of its key", bad.Stderr);
    }
}
