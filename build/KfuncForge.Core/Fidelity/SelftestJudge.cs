using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Upstream;
using KfuncForge.Vm;

namespace KfuncForge.Fidelity;

/// <summary>Passed: upstream's expectation held. Declared: it did not, exactly as a difference module.yaml declares for this kernel. Failed: anything else. NotRun: the harness could not run it (reason given). Skipped: the kfunc is infeasible there.</summary>
public enum SelftestStatus { Passed, Declared, Failed, NotRun, Skipped }

public sealed record SelftestOnKernel(string Kernel, Verdict? Mode, SelftestStatus Status, string Observed, string Message)
{
    public string? DeclaredReason { get; init; }
}

/// <summary>One upstream selftest program (Program "*": the whole file, when none of it could run anywhere) across the run's kernels.</summary>
public sealed record SelftestResult(string Module, string File, string Program, IReadOnlyList<string> Kfuncs, string Upstream, IReadOnlyList<SelftestOnKernel> Kernels)
{
    public bool Passed => Kernels.All(k => k.Status != SelftestStatus.Failed);
}

/// <summary>The upstream selftests of a fidelity run: the tree and ref they came from, and every program's result.</summary>
public sealed record SelftestRun(string Tree, string Ref, string Commit, IReadOnlyList<SelftestResult> Programs)
{
    public bool Passed => Programs.All(p => p.Passed);
}

/// <summary>
/// Judges upstream's selftest programs on each kernel by their own annotations (docs/fidelity.md): a __failure
/// program must be refused with each __msg in the verifier's log, in order; a __success one must load and, with
/// __retval, return it. Where that does not hold, a difference module.yaml declares on that kernel for a kfunc the
/// program calls excuses it only when the kernel did exactly what the difference says.
/// </summary>
public static class SelftestJudge
{
    public static SelftestRun Judge(SelftestTree tree, IReadOnlyList<BootVerdict> boots)
    {
        var ordered = boots.OrderBy(b => FidelityJudge.Version(b.Plan.Kernel.Release)).ThenBy(b => b.Plan.Kernel.Release, StringComparer.Ordinal).ToList();
        // Every program planned somewhere, and every file or program not run somewhere, in a stable order.
        var planned = ordered.SelectMany(b => b.Plan.Smoke.Where(s => s.Selftest is not null)).GroupBy(s => (s.Module, s.Name)).ToDictionary(g => g.Key, g => g.First());
        var notRun = ordered.SelectMany(b => b.Plan.NotRun.Where(n => n.What.StartsWith(SmokePlanner.SelftestPrefix, StringComparison.Ordinal))).ToList();
        var keys = planned.Keys.Concat(notRun.Select(n => (n.Module, Name: n.What)))
            .Where(k => k.Name.Count(c => c == '.') >= 2 || !planned.Keys.Any(p => p.Module == k.Module && p.Name.StartsWith(k.Name + ".", StringComparison.Ordinal)))
            .Distinct().OrderBy(k => k.Module, StringComparer.Ordinal).ThenBy(k => k.Name, StringComparer.Ordinal).ToList();
        var results = new List<SelftestResult>();
        foreach (var (module, name) in keys)
        {
            var parts = name[SmokePlanner.SelftestPrefix.Length..].Split('.', 2);
            var (stem, program) = (parts[0], parts.Length > 1 ? parts[1] : "*");
            var file = tree.Files.FirstOrDefault(f => f.Stem == stem);
            var spec = planned.TryGetValue((module, name), out var p) ? p.Selftest!.Spec : null;
            var kernels = ordered.Select(b => OnKernel(tree, b, module, name, SmokePlanner.SelftestPrefix + stem)).ToList();
            results.Add(new SelftestResult(module, file?.Source ?? stem, program, p?.Calls ?? file?.Kfuncs ?? [], spec?.Describe() ?? "-", kernels));
        }
        return new SelftestRun(tree.Location, tree.Ref, tree.Commit, results);
    }

