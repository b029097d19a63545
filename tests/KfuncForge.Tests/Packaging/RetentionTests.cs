using KfuncForge.Compilation;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Packaging;
using KfuncForge.Processes;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Packaging;

/// <summary>
/// Retention and the meta packages, with real dpkg-deb and gpg: cells of the golden tree's kfunc_demo rendered for several
/// releases of Debian 12's two lines, published generation after generation into one repository.
/// </summary>
public sealed class RetentionTests(PackagingFixture f) : IClassFixture<PackagingFixture>
{
    private static readonly string Input = Path.Combine(TestTree.Golden, "two-sets", "input");
    private const string V = "1.2.3"; // kfunc_demo's version

    private static RenderedCellFiles Render(string root, string release)
    {
        var r = TestTree.Run("render", "--root", Input, "--templates", TestTree.Templates, "--out", root, "--distro", "debian12", "--kernel", release, "--source-date-epoch", "1767225600");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        return RenderedCellFiles.Load(Path.Combine(root, "render", "debian12", release, "kfunc_demo"));
    }

    private PackageInput Input1(string root, string release, string? imageVersion = null) =>
        new(Render(root, release), f.SignedModule, imageVersion is null ? null : new BuildRecord
        {
            Kernel = release,
            KernelPackages = [new PackageRecord($"linux-image-{release}", imageVersion, "bookworm", new string('e', 64), 1)],
            KbuildEnvironment = new SortedDictionary<string, string>(),
        });

    private Task<PackagingResult> Publish(string repo, int generation, IReadOnlyList<PackageInput> inputs, int retain = 2, IReadOnlyList<string>? covered = null) =>
        new Packager(ProcessRunner.Instance).RunAsync(inputs, f.Settings(repo, PackageFamily.Deb) with
        {
            SourceDate = PackagingFixture.SourceDate.AddDays(generation),
            Retain = retain,
            CoveredKernels = covered,
        });

    private static Dictionary<(string, string), string> Index(string repo) =>
        Deb822.Parse(File.ReadAllText(Path.Combine(repo, "dists", "debian12", "main", "binary-amd64", "Packages")), "Packages")
            .ToDictionary(p => (p["Package"]!, p["Version"]!), p => p["SHA256"]!);

