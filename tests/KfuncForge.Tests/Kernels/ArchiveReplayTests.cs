using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Kernels;

/// <summary>
/// The selection rules replayed over the recorded index of 2026-12-02 (tests/fixtures/debian-index/):
/// bookworm-security held 6.12.118+deb12's headers, kbuild and -unsigned image but not its signed image.
/// These pin what the resolver does with an archive caught mid-publication, on any later day.
/// </summary>
public sealed class ArchiveReplayTests
{
    private static DebianIndex Recorded() => DebianIndex.Load(Path.Combine(TestTree.Fixtures, "debian-index", "2026-12-02"));

    private static DebianIndex Without(DebianIndex index, params string[] packages) =>
        new(index.Entries.Where(e => !packages.Contains(e.Package)).ToList());

    private static KernelTarget Newest(int n, string suite, int major, int minor) => new(null, n, "amd64", suite, new KernelVersion(major, minor, 0));

    /// <summary>The repository's own debian12 profile and Debian kernel packaging rules.</summary>
    private static readonly DistroProfile Debian12 = KfuncForge.Definitions.Catalog.Load(new KfuncForge.Definitions.SourceTree(TestTree.RepoRoot, TestTree.Templates)).Distro("debian12");

    [Fact]
    public void Headers_without_a_signed_image_are_skipped_for_the_newest_complete_release()
    {
        var r = KernelResolver.Resolve(Debian12, Newest(1, "bookworm-backports", 6, 12), Recorded());
        var k = Assert.Single(r.Kernels);
        Assert.Equal("6.12.117+deb12-amd64", k.Release.Release);
        Assert.Equal("linux-image-6.12.117+deb12-amd64", k.Image.Package);
        Assert.Empty(r.Unavailable);
        var note = Assert.Single(r.Notes);
        Assert.StartsWith("6.12.118+deb12-amd64: image not yet published", note);
        Assert.Contains("only linux-image-6.12.118+deb12-amd64-unsigned is", note);
        Assert.EndsWith("using 6.12.117+deb12-amd64", note);
    }

    [Fact]
    public void A_release_named_on_the_command_line_may_use_the_unsigned_image_and_says_so()
    {
        var r = KernelFetcher.Select(Debian12, Recorded(), "6.12.118+deb12-amd64");
        var k = Assert.Single(r.Kernels);
        Assert.Equal("6.12.118+deb12-amd64", k.Release.Release);
        Assert.Equal("linux-image-6.12.118+deb12-amd64-unsigned", k.Image.Package);
        Assert.Equal("6.12.118-1~deb12u1", k.Image.Version);
        Assert.Equal("/boot/vmlinuz-6.12.118+deb12-amd64", k.ImagePath);
        Assert.Contains(k.Notes, n => n.Contains("linux-image-6.12.118+deb12-amd64 is not published yet") && n.Contains("-unsigned"));
    }

    [Fact]
    public void A_release_pinned_in_the_profile_uses_the_signed_image_when_there_is_one()
    {
        var pinned = Debian12 with { Kernels = [new KernelTarget("6.1.0-57-amd64", null, null, null, new KernelVersion(6, 1, 0))] };
        var k = Assert.Single(KernelFetcher.Select(pinned, Recorded(), null).Kernels);
        Assert.Equal("linux-image-6.1.0-57-amd64", k.Image.Package);
        Assert.DoesNotContain(k.Notes, n => n.Contains("unsigned"));
    }

    [Fact]
    public void A_kbuild_package_named_by_abi_is_the_headers_own()
    {
        var k = Assert.Single(KernelResolver.Resolve(Debian12, Newest(1, "bookworm-backports", 6, 12), Recorded()).Kernels);
        Assert.Equal(["linux-headers-6.12.117+deb12-amd64", "linux-headers-6.12.117+deb12-common", "linux-kbuild-6.12.117+deb12"], k.Headers.Select(h => h.Package));
        Assert.All(k.Packages, p => Assert.Equal("6.12.117-1~deb12u1", p.Version));
    }

    [Fact]
    public void A_package_in_two_suites_comes_from_the_one_that_matches_the_headers()
    {
        // linux-kbuild-6.1 is 6.1.176-1 in bookworm and 6.1.192-3 in bookworm-security.
        var k = Assert.Single(KernelResolver.Resolve(Debian12, Newest(1, "bookworm", 6, 1), Recorded()).Kernels);
        Assert.Equal("6.1.0-57-amd64", k.Release.Release);
        var kbuild = k.Headers.Single(h => h.Package == "linux-kbuild-6.1");
        Assert.Equal(("6.1.192-3", "bookworm-security"), (kbuild.Version, kbuild.Suite));
    }

