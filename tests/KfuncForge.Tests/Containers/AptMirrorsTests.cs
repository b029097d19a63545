using KfuncForge.Containers;
using KfuncForge.Diagnostics;

namespace KfuncForge.Tests.Containers;

public sealed class AptMirrorsTests
{
    [Fact]
    public void Deb822_and_one_line_sources_are_read()
    {
        var deb822 = AptMirrors.ParseDeb822("""
            Types: deb
            # a comment
            URIs: http://a.invalid/debian
            Suites: bookworm bookworm-updates
            Components: main contrib

            Types: deb-src
            URIs: http://src.invalid/debian
            Suites: bookworm

            Types: deb
            URIs: http://off.invalid/debian
            Suites: bookworm
            Enabled: no
            """).ToList();
        Assert.Single(deb822);
        Assert.Equal(["bookworm", "bookworm-updates"], deb822[0].Suites);
        Assert.Equal(["main", "contrib"], deb822[0].Components);

        var oneLine = AptMirrors.ParseOneLine("""
            # deb http://commented.invalid/debian bookworm main
            deb [arch=amd64 signed-by=/k.gpg] http://b.invalid/debian-security bookworm-security main
            deb-src http://b.invalid/debian bookworm main
            """).ToList();
        Assert.Equal([new AptSource("http://b.invalid/debian-security", ["bookworm-security"], ["main"])], oneLine, new SourceComparer());
    }

    [Fact]
    public void The_archive_and_security_mirrors_are_derived_from_the_hosts_sources()
    {
        var sources = new[]
        {
            new AptSource("https://thirdparty.invalid/apt", ["cloud-sdk-bookworm"], ["main"]),
            new AptSource("http://a.invalid/debian/", ["bookworm", "bookworm-updates"], ["main"]),
            new AptSource("http://a.invalid/debian-security", ["bookworm-security"], ["main"]),
        };
        var m = AptMirrors.Derive(sources, "bookworm");
        Assert.Equal("http://a.invalid/debian", m.Archive);
        Assert.Equal("http://a.invalid/debian-security", m.For("trixie-security"));
        Assert.Equal("http://a.invalid/debian", m.For("trixie-backports"));
    }

    [Fact]
    public void Without_a_security_source_the_security_mirror_sits_beside_the_archive()
    {
        var m = AptMirrors.Derive([new AptSource("http://a.invalid/debian", ["bookworm"], ["main"])], "bookworm");
        Assert.Equal("http://a.invalid/debian-security", m.Security);
    }

    [Fact]
    public void Overrides_win_and_no_source_at_all_is_a_clear_error()
    {
        Assert.Equal("http://o.invalid/d", AptMirrors.Derive([], null, "http://o.invalid/d").Archive);
        var e = Assert.Throws<StageException>(() => AptMirrors.Derive([], "bookworm"));
        Assert.Contains("KFUNCFORGE_DEBIAN_MIRROR", e.Message);
    }

    [Fact]
    public void This_hosts_configuration_yields_a_mirror()
    {
        if (!Directory.Exists("/etc/apt")) return; // not a Debian-family host
        var m = AptMirrors.FromHost();
        Assert.StartsWith("http", m.Archive);
    }

    private sealed class SourceComparer : IEqualityComparer<AptSource>
    {
        public bool Equals(AptSource? x, AptSource? y) => x!.Uri == y!.Uri && x.Suites.SequenceEqual(y.Suites) && x.Components.SequenceEqual(y.Components);
        public int GetHashCode(AptSource obj) => obj.Uri.GetHashCode();
    }
}
