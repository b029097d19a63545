using KfuncForge.Model;

namespace KfuncForge.Tests.Planning;

public sealed class KernelVersionTests
{
    [Theory]
    [InlineData("6.1", 6, 1, 0)]
    [InlineData("6.12.117", 6, 12, 117)]
    [InlineData("6.1.0-56-amd64", 6, 1, 0)]
    [InlineData("6.12.117+deb12-amd64", 6, 12, 117)]
    [InlineData("5.14.0-570.12.1.el9_6.x86_64", 5, 14, 0)]
    public void Parses_versions_and_release_strings(string text, int major, int minor, int patch) =>
        Assert.Equal(new KernelVersion(major, minor, patch), KernelVersion.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("six")]
    [InlineData("6")]
    public void Rejects_what_is_not_a_version(string text) => Assert.False(KernelVersion.TryParse(text, out _));

    [Fact]
    public void Orders_numerically_not_textually() =>
        Assert.True(KernelVersion.Parse("6.12") > KernelVersion.Parse("6.9"));

    [Fact]
    public void Code_matches_the_kernels_encoding() =>
        Assert.Equal((6 << 16) + (12 << 8) + 255, KernelVersion.Parse("6.12.300").Code);

    [Fact]
    public void Ranges_are_half_open()
    {
        var r = new KernelRange(new KernelVersion(5, 18, 0), new KernelVersion(6, 17, 0));
        Assert.True(r.Contains(new KernelVersion(5, 18, 0)));
        Assert.True(r.Contains(new KernelVersion(6, 16, 9)));
        Assert.False(r.Contains(new KernelVersion(6, 17, 0)));
        Assert.False(r.Overlaps(new KernelRange(new KernelVersion(6, 17, 0), null)));
        Assert.True(r.Overlaps(new KernelRange(null, new KernelVersion(5, 19, 0))));
    }
}
