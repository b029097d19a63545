namespace KfuncForge.Tests.Upstream;

/// <summary>
/// A snapshot (one commit holding the whole tree, as a tarball import or a shallow clone gives) has no
/// history to find the introducing commit in: import refuses to record the snapshot's commit, takes
/// --commit and --release, and keeps those values on later imports.
/// </summary>
public sealed class ImportFromSnapshotTests : IDisposable
{
    private const string Upstream = "0123456789abcdef0123456789abcdef01234567";
    private readonly KernelRepoBuilder _repo = KernelRepoBuilder.Create();
    private readonly TempTree _tree = new();
    private readonly string _snapshot;

    public ImportFromSnapshotTests()
    {
        _repo.Files["kernel/bpf/helpers.c"] = KernelHistory.Helpers(KernelHistory.StrfooV1, sleepable: false, xdp: false);
        _snapshot = _repo.Commit("Linux 6.18.2 snapshot");
    }

    public void Dispose()
    {
        _tree.Dispose();
        _repo.Dispose();
    }

    [Fact]
    public void The_snapshots_own_commit_is_never_recorded_and_nothing_is_written()
    {
        var (exit, stdout, stderr) = _tree.Run("import", $"--upstream={_repo.Path}", "--ref=master", "--kfunc=bpf_strfoo");

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith($"error: --commit: {_repo.Path} starts at {_snapshot[..12]} \"Linux 6.18.2 snapshot\", which already defines bpf_strfoo: a snapshot or shallow clone, so the commit that introduced it is not in this repository; pass --commit=<id> (and --release=<x.y>)", stderr);
        Assert.False(Directory.Exists(_tree.Module("bpf_strfoo")));
    }

    [Fact]
    public void Commit_and_release_given_are_recorded_and_a_later_import_keeps_them()
    {
        var (exit, stdout, stderr) = _tree.Run("import", $"--upstream={_repo.Path}", "--ref=master", "--kfunc=bpf_strfoo", $"--commit={Upstream}", "--release=6.17");

        Assert.Equal("", stderr);
        Assert.Equal(0, exit);
        Assert.Contains($"  introduced:   not in this repository: its history starts at {_snapshot[..12]} \"Linux 6.18.2 snapshot\", which already has bpf_strfoo (a snapshot or shallow clone); recorded commit {Upstream}\n", stdout);
        var yaml = File.ReadAllText(_tree.ModuleYaml("bpf_strfoo"));
        Assert.Contains($"      release: \"6.17\"\n      commit: \"{Upstream}\"\n", yaml);
        Assert.Contains("kernels: { before: \"6.17\" }", yaml);

        // Without the options, the values in module.yaml stand: the snapshot has nothing better.
        var (again, againOut, againErr) = _tree.Run("import", $"--upstream={_repo.Path}", "--ref=master", "--kfunc=bpf_strfoo");
        Assert.Equal("", againErr);
        Assert.Equal(0, again);
        Assert.Contains("kfunc-modules/bpf_strfoo/module.yaml already matches upstream; nothing written\n", againOut);
        Assert.Equal(yaml, File.ReadAllText(_tree.ModuleYaml("bpf_strfoo")));

        // Given again, an option replaces the recorded value.
        var (third, thirdOut, _) = _tree.Run("import", $"--upstream={_repo.Path}", "--ref=master", "--kfunc=bpf_strfoo", "--release=6.18");
        Assert.Equal(0, third);
        Assert.Contains("updated kfunc-modules/bpf_strfoo/module.yaml: upstream.release\n", thirdOut);
        Assert.Contains("      release: \"6.18\"\n", File.ReadAllText(_tree.ModuleYaml("bpf_strfoo")));
    }

    [Theory]
    [InlineData("--commit=abc", "error: --commit: 'abc' is not a commit id; pass the 12 to 40 hex digits of the upstream commit that added the kfunc\n")]
    [InlineData("--commit=$(reboot)", "error: --commit: '$(reboot)' is not a commit id; pass the 12 to 40 hex digits of the upstream commit that added the kfunc\n")]
    [InlineData("--release=6.17.1", "error: --release: '6.17.1' is not a kernel release; pass major.minor, e.g. --release=6.17\n")]
    [InlineData("--release=\"6.17\"\nx: 1", "error: --release: '\"6.17\"\nx: 1' is not a kernel release; pass major.minor, e.g. --release=6.17\n")]
    public void Bad_overrides_are_refused_before_anything_is_read(string option, string error)
    {
        var (exit, stdout, stderr) = _tree.Run("import", $"--upstream={_repo.Path}", "--ref=master", "--kfunc=bpf_strfoo", option);

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith(error, stderr);
        Assert.False(Directory.Exists(_tree.Module("bpf_strfoo")));
    }
}
