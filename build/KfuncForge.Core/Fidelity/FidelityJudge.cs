using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Vm;

namespace KfuncForge.Fidelity;

/// <summary>What a case did on one kernel, as the agent reported it.</summary>
public enum ObservedKind { Returned, Rejected, LoadFailed, RunFailed, Missing }

/// <summary>One observation. Value: the program's result (signed 32-bit; for socket iterators, the sockets not aborted). Detail: the evidence line.</summary>
public sealed record Observed(ObservedKind Kind, long? Value, string Detail)
{
    /// <summary>Two kernels behaved alike: both returned the same value, or both refused the program at load.</summary>
    public bool SameAs(Observed other) => Kind == other.Kind && (Kind != ObservedKind.Returned || Value == other.Value);

    public override string ToString() => Kind switch
    {
        ObservedKind.Returned => $"{Value}",
        ObservedKind.Rejected => "rejected",
        ObservedKind.LoadFailed => "load failed",
        ObservedKind.RunFailed => "run failed",
        _ => "no record",
    };
}

/// <summary>Same: upstream's result (and the native kernel's). Declared: the alternative declared for this kernel. Differs: anything else (a failure). Skipped: not run by design (infeasible). Error: could not be run.</summary>
public enum CaseStatus { Same, Declared, Differs, Skipped, Error }

/// <summary>One case on one kernel: how the kfunc is provided there, what was expected, what happened.</summary>
public sealed record CaseOnKernel(string Kernel, Verdict Mode, SmokeExpectation? Expected, Observed? Observed, CaseStatus Status, string Message)
{
    /// <summary>The declared difference's reason when Status is Declared.</summary>
    public string? DeclaredReason { get; init; }
}

public sealed record CaseResult(string Module, string Kfunc, string Name, SmokeExpectation Upstream, string? OracleKernel, IReadOnlyList<CaseOnKernel> Kernels)
{
    public bool Passed => OracleKernel is not null && Kernels.All(k => k.Status is CaseStatus.Same or CaseStatus.Declared or CaseStatus.Skipped);
}

/// <summary>A reference kernel of the run: its release, the profile it came from, and its version (for ordering and ranges).</summary>
public sealed record FidelityKernel(string Release, string Distro, KernelVersion Version, bool Booted, bool Passed)
{
    /// <summary>The fault detectors the guest reported (hung-task timeout, lockup threshold, soft-lockup switch); null when not booted.</summary>
    public long? HungTaskTimeoutSecs { get; init; }
    public long? WatchdogThresh { get; init; }
    public long? SoftWatchdog { get; init; }

    /// <summary>Kernel faults found on the guest's console (WARN, oops, hung task, soft lockup, …); each also fails the boot.</summary>
    public IReadOnlyList<string> ConsoleFaults { get; init; } = [];
}

/// <summary>One load step's cost on a backport kernel relative to the native kernel: backport ns/op ÷ native ns/op (for socket steps: time per destroyed socket).</summary>
public sealed record LoadRatio(string Module, string Step, string Kfunc, string NativeKernel, double NativeNsPerOp, string BackportKernel, double BackportNsPerOp)
{
    public double Ratio => BackportNsPerOp / NativeNsPerOp;

    /// <summary>Each side's baseline (a program calling no kfunc, same boot) in ns/op, when the suite has one.</summary>
    public double? NativeBaselineNs { get; init; }
    public double? BackportBaselineNs { get; init; }

    /// <summary>The ratio with each kernel's ns/op divided by its own boot's baseline first (host speed cancels out).</summary>
    public double? Normalised => NativeBaselineNs is > 0 && BackportBaselineNs is > 0 ? BackportNsPerOp / BackportBaselineNs / (NativeNsPerOp / NativeBaselineNs) : null;
}

/// <summary>A check of a boot that failed outside the fidelity cases (module load, load step, kernel fault, timeout).</summary>
public sealed record BootFailure(string Kernel, string Module, string Kind, string Name, string Reason, string Message);