    [Fact]
    public async Task The_repository_keeps_serving_the_newest_kernels_of_each_line_and_the_meta_package_follows_the_newest()
    {
        using var t = TestTree.Temp();
        var repo = t.Combine("repo", "apt");
        var k56 = Input1(t.Combine("r56"), "6.1.0-56-amd64");
        var k57 = Input1(t.Combine("r57"), "6.1.0-57-amd64", "6.1.158-1");
        var k58 = Input1(t.Combine("r58"), "6.1.0-58-amd64");
        var k612 = Input1(t.Combine("r612"), "6.12.117+deb12-amd64");

        // Generation 1: 6.1.0-56 and 6.12. Each line has its own meta package, depending on that line's newest module package.
        var g1 = await Publish(repo, 1, [k56, k612]);
        var meta61 = Assert.Single(g1.Packages, p => p.Name == "kfunc-demo-modules-amd64-6.1");
        Assert.Equal($"kfunc-demo-modules-6.1.0-56-amd64 (>= {V})", Field(meta61.Path, "Depends"));
        Assert.Contains("./etc/kernel/postinst.d/zz-kfuncforge-kfunc_demo", HostTools.Checked("dpkg-deb", "-c", meta61.Path).Stdout);
        Assert.Contains("-rwxr-xr-x root/root", HostTools.Checked("dpkg-deb", "-c", meta61.Path).Stdout.Split('\n').Single(l => l.Contains("zz-kfuncforge", StringComparison.Ordinal)));
        Assert.Equal("/etc/kernel/postinst.d/zz-kfuncforge-kfunc_demo", HostTools.Checked("dpkg-deb", "-I", meta61.Path, "conffiles").Stdout.Trim());
        Assert.Single(g1.Packages, p => p.Name == "kfunc-demo-modules-amd64-6.12");

        // Generation 2: 6.1.0-57 is built (6.1.0-56 has left the archive's index): -56 is still served, byte for byte, and so is
        // the 6.12 line nobody built this run; the 6.1 meta package now depends on -57, with a version that sorts after the old one.
        var old56 = g1.Packages.Single(p => p.Name == "kfunc-demo-modules-6.1.0-56-amd64");
        var g2 = await Publish(repo, 2, [k57]);
        Assert.Equal(["6.1.0-56-amd64", "6.12.117+deb12-amd64"], g2.Carried.Where(c => !c.Meta).Select(c => c.Kernel).Order(StringComparer.Ordinal));
        Assert.Contains(g2.Carried, c => c.Meta && c.Name == "kfunc-demo-modules-amd64-6.12");
        var index = Index(repo);
        Assert.Equal(old56.Sha256, index[("kfunc-demo-modules-6.1.0-56-amd64", V)]);
        Assert.Contains(("kfunc-demo-modules-6.12.117+deb12-amd64", V), index.Keys);
        var meta2 = Assert.Single(g2.Packages, p => p.Name == "kfunc-demo-modules-amd64-6.1");
        Assert.Equal($"kfunc-demo-modules-6.1.0-57-amd64 (>= {V})", Field(meta2.Path, "Depends"));
        Assert.True(DebVersion.Comparer.Compare(meta2.Version, meta61.Version) > 0, $"{meta2.Version} !> {meta61.Version}");
        Assert.Equal(["6.1.0-56-amd64", "6.1.0-57-amd64", "6.12.117+deb12-amd64"], Packager.ServedKernels(repo));
        // The hold a fleet installs: linux-image-amd64 pinned at the version that brought 6.1.0-57, the newest 6.1 kernel served.
        var hold = File.ReadAllText(Path.Combine(repo, "fleet", "apt-preferences.d", "kfuncforge-6.1-amd64.pref"));
        Assert.Contains("Package: linux-image-amd64 linux-headers-amd64\nPin: version 6.1.158-1\nPin-Priority: 1001\n", hold);

        // Generation 3: 6.1.0-58. With retain 2 the window of 6.1 is -58 and -57: -56 is dropped; 6.12 stays.
        var g3 = await Publish(repo, 3, [k58]);
        Assert.Equal(["6.1.0-57-amd64", "6.12.117+deb12-amd64"], g3.Carried.Where(c => !c.Meta).Select(c => c.Kernel).Order(StringComparer.Ordinal));
        index = Index(repo);
        Assert.DoesNotContain(index.Keys, k => k.Item1 == "kfunc-demo-modules-6.1.0-56-amd64");
        Assert.Equal(g2.Packages.Single(p => p.Name == "kfunc-demo-modules-6.1.0-57-amd64").Sha256, index[("kfunc-demo-modules-6.1.0-57-amd64", V)]);

        // A run narrowed to an older kernel never moves hosts back: the newer meta package is served on.
        var g4 = await Publish(repo, 4, [k57], retain: 3);
        Assert.Contains(g4.Carried, c => c.Meta && c.Name == "kfunc-demo-modules-amd64-6.1" && c.Kernel == "6.1.0-58-amd64");
        Assert.Contains(("kfunc-demo-modules-amd64-6.1", $"{V}+6.1.0-58"), Index(repo).Keys);
        Assert.DoesNotContain(("kfunc-demo-modules-amd64-6.1", $"{V}+6.1.0-57"), Index(repo).Keys);

        // A kernel this run planned but built nothing for (the module became infeasible there) is not carried: a stale package must not come back.
        await Publish(repo, 5, [k58], covered: ["6.1.0-58-amd64", "6.1.0-57-amd64"]);
        Assert.Equal(["6.1.0-58-amd64", "6.12.117+deb12-amd64"], Packager.ServedKernels(repo));
    }

    [Fact]
    public async Task A_carried_package_changed_after_publishing_stops_the_run_and_the_generation_stays()
    {
        using var t = TestTree.Temp();
        var repo = t.Combine("repo", "apt");
        await Publish(repo, 1, [Input1(t.Combine("r56"), "6.1.0-56-amd64")]);
        var generation = new DirectoryInfo(repo).LinkTarget;
        var deb = Directory.GetFiles(repo, "kfunc-demo-modules-6.1.0-56-amd64_*.deb", SearchOption.AllDirectories).Single();
        File.AppendAllText(deb, "x");

        var e = await Assert.ThrowsAsync<KfuncForge.Diagnostics.StageException>(() => Publish(repo, 2, [Input1(t.Combine("r57"), "6.1.0-57-amd64")]));

        Assert.Contains("kernel 6.1.0-56-amd64, kept by retention) was changed after it was published", e.Message);
        Assert.Contains("nothing was published", e.Message);
        Assert.Equal(generation, new DirectoryInfo(repo).LinkTarget);
    }

    [Fact]
    public async Task A_yum_repository_reads_what_its_previous_generation_serves()
    {
        using var t = TestTree.Temp();
        var repo = t.Combine("repo", "yum");
        await f.PackageAsync(repo, PackageFamily.Rpm, run: 1);
        var served = Retention.Read(repo).Packages;
        Assert.Contains(served, p => p.Meta && p.Name == "kmod-kfunc_demo" && p.Version.StartsWith("1.2.3-5.14.0_", StringComparison.Ordinal));
        var second = await f.PackageAsync(repo, PackageFamily.Rpm, run: 2);
        Assert.Empty(second.Carried); // the same kernel again: nothing to carry, and the record read cleanly
    }

    private static string Field(string deb, string field) => HostTools.Checked("dpkg-deb", "--field", deb, field).Stdout.Trim();
}
