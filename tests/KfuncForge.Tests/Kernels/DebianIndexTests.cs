using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Tests.Containers;

namespace KfuncForge.Tests.Kernels;

public sealed class DebVersionTests
{
    [Theory]
    [InlineData("6.1.192-2", "6.1.176-1", 1)]
    [InlineData("6.12.117-1~deb12u1", "6.12.117-1", -1)]
    [InlineData("6.12.95-1~bpo12+1", "6.12.117-1~deb12u1", -1)]
    [InlineData("1:1.0", "2.0", 1)]
    [InlineData("1.0a", "1.0", 1)]
    [InlineData("1.0~rc1", "1.0", -1)]
    [InlineData("1.10", "1.9", 1)]
    [InlineData("1.0-1", "1.0-1", 0)]
    public void Orders_like_dpkg(string a, string b, int sign) => Assert.Equal(sign, Math.Sign(DebVersion.Comparer.Compare(a, b)));
}

public sealed class KernelReleaseTests
{
    [Theory]
    [InlineData("6.1.0-56-amd64", "amd64", "6.1.0-56", "6.1", "6.1.0")]
    [InlineData("6.12.117+deb12-amd64", "amd64", "6.12.117+deb12", "6.12", "6.12.117")]
    [InlineData("7.3.4+deb13-cloud-amd64", "cloud-amd64", "7.3.4+deb13", "7.3", "7.3.4")]
    public void Splits_a_release_into_package_placeholders(string release, string flavour, string abi, string line, string version)
    {
        var r = KernelRelease.TryParse(release, flavour)!;
        Assert.Equal(abi, r.Abi);
        Assert.Equal(line, r.Line);
        Assert.Equal(version, r.Placeholders["version"]);
        Assert.Equal($"linux-headers-{abi}-common", r.Expand("linux-headers-{abi}-common"));
    }

    [Fact]
    public void A_different_flavour_does_not_match()
    {
        Assert.Null(KernelRelease.TryParse("6.1.0-56-cloud-amd64", "amd64"));
        Assert.Equal("cloud-amd64", KernelRelease.TryParse("6.1.0-56-cloud-amd64")!.Flavour);
    }
}

public sealed class KernelResolverTests
{
    private const string Sha = "0000000000000000000000000000000000000000000000000000000000000000";

    private static IndexEntry E(string package, string version, string suite, string depends = "") =>
        new(package, version, "amd64", "linux", $"pool/main/l/linux/{package}_{version}_amd64.deb", Sha, 1000, depends, suite);