/// <summary>A socket load step on one kernel, with the evidence the 10,000-socket run asks for: every connection aborted, the timings, and the sockets in use before and after.</summary>
public sealed record SocketRun(string Kernel, string Module, string Step, Verdict Mode, string Proto, long Sockets, long Opened, long Aborted,
    long LocalAborted, long PeersAborted, long PeersReset, long? InuseBefore, long? InuseOpen, long? InuseAfter, double SetupSeconds, double IteratorSeconds, double CompleteSeconds, bool Passed);

public sealed record FidelityResult(
    IReadOnlyList<FidelityKernel> Kernels,
    IReadOnlyList<CaseResult> Cases,
    IReadOnlyList<LoadMeasurement> Loads,
    IReadOnlyList<LoadRatio> Ratios,
    IReadOnlyList<BootFailure> BootFailures)
{
    public IReadOnlyList<SocketRun> SocketRuns { get; init; } = [];

    /// <summary>The per-call figures of the instruction-count boots (null: that boot was not run, --icount=off).</summary>
    public InstructionTime? InstructionTime { get; init; }

    /// <summary>Upstream's selftests run beside the cases (--upstream), or null.</summary>
    public SelftestRun? Selftests { get; init; }

    public bool Passed => Cases.Count > 0 && Cases.All(c => c.Passed) && BootFailures.Count == 0 && (Selftests is null || Selftests.Passed)
        && (InstructionTime is null || (InstructionTime.Failures.Count == 0 && InstructionTime.Regressions.Count == 0));
}

/// <summary>
/// The test_run load steps measured in instruction time (QEMU -icount shift=0,sleep=off: one virtual ns per
/// instruction), their backport ÷ native ratios, and the steps that grew against the previous report.
/// </summary>
public sealed record InstructionTime(IReadOnlyList<LoadMeasurement> Loads, IReadOnlyList<LoadRatio> Ratios, IReadOnlyList<BootFailure> Failures)
{
    public IReadOnlyList<TimeRegression> Regressions { get; init; } = [];

    /// <summary>What was compared with: the previous report's path and the threshold, or why nothing was.</summary>
    public string Baseline { get; init; } = "no previous report";

    /// <summary>Figures that the previous report also has (same module, step and kernel), and how many of those are exactly equal.</summary>
    public int Compared { get; init; }
    public int Identical { get; init; }
}

/// <summary>A backport step whose instruction time per call grew by more than the threshold since the previous report (same kernel, same step).</summary>
public sealed record TimeRegression(string Module, string Step, string Kernel, double PreviousNs, double CurrentNs)
{
    public double Growth => CurrentNs / PreviousNs - 1;
}

/// <summary>
/// Judges a fidelity run across kernels. Each case must give upstream's result on every native kernel
/// (the newest native kernel is the oracle), and on every backport kernel either the oracle's result or,
/// where a difference was declared for that kernel, exactly the declared alternative. Anything else is an
/// undeclared difference and fails the run, as does a declared difference that did not happen.
/// </summary>
public static class FidelityJudge
{
    public static FidelityResult Judge(IReadOnlyList<KfuncModule> modules, IReadOnlyList<BootVerdict> boots)
    {
        var ordered = boots.OrderBy(b => Version(b.Plan.Kernel.Release)).ThenBy(b => b.Plan.Kernel.Release, StringComparer.Ordinal).ToList();
        var kernels = ordered.Select(b => new FidelityKernel(b.Plan.Kernel.Release, b.Plan.Distro, Version(b.Plan.Kernel.Release), b.Boot is not null, b.Passed)
        {
            HungTaskTimeoutSecs = b.Boot?.Hello?.HungTaskTimeoutSecs,
            WatchdogThresh = b.Boot?.Hello?.WatchdogThresh,
            SoftWatchdog = b.Boot?.Hello?.SoftWatchdog,
            ConsoleFaults = b.Boot?.Faults.Select(f => $"{SmokeReport.Name(f.Kind)}: {f.Text}").ToList() ?? [],
        }).ToList();
        var cases = new List<CaseResult>();
        foreach (var module in modules)
        {
            if (module.Fidelity is not { } suite) continue;
            foreach (var c in suite.Cases)
                cases.Add(JudgeCase(module.Name, c, ordered));
        }
        var loads = ordered.SelectMany(b => b.Loads).ToList();
        var failures = ordered.SelectMany(b => b.Cells.SelectMany(cell => cell.Checks
                .Where(ch => ch.Status == CheckStatus.Fail && ch.Kind != "smoke" && !IsCaseNotRun(ch))
                .Select(ch => new BootFailure(b.Plan.Kernel.Release, ch.Module, ch.Kind, ch.Name, SmokeReport.Name(ch.Reason!.Value), ch.Message))))
            .ToList();
        var sockets = ordered.SelectMany(b => b.Plan.Loads.Where(l => l.Driver == LoadDriver.SocketIterator).Select(l =>
            {
                var r = b.Boot?.Records.OfType<LoadRecord>().FirstOrDefault(x => x.Module == l.Module && x.Name == l.Name);
                var passed = b.Loads.FirstOrDefault(m => m.Module == l.Module && m.Name == l.Name)?.Passed ?? false;
                return r is null ? null : new SocketRun(b.Plan.Kernel.Release, l.Module, l.Name, ModeOf(b.Plan, l.Module, l.Kfunc), r.Proto ?? "", l.Count, r.Opened, r.Aborted,
                    r.LocalAborted, r.PeersAborted, r.PeersReset, r.InuseBefore, r.InuseOpen, r.InuseAfter, r.SetupNs / 1e9, r.IterNs / 1e9, r.CompleteNs / 1e9, passed);
            }).OfType<SocketRun>())
            .OrderBy(s => s.Module, StringComparer.Ordinal).ThenBy(s => s.Step, StringComparer.Ordinal).ThenBy(s => Version(s.Kernel)).ToList();
        return new FidelityResult(kernels, cases, loads, Ratios(loads), failures) { SocketRuns = sockets };
    }

