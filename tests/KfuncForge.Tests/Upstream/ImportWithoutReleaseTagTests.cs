namespace KfuncForge.Tests.Upstream;

/// <summary>Without a release tag containing the introducing commit, import leaves the release to the engineer and says so.</summary>
public sealed class ImportWithoutReleaseTagTests : IDisposable
{
    private readonly KernelRepoBuilder _repo = KernelRepoBuilder.Create();
    private readonly TempTree _tree = new();

    public void Dispose()
    {
        _tree.Dispose();
        _repo.Dispose();
    }

    [Fact]
    public void The_draft_marks_the_release_as_unknown_and_validation_points_at_it()
    {
        _repo.Files["kernel/bpf/helpers.c"] = KernelHistory.Helpers(null, sleepable: false, xdp: false);
        _repo.Commit("Initial tree");
        _repo.Files["kernel/bpf/helpers.c"] = KernelHistory.Helpers(KernelHistory.StrfooV1, sleepable: false, xdp: false);
        var added = _repo.Commit("bpf: Add bpf_strfoo kfunc");

        var (exit, stdout, stderr) = _tree.Run("import", $"--upstream={_repo.Path}", "--ref=master", "--kfunc=bpf_strfoo");

        Assert.Equal("", stderr);
        Assert.Equal(0, exit);
        var yaml = File.ReadAllText(_tree.ModuleYaml("bpf_strfoo"));
        Assert.Contains($"      release: unknown  # TODO: no vX.Y tag contains {added[..12]}; set the first release that ships it\n      commit: \"{added}\"\n", yaml);
        Assert.Contains($"      ref: {(char.IsAsciiDigit(added[0]) ? $"\"{added}\"" : added)}\n", yaml); // a branch is recorded as its commit
        Assert.Contains("    variants:\n      - id: draft\n        file: bpf_strfoo.c\n        notes: ", yaml);
        Assert.Contains("; no release tag contains it\n", stdout);
        Assert.Contains($"  - set upstream.release of bpf_strfoo (or pass --release=<x.y>): no vX.Y tag in the repository contains {added[..12]}\n", stdout);
        Assert.Contains("  - fix kfunc-modules/bpf_strfoo/module.yaml:13:16: kfuncs[0].upstream.release: 'unknown' is not a kernel version (e.g. 6.17)\n", stdout);

        var (validateExit, _, validateErr) = _tree.Run("validate");
        Assert.Equal(2, validateExit);
        Assert.StartsWith("error: kfunc-modules/bpf_strfoo/module.yaml:13:16: kfuncs[0].upstream.release: 'unknown' is not a kernel version (e.g. 6.17)\n", validateErr);
    }

    [Fact]
    public void With_a_Makefile_the_draft_variant_stops_before_the_trees_own_version()
    {
        _repo.Files["kernel/bpf/helpers.c"] = KernelHistory.Helpers(null, sleepable: false, xdp: false);
        _repo.Files["Makefile"] = "# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\nPATCHLEVEL = 18\nSUBLEVEL = 2\nEXTRAVERSION =\n";
        _repo.Commit("Initial tree");
        _repo.Files["kernel/bpf/helpers.c"] = KernelHistory.Helpers(KernelHistory.StrfooV1, sleepable: false, xdp: false);
        var added = _repo.Commit("bpf: Add bpf_strfoo kfunc");

        var (exit, _, stderr) = _tree.Run("import", $"--upstream={_repo.Path}", "--ref=master", "--kfunc=bpf_strfoo");

        Assert.Equal("", stderr);
        Assert.Equal(0, exit);
        Assert.Contains($"        file: bpf_strfoo.c\n        kernels: {{ before: \"6.18\" }}  # the tree at {added[..12]} is 6.18; narrow this once upstream.release is known\n",
            File.ReadAllText(_tree.ModuleYaml("bpf_strfoo")));
    }
}
