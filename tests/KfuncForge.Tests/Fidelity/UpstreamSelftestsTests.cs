using KfuncForge.Diagnostics;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Upstream;
using KfuncForge.Upstream;

namespace KfuncForge.Tests.Fidelity;

/// <summary>Which selftest files a run takes from a kernel repository, what it writes out, and the errors a user can hit.</summary>
public sealed class UpstreamSelftestsTests
{
    [Fact]
    public void Files_are_chosen_by_the_kfuncs_they_call_and_marked_when_no_RUN_TESTS_runs_them()
    {
        using var repo = SelftestFixture.Create();
        using var temp = TestTree.Temp();
        var work = Path.Combine(temp.Path, "selftests");
        Directory.CreateDirectory(work);
        File.WriteAllText(Path.Combine(work, "stale.c"), "left from an earlier run");

        var tree = UpstreamSelftests.Extract(repo.Path, SelftestFixture.Ref, ["bpf_sock_destroy", "bpf_strlen"], work);

        Assert.Equal(SelftestFixture.Ref, tree.Ref);
        Assert.Equal(repo.Master, tree.Commit);
        Assert.Equal(["kff_manual", "kff_sock_destroy"], tree.Files.Select(f => f.Stem));
        var run = tree.Files.Single(f => f.Stem == "kff_sock_destroy");
        Assert.Null(run.NotRun);
        Assert.Equal(["bpf_sock_destroy"], run.Kfuncs);
        Assert.Equal("tools/testing/selftests/bpf/progs/kff_sock_destroy.c", run.Source);
        Assert.Contains("no RUN_TESTS(kff_manual)", tree.Files.Single(f => f.Stem == "kff_manual").NotRun);
        // The programs and every header they may include, nothing else, and nothing left from before.
        Assert.True(File.Exists(Path.Combine(tree.ProgsDir, "kff_misc.h")));
        Assert.True(File.Exists(Path.Combine(tree.ProgsDir, "kff_sock_destroy.c")));
        Assert.False(File.Exists(Path.Combine(tree.ProgsDir, "unrelated.c")));
        Assert.True(File.Exists(Path.Combine(work, "tools/testing/selftests/bpf/kff_userspace.h")));
        Assert.False(File.Exists(Path.Combine(work, "stale.c")));
        Assert.Empty(tree.Calling(["bpf_strlen"]));
    }

    [Fact]
    public void Only_plain_C_file_names_are_taken_from_the_tree()
    {
        using var repo = SelftestFixture.Create();
        // Names that would become odd file and step names: a space, a second dot, a leading dash.
        foreach (var name in new[] { "odd name.c", "two.dots.c", "-dash.c" })
            repo.Files["tools/testing/selftests/bpf/progs/" + name] = "int f(void) { return bpf_sock_destroy(0); }\n";
        repo.Files["tools/testing/selftests/bpf/prog_tests/odd.c"] = "RUN_TESTS(two);\n";
        repo.Commit("odd names");
        using var temp = TestTree.Temp();

        var tree = UpstreamSelftests.Extract(repo.Path, "master", ["bpf_sock_destroy"], Path.Combine(temp.Path, "selftests"));

        Assert.Equal(["kff_manual", "kff_sock_destroy"], tree.Files.Select(f => f.Stem));
        Assert.Equal(["kff_manual.c", "kff_misc.h", "kff_sock_destroy.c"], Directory.GetFiles(tree.ProgsDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Import_finds_the_same_files_without_writing_anything()
    {
        using var repo = SelftestFixture.Create();
        using var kernel = KernelRepository.Open(repo.Path);

        var found = UpstreamSelftests.Find(kernel, kernel.Resolve(SelftestFixture.Ref), ["bpf_sock_destroy"]);

        Assert.Equal(["kff_manual", "kff_sock_destroy"], found!.Select(f => f.Stem));
        Assert.Null(found!.Single(f => f.Stem == "kff_sock_destroy").NotRun);
    }

    [Fact]
    public void A_tree_without_BPF_selftests_an_unknown_ref_and_a_folder_that_is_not_a_repository_are_named()
    {
        using var repo = KernelRepoBuilder.Create();
        repo.Files["Makefile"] = "VERSION = 6\n";
        repo.Commit("a tree without tools/");
        repo.Tag("v6.0");
        using var temp = TestTree.Temp();
        var work = Path.Combine(temp.Path, "selftests");

        var none = Assert.Throws<InputException>(() => UpstreamSelftests.Extract(repo.Path, "v6.0", ["bpf_sock_destroy"], work));
        Assert.Contains("v6.0:tools/testing/selftests/bpf/progs does not exist", none.Problems.Single().Message);
        var unknown = Assert.Throws<InputException>(() => UpstreamSelftests.Extract(repo.Path, "v9.9", ["bpf_sock_destroy"], work));
        Assert.Equal("--ref", unknown.Problems.Single().File);
        var notRepo = Assert.Throws<InputException>(() => UpstreamSelftests.Extract(temp.Path, "v6.0", ["bpf_sock_destroy"], work));
        Assert.Contains("is not a git repository", notRepo.Problems.Single().Message);
        Assert.False(Directory.Exists(work));
    }
}
