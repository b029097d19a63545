using System.Buffers;
using System.Diagnostics;
using System.Text;
using KfuncForge.Diagnostics;
using LibGit2Sharp;

namespace KfuncForge.Upstream;

/// <summary>A ref resolved to a commit: the name the user gave and the commit it points at.</summary>
public sealed record ResolvedRef(string Name, Commit Commit)
{
    /// <summary>Copied at resolution, so it stays readable after the repository is closed.</summary>
    public string CommitId { get; } = Commit.Sha;

    /// <summary>What to record in module.yaml: a tag name is stable, anything else (a branch, HEAD) is recorded as its commit id.</summary>
    public string Stable { get; init; } = Name;

    /// <summary>"v6.17:kernel/bpf/helpers.c", git's own rev:path notation, so a message can be pasted into git show.</summary>
    public string At(string path) => $"{Name}:{path}";
}

/// <summary>A C file read from the tree at a ref.</summary>
public sealed record SourceFile(string Path, ObjectId Blob, CText Text);

/// <summary>What one scan of a tree found: files that register kfuncs and mention a wanted name, and other files that mention one.</summary>
public sealed record TreeScan(
    IReadOnlyList<SourceFile> Registering,
    IReadOnlyList<(string Path, ObjectId Blob)> Mentioning,
    int FilesRead,
    long BytesRead,
    int FilesSkippedAsTooLarge,
    TimeSpan Elapsed)
{
    /// <summary>Two scans of disjoint parts of one tree, as one.</summary>
    public TreeScan Plus(TreeScan other) => new(
        Registering.Concat(other.Registering).OrderBy(f => f.Path, StringComparer.Ordinal).ToList(),
        Mentioning.Concat(other.Mentioning).OrderBy(m => m.Path, StringComparer.Ordinal).ToList(),
        FilesRead + other.FilesRead,
        BytesRead + other.BytesRead,
        FilesSkippedAsTooLarge + other.FilesSkippedAsTooLarge,
        Elapsed + other.Elapsed);
}

/// <summary>
/// A kernel git repository read with LibGit2Sharp, without checking anything out: refs are resolved
/// to commits and files are read as blobs of that commit's tree. Scans stream one blob at a time
/// through a pooled buffer; only the few files that matter are kept as text.
/// </summary>
public sealed class KernelRepository : IDisposable
{
    /// <summary>Top-level folders that hold no kfunc registrations of the kernel itself (selftests under tools/ register test kfuncs).</summary>
    public static readonly IReadOnlyList<string> SkippedTopLevel = ["Documentation", "LICENSES", "samples", "scripts", "tools", "usr"];

    /// <summary>
    /// Top-level folders that hold most of the tree's C files (drivers/ alone is two thirds of it) but
    /// few kfuncs: they are read only for names the rest of the tree does not resolve.
    /// </summary>
    public static readonly IReadOnlyList<string> LateTopLevel = ["arch", "drivers", "sound"];

    /// <summary>C files above this size (generated tables, firmware blobs) are not read.</summary>
    public const long MaxFileBytes = 8L << 20;

    private static readonly byte[] RegistrationMarker = "BTF_ID_FLAGS"u8.ToArray();

    private readonly Repository _repo;

    public string Location { get; }

    private KernelRepository(string location, Repository repo)
    {
        Location = location;
        _repo = repo;
    }

    internal Repository Git => _repo;

