using LibGit2Sharp;

namespace KfuncForge.Tests.Upstream;

/// <summary>
/// Builds a real git repository in a unique temp folder, commit by commit, straight into the
/// object database (no work tree, no checkout), so a test can lay out a kernel-like tree, branch,
/// merge and tag exactly as it needs. Commit times advance by a minute per commit, so ids are
/// stable from run to run.
/// </summary>
public sealed class KernelRepoBuilder : IDisposable
{
    private static readonly DateTimeOffset Epoch = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly Repository _repo;
    private int _minutes;

    public string Path { get; }

    /// <summary>The files of the next commit on master; tests edit this and call <see cref="Commit"/>.</summary>
    public Dictionary<string, string> Files { get; } = new(StringComparer.Ordinal);

    private KernelRepoBuilder(string path)
    {
        Path = path;
        Repository.Init(path);
        _repo = new Repository(path);
    }

    public static KernelRepoBuilder Create() =>
        new(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kfuncforge-kernel-" + Guid.NewGuid().ToString("N")[..12]));

    /// <summary>Commits <see cref="Files"/> on master (parent: master's tip, if any) and returns the commit id.</summary>
    public string Commit(string message)
    {
        var tip = _repo.Refs["refs/heads/master"]?.TargetIdentifier;
        var sha = CommitFiles(Files, message, tip is null ? [] : [tip]);
        _repo.Refs.Add("refs/heads/master", new ObjectId(sha), allowOverwrite: true);
        return sha;
    }

    /// <summary>Commits an arbitrary set of files with the given parents, without moving any branch.</summary>
    public string CommitFiles(IReadOnlyDictionary<string, string> files, string message, IReadOnlyList<string> parents)
    {
        var tree = new TreeDefinition();
        foreach (var (path, text) in files)
        {
            using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text));
            tree.Add(path, _repo.ObjectDatabase.CreateBlob(stream), Mode.NonExecutableFile);
        }
        var signature = new Signature("Kernel Hacker", "hacker@example.org", Epoch.AddMinutes(_minutes++));
        var commit = _repo.ObjectDatabase.CreateCommit(signature, signature, message + "\n", _repo.ObjectDatabase.CreateTree(tree),
            parents.Select(p => _repo.Lookup<Commit>(p)), prettifyMessage: false);
        return commit.Sha;
    }

    /// <summary>Points master at a commit (after building a side branch and its merge by hand).</summary>
    public void SetMaster(string sha) => _repo.Refs.Add("refs/heads/master", new ObjectId(sha), allowOverwrite: true);

    public string Master => _repo.Refs["refs/heads/master"]!.TargetIdentifier;

    /// <summary>An annotated tag, as the kernel's release tags are.</summary>
    public void Tag(string name, string? sha = null) =>
        _repo.Tags.Add(name, _repo.Lookup<Commit>(sha ?? Master), new Signature("Linus", "linus@example.org", Epoch.AddMinutes(_minutes++)), $"Linux {name}");

    public void Dispose()
    {
        _repo.Dispose();
        TempTree.Delete(Path);
    }
}
