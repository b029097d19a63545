using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Packaging;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Packaging;

/// <summary>While a kernel is unavailable, Package may publish the others but never a generation that stops serving a kernel the current one serves.</summary>
public sealed class GenerationGuardTests
{
    private static readonly UnavailableKernel Lagging = new("6.12.118+deb12-amd64", "6.12", "image not yet published");

    private static async Task<string> Published(TempDir t, params string[] kernels)
    {
        var repo = t.Combine("repo", "apt");
        await AtomicPublisher.PublishAsync(repo, root => File.WriteAllTextAsync(Path.Combine(root, Packager.ServedKernelsFile), string.Concat(kernels.Select(k => k + "\n"))));
        return repo;
    }

    [Fact]
    public async Task A_generation_that_would_drop_a_served_kernel_while_one_is_unavailable_is_refused()
    {
        using var t = new TempDir();
        var repo = await Published(t, "6.1.0-57-amd64", "6.12.117+deb12-amd64");
        Assert.Equal(["6.1.0-57-amd64", "6.12.117+deb12-amd64"], Packager.ServedKernels(repo));
        var e = Assert.Throws<StageException>(() => Packager.RefuseToDrop("debian12", repo, ["6.1.0-57-amd64"], [Lagging]));
        Assert.Contains("would stop serving 6.12.117+deb12-amd64", e.Message);
        Assert.Contains("6.12.118+deb12-amd64: image not yet published", e.Message);
        Assert.Contains("Nothing was published", e.Message);
    }

    [Fact]
    public async Task Publishing_is_allowed_when_nothing_served_is_dropped_or_nothing_is_unavailable()
    {
        using var t = new TempDir();
        var repo = await Published(t, "6.1.0-57-amd64");
        Packager.RefuseToDrop("debian12", repo, ["6.1.0-57-amd64"], [Lagging]);            // keeps what is served
        Packager.RefuseToDrop("debian12", repo, ["6.1.0-58-amd64"], []);                  // an ordinary kernel update
        Packager.RefuseToDrop("debian12", t.Combine("nothing-yet"), ["6.1.0-57-amd64"], [Lagging]); // first generation
        Assert.Null(Packager.ServedKernels(t.Combine("nothing-yet")));
    }
}
