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
    public void The_provenance_records_the_kernel_packages_and_kbuild_environment_the_build_recorded()
    {
        using var temp = TestTree.Temp();
        var cell = temp.Combine("cell");
        TestTree.CopyDirectory(PackagingFixture.DebCell, cell);
        var headers = new KfuncForge.Kernels.PackageRecord("linux-headers-6.1.0-56-amd64", "6.1.192-2", "bookworm-security", new string('1', 64), 1841552);
        var image = new KfuncForge.Kernels.PackageRecord("linux-image-6.1.0-56-amd64", "6.1.192-2", "bookworm-security", new string('2', 64), 70550672);
        new KfuncForge.Compilation.BuildRecord
        {
            Kernel = "6.1-amd64",
            KernelPackages = [image, headers],
            KbuildEnvironment = KfuncForge.Compilation.ReproducibleKbuild.Environment(PackagingFixture.SourceDate, "/tmp/kfuncforge/kfunc_demo"),
        }.Save(cell);

        var r = TestTree.Run("package", "--root", Root, "--templates", TestTree.Templates, "--out", temp.Path, "--distro", "debian12", "--cell", cell, "--ko", f.SignedModule,
            "--cert", f.Keys.RsaCert, "--hash", "sha256", "--gnupg-home", f.Keyring.Home, "--source-date-epoch", PackagingFixture.SourceDateEpoch.ToString());

        Assert.True(r.ExitCode == 0, r.Stderr);
        var pool = Path.Combine(temp.Path, "repo", "debian12", "apt", "pool", "main", "kfunc-demo-modules-6.1-amd64");
        using var x = TestTree.Temp();
        HostTools.Checked("dpkg-deb", "-x", Path.Combine(pool, "kfunc-demo-modules-6.1-amd64_1.2.3_amd64.deb"), x.Path);
        foreach (var file in new[] { x.Combine("usr", "share", "doc", "kfunc-demo-modules-6.1-amd64", "kfuncforge", SupplyChain.ProvenanceFileName), Path.Combine(pool, "kfunc-demo-modules-6.1-amd64_1.2.3_amd64.deb.intoto.json") })
        {
            var build = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(file)).RootElement.GetProperty("predicate").GetProperty("buildDefinition");
            var deps = build.GetProperty("resolvedDependencies").EnumerateArray().ToList();
            foreach (var p in new[] { headers, image })
            {
                var dep = deps.Single(d => d.GetProperty("name").GetString() == "kernel-package:" + p.Package);
                Assert.Equal(p.Sha256, dep.GetProperty("digest").GetProperty("sha256").GetString());
                Assert.Equal($"pkg:deb/debian/{p.Package}@6.1.192-2?distribution=bookworm-security", dep.GetProperty("uri").GetString());
            }
            var env = build.GetProperty("internalParameters").GetProperty("build_environment");
            Assert.Equal("Tue Nov 14 22:13:20 UTC 2023", env.GetProperty("KBUILD_BUILD_TIMESTAMP").GetString());
            Assert.Equal("kfuncforge", env.GetProperty("KBUILD_BUILD_USER").GetString());
            Assert.Equal("-ffile-prefix-map=/tmp/kfuncforge/kfunc_demo/=", env.GetProperty("KCFLAGS").GetString());
        }
        var sbom = File.ReadAllText(Path.Combine(pool, "kfunc-demo-modules-6.1-amd64_1.2.3_amd64.deb.cdx.json"));
        Assert.Contains(new string('2', 64), sbom);
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