    [Fact]
    public void A_suite_family_without_the_release_does_not_see_it()
    {
        // The recording's bookworm suite alone holds only an old kbuild: no kernel of the 6.1 line.
        var bookwormOnly = new DebianIndex(Recorded().Entries.Where(e => e.Suite == "bookworm").ToList());
        var gone = Assert.Single(KernelResolver.Resolve(Debian12, Newest(1, "bookworm", 6, 1), bookwormOnly).Unavailable);
        Assert.Equal("6.1-amd64-newest1", gone.Kernel);
        Assert.Contains("no amd64 kernel of the 6.1 line in bookworm", gone.Reason);
    }

    [Fact]
    public void Newest_two_are_the_two_newest_complete_releases()
    {
        var r = KernelResolver.Resolve(Debian12, Newest(2, "bookworm", 6, 1), Recorded());
        Assert.Equal(["6.1.0-57-amd64", "6.1.0-56-amd64"], r.Kernels.Select(k => k.Release.Release));
    }

    [Fact]
    public void A_line_with_no_complete_release_is_unavailable_with_each_reason()
    {
        var index = Without(Recorded(), "linux-image-6.12.117+deb12-amd64");
        var r = KernelResolver.Resolve(Debian12, Newest(1, "bookworm-backports", 6, 12), index);
        Assert.Empty(r.Kernels);
        var gone = Assert.Single(r.Unavailable);
        Assert.Equal("6.12.118+deb12-amd64", gone.Kernel);
        Assert.Equal("6.12", gone.Line);
        Assert.Contains("6.12.118+deb12-amd64: image not yet published", gone.Reason);
        Assert.Contains("6.12.117+deb12-amd64: image not yet published", gone.Reason);
    }

    [Fact]
    public void A_missing_common_headers_package_makes_a_release_incomplete()
    {
        var index = Without(Recorded(), "linux-headers-6.1.0-57-common");
        var r = KernelResolver.Resolve(Debian12, Newest(1, "bookworm", 6, 1), index);
        Assert.Equal("6.1.0-56-amd64", Assert.Single(r.Kernels).Release.Release);
        Assert.Contains(r.Notes, n => n.StartsWith("6.1.0-57-amd64: linux-headers-6.1.0-57-common", StringComparison.Ordinal) && n.EndsWith("using 6.1.0-56-amd64", StringComparison.Ordinal));
    }

    [Fact]
    public void Kernel_narrows_resolution_so_a_broken_line_does_not_stop_another()
    {
        var index = Without(Recorded(), "linux-image-6.12.117+deb12-amd64");
        var all = KernelFetcher.Select(Debian12, index, null);
        Assert.Equal(["6.1.0-57-amd64"], all.Kernels.Select(k => k.Release.Release));
        Assert.Equal("6.12.118+deb12-amd64", Assert.Single(all.Unavailable).Kernel);

        foreach (var request in new[] { "6.1", "6.1.0-57-amd64", "6.1.0-56-amd64" })
        {
            var narrowed = KernelFetcher.Select(Debian12, index, request);
            Assert.Single(narrowed.Kernels);
            Assert.Empty(narrowed.Unavailable);
            Assert.DoesNotContain(narrowed.Notes, n => n.Contains("6.12"));
        }
    }

    [Fact]
    public void A_profile_release_the_archive_dropped_is_unavailable_not_an_error()
    {
        var pinned = Debian12 with { Kernels = [.. Debian12.Kernels, new KernelTarget("6.1.0-41-amd64", null, null, null, new KernelVersion(6, 1, 0))] };
        var r = KernelFetcher.Select(pinned, Recorded(), null);
        Assert.Equal(["6.1.0-57-amd64", "6.12.117+deb12-amd64"], r.Kernels.Select(k => k.Release.Release));
        var gone = Assert.Single(r.Unavailable);
        Assert.Equal("6.1.0-41-amd64", gone.Kernel);
        Assert.Contains("linux-headers-6.1.0-41-amd64 is not in", gone.Reason);
    }

    [Fact]
    public void A_release_typed_on_the_command_line_that_never_existed_is_bad_input()
    {
        var e = Assert.Throws<InputException>(() => KernelFetcher.Select(Debian12, Recorded(), "6.1.0-999-amd64"));
        Assert.Contains("6.1.0-999-amd64 is not in the debian12 package index", e.Message);
        Assert.Contains("6.1.0-57-amd64", e.Message);
    }
}