    private static DebianIndex Index() => new(
    [
        E("linux-headers-6.1.0-50-amd64", "6.1.176-1", "bookworm", "linux-headers-6.1.0-50-common (= 6.1.176-1), linux-kbuild-6.1 (>= 6.1.176-1)"),
        E("linux-headers-6.1.0-50-common", "6.1.176-1", "bookworm"),
        E("linux-image-6.1.0-50-amd64", "6.1.176-1", "bookworm"),
        E("linux-kbuild-6.1", "6.1.176-1", "bookworm"),
        E("linux-headers-6.1.0-56-amd64", "6.1.192-2", "bookworm-security", "linux-headers-6.1.0-56-common (= 6.1.192-2), linux-kbuild-6.1 (>= 6.1.192-2)"),
        E("linux-headers-6.1.0-56-cloud-amd64", "6.1.192-2", "bookworm-security"),
        E("linux-headers-6.1.0-56-common", "6.1.192-2", "bookworm-security"),
        E("linux-image-6.1.0-56-amd64", "6.1.192-2", "bookworm-security"),
        E("linux-kbuild-6.1", "6.1.192-2", "bookworm-security"),
        E("linux-headers-6.12.117+deb12-amd64", "6.12.117-1~deb12u1", "bookworm-security",
            "linux-base (>= 4.12~), linux-headers-6.12.117+deb12-common (= 6.12.117-1~deb12u1), linux-image-6.12.117+deb12-amd64 (= 6.12.117-1~deb12u1) | linux-image-6.12.117+deb12-amd64-unsigned (= 6.12.117-1~deb12u1), linux-kbuild-6.12.117+deb12, gcc-12"),
        E("linux-headers-6.12.117+deb12-common", "6.12.117-1~deb12u1", "bookworm-security"),
        E("linux-kbuild-6.12.117+deb12", "6.12.117-1~deb12u1", "bookworm-security"),
        E("linux-image-6.12.117+deb12-amd64", "6.12.117-1~deb12u1", "bookworm-security"),
        E("linux-headers-6.12.95+deb12-amd64", "6.12.95-1~bpo12+1", "bookworm-backports", "linux-kbuild-6.12.95+deb12"),
        E("linux-headers-7.3.4+deb13-amd64", "7.3.4-1~bpo13+1", "trixie-backports", "linux-headers-7.3.4+deb13-common, linux-kbuild-7.3.4+deb13"),
        E("linux-headers-7.3.4+deb13-common", "7.3.4-1~bpo13+1", "trixie-backports"),
        E("linux-kbuild-7.3.4+deb13", "7.3.4-1~bpo13+1", "trixie-backports"),
        E("linux-image-7.3.4+deb13-amd64", "7.3.4-1~bpo13+1", "trixie-backports"),
        E("linux-binary-7.3.4+deb13-amd64", "7.3.4-1~bpo13+1", "trixie-backports"),
        E("linux-headers-6.18.15+deb13-amd64", "6.18.15-1~bpo13+1", "trixie-backports", "linux-headers-6.18.15+deb13-common, linux-kbuild-6.18.15+deb13"),
        E("linux-headers-6.18.15+deb13-common", "6.18.15-1~bpo13+1", "trixie-backports"),
        E("linux-kbuild-6.18.15+deb13", "6.18.15-1~bpo13+1", "trixie-backports"),
        E("linux-image-6.18.15+deb13-amd64", "6.18.15-1~bpo13+1", "trixie-backports"),
        E("linux-headers-6.19.6+deb13-amd64", "6.19.6-1~bpo13+1", "trixie-backports", "linux-headers-6.19.6+deb13-common, linux-kbuild-6.19.6+deb13"),
        E("linux-headers-6.19.6+deb13-common", "6.19.6-1~bpo13+1", "trixie-backports"),
        E("linux-kbuild-6.19.6+deb13", "6.19.6-1~bpo13+1", "trixie-backports"),
        E("linux-binary-6.19.6+deb13-amd64", "6.19.6-1~bpo13+1", "trixie-backports"),
    ]);

    private static KernelTarget Newest(int n, string suite, int major, int minor) => new(null, n, "amd64", suite, new KernelVersion(major, minor, 0));

    [Fact]
    public void Newest_of_a_suite_includes_its_security_updates()
    {
        var k = Assert.Single(KernelResolver.Resolve(ContainerCommandTests.Debian12(), Newest(1, "bookworm", 6, 1), Index()).Kernels);
        Assert.Equal("6.1.0-56-amd64", k.Release.Release);
        Assert.Equal("bookworm-security", k.Suite);
        Assert.Equal(new KernelVersion(6, 1, 192), k.UpstreamVersion);
        Assert.Equal(["linux-headers-6.1.0-56-amd64", "linux-headers-6.1.0-56-common", "linux-kbuild-6.1"], k.Headers.Select(h => h.Package));
        Assert.Equal("6.1.192-2", k.Headers[2].Version); // the kbuild of the kernel's own version, not the older one
        Assert.Equal("linux-image-6.1.0-56-amd64", k.Image.Package);
        Assert.Equal("/boot/vmlinuz-6.1.0-56-amd64", k.ImagePath);
        Assert.Equal("/usr/src/linux-headers-6.1.0-56-amd64", k.HeadersDir);
    }

    [Fact]
    public void Newest_two_orders_by_package_version()
    {
        var ks = KernelResolver.Resolve(ContainerCommandTests.Debian12(), Newest(2, "bookworm", 6, 1), Index()).Kernels;
        Assert.Equal(["6.1.0-56-amd64", "6.1.0-50-amd64"], ks.Select(k => k.Release.Release));
    }

    [Fact]
    public void A_kbuild_package_named_by_abi_is_found_through_the_headers_depends()
    {
        var k = Assert.Single(KernelResolver.Resolve(ContainerCommandTests.Debian12(), Newest(1, "bookworm-backports", 6, 12), Index()).Kernels);
        Assert.Equal("6.12.117+deb12-amd64", k.Release.Release); // backports' own 6.12.95 is older than the security update
        Assert.Equal("linux-kbuild-6.12.117+deb12", k.Headers[2].Package);
        Assert.Contains(k.Notes, n => n.Contains("linux-kbuild-6.12 is not in the index"));
    }

