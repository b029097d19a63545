using KfuncForge.Model;
using KfuncForge.Packaging;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Packaging;

/// <summary>Two Package runs for the same repository at once take turns: both publish, and what is left is one whole, usable repository.</summary>
public sealed class ConcurrentPublishTests(PackagingFixture f) : IClassFixture<PackagingFixture>
{
    [Fact]
    public async Task Two_runs_publishing_the_same_repository_at_once_both_succeed_and_leave_it_whole()
    {
        var repo = f.Temp.Combine("concurrent", "apt");
        await f.PackageAsync(repo, PackageFamily.Deb); // a previous repository, as in real life

        // Two runs with different inputs (another SOURCE_DATE_EPOCH each): each must build and publish.
        var runs = Enumerable.Range(1, 2).Select(i => Task.Run(() => f.PackageAsync(repo, PackageFamily.Deb, run: i))).ToArray();
        var results = await Task.WhenAll(runs);
        Assert.All(results, r => Assert.False(r.Unchanged));

        // Each run built its own generation; the link points at the one published last, which exists.
        Assert.NotEqual(results[0].Generation, results[1].Generation);
        var target = new DirectoryInfo(repo).LinkTarget;
        Assert.NotNull(target);
        Assert.True(Directory.Exists(Path.Combine(Path.GetDirectoryName(repo)!, target)), $"the repository link points at {target}, which is gone");
        Assert.Contains(target, results.Select(r => Path.GetFileName(r.Generation)));
        var parent = Path.GetDirectoryName(repo)!;
        Assert.Empty(Directory.GetFileSystemEntries(parent, ".apt.link-*"));
        Assert.True(Directory.GetDirectories(parent, ".apt.gen-*").Length <= 2, "only the current and the previous generation are kept");

        // Whole: every file the signed index names is there with its checksum, as apt sees it.
        using var apt = TestTree.Temp();
        var list = apt.Combine("sources.list");
        File.WriteAllText(list, $"deb [signed-by={Path.Combine(repo, AptRepository.KeyringFileName)}] file:{repo} debian12 main\n");
        var update = HostTools.Run(DebPackageTests.AptGet(apt, list, "update"));
        Assert.True(update.Succeeded && !update.Stderr.Contains("E:"), update.Stderr);
        var download = HostTools.Run(DebPackageTests.AptGet(apt, list, "download", "kfunc-demo-modules-6.1-amd64") with { WorkingDirectory = apt.Path });
        Assert.True(download.Succeeded, download.Stderr);
    }

    /// <summary>A run whose inputs are exactly those of the served generation publishes nothing: the generation and its bytes stay.</summary>
    [Fact]
    public async Task Publishing_the_same_inputs_again_changes_nothing_and_other_inputs_publish()
    {
        var repo = f.Temp.Combine("unchanged", "apt");
        var first = await f.PackageAsync(repo, PackageFamily.Deb);
        Assert.False(first.Unchanged);
        var link = new DirectoryInfo(repo).LinkTarget;
        var again = await f.PackageAsync(repo, PackageFamily.Deb);
        Assert.True(again.Unchanged);
        Assert.Empty(again.Packages);
        Assert.Equal(link, new DirectoryInfo(repo).LinkTarget);

        // Any other input (here SOURCE_DATE_EPOCH) publishes a new generation.
        var other = await f.PackageAsync(repo, PackageFamily.Deb, run: 1);
        Assert.False(other.Unchanged);
        Assert.NotEqual(link, new DirectoryInfo(repo).LinkTarget);
    }
}