    /// <summary>The instruction-count boots: their per-call figures and ratios; any failed check of those boots is a failure.</summary>
    public static InstructionTime JudgeInstructionTime(IReadOnlyList<BootVerdict> boots)
    {
        var loads = boots.SelectMany(b => b.Loads).ToList();
        var failures = boots.SelectMany(b => b.Cells.SelectMany(cell => cell.Checks.Where(ch => ch.Status == CheckStatus.Fail && ch.Kind != "registration")
                .Select(ch => new BootFailure(b.Plan.Kernel.Release, ch.Module, "instruction-time " + ch.Kind, ch.Name, SmokeReport.Name(ch.Reason!.Value), ch.Message))))
            .ToList();
        return new InstructionTime(loads, Ratios(loads), failures);
    }

    /// <summary>
    /// Backport steps whose instruction time per call grew by more than <paramref name="threshold"/> (0.1: 10 %) over the
    /// previous report's figure for the same module, step and kernel release. Steps or kernels new in this run have nothing to compare.
    /// </summary>
    public static IReadOnlyList<TimeRegression> Regressions(InstructionTime current, IReadOnlyDictionary<(string Module, string Step, string Kernel), double> previous, double threshold) =>
        current.Loads.Where(l => l.Verdict == Verdict.Backport && l.Passed && l.NsPerCall is > 0)
            .Select(l => previous.TryGetValue((l.Module, l.Name, l.Kernel), out var before) && before > 0 ? new TimeRegression(l.Module, l.Name, l.Kernel, before, l.NsPerCall!.Value) : null)
            .OfType<TimeRegression>()
            .Where(r => r.Growth > threshold)
            .ToList();

    /// <summary>How many of this run's figures the previous report has, and how many are exactly equal (same inputs give the same instruction counts).</summary>
    public static (int Compared, int Identical) Agreement(InstructionTime current, IReadOnlyDictionary<(string Module, string Step, string Kernel), double> previous)
    {
        var pairs = current.Loads.Where(l => l.NsPerCall is not null && previous.ContainsKey((l.Module, l.Name, l.Kernel)))
            .Select(l => (Now: l.NsPerCall!.Value, Before: previous[(l.Module, l.Name, l.Kernel)])).ToList();
        return (pairs.Count, pairs.Count(p => p.Now == p.Before));
    }

    // A case that could not be planned is reported on the case itself (status error), not twice.
    private static bool IsCaseNotRun(CheckResult c) => c.Kind == "plan" && c.Name.StartsWith("fidelity ", StringComparison.Ordinal) && c.Name != "fidelity suite";

