using KfuncForge.Upstream;

namespace KfuncForge.Tests.Upstream;

/// <summary>The introducing commit is found through merges, on the branch the kfunc was written on, without walking past it.</summary>
public sealed class HistoryWalkTests : IDisposable
{
    private readonly KernelRepoBuilder _repo = KernelRepoBuilder.Create();

    public void Dispose() => _repo.Dispose();

    [Fact]
    public void A_kfunc_merged_from_a_topic_branch_is_introduced_by_the_branch_commit_not_the_merge()
    {
        var f = _repo.Files;
        f["kernel/bpf/helpers.c"] = KernelHistory.Helpers(null, sleepable: false, xdp: false);
        f["kernel/sched/core.c"] = "int a;\n";
        var root = _repo.Commit("Initial tree");
        _repo.Tag("v6.15");
        for (var i = 0; i < 5; i++)
        {
            f["kernel/sched/core.c"] = $"int a = {i};\n";
            _repo.Commit($"sched: change {i}");
        }

        // bpf-next: forked from the root, adds the kfunc, then more unrelated work.
        var topic = new Dictionary<string, string>(f)
        {
            ["kernel/sched/core.c"] = "int a;\n",
            ["kernel/bpf/helpers.c"] = KernelHistory.Helpers(KernelHistory.StrfooV1, sleepable: false, xdp: false),
        };
        var added = _repo.CommitFiles(topic, "bpf: Add bpf_strfoo kfunc", [root]);
        topic["kernel/bpf/verifier.c"] = "int v;\n";
        var more = _repo.CommitFiles(topic, "bpf: unrelated verifier work", [added]);

        // The merge into mainline takes the topic's helpers.c and mainline's sched change.
        f["kernel/bpf/helpers.c"] = topic["kernel/bpf/helpers.c"];
        f["kernel/bpf/verifier.c"] = topic["kernel/bpf/verifier.c"];
        var merge = _repo.CommitFiles(f, "Merge branch 'bpf-next'", [_repo.Master, more]);
        _repo.SetMaster(merge);
        f["kernel/sched/core.c"] = "int a = 99;\n";
        _repo.Commit("sched: after the merge");
        _repo.Tag("v6.16");

        using var kernel = KernelRepository.Open(_repo.Path);
        var at = kernel.Resolve("v6.16");
        var found = Assert.IsType<Located.Found>(KfuncLocator.Locate(kernel, at, ["bpf_strfoo"], out _)["bpf_strfoo"]);
        var origin = Importer.FindIntroduction(kernel, found.Kfunc);

        Assert.Equal(added, origin.Commit.Sha);
        Assert.Equal("bpf: Add bpf_strfoo kfunc", origin.Commit.Subject);
        // v6.16 -> sched -> merge -> unrelated verifier work -> added: four commits, none of the five older sched commits.
        Assert.Equal(4, origin.CommitsVisited);
        // Only helpers.c versions that differ from their child's are parsed: the one before the kfunc.
        Assert.Equal(1, origin.FileVersionsParsed);
        Assert.Equal(("v6.16", 6, 16), ReleaseTags.FirstContaining(kernel, added));
    }

    [Fact]
    public void The_walk_stops_at_the_root_commit_when_the_kfunc_was_always_there()
    {
        _repo.Files["kernel/bpf/helpers.c"] = KernelHistory.Helpers(KernelHistory.StrfooV1, sleepable: false, xdp: false);
        var root = _repo.Commit("Initial tree");
        _repo.Files["kernel/bpf/helpers.c"] += "/* later */\n";
        _repo.Commit("bpf: comment");

        using var kernel = KernelRepository.Open(_repo.Path);
        var at = kernel.Resolve("master");
        var found = Assert.IsType<Located.Found>(KfuncLocator.Locate(kernel, at, ["bpf_strfoo"], out _)["bpf_strfoo"]);

        Assert.Equal(root, Importer.FindIntroduction(kernel, found.Kfunc).Commit.Sha);
        Assert.Null(ReleaseTags.FirstContaining(kernel, root));
        Assert.Equal(at.CommitId, at.Stable); // a branch is recorded as its commit id, not as a moving name
    }
}
