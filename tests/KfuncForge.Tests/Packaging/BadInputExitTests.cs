using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Packaging;

/// <summary>
/// The bad-input list, through the command line the Cake targets run: every case is exit code 2,
/// one error that names the file or field, says what to do, carries no stack trace, and nothing is
/// written (no signed module, no repository).
/// </summary>
public sealed class BadInputExitTests(PackagingFixture f) : IClassFixture<PackagingFixture>
{
    private static readonly string Root = Path.Combine(TestTree.Golden, "two-sets", "input");

    public static TheoryData<string> SignCases => ["missing-key", "directory-key", "certificate-as-key", "random-bytes-key", "passphrase-key", "certificate-of-another-key", "hash-not-in-kernel", "hash-unknown"];

    public static TheoryData<string> PackageCases => ["missing-certificate", "key-as-certificate", "hash-unknown", "hash-not-in-kernel", "debian-name"];

    private (string Where, string Says, string[] Args) Sign(string name, TempDir temp)
    {
        var k = f.Keys;
        var junk = temp.Combine("junk.pem");
        File.WriteAllBytes(junk, [.. Enumerable.Range(0, 512).Select(i => (byte)(i * 37 % 251))]);
        var encrypted = temp.Combine("encrypted.pem");
        if (name == "passphrase-key") HostTools.Checked("openssl", "pkcs8", "-topk8", "-in", k.RsaKey, "-passout", "pass:secret", "-out", encrypted);
        var config = temp.Combine("config-6.1.0-56-amd64");
        File.WriteAllText(config, "CONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_HASH=\"sha256\"\nCONFIG_CRYPTO_SHA256=y\nCONFIG_CRYPTO_SHA512=m\n");
        return name switch
        {
            "missing-key" => (temp.Combine("absent.pem"), "does not exist; give the file with --key", ["--key", temp.Combine("absent.pem"), "--cert", k.RsaCert, "--hash", "sha256"]),
            "directory-key" => (temp.Path, "is a directory, not a file; give the file with --key", ["--key", temp.Path, "--cert", k.RsaCert, "--hash", "sha256"]),
            "certificate-as-key" => (k.RsaCert, "holds no private key (found 'CERTIFICATE'); give an RSA or ECDSA private key (PEM or DER)", ["--key", k.RsaCert, "--cert", k.RsaCert, "--hash", "sha256"]),
            "random-bytes-key" => (junk, "is not a private key (neither a PEM file nor DER PKCS#8/PKCS#1/SEC1); give an RSA or ECDSA private key", ["--key", junk, "--cert", k.RsaCert, "--hash", "sha256"]),
            "passphrase-key" => (encrypted, "is protected by a passphrase; KfuncForge takes no passphrases. Use an unencrypted key", ["--key", encrypted, "--cert", k.RsaCert, "--hash", "sha256"]),
            "certificate-of-another-key" => (k.OtherCert, "their public keys differ. Give the certificate that was issued for this key", ["--key", k.RsaKey, "--cert", k.OtherCert, "--hash", "sha256"]),
            "hash-not-in-kernel" => ("--hash", "'sha512' is not a hash the kernel 6.1.0-56-amd64 can check module signatures with; it accepts sha224, sha256", ["--key", k.RsaKey, "--cert", k.RsaCert, "--hash", "sha512", "--kernel-config", config]),
            "hash-unknown" => ("--hash", "'md5' is not a hash the kernel can check module signatures with; kernels accept", ["--key", k.RsaKey, "--cert", k.RsaCert, "--hash", "md5"]),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }

    private static void Clear(CliResult r, string where, string says)
    {
        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        Assert.True(r.Stderr.StartsWith($"error: {where}: ", StringComparison.Ordinal), r.Stderr);
        Assert.True(r.Stderr.Contains(says, StringComparison.Ordinal), r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr); // no stack trace
        Assert.DoesNotContain("Exception", r.Stderr);
    }

    [Theory]
    [MemberData(nameof(SignCases))]
    public void Sign_refuses_bad_key_input_with_exit_2_and_writes_nothing(string name)
    {
        using var temp = TestTree.Temp();
        var (where, says, args) = Sign(name, temp);
        var output = temp.Combine("out", "signed.ko");

        var r = TestTree.Run(["sign", "--root", Root, "--out", temp.Combine("out"), "--ko", f.UnsignedModule, "--output", output, .. args]);

        Clear(r, where, says);
        Assert.False(Directory.Exists(temp.Combine("out")) && Directory.EnumerateFileSystemEntries(temp.Combine("out"), "*", SearchOption.AllDirectories).Any(), "something was written");
    }

    [Theory]
    [MemberData(nameof(PackageCases))]
    public void Package_refuses_bad_input_with_exit_2_and_publishes_nothing(string name)
    {
        using var temp = TestTree.Temp();
        var cell = PackagingFixture.DebCell;
        var config = temp.Combine("config-6.1.0-56-amd64");
        File.WriteAllText(config, "CONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_HASH=\"sha512\"\nCONFIG_CRYPTO_SHA256=y\nCONFIG_CRYPTO_SHA512=m\n");
        if (name == "debian-name")
        {
            cell = temp.Combine("cell");
            TestTree.CopyDirectory(PackagingFixture.DebCell, cell);
            // Re-render-proof edit: the name is changed in the rendered file and in the render manifest's hash, as a broken template would.
            var control = Path.Combine(cell, "debian", "control");
            File.WriteAllText(control, File.ReadAllText(control).Replace("Package: kfunc-demo-modules-6.1-amd64", "Package: Kfunc_Demo-6.1"));
            var manifest = Path.Combine(cell, "kfuncforge-render.json");
            var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(PackagingFixture.DebCell, "debian", "control"))));
            var edited = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(control)));
            File.WriteAllText(manifest, File.ReadAllText(manifest).Replace(sha, edited));
        }
        var (where, says, args) = name switch
        {
            "missing-certificate" => (temp.Combine("absent.pem"), "does not exist; give the file with --key/--cert", new[] { "--cert", temp.Combine("absent.pem"), "--hash", "sha256" }),
            "key-as-certificate" => (f.Keys.RsaKey, "is a PEM file without a CERTIFICATE block; give the X.509 certificate", ["--cert", f.Keys.RsaKey, "--hash", "sha256"]),
            "hash-unknown" => ("--hash", "'md5' is not a hash the kernel can check module signatures with", ["--cert", f.Keys.RsaCert, "--hash", "md5"]),
            "hash-not-in-kernel" => ("signing.module_hash", "'sha512' is not a hash the kernel 6.1.0-56-amd64 can check module signatures with; it accepts sha224, sha256", ["--cert", f.Keys.RsaCert, "--kernel-config", config]),
            "debian-name" => (Path.Combine(cell, "debian", "control"), "'Kfunc_Demo-6.1' is not a valid Debian package name", ["--cert", f.Keys.RsaCert, "--hash", "sha256"]),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };

        var r = TestTree.Run(["package", "--root", Root, "--templates", TestTree.Templates, "--out", temp.Combine("out"), "--distro", "debian12", "--cell", cell, "--ko", f.SignedModule,
            "--gnupg-home", f.Keyring.Home, "--source-date-epoch", PackagingFixture.SourceDateEpoch.ToString(), .. args]);

        Clear(r, where, says);
        Assert.False(Directory.Exists(temp.Combine("out", "repo")), "a repository was published");
    }
}