    public static CaseResult JudgeCase(string module, FidelityCase c, IReadOnlyList<BootVerdict> boots)
    {
        var raw = boots.Select(b => (Boot: b, Mode: ModeOf(b.Plan, module, c.Kfunc), Planned: b.Plan.Smoke.FirstOrDefault(s => s.Module == module && s.Name == c.Name))).ToList();
        var observations = raw.Select(r => r.Planned is null ? null : Observe(r.Boot, r.Planned)).ToList();
        var oracleIndex = raw.Select((r, i) => (r, i)).Where(x => x.r.Mode == Verdict.Native && observations[x.i] is not null)
            .Select(x => x.i).DefaultIfEmpty(-1).Last();
        var oracle = oracleIndex >= 0 ? observations[oracleIndex] : null;
        var oracleKernel = oracleIndex >= 0 ? raw[oracleIndex].Boot.Plan.Kernel.Release : null;

        var results = new List<CaseOnKernel>();
        for (var i = 0; i < raw.Count; i++)
        {
            var (boot, mode, planned) = raw[i];
            var release = boot.Plan.Kernel.Release;
            if (planned is null)
            {
                var notRun = boot.Plan.NotRun.FirstOrDefault(n => n.Module == module && (n.What == $"fidelity {c.Name}" || n.What == "fidelity suite"));
                results.Add(notRun is { Failure: null }
                    ? new CaseOnKernel(release, mode, null, null, CaseStatus.Skipped, notRun.Reason)
                    : new CaseOnKernel(release, mode, null, null, CaseStatus.Error, notRun?.Reason ?? (boot.Boot is null ? "the kernel was not booted" : "the case was not planned for this kernel")));
                continue;
            }
            var seen = observations[i]!;
            var expected = planned.Expect;
            if (planned.Declared is { } declared)
            {
                results.Add(Matches(expected, seen)
                    ? new CaseOnKernel(release, mode, expected, seen, CaseStatus.Declared, $"declared difference: {Describe(expected)}") { DeclaredReason = declared.Reason }
                    : new CaseOnKernel(release, mode, expected, seen, CaseStatus.Differs,
                        $"the declared difference ({Describe(expected)}) did not happen: got {Describe(seen)}; upstream gives {Describe(c.Expect)}") { DeclaredReason = declared.Reason });
                continue;
            }
            if (!Matches(expected, seen))
            {
                var why = mode == Verdict.Native
                    ? $"the native kernel gives {Describe(seen)}, not upstream's {Describe(expected)} as the definition says: check the expectation against upstream"
                    : oracle is not null && seen.SameAs(oracle)
                        ? $"gives {Describe(seen)} like the native kernel, but the definition expects {Describe(expected)}"
                        : $"undeclared difference: {Describe(seen)}, upstream gives {Describe(expected)}{(oracle is null ? "" : $" (native {oracleKernel}: {Describe(oracle)})")}";
                results.Add(new CaseOnKernel(release, mode, expected, seen, CaseStatus.Differs, why));
                continue;
            }
            if (oracle is not null && !seen.SameAs(oracle))
            {
                results.Add(new CaseOnKernel(release, mode, expected, seen, CaseStatus.Differs,
                    $"undeclared difference: {Describe(seen)}, the native kernel {oracleKernel} gives {Describe(oracle)}"));
                continue;
            }
            results.Add(new CaseOnKernel(release, mode, expected, seen, CaseStatus.Same, $"{Describe(seen)} as upstream"));
        }
        return new CaseResult(module, c.Kfunc, c.Name, c.Expect, oracleKernel, results);
    }