    /// <summary>Opens the repository at <paramref name="path"/> (a work tree or a bare repository); a clear InputException otherwise.</summary>
    public static KernelRepository Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(full))
            throw new InputException(new Problem("--upstream", 0, 0, "", $"'{path}' does not exist; pass the path of a kernel clone"));
        if (!Repository.IsValid(full))
            throw new InputException(new Problem("--upstream", 0, 0, "", $"'{path}' is not a git repository; pass the path of a kernel clone"));
        // The kernel clone is read-only input, read object by object: like git itself, skip re-hashing
        // every object on read (libgit2's default; it doubles scan and walk times), and skip libgit2's
        // object cache (up to 256 MiB), which a single pass over the tree and history never hits.
        // Both are process-wide libgit2 settings; KfuncForge only reads repositories.
        GlobalSettings.SetStrictHashVerification(false);
        GlobalSettings.SetEnableCaching(false);
        try
        {
            return new KernelRepository(path, new Repository(full));
        }
        catch (LibGit2SharpException e)
        {
            throw new InputException(new Problem("--upstream", 0, 0, "", $"'{path}' cannot be opened as a git repository: {e.Message}"));
        }
    }

    /// <summary>Resolves a tag, branch, commit id or other revision expression to a commit.</summary>
    public ResolvedRef Resolve(string reference)
    {
        GitObject? found = null;
        try
        {
            found = _repo.Lookup(reference);
        }
        catch (LibGit2SharpException)
        {
            // Malformed revision expressions throw; they are unknown refs to the user.
        }
        Commit? commit = null;
        try
        {
            commit = found?.Peel<Commit>();
        }
        catch (LibGit2SharpException)
        {
        }
        if (commit is null)
        {
            var what = found is null ? "no tag, branch or commit by that name" : $"it names a {found.GetType().Name.ToLowerInvariant()}, not a commit";
            var tags = _repo.Tags.Count();
            var hint = tags == 0 ? "; the repository has no tags (fetch them with 'git fetch --tags')" : "";
            throw new InputException(new Problem("--ref", 0, 0, "", $"unknown ref '{reference}' in '{Location}': {what}{hint}"));
        }
        var isTag = _repo.Tags[reference] is not null;
        return new ResolvedRef(reference, commit) { Stable = isTag ? reference : commit.Sha };
    }

    /// <summary>The blob at <paramref name="path"/> in the commit's tree, or null when there is none.</summary>
    public static ObjectId? BlobId(Commit commit, string path) =>
        commit[path] is { TargetType: TreeEntryTargetType.Blob } entry ? entry.Target.Id : null;

    public string ReadText(ObjectId blob)
    {
        var b = _repo.Lookup<Blob>(blob);
        using var stream = b.GetContentStream();
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Reads every C file below the top-level folders <paramref name="topLevel"/> accepts (never
    /// <see cref="SkippedTopLevel"/>) once. A file is kept (as text) when it contains BTF_ID_FLAGS and
    /// one of the names; it is listed (path and blob only) when it mentions a name without
    /// registering kfuncs. Memory stays at one blob plus the kept files.
    /// </summary>
    public TreeScan Scan(Commit commit, IReadOnlyCollection<string> names, Func<string, bool> topLevel)
    {
        var clock = Stopwatch.StartNew();
        var needles = names.Select(n => Encoding.ASCII.GetBytes(n)).ToList();
        var registering = new List<SourceFile>();
        var mentioning = new List<(string, ObjectId)>();
        var filesRead = 0;
        long bytesRead = 0;
        var tooLarge = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            var pending = new Stack<(Tree Tree, string Prefix)>();
            pending.Push((commit.Tree, ""));
            while (pending.Count > 0)
            {
                var (tree, prefix) = pending.Pop();
                foreach (var entry in tree)
                {
                    var path = prefix + entry.Name;
                    if (entry.TargetType == TreeEntryTargetType.Tree)
                    {
                        if (prefix.Length == 0 && (SkippedTopLevel.Contains(entry.Name) || !topLevel(entry.Name))) continue;
                        pending.Push(((Tree)entry.Target, path + "/"));
                        continue;
                    }
                    if (entry.TargetType != TreeEntryTargetType.Blob || !entry.Name.EndsWith(".c", StringComparison.Ordinal)) continue;
                    if (prefix.Length == 0 && !topLevel("")) continue; // C files at the top belong to the early pass
                    var blob = (Blob)entry.Target;
                    var size = blob.Size;
                    if (size > MaxFileBytes) { tooLarge++; continue; }
                    if (buffer.Length < size)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = ArrayPool<byte>.Shared.Rent((int)size);
                    }
                    using (var stream = blob.GetContentStream()) stream.ReadExactly(buffer, 0, (int)size);
                    filesRead++;
                    bytesRead += size;
                    var content = buffer.AsSpan(0, (int)size);
                    var mentions = false;
                    foreach (var needle in needles)
                        if (content.IndexOf(needle) >= 0) { mentions = true; break; }
                    if (!mentions) continue;
                    if (content.IndexOf(RegistrationMarker) >= 0)
                        registering.Add(new SourceFile(path, blob.Id, new CText(Encoding.UTF8.GetString(content))));
                    else
                        mentioning.Add((path, blob.Id));
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        registering.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        mentioning.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        return new TreeScan(registering, mentioning, filesRead, bytesRead, tooLarge, clock.Elapsed);
    }

    public void Dispose() => _repo.Dispose();
}
