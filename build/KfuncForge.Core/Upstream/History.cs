using System.Diagnostics;
using System.Text.RegularExpressions;
using LibGit2Sharp;

namespace KfuncForge.Upstream;

/// <summary>A commit in upstream's history, copied out of LibGit2Sharp so it outlives the repository handle.</summary>
public sealed record UpstreamCommit(string Sha, string Subject, DateTimeOffset When)
{
    public string Short => Sha[..12];

    public static UpstreamCommit Of(Commit c) => new(c.Sha, c.MessageShort, c.Author.When);
}

/// <summary>The commit where a property of some files started to hold, and what the walk cost.</summary>
public sealed record Origin(UpstreamCommit Commit, int CommitsVisited, int FileVersionsParsed, TimeSpan Elapsed)
{
}

/// <summary>
/// History walks limited to a few paths. Starting at a commit where a property of those files
/// holds (the kfunc is defined and registered; its definition has a given hash), the walk steps to
/// a parent whose files are identical (no parsing needed), else to a parent where the property
/// still holds (parsing only that parent's changed files), and stops at the first commit none of
/// whose parents qualify. So it follows the line of history the change arrived on, through merges,
/// reads one tree path per step, parses each distinct file version once and never goes further
/// back than the commit it reports.
/// </summary>
public static class History
{
    /// <param name="repo">The repository to walk.</param>
    /// <param name="start">Id of a commit where the property holds.</param>
    /// <param name="paths">The files the property depends on.</param>
    /// <param name="holds">The property, given the blob ids of <paramref name="paths"/> (null for a missing file); called once per distinct combination.</param>
    public static Origin FindOrigin(KernelRepository repo, string start, IReadOnlyList<string> paths, Func<IReadOnlyList<ObjectId?>, bool> holds)
    {
        var clock = Stopwatch.StartNew();
        var cache = new Dictionary<string, bool>(StringComparer.Ordinal);
        var parsed = 0;
        bool Holds(ObjectId?[] ids)
        {
            var key = string.Join(",", ids.Select(i => i?.Sha ?? "-"));
            if (cache.TryGetValue(key, out var known)) return known;
            parsed++;
            return cache[key] = holds(ids);
        }

        // A fresh Commit object: LibGit2Sharp caches each commit's parents in the commit, so walking
        // from an object someone else holds (a ResolvedRef) would keep every visited commit alive.
        var current = repo.Git.Lookup<Commit>(start);
        var currentIds = Ids(current, paths);
        var visited = 1;
        while (true)
        {
            Commit? next = null;
            ObjectId?[]? nextIds = null;
            var parents = current.Parents.ToList();
            var parentIds = new ObjectId?[parents.Count][];
            for (var i = 0; i < parents.Count && next is null; i++)
            {
                parentIds[i] = Ids(parents[i], paths);
                if (parentIds[i].SequenceEqual(currentIds)) (next, nextIds) = (parents[i], parentIds[i]);
            }
            for (var i = 0; i < parents.Count && next is null; i++)
            {
                parentIds[i] ??= Ids(parents[i], paths);
                if (parentIds[i].Any(id => id is not null) && Holds(parentIds[i])) (next, nextIds) = (parents[i], parentIds[i]);
            }
            if (next is null) return new Origin(UpstreamCommit.Of(current), visited, parsed, clock.Elapsed);
            current = next;
            currentIds = nextIds!;
            visited++;
        }
    }

    private static ObjectId?[] Ids(Commit commit, IReadOnlyList<string> paths)
    {
        var ids = new ObjectId?[paths.Count];
        for (var i = 0; i < paths.Count; i++) ids[i] = KernelRepository.BlobId(commit, paths[i]);
        return ids;
    }
}

/// <summary>The first mainline release tag (vX.Y or vX.Y-rcN) that contains a commit.</summary>
public static partial class ReleaseTags
{
    [GeneratedRegex(@"^v(?<major>\d+)\.(?<minor>\d+)(?:-rc(?<rc>\d+))?$")]
    private static partial Regex Mainline();

    /// <summary>
    /// The earliest mainline tag containing <paramref name="commit"/>, or null when no such tag exists.
    /// Mainline tags form one line of history (each release contains the previous one), so a binary
    /// search over them in version order needs only a handful of ancestry checks.
    /// </summary>
    public static (string Tag, int Major, int Minor)? FirstContaining(KernelRepository kernel, string commitSha)
    {
        var repo = kernel.Git;
        var commit = repo.Lookup<Commit>(commitSha) ?? throw new ArgumentException($"no commit {commitSha}", nameof(commitSha));
        var tags = new List<(string Name, int Major, int Minor, int Rc, Commit Commit)>();
        foreach (var tag in repo.Tags)
        {
            var m = Mainline().Match(tag.FriendlyName);
            if (!m.Success) continue;
            if (tag.PeeledTarget is not Commit target) continue;
            var rc = m.Groups["rc"].Success ? int.Parse(m.Groups["rc"].Value, System.Globalization.CultureInfo.InvariantCulture) : int.MaxValue;
            tags.Add((tag.FriendlyName, int.Parse(m.Groups["major"].Value, System.Globalization.CultureInfo.InvariantCulture),
                int.Parse(m.Groups["minor"].Value, System.Globalization.CultureInfo.InvariantCulture), rc, target));
        }
        tags.Sort((a, b) => (a.Major, a.Minor, a.Rc).CompareTo((b.Major, b.Minor, b.Rc)));
        int lo = 0, hi = tags.Count - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            if (Contains(repo, tags[mid].Commit, commit)) { found = mid; hi = mid - 1; }
            else lo = mid + 1;
        }
        return found < 0 ? null : (tags[found].Name, tags[found].Major, tags[found].Minor);
    }

    private static bool Contains(Repository repo, Commit tip, Commit commit) =>
        tip.Id == commit.Id || repo.ObjectDatabase.FindMergeBase(tip, commit)?.Id == commit.Id;
}
