using KfuncForge.Provenance;
using LibGit2Sharp;

namespace KfuncForge.Tests.Upstream;

/// <summary>The project's own commit and dirty state, as every build output and package records it.</summary>
public sealed class ProjectProvenanceTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kfuncforge-project-" + Guid.NewGuid().ToString("N")[..12]);

    public ProjectProvenanceTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => TempTree.Delete(_dir);

    private string CommitAll()
    {
        using var repo = new Repository(_dir);
        Commands.Stage(repo, "*");
        var who = new Signature("Dev", "dev@example.org", new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
        return repo.Commit("tree", who, who).Sha;
    }

    [Fact]
    public void A_clean_work_tree_records_its_commit_and_ignored_files_do_not_make_it_dirty()
    {
        Repository.Init(_dir);
        File.WriteAllText(Path.Combine(_dir, ".gitignore"), "artifacts/\n");
        File.WriteAllText(Path.Combine(_dir, "build.cake"), "// wiring\n");
        var sha = CommitAll();
        Directory.CreateDirectory(Path.Combine(_dir, "artifacts"));
        File.WriteAllText(Path.Combine(_dir, "artifacts", "out.ko"), "binary");
        Directory.CreateDirectory(Path.Combine(_dir, "kfunc-modules"));

        var p = ProjectProvenance.Read(Path.Combine(_dir, "kfunc-modules"));

        Assert.Equal(sha, p.Commit);
        Assert.Equal(false, p.Dirty);
        Assert.Equal($"{{\"commit\":\"{sha}\",\"dirty\":false,\"dirty_paths\":[],\"reason\":null}}", p.ToJson());
        Assert.Equal(sha[..12], p.ToString());
    }

    [Fact]
    public void Modified_and_untracked_files_make_it_dirty_and_are_listed_in_order()
    {
        Repository.Init(_dir);
        File.WriteAllText(Path.Combine(_dir, "build.cake"), "// wiring\n");
        var sha = CommitAll();
        File.WriteAllText(Path.Combine(_dir, "build.cake"), "// changed\n");
        File.WriteAllText(Path.Combine(_dir, "new.yaml"), "x: 1\n");

        var p = ProjectProvenance.Read(_dir);

        Assert.Equal(sha, p.Commit);
        Assert.Equal(true, p.Dirty);
        Assert.Equal(["build.cake", "new.yaml"], p.DirtyPaths);
        Assert.Equal($"{{\"commit\":\"{sha}\",\"dirty\":true,\"dirty_paths\":[\"build.cake\",\"new.yaml\"],\"reason\":null}}", p.ToJson());
        Assert.Equal(sha[..12] + "+dirty", p.ToString());
    }

    [Fact]
    public void Outside_a_repository_the_commit_is_unknown_and_the_reason_is_given()
    {
        var p = ProjectProvenance.Read(_dir);

        Assert.Null(p.Commit);
        Assert.Null(p.Dirty);
        Assert.Equal($"'{_dir}' is not inside a git repository", p.Reason);
        Assert.Equal($"{{\"commit\":null,\"dirty\":null,\"dirty_paths\":[],\"reason\":\"'{_dir}' is not inside a git repository\"}}", p.ToJson());
    }

    [Fact]
    public void A_repository_without_commits_is_not_a_provenance()
    {
        Repository.Init(_dir);

        var p = ProjectProvenance.Read(_dir);

        Assert.Null(p.Commit);
        Assert.Equal($"the repository at '{_dir}/' has no commit yet", p.Reason);
    }
}