    private static SelftestOnKernel OnKernel(SelftestTree tree, BootVerdict boot, string module, string name, string fileStep)
    {
        var release = boot.Plan.Kernel.Release;
        var s = boot.Plan.Smoke.FirstOrDefault(x => x.Module == module && x.Name == name && x.Selftest is not null);
        if (s is null)
        {
            var why = boot.Plan.NotRun.FirstOrDefault(n => n.Module == module && (n.What == name || n.What == fileStep));
            var calls = tree.Files.FirstOrDefault(f => SmokePlanner.SelftestPrefix + f.Stem == fileStep)?.Kfuncs ?? [];
            var fileMode = Mode(boot.Plan, module, calls);
            return new SelftestOnKernel(release, fileMode, fileMode == Verdict.Infeasible ? SelftestStatus.Skipped : SelftestStatus.NotRun, "-",
                why?.Reason ?? (boot.Boot is null ? "the kernel was not booted" : "not planned on this kernel"));
        }
        var mode = Mode(boot.Plan, module, s.Calls);
        var spec = s.Selftest!.Spec;
        var r = boot.Boot?.Records.OfType<SmokeRecord>().FirstOrDefault(x => x.Module == module && x.Name == name);
        if (r is null)
            return new SelftestOnKernel(release, mode, SelftestStatus.Failed, "no record", boot.Boot is null ? "the kernel was not booted" : "the agent reported nothing for this program");
        var log = r.VerifierLog ?? "";
        var observed = !r.Loaded ? log.Trim().Length > 0 ? $"rejected: {Last(log, spec.Messages)}" : $"load failed: {r.Error} (errno {r.Errno})"
            : s.Mode == "load" ? "loaded"
            : r.Ran ? $"returned {(int)(uint)(r.Retval ?? 0)}" : $"run failed: {r.RunError} (errno {r.RunErrno})";
        if (Holds(spec, r, log))
            return new SelftestOnKernel(release, mode, SelftestStatus.Passed, observed, $"{spec.Describe()} as upstream expects");
        foreach (var d in s.Selftest.Declared)
            if (Matches(d.Expect, spec, r, log))
                return new SelftestOnKernel(release, mode, SelftestStatus.Declared, observed, $"declared difference: {FidelityJudge.Describe(d.Expect)}") { DeclaredReason = d.Reason };
        return new SelftestOnKernel(release, mode, SelftestStatus.Failed, observed, $"upstream expects {spec.Describe()}, got {observed}");
    }

    /// <summary>Upstream's verdict: refused with every message in order, or loaded (and returned __retval when given).</summary>
    private static bool Holds(SelftestSpec spec, SmokeRecord r, string log)
    {
        if (spec.ExpectFailure)
        {
            if (r.Loaded || log.Trim().Length == 0) return false;
            var at = 0;
            foreach (var m in spec.Messages)
            {
                var found = log.IndexOf(m, at, StringComparison.Ordinal);
                if (found < 0) return false;
                at = found + m.Length;
            }
            return true;
        }
        if (!r.Loaded) return false;
        if (!spec.Runs) return true;
        return r.Ran && (spec.Retval is not { } want || (int)(uint)(r.Retval ?? 0) == want);
    }

    /// <summary>
    /// A declared alternative: refused with its text in the log; or loaded and, when upstream runs the program
    /// (__retval), run and returned exactly the declared value (a failed run matches nothing). A program upstream
    /// expects to be refused, or only loads, is never run: for it a declared result means that it loads.
    /// </summary>
    private static bool Matches(SmokeExpectation e, SelftestSpec spec, SmokeRecord r, string log) =>
        e.VerifierRejects is { } text
            ? !r.Loaded && log.Contains(text, StringComparison.Ordinal)
            : r.Loaded && (!spec.Runs || (r.Ran && (int)(uint)(r.Retval ?? 0) == e.Retval));

    private static Verdict? Mode(BootPlan plan, string module, IReadOnlyList<string> calls)
    {
        var verdicts = plan.Kfuncs.Where(k => k.Module == module && calls.Contains(k.Kfunc)).Select(k => k.Verdict).ToList();
        if (verdicts.Count == 0) verdicts = plan.Kfuncs.Where(k => k.Module == module).Select(k => k.Verdict).Distinct().ToList();
        return verdicts.Contains(Verdict.Infeasible) ? Verdict.Infeasible : verdicts.Contains(Verdict.Backport) ? Verdict.Backport : verdicts.Count > 0 ? Verdict.Native : null;
    }

    private static string Last(string log, IReadOnlyList<string> messages)
    {
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return messages.Select(m => lines.FirstOrDefault(l => l.Contains(m, StringComparison.Ordinal))).FirstOrDefault(l => l is not null)
            ?? lines.Where(l => !l.StartsWith("processed ", StringComparison.Ordinal)).LastOrDefault() ?? "";
    }
}