    public static Observed Observe(BootVerdict boot, GuestSmoke planned)
    {
        var r = boot.Boot?.Records.OfType<SmokeRecord>().FirstOrDefault(s => s.Module == planned.Module && s.Name == planned.Name);
        if (r is null) return new Observed(ObservedKind.Missing, null, boot.Boot is null ? "not booted" : "the agent reported nothing for this case");
        if (!r.Loaded)
        {
            var log = r.VerifierLog ?? "";
            if (log.Trim().Length == 0)
                return new Observed(ObservedKind.LoadFailed, null, $"{r.Error} (errno {r.Errno}): {Last(r.LoaderLog)}");
            var text = planned.Expect.VerifierRejects;
            var line = text is not null && log.Contains(text, StringComparison.Ordinal) ? LineWith(log, text) : Last(log);
            return new Observed(ObservedKind.Rejected, null, line);
        }
        if (!r.Ran) return new Observed(ObservedKind.RunFailed, null, $"{r.RunError} (errno {r.RunErrno})");
        if (r.Proto is not null)
            return new Observed(ObservedKind.Returned, (long)(r.Retval ?? 0),
                $"{r.Aborted} of {r.Opened} {r.Proto} {(r.Scenario ?? "ipv4/established")} aborted");
        var value = (int)(uint)(r.Retval ?? 0);
        return new Observed(ObservedKind.Returned, value, $"returned {value}");
    }

    public static bool Matches(SmokeExpectation e, Observed o) =>
        e.VerifierRejects is { } text
            ? o.Kind == ObservedKind.Rejected && o.Detail.Contains(text, StringComparison.Ordinal)
            : o.Kind == ObservedKind.Returned && o.Value == e.Retval;

    public static string Describe(SmokeExpectation e) => e.VerifierRejects is { } t ? $"rejected (\"{t}\")" : $"{e.Retval}";

    public static string Describe(Observed o) => o.Kind switch
    {
        ObservedKind.Returned => $"{o.Value}",
        ObservedKind.Rejected => $"rejected ({o.Detail})",
        _ => $"{o} ({o.Detail})",
    };

    private static Verdict ModeOf(BootPlan plan, string module, string kfunc) =>
        plan.Kfuncs.FirstOrDefault(k => k.Module == module && k.Kfunc == kfunc)?.Verdict ?? Verdict.Infeasible;

    /// <summary>Per load step: each backport kernel's ns/op over the newest native kernel's (socket steps: seconds per destroyed socket).</summary>
    public static IReadOnlyList<LoadRatio> Ratios(IReadOnlyList<LoadMeasurement> loads)
    {
        static double? PerOp(LoadMeasurement m) =>
            !m.Passed ? null : m.NsPerCall is > 0 ? m.NsPerCall : m.SocketsPerSecond is > 0 ? 1e9 / m.SocketsPerSecond : null;
        var ratios = new List<LoadRatio>();
        // The median of the boot's baseline runs: one host hiccup during one of them does not skew every ratio.
        double? Baseline(string module, string kernel)
        {
            var runs = loads.Where(m => m.Module == module && m.Kernel == kernel && FidelitySuite.IsBaseline(m.Name)).Select(PerOp).OfType<double>().Order().ToList();
            return runs.Count == 0 ? null : runs.Count % 2 == 1 ? runs[runs.Count / 2] : (runs[runs.Count / 2 - 1] + runs[runs.Count / 2]) / 2;
        }
        foreach (var step in loads.Where(l => !FidelitySuite.IsBaseline(l.Name)).GroupBy(l => (l.Module, l.Name)).OrderBy(g => g.Key.Module, StringComparer.Ordinal).ThenBy(g => g.Key.Name, StringComparer.Ordinal))
        {
            var native = step.Where(m => m.Verdict == Verdict.Native && PerOp(m) is not null).OrderBy(m => Version(m.Kernel)).LastOrDefault();
            if (native is null) continue;
            foreach (var b in step.Where(m => m.Verdict == Verdict.Backport && PerOp(m) is not null).OrderBy(m => Version(m.Kernel)).ThenBy(m => m.Kernel, StringComparer.Ordinal))
                ratios.Add(new LoadRatio(step.Key.Module, step.Key.Name, b.Kfunc, native.Kernel, PerOp(native)!.Value, b.Kernel, PerOp(b)!.Value)
                {
                    NativeBaselineNs = Baseline(step.Key.Module, native.Kernel),
                    BackportBaselineNs = Baseline(step.Key.Module, b.Kernel),
                });
        }
        return ratios;
    }

    public static KernelVersion Version(string release) => KernelVersion.TryParse(release, out var v) ? v : default;

    private static string LineWith(string log, string text) =>
        log.Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal))?.Trim() ?? text;

    private static string Last(string? log) =>
        (log ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
}
