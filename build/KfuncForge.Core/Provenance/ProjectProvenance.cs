using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using LibGit2Sharp;

namespace KfuncForge.Provenance;

/// <summary>
/// Which state of this project produced an artifact: the commit of the source tree and whether the
/// work tree differed from it (modified, staged or untracked files; ignored files such as
/// artifacts/ do not count). Every build output and package records it. Outside a git repository
/// Commit and Dirty are null and Reason says why.
/// </summary>
public sealed record ProjectProvenance(string? Commit, bool? Dirty, IReadOnlyList<string> DirtyPaths, string? Reason)
{
    /// <summary>At most this many changed paths are listed; Dirty says the rest.</summary>
    public const int MaxListedPaths = 20;

    /// <summary>Reads the repository that contains <paramref name="sourceRoot"/> (searching upwards, worktrees included).</summary>
    public static ProjectProvenance Read(string sourceRoot)
    {
        var full = Path.GetFullPath(sourceRoot);
        string? gitDir;
        try
        {
            gitDir = Repository.Discover(full);
        }
        catch (LibGit2SharpException e)
        {
            return Unknown($"cannot look for a git repository above '{full}': {e.Message}");
        }
        if (gitDir is null) return Unknown($"'{full}' is not inside a git repository");
        try
        {
            using var repo = new Repository(gitDir);
            if (repo.Info.IsBare) return Unknown($"'{gitDir}' is a bare repository; build from a work tree");
            var head = repo.Head?.Tip;
            if (head is null) return Unknown($"the repository at '{repo.Info.WorkingDirectory}' has no commit yet");
            var status = repo.RetrieveStatus(new StatusOptions
            {
                IncludeUntracked = true,
                RecurseUntrackedDirs = true,
                IncludeIgnored = false,
                ExcludeSubmodules = true,
            });
            var changed = status.Where(e => e.State != FileStatus.Unaltered && e.State != FileStatus.Ignored)
                .Select(e => e.FilePath.Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();
            return new ProjectProvenance(head.Sha, changed.Count > 0, changed.Take(MaxListedPaths).ToList(), null);
        }
        catch (LibGit2SharpException e)
        {
            return Unknown($"cannot read the git repository at '{gitDir}': {e.Message}");
        }
    }

    public static ProjectProvenance Unknown(string reason) => new(null, null, [], reason);

    /// <summary>One line of JSON with keys in a fixed order, so equal provenance gives byte-identical output (not meant for embedding in HTML).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (Commit is null) w.WriteNull("commit"); else w.WriteString("commit", Commit);
            if (Dirty is null) w.WriteNull("dirty"); else w.WriteBoolean("dirty", Dirty.Value);
            w.WriteStartArray("dirty_paths");
            foreach (var p in DirtyPaths) w.WriteStringValue(p);
            w.WriteEndArray();
            if (Reason is null) w.WriteNull("reason"); else w.WriteString("reason", Reason);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>A short human form for logs and package descriptions: "1a2b3c4d5e6f" or "1a2b3c4d5e6f+dirty".</summary>
    public override string ToString() => Commit is null ? $"unknown ({Reason})" : Commit[..12] + (Dirty == true ? "+dirty" : "");
}