    [Fact]
    public void From_6_19_the_image_comes_from_linux_binary()
    {
        var k = Assert.Single(KernelResolver.Resolve(ContainerCommandTests.Debian12(), Newest(1, "trixie-backports", 7, 3), Index()).Kernels);
        Assert.Equal("linux-binary-7.3.4+deb13-amd64", k.Image.Package);
        Assert.Equal("/usr/lib/modules/7.3.4+deb13-amd64/vmlinuz", k.ImagePath);
    }

    [Theory]
    [InlineData(6, 18, "linux-image-6.18.15+deb13-amd64")]
    [InlineData(6, 19, "linux-binary-6.19.6+deb13-amd64")]
    public void The_image_package_changes_at_6_19(int major, int minor, string image)
    {
        var k = Assert.Single(KernelResolver.Resolve(ContainerCommandTests.Debian12(), Newest(1, "trixie-backports", major, minor), Index()).Kernels);
        Assert.Equal(image, k.Image.Package);
    }

    [Fact]
    public void A_release_not_in_the_index_names_the_ones_that_are()
    {
        var e = Assert.Throws<InputException>(() => KernelFetcher.Select(ContainerCommandTests.Debian12(), Index(), "6.1.0-999-amd64"));
        Assert.Contains("6.1.0-999-amd64 is not in the debian12 package index", e.Message);
        Assert.Contains("6.1.0-56-amd64", e.Message);
        Assert.Contains("6.1.0-50-amd64", e.Message);
    }

    [Fact]
    public void An_older_release_of_a_target_line_can_be_pinned()
    {
        var k = Assert.Single(KernelFetcher.Select(ContainerCommandTests.Debian12(), Index(), "6.1.0-50-amd64").Kernels);
        Assert.Equal("6.1.176-1", k.Headers[0].Version);
    }

    [Fact]
    public void A_suite_missing_from_the_index_says_to_add_it()
    {
        var gone = Assert.Single(KernelResolver.Resolve(ContainerCommandTests.Debian12(), Newest(1, "bullseye", 5, 10), Index()).Unavailable);
        Assert.Contains("extra_suites", gone.Reason);
    }

    [Fact]
    public void Packages_files_are_parsed_keeping_only_linux_packages()
    {
        var text = """
            Package: gcc-12
            Version: 12.2.0-14
            SHA256: aa
            Filename: pool/main/g/gcc-12/gcc-12_12.2.0-14_amd64.deb

            Package: linux-kbuild-6.1
            Source: linux (6.1.192-2)
            Version: 6.1.192-2
            Architecture: amd64
            Depends: libc6 (>= 2.34), libelf1 (>= 0.144)
            Description: Kbuild infrastructure
             continuation line: ignored
            Filename: pool/updates/main/l/linux/linux-kbuild-6.1_6.1.192-2_amd64.deb
            Size: 1568188
            SHA256: 7e852381f1c455a439230ea3261e3669f2307afdbed57db0fc08ed8ffa689f60
            """;
        var e = Assert.Single(DebianIndex.Parse(new StringReader(text), "bookworm-security", "linux-"));
        Assert.Equal(("linux-kbuild-6.1", "6.1.192-2", "linux", 1568188L, "bookworm-security"), (e.Package, e.Version, e.Source, e.Size, e.Suite));
        Assert.Equal(["libc6", "libelf1"], e.DependencyNames);
        Assert.Equal("linux-kbuild-6.1=6.1.192-2", e.Pin);
    }

    [Fact]
    public void List_files_give_their_suite()
    {
        using var t = new Support.TempDir();
        t.Write("mirror.invalid_debian-security_dists_bookworm-security_main_binary-amd64_Packages", "Package: linux-kbuild-6.1\nVersion: 1\nSHA256: ab\nFilename: f\n");
        t.Write("mirror.invalid_debian_dists_bookworm_InRelease", "ignored");
        var index = DebianIndex.Load(t.Path);
        Assert.Equal(["bookworm-security"], index.Suites);
    }
}
