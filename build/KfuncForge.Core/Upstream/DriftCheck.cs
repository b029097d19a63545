using System.Diagnostics;
using KfuncForge.Model;

namespace KfuncForge.Upstream;

public enum DriftState
{
    /// <summary>Everything recorded matches upstream at the ref.</summary>
    Unchanged,

    /// <summary>Upstream moved: prototype, flags, registration or body differ, or the kfunc can no longer be read there.</summary>
    Changed,

    /// <summary>What is recorded matches, but the body was never recorded (no import yet), so it could not be compared.</summary>
    Unchecked,
}

public sealed record DriftItem(string Module, string Kfunc, DriftState State, IReadOnlyList<string> Changes, IReadOnlyList<string> Notes, UpstreamCommit? LastChange);

public sealed record DriftReport(string Upstream, ResolvedRef At, IReadOnlyList<DriftItem> Items, TreeScan Scan, TimeSpan Elapsed)
{
    public bool Moved => Items.Any(i => i.State == DriftState.Changed);
}

/// <summary>
/// kfuncforge drift: compares every selected kfunc's recorded upstream state (prototype, flags,
/// program types, BTF sets, filters, body hash) with the kernel repository at a newer ref, and for
/// what moved, finds the commit that last changed it (a history walk limited to its files).
/// </summary>
public static class DriftCheck
{
    public static DriftReport Run(IReadOnlyList<KfuncModule> modules, string upstream, string reference)
    {
        var clock = Stopwatch.StartNew();
        using var repo = KernelRepository.Open(upstream);
        var at = repo.Resolve(reference);
        var kfuncs = modules.SelectMany(m => m.Kfuncs.Select(k => (Module: m.Name, Kfunc: k))).ToList();
        var located = KfuncLocator.Locate(repo, at, kfuncs.Select(k => k.Kfunc.Name).ToList(), out var scan);
        var items = new List<DriftItem>();
        foreach (var (module, kfunc) in kfuncs)
            items.Add(located[kfunc.Name] switch
            {
                Located.Found f => Compare(repo, module, kfunc, f.Kfunc),
                Located.Failed f => new DriftItem(module, kfunc.Name, DriftState.Changed, [$"cannot be read upstream any more: {f.Problem}"], [], null),
                _ => throw new InvalidOperationException(),
            });
        return new DriftReport(upstream, at, items, scan, clock.Elapsed);
    }

    private static DriftItem Compare(KernelRepository repo, string module, Kfunc recorded, UpstreamKfunc now)
    {
        var changes = new List<string>();
        var notes = new List<string>();
        var up = recorded.Upstream;
        var since = up.Ref is null ? "recorded" : $"recorded at {up.Ref}";

        if (KfuncSource.Normalise(recorded.Prototype) != KfuncSource.Normalise(now.Prototype))
            changes.Add($"prototype: {since} '{recorded.Prototype}', now '{now.Prototype}'");
        SetChange(changes, "flags", since, recorded.Flags, now.Flags);
        SetChange(changes, "program types", since,
            recorded.ProgramTypes.Select(p => p.KernelEnum).ToList(), now.ProgramTypes);
        if (up.Ref is not null)
        {
            SetChange(changes, "BTF sets", since, up.BtfSets ?? [], now.BtfSets);
            SetChange(changes, "filters", since, up.Filters ?? [], now.Filters);
        }
        if (up.BodySha256 is null)
            notes.Add("body not compared: no upstream.body_sha256 recorded; run `kfuncforge import` for this kfunc to record it");
        else if (up.BodySha256 != now.Definition.BodySha256)
            changes.Add($"body: {since} sha256 {up.BodySha256[..16]}…, now {now.Definition.BodySha256[..16]}… ({now.DefinitionPath}:{now.Definition.Line})");
        if (up.Path is not null && up.Path != now.DefinitionPath)
            notes.Add($"definition moved from {up.Path} to {now.DefinitionPath}");

        var state = changes.Count > 0 ? DriftState.Changed : up.BodySha256 is null ? DriftState.Unchecked : DriftState.Unchanged;
        UpstreamCommit? lastChange = null;
        if (state == DriftState.Changed)
        {
            lastChange = LastChange(repo, now).Commit;
        }
        return new DriftItem(module, recorded.Name, state, changes, notes, lastChange);
    }

    /// <summary>The commit since which the kfunc looks upstream the way it looks at the ref (walking only its files).</summary>
    public static Origin LastChange(KernelRepository repo, UpstreamKfunc now)
    {
        var paths = now.Paths;
        var target = Fingerprint(now);
        return History.FindOrigin(repo, now.At.CommitId, paths, ids =>
        {
            var files = new List<SourceFile>();
            for (var i = 0; i < paths.Count; i++)
                if (ids[i] is { } id) files.Add(new SourceFile(paths[i], id, new CText(repo.ReadText(id))));
            return KfuncLocator.LocateIn(now.At, now.Name, files) is Located.Found f && Fingerprint(f.Kfunc) == target;
        });
    }

    private static string Fingerprint(UpstreamKfunc k) => string.Join("\n",
        KfuncSource.Normalise(k.Prototype),
        string.Join(",", k.Flags.Order(StringComparer.Ordinal)),
        string.Join(",", k.ProgramTypes.Order(StringComparer.Ordinal)),
        string.Join(",", k.BtfSets.Order(StringComparer.Ordinal)),
        string.Join(",", k.Filters.Order(StringComparer.Ordinal)),
        k.Definition.BodySha256);

    private static void SetChange(List<string> changes, string what, string since, IReadOnlyList<string> before, IReadOnlyList<string> after)
    {
        var added = after.Except(before, StringComparer.Ordinal).ToList();
        var removed = before.Except(after, StringComparer.Ordinal).ToList();
        if (added.Count == 0 && removed.Count == 0) return;
        var parts = new List<string>();
        if (added.Count > 0) parts.Add("added " + string.Join(", ", added));
        if (removed.Count > 0) parts.Add("removed " + string.Join(", ", removed));
        changes.Add($"{what}: {string.Join("; ", parts)} ({since} [{string.Join(", ", before)}], now [{string.Join(", ", after)}])");
    }
}
