using KfuncForge.Packaging;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Packaging;

/// <summary>The `kfuncforge package` verb over a rendered cell and a signed module.</summary>
public sealed class PackageCommandTests(PackagingFixture f) : IClassFixture<PackagingFixture>
{
    private static readonly string Root = Path.Combine(TestTree.Golden, "two-sets", "input");

    private CliResult Package(TempDir temp, string ko, params string[] extra) => TestTree.Run(
    [
        "package", "--root", Root, "--templates", TestTree.Templates, "--out", temp.Path, "--distro", "debian12", "--cell", PackagingFixture.DebCell, "--ko", ko,
        "--cert", f.Keys.RsaCert, "--hash", "sha256", "--gnupg-home", f.Keyring.Home, "--source-date-epoch", PackagingFixture.SourceDateEpoch.ToString(),
        .. extra,
    ]);

    [Fact]
    public void Packages_publishes_a_signed_apt_repository_and_says_where_the_public_key_is()
    {
        using var temp = TestTree.Temp();
        var r = Package(temp, f.SignedModule);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var repo = Path.Combine(temp.Path, "repo", "debian12", "apt");
        Assert.Contains("package kfunc-demo-modules-6.1-amd64_1.2.3_amd64.deb: sha256 ", r.Stdout);
        Assert.Contains("verified /lib/modules/6.1-amd64/updates/kfuncforge/kfunc_demo.ko: sha256 signature by 'CN=KfuncForge test RSA signing key'", r.Stdout);
        Assert.Contains($"published {repo} (signed by {f.PackageKey.Fingerprint}; public key: {Path.Combine(repo, AptRepository.KeyringFileName)})", r.Stdout);
        Assert.Contains("WARNING: no package signing key was configured", r.Stderr);
        Assert.True(File.Exists(Path.Combine(repo, "dists", "debian12", "InRelease")));

        // The provenance names the definitions and templates that made the package.
        using var x = TestTree.Temp();
        HostTools.Checked("dpkg-deb", "-x", Path.Combine(repo, "pool", "main", "kfunc-demo-modules-6.1-amd64", "kfunc-demo-modules-6.1-amd64_1.2.3_amd64.deb"), x.Path);
        var provenance = File.ReadAllText(x.Combine("usr", "share", "doc", "kfunc-demo-modules-6.1-amd64", "kfuncforge", SupplyChain.ProvenanceFileName));
        Assert.Contains("\"definition:distros/debian12.yaml\"", provenance);
        Assert.Contains("\"definition:kfunc-modules/kfunc_demo/module.yaml\"", provenance);
        Assert.Contains("\"template:templates/deb/control.sbn\"", provenance);
        Assert.Contains("\"dpkg-deb\": \"Debian 'dpkg-deb' package archive backend version", provenance);

        foreach (var (what, needle) in SupplyChainTests.SecretNeedles(f))
            Assert.False((r.Stdout + r.Stderr).Contains(System.Text.Encoding.Latin1.GetString(needle), StringComparison.Ordinal), what);
    }

    [Fact]
    public void An_unsigned_module_is_exit_code_1_and_nothing_is_published()
    {
        using var temp = TestTree.Temp();
        var r = Package(temp, f.UnsignedModule);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("error: refusing to package: 1 module(s) not signed by", r.Stderr);
        Assert.False(Directory.Exists(Path.Combine(temp.Path, "repo", "debian12", "apt")));
    }

    [Fact]
    public void A_cell_rendered_for_another_distro_is_exit_code_2()
    {
        using var temp = TestTree.Temp();
        var r = TestTree.Run("package", "--root", Root, "--out", temp.Path, "--distro", "rhel9", "--cell", PackagingFixture.DebCell, "--ko", f.SignedModule, "--cert", f.Keys.RsaCert, "--gnupg-home", f.Keyring.Home);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("was rendered for debian12, not rhel9", r.Stderr);
    }
}
