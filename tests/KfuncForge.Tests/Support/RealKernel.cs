using KfuncForge.Caching;
using KfuncForge.Compilation;
using KfuncForge.Definitions;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Processes;
using KfuncForge.Rendering;

namespace KfuncForge.Tests.Support;

/// <summary>
/// A fact that needs the real tools and the Debian archive: bubblewrap, mmdebstrap, dpkg-deb, xz, zstd
/// (build/host-packages.txt). It skips, saying so, where they are missing or KFUNCFORGE_SKIP_INTEGRATION is set.
/// </summary>
public sealed class IntegrationFactAttribute : FactAttribute
{
    public IntegrationFactAttribute()
    {
        if (RealKernel.SkipReason is { } why) Skip = why;
    }
}

/// <summary>An integration fact that also needs host tools beyond the integration set (podman, dnf, createrepo_c): skipped, naming them, where they are missing.</summary>
public sealed class IntegrationFactNeedingAttribute : FactAttribute
{
    public IntegrationFactNeedingAttribute(params string[] tools)
    {
        var missing = tools.Where(t => !RealKernel.OnPath(t)).ToList();
        if (RealKernel.SkipReason is { } why) Skip = why;
        else if (missing.Count > 0) Skip = $"needs {string.Join(", ", missing)} on PATH (install build/host-packages.txt)";
    }
}

public sealed class IntegrationTheoryAttribute : TheoryAttribute
{
    public IntegrationTheoryAttribute()
    {
        if (RealKernel.SkipReason is { } why) Skip = why;
    }
}

/// <summary>
/// Once per test run: bookworm's rootfs, its current 6.1 kernel fetched from the live index, and both
/// fixture modules built against it. The cache is the user's (XDG) cache, so later runs reuse it;
/// KFUNCFORGE_TEST_CACHE moves it.
/// </summary>
public class RealKernel : IAsyncLifetime
{
    /// <summary>The kernel line of debian12 this fixture fetches (its newest complete release of that line, whatever day it is).</summary>
    protected virtual string Line => "6.1";

    /// <summary>The profile whose kernel this fixture fetches.</summary>
    protected virtual string DistroId => "debian12";

    public static string? SkipReason
    {
        get
        {
            if (Environment.GetEnvironmentVariable("KFUNCFORGE_SKIP_INTEGRATION") is { Length: > 0 }) return "KFUNCFORGE_SKIP_INTEGRATION is set";
            var missing = new[] { "bwrap", "mmdebstrap", "dpkg-deb", "xz", "zstd" }.Where(t => !OnPath(t)).ToList();
            return missing.Count > 0 ? $"needs {string.Join(", ", missing)} on PATH (install build/host-packages.txt)" : null;
        }
    }

    public static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, tool)));

    public static string RepoRoot { get; } = FindRepo();

    /// <summary>The repository this test was compiled from (the build output may live anywhere, e.g. -p:ArtifactsPath).</summary>
    private static string FindRepo([System.Runtime.CompilerServices.CallerFilePath] string thisFile = "")
    {
        for (var d = new DirectoryInfo(Path.GetDirectoryName(thisFile)!); d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "distros")) && Directory.Exists(Path.Combine(d.FullName, "tests", "fixtures")))
                return d.FullName;
        throw new InvalidOperationException($"cannot find the repository above {thisFile}");
    }

    public TempDir Temp { get; } = new("kfuncforge-it-");
    public List<string> Log { get; } = [];
    public string SourceRoot => Temp.Combine("src");
    public string Templates => Path.Combine(RepoRoot, "templates");
    public string CacheRoot { get; } = Environment.GetEnvironmentVariable("KFUNCFORGE_TEST_CACHE") is { Length: > 0 } c ? c : CacheDirectory.DefaultRoot();

    public Catalog Catalog { get; private set; } = null!;
    public DistroProfile Distro { get; private set; } = null!;
    public KernelWorkspace Workspace { get; private set; } = null!;
    public DebianIndex Index { get; private set; } = null!;
    public KernelEntry Kernel { get; private set; } = null!;
    public IReadOnlyList<CellResult> Results { get; private set; } = [];
    public BuildLayout Layout => new(Temp.Combine("out"));

    /// <summary>A source tree of the repository's distro profiles and the two fixture modules.</summary>
    public static void MakeSourceTree(string root)
    {
        CopyDir(Path.Combine(RepoRoot, "distros"), Path.Combine(root, "distros"));
        CopyDir(Path.Combine(RepoRoot, "tests", "fixtures", "modules"), Path.Combine(root, "kfunc-modules"));
    }

    /// <summary>The same with only the fixture module that builds (pipelines that must pass end to end); returns the root.</summary>
    public static string MakePassingTree(string root)
    {
        MakeSourceTree(root);
        Directory.Delete(Path.Combine(root, "kfunc-modules", "kfunc_fixture_broken"), true);
        return root;
    }

    public static void CopyDir(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, true);
        }
    }

    public async Task InitializeAsync()
    {
        if (SkipReason is not null) return;
        MakeSourceTree(SourceRoot);
        Catalog = Catalog.Load(new SourceTree(SourceRoot, Templates));
        Distro = Catalog.Distro(DistroId);
        void Say(string line) { lock (Log) Log.Add(line); }
        Workspace = await KernelWorkspace.OpenAsync(Distro, "bwrap", CacheRoot, ProcessRunner.Instance, Say);
        Index = await Workspace.Fetcher.IndexAsync(Distro);
        var resolved = Assert.Single(KernelFetcher.Select(Distro, Index, Line).Kernels);
        Kernel = await Workspace.Fetcher.FetchAsync(Distro, resolved, Index);

        var facts = Kernel.ToFacts(Distro.BpfLevel);
        var plan = Planner.Make(Distro, [facts], Catalog.Modules);
        var renderer = new Renderer(TemplateSet.Load(Templates), DateTimeOffset.UnixEpoch, KfuncForge.Provenance.ProjectProvenance.Unknown("integration test source tree"));
        Results = await BuildPipeline.RunAsync(plan, new Dictionary<string, KernelEntry> { [Kernel.Release] = Kernel }, Workspace, renderer, Layout, 2, Say);
    }

    public Task DisposeAsync()
    {
        Temp.Dispose();
        return Task.CompletedTask;
    }

    public CellResult Cell(string module) => Results.Single(r => r.Module == module);
}

/// <summary>The same for debian12's 6.12 line (the Secure Boot install check runs on both lines).</summary>
public sealed class RealKernel612 : RealKernel
{
    protected override string Line => "6.12";
}

/// <summary>
/// Debian 13's 6.12 kernel: built with gcc-14 like Flatcar's 6.12 kernels, so it stands in for one as a kernel build
/// tree (the flatcar profile builds in a Debian 13 environment).
/// </summary>
public sealed class RealKernelTrixie612 : RealKernel
{
    protected override string Line => "6.12";
    protected override string DistroId => "debian13";
}

[CollectionDefinition(Name)]
public sealed class RealKernelCollection : ICollectionFixture<RealKernel>, ICollectionFixture<RealKernel612>, ICollectionFixture<RealKernelTrixie612>
{
    public const string Name = "real Debian kernel";
}
