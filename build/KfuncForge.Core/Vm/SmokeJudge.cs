using System.Globalization;
using KfuncForge.Model;
using KfuncForge.Planning;

namespace KfuncForge.Vm;

/// <summary>Why a check failed. Serialised in snake_case; the list is part of the report format (docs/smoke.md).</summary>
public enum FailureReason
{
    NotBuilt,
    KernelMissing,
    BpfCompileFailed,
    BadLoadProfile,
    InsmodFailed,
    DependencyFailed,
    ModuleBtfMissing,
    KfuncNotInBtf,
    KfuncUnresolved,
    RegistrationUnproven,
    VerifierRejected,
    NotRejected,
    RejectedForOtherReason,
    WrongRetval,
    RunFailed,
    SocketsNotAborted,
    SocketsLeaked,
    KernelPanic,
    KernelOops,
    KernelBug,
    KernelWarning,
    Lockdep,
    HungTask,
    SoftLockup,
    RcuStall,
    Sanitizer,
    Timeout,
    AgentCrashed,
    AgentIncomplete,
    BootFailed,
    NotReached,
    MissingRecord,
}

public enum CheckStatus { Pass, Fail, Skipped }

/// <summary>One check of a cell: a module load, a kfunc's registration, a smoke program, a load step, or a kernel fault.</summary>
public sealed record CheckResult(string Module, string Kind, string Name, CheckStatus Status, FailureReason? Reason, string Message)
{
    /// <summary>Evidence for people: the verifier log, the kernel's lines, the splat.</summary>
    public string? Evidence { get; init; }
}

/// <summary>One (kernel, module) cell: passes when none of its checks failed.</summary>
public sealed record CellVerdict(string Kernel, string Module, IReadOnlyList<KfuncCase> Kfuncs, IReadOnlyList<CheckResult> Checks)
{
    public bool Passed => Checks.All(c => c.Status != CheckStatus.Fail);

    /// <summary>The failure that explains the cell best: kernel-level faults first, consequences (unreached steps) last.</summary>
    public CheckResult? PrimaryFailure => Checks.Where(c => c.Status == CheckStatus.Fail)
        .OrderBy(c => Array.IndexOf(Priority, c.Reason!.Value)).FirstOrDefault();

    private static readonly FailureReason[] Priority =
    [
        FailureReason.KernelPanic, FailureReason.KernelOops, FailureReason.KernelBug, FailureReason.Lockdep, FailureReason.HungTask,
        FailureReason.SoftLockup, FailureReason.RcuStall, FailureReason.Sanitizer, FailureReason.KernelWarning,
        FailureReason.Timeout, FailureReason.AgentCrashed, FailureReason.BootFailed, FailureReason.KernelMissing, FailureReason.NotBuilt,
        FailureReason.BpfCompileFailed, FailureReason.BadLoadProfile, FailureReason.InsmodFailed, FailureReason.DependencyFailed, FailureReason.ModuleBtfMissing, FailureReason.KfuncNotInBtf,
        FailureReason.KfuncUnresolved, FailureReason.VerifierRejected, FailureReason.NotRejected, FailureReason.RejectedForOtherReason,
        FailureReason.WrongRetval, FailureReason.RunFailed, FailureReason.SocketsNotAborted, FailureReason.SocketsLeaked, FailureReason.RegistrationUnproven,
        FailureReason.AgentIncomplete, FailureReason.NotReached, FailureReason.MissingRecord,
    ];
}

/// <summary>A load step's numbers on one kernel, for the side-by-side comparison of backport and native.</summary>
public sealed record LoadMeasurement(
    string Kernel,
    string Module,
    string Name,
    string Kfunc,
    Verdict Verdict,
    LoadDriver Driver,
    long Count,
    bool Passed,
    double? NsPerCall,
    double? CallsPerSecond,
    string? Proto,
    long Aborted,
    double? SocketsPerSecond,
    double? IteratorSocketsPerSecond,
    double? SetupSeconds);

/// <summary>Where a boot's time went, from the guest's clock (boot, load, tests) and the host's (wall).</summary>
public sealed record BootTimings(double? GuestBootSeconds, double? LoadSeconds, double? TestsSeconds, double WallSeconds, double? HostFirstRecordSeconds, double ImageSeconds, bool ImageCacheHit);

/// <summary>Everything judged about one boot. Boot is null when nothing could be booted (kernel not fetched, nothing to run).</summary>
public sealed record BootVerdict(BootPlan Plan, BootResult? Boot, IReadOnlyList<CellVerdict> Cells, IReadOnlyList<LoadMeasurement> Loads, BootTimings? Timings)
{
    public bool Passed => Cells.All(c => c.Passed);

    /// <summary>The initramfs the boot used.</summary>
    public GuestImage? Image { get; init; }
}

/// <summary>
/// Compares the agent's records with the plan's expectations. Pass/fail comes only from records; the
/// console contributes kernel faults (panic, oops, WARN, lockdep, hung tasks, lockups), which fail
/// the cells they are attributed to.
/// </summary>
public static class SmokeJudge
{
    private const string UnresolvedMarker = "not found in kernel or module BTFs";

    /// <summary>A plan that was not booted: its cells carry only the plan's NotRun entries (missing kernel, infeasible kfuncs).</summary>
    public static BootVerdict Unbooted(BootPlan plan)
    {
        var cells = plan.CellModules.Select(m => new CellVerdict(plan.Kernel.Release, m, plan.Kfuncs.Where(k => k.Module == m).ToList(),
            plan.NotRun.Where(n => n.Module == m).Select(NotRunCheck).ToList())).ToList();
        return new BootVerdict(plan, null, cells, [], null);
    }

    private static CheckResult NotRunCheck(NotRun n) =>
        new(n.Module, "plan", n.What, n.Failure is null ? CheckStatus.Skipped : CheckStatus.Fail, n.Failure, n.Reason);

    public static BootVerdict Judge(BootPlan plan, BootResult boot, double imageSeconds = 0, bool imageCacheHit = false)
    {
        var checks = plan.CellModules.ToDictionary(m => m, _ => new List<CheckResult>(), StringComparer.Ordinal);
        void Add(CheckResult c)
        {
            if (!checks.TryGetValue(c.Module, out var list)) checks[c.Module] = list = [];
            list.Add(c);
        }

        var unfinished = boot.UnfinishedStep;
        var (bootReason, bootWhy) = BootFailure(boot, unfinished);

        // Modules.
        var moduleRecords = boot.Records.OfType<ModuleRecord>().ToDictionary(r => r.Module, StringComparer.Ordinal);
        var failedDependencies = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in plan.Modules)
        {
            var owners = m.Kind == GuestModuleKind.Built ? [m.Name] : (m.RequiredBy.Count > 0 ? m.RequiredBy : plan.CellModules);
            if (!moduleRecords.TryGetValue(m.Name, out var r))
            {
                foreach (var owner in owners)
                    Add(Missing(owner, "module", m.Name, bootReason, bootWhy, unfinished));
                continue;
            }
            var log = r.KernelLog.Count > 0 ? string.Join('\n', r.KernelLog) : null;
            if (m.Kind == GuestModuleKind.Dependency)
            {
                if (!r.Ok) failedDependencies.Add(m.Name);
                foreach (var owner in owners)
                    Add(r.Ok
                        ? new CheckResult(owner, "module", m.Name, CheckStatus.Pass, null, $"in-tree dependency {m.Name} loaded")
                        : new CheckResult(owner, "module", m.Name, CheckStatus.Fail, FailureReason.DependencyFailed, $"in-tree dependency {m.Name} did not load: {r.Error} (errno {r.Errno})") { Evidence = log });
                continue;
            }
            if (!r.Ok)
                Add(new CheckResult(m.Name, "module", m.Name, CheckStatus.Fail, FailureReason.InsmodFailed,
                    $"insmod {m.Name}.ko failed: {r.Error} (errno {r.Errno}){(log is null ? "" : "; kernel: " + r.KernelLog[^1])}") { Evidence = log });
            else if (!r.Btf)
                Add(new CheckResult(m.Name, "module", m.Name, CheckStatus.Fail, FailureReason.ModuleBtfMissing,
                    $"{m.Name} loaded but /sys/kernel/btf/{m.Name} is missing: the module has no BTF, so its kfuncs cannot register{(log is null ? "" : "; kernel: " + r.KernelLog[^1])}") { Evidence = log });
            else
            {
                Add(new CheckResult(m.Name, "module", m.Name, CheckStatus.Pass, null, $"loaded in {r.Ns / 1e6:0.0} ms with BTF"));
                foreach (var k in m.Kfuncs.Where(k => !r.KfuncsInBtf.Contains(k, StringComparer.Ordinal)))
                    Add(new CheckResult(m.Name, "registration", k, CheckStatus.Fail, FailureReason.KfuncNotInBtf, $"{k} is not a function in {m.Name}'s BTF"));
            }
        }

        // Smoke programs.
        var smokeRecords = boot.Records.OfType<SmokeRecord>().ToDictionary(r => (r.Module, r.Name));
        var provenBy = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var s in plan.Smoke)
        {
            if (!smokeRecords.TryGetValue((s.Module, s.Name), out var r))
            {
                if (s.Selftest is null) Add(Missing(s.Module, "smoke", s.Name, bootReason, bootWhy, unfinished));
                continue;
            }
            // Upstream selftests are judged by their own annotations (Fidelity/SelftestJudge), not as smoke checks.
            if (s.Selftest is null) Add(JudgeSmoke(s, r));
            // Loading proves the kfunc's BTF id resolved and the verifier accepted the call; running proves it is callable.
            // Whether it returned the right value is the smoke check's business, not registration's.
            if (r.Loaded && r.Ran && s.Expect.VerifierRejects is null)
                foreach (var k in s.Calls) provenBy.TryAdd(k, s.Name);
        }

        // Registration: a backported kfunc counts as registered only when a program calling it loaded and ran.
        foreach (var k in plan.Kfuncs.Where(k => k.Verdict == Verdict.Backport))
        {
            var built = plan.Modules.Any(m => m.Kind == GuestModuleKind.Built && m.Name == k.Module);
            if (!built) continue; // the NotRun entry says why
            var positive = plan.Smoke.Where(s => s.Module == k.Module && s.Selftest is null && s.Expect.VerifierRejects is null && s.Calls.Contains(k.Kfunc, StringComparer.Ordinal)).ToList();
            if (provenBy.TryGetValue(k.Kfunc, out var by))
                Add(new CheckResult(k.Module, "registration", k.Kfunc, CheckStatus.Pass, null, $"{k.Kfunc} resolved and ran from BPF ({by})"));
            else if (positive.Count == 0)
                Add(new CheckResult(k.Module, "registration", k.Kfunc, CheckStatus.Fail, FailureReason.RegistrationUnproven,
                    $"no smoke program calls {k.Kfunc} and expects it to run: its registration is unproven"));
            else
                Add(new CheckResult(k.Module, "registration", k.Kfunc, CheckStatus.Fail, FailureReason.RegistrationUnproven,
                    $"{k.Kfunc} was not proven registered: no program calling it ({string.Join(", ", positive.Select(p => p.Name))}) loaded and ran"));
        }

        // Load steps.
        var loadRecords = boot.Records.OfType<LoadRecord>().ToDictionary(r => (r.Module, r.Name));
        var measurements = new List<LoadMeasurement>();
        foreach (var l in plan.Loads)
        {
            var verdict = plan.Kfuncs.FirstOrDefault(k => k.Module == l.Module && k.Kfunc == l.Kfunc)?.Verdict ?? Verdict.Native;
            if (!loadRecords.TryGetValue((l.Module, l.Name), out var r))
            {
                Add(Missing(l.Module, "load", l.Name, bootReason, bootWhy, unfinished));
                measurements.Add(new LoadMeasurement(plan.Kernel.Release, l.Module, l.Name, l.Kfunc, verdict, l.Driver, l.Count, false, null, null, null, 0, null, null, null));
                continue;
            }
            var (check, m) = JudgeLoad(plan.Kernel.Release, l, verdict, r);
            Add(check);
            measurements.Add(m);
        }

        // Planned but not run.
        foreach (var n in plan.NotRun)
            Add(NotRunCheck(n));

        // Kernel faults from the console, attributed to the modules their splat names (else the step running, else every cell).
        foreach (var f in boot.Faults)
        {
            var named = f.Modules.Where(checks.ContainsKey).ToList();
            var targets = named.Count > 0 ? named
                : unfinished is not null && checks.ContainsKey(unfinished.Module) && f.Kind == FaultKind.Panic ? [unfinished.Module]
                : checks.Keys.ToList();
            foreach (var module in targets)
                Add(new CheckResult(module, "kernel", f.Kind.ToString().ToLowerInvariant(), CheckStatus.Fail, ReasonOf(f.Kind),
                    $"console line {f.Line}: {f.Text}") { Evidence = string.Join('\n', f.Context) });
        }

        // A boot that ended badly fails the cell whose step was running, or every cell when no step was.
        if (bootReason is { } br)
        {
            var targets = unfinished is not null && checks.ContainsKey(unfinished.Module) ? [unfinished.Module] : checks.Keys.ToList();
            foreach (var module in targets)
                if (!checks[module].Any(c => c.Reason == br))
                    Add(new CheckResult(module, "boot", boot.Outcome.ToString().ToLowerInvariant(), CheckStatus.Fail, br, bootWhy));
        }

        var cells = plan.CellModules
            .Select(m => new CellVerdict(plan.Kernel.Release, m, plan.Kfuncs.Where(k => k.Module == m).ToList(), checks.TryGetValue(m, out var c) ? c : []))
            .ToList();
        return new BootVerdict(plan, boot, cells, measurements, Timings(boot, imageSeconds, imageCacheHit));
    }

    private static CheckResult JudgeSmoke(GuestSmoke s, SmokeRecord r)
    {
        var unresolved = (r.LoaderLog ?? "").Contains(UnresolvedMarker, StringComparison.Ordinal);
        if (s.Expect.VerifierRejects is { } text)
        {
            if (r.Loaded)
                return new CheckResult(s.Module, "smoke", s.Name, CheckStatus.Fail, FailureReason.NotRejected,
                    $"{s.Program} ({r.Section}) loaded, but upstream's verifier rejects it (\"{text}\")");
            if ((r.VerifierLog ?? "").Contains(text, StringComparison.Ordinal))
                return new CheckResult(s.Module, "smoke", s.Name, CheckStatus.Pass, null, $"rejected as upstream rejects it: {LineWith(r.VerifierLog!, text)}");
            if (unresolved)
                return new CheckResult(s.Module, "smoke", s.Name, CheckStatus.Fail, FailureReason.KfuncUnresolved,
                    $"the negative test proves nothing: libbpf found no BTF for a kfunc it calls ({LineWith(r.LoaderLog!, UnresolvedMarker)})") { Evidence = r.LoaderLog };
            return new CheckResult(s.Module, "smoke", s.Name, CheckStatus.Fail, FailureReason.RejectedForOtherReason,
                $"rejected ({r.Error}), but the verifier log lacks \"{text}\"") { Evidence = Evidence(r) };
        }
        if (!r.Loaded)
        {
            if (unresolved)
                return new CheckResult(s.Module, "smoke", s.Name, CheckStatus.Fail, FailureReason.KfuncUnresolved,
                    $"{s.Program} did not load: {LineWith(r.LoaderLog!, UnresolvedMarker)}") { Evidence = r.LoaderLog };
            return new CheckResult(s.Module, "smoke", s.Name, CheckStatus.Fail, FailureReason.VerifierRejected,
                $"{s.Program} ({r.Section}) was rejected: {r.Error}; verifier: {LastLine(r.VerifierLog)}") { Evidence = Evidence(r) };
        }
        if (!r.Ran)
            return new CheckResult(s.Module, "smoke", s.Name, CheckStatus.Fail, FailureReason.RunFailed,
                $"{s.Program} loaded but could not run: {r.RunError} (errno {r.RunErrno}){SocketSetup(r)}");
        var expected = s.Expect.Retval!.Value;
        var isSockets = r.Proto is not null;
        var matches = isSockets ? r.Retval == (ulong)expected : r.Retval == (uint)expected;
        var got = isSockets ? $"{r.Retval}" : $"{(int)(uint)(r.Retval ?? 0)}";
        if (!matches)
            return new CheckResult(s.Module, "smoke", s.Name, CheckStatus.Fail, FailureReason.WrongRetval,
                isSockets
                    ? $"{r.Aborted} of {r.Sockets} {Unit(r)} ended with ECONNABORTED (retval {got} = not aborted, expected {expected}; {r.StillOpen} still open, {r.OtherErrors} other errors{Ends(r)}){PortHint(r)}{Globals(r)}"
                    : $"{s.Program} returned {got}, expected {expected}");
        return new CheckResult(s.Module, "smoke", s.Name, CheckStatus.Pass, null,
            isSockets ? $"{r.Aborted}/{r.Sockets} {Unit(r)} ended with ECONNABORTED{Ends(r)}{Globals(r)}" : $"returned {got} as expected");
    }

    /// <summary>TCP is checked per connection (one end aborted, the other aborted or reset); UDP per socket.</summary>
    private static string Unit(ProgramRecord r) => r.Proto == "tcp" ? "tcp connections" : $"{r.Proto} sockets";

    private static string Ends(ProgramRecord r) =>
        r.Proto == "tcp" ? $"; ends: {r.LocalAborted} local aborted, {r.PeersAborted} peers aborted, {r.PeersReset} peers reset" : "";

    private static string PortHint(ProgramRecord r) =>
        r.PortSet == false ? "; the program has no target_port global, so the agent could not point it at its sockets" : "";

    private static string Globals(ProgramRecord r) =>
        r.Globals is { Count: > 0 } g ? " (" + string.Join(", ", g.Select(kv => $"{kv.Key}={kv.Value}")) + ")" : "";

    private static (CheckResult, LoadMeasurement) JudgeLoad(string kernel, GuestLoad l, Verdict verdict, LoadRecord r)
    {
        LoadMeasurement M(bool passed, double? ns = null, double? aborted = null) => new(kernel, l.Module, l.Name, l.Kfunc, verdict, l.Driver, l.Count, passed,
            ns, ns is > 0 ? 1e9 / ns : null, r.Proto, r.Aborted,
            r.CompleteNs > 0 && r.Aborted > 0 ? r.Aborted / (r.CompleteNs / 1e9) : null,
            r.IterNs > 0 && r.Aborted > 0 ? r.Aborted / (r.IterNs / 1e9) : null,
            r.SetupNs > 0 ? r.SetupNs / 1e9 : null);
        if (!r.Loaded)
        {
            var unresolved = (r.LoaderLog ?? "").Contains(UnresolvedMarker, StringComparison.Ordinal);
            return (new CheckResult(l.Module, "load", l.Name, CheckStatus.Fail, unresolved ? FailureReason.KfuncUnresolved : FailureReason.VerifierRejected,
                $"load program did not load: {r.Error}; {(unresolved ? LineWith(r.LoaderLog!, UnresolvedMarker) : LastLine(r.VerifierLog))}") { Evidence = Evidence(r) }, M(false));
        }
        if (!r.Ran)
            return (new CheckResult(l.Module, "load", l.Name, CheckStatus.Fail, FailureReason.RunFailed,
                $"could not run: {r.RunError ?? r.Detail} (errno {r.RunErrno}){SocketSetup(r)}"), M(false));
        if (l.Driver == LoadDriver.TestRun)
        {
            double ns = r.KernelNsPerCall is > 0 ? r.KernelNsPerCall.Value : r.WallNs / (double)Math.Max(1, r.Repeat);
            return (new CheckResult(l.Module, "load", l.Name, CheckStatus.Pass, null,
                string.Create(CultureInfo.InvariantCulture, $"{r.Repeat} runs, {ns:0.#} ns per call ({1e9 / ns:0} calls/s)")), M(true, ns));
        }
        var ok = r.Opened == l.Count && r.Aborted == l.Count;
        var leaked = r.InuseAfter > r.InuseBefore;
        var blind = r.InuseOpen is { } open && open - (r.InuseBefore ?? 0) < r.Opened;
        var m = M(ok && !leaked && !blind);
        if (ok && blind)
            return (new CheckResult(l.Module, "load", l.Name, CheckStatus.Fail, FailureReason.SocketsLeaked,
                $"the leak check proves nothing: /proc/net/sockstat counted {r.InuseOpen} {r.Proto} sockets in use with {r.Opened} opened ({r.InuseBefore} before)"), m);
        if (ok && leaked)
            return (new CheckResult(l.Module, "load", l.Name, CheckStatus.Fail, FailureReason.SocketsLeaked,
                $"every {Unit(r)[..^1]} was destroyed, but {r.InuseAfter - r.InuseBefore} {r.Proto} sockets were still in use after closing everything ({r.InuseBefore} before the set-up, {r.InuseAfter} after; /proc/net/sockstat)"), m);
        return (ok
            ? new CheckResult(l.Module, "load", l.Name, CheckStatus.Pass, null,
                string.Create(CultureInfo.InvariantCulture, $"{r.Aborted} {Unit(r)} destroyed, each with ECONNABORTED{Ends(r)}; {m.SocketsPerSecond:0}/s (iterator pass {r.IterNs / 1e6:0.0} ms, set-up {r.SetupNs / 1e9:0.0} s, all aborted after {r.CompleteNs / 1e9:0.00} s); {r.Proto} sockets in use {r.InuseBefore} before, {r.InuseOpen} open, {r.InuseAfter} after{Globals(r)}"))
            : new CheckResult(l.Module, "load", l.Name, CheckStatus.Fail, FailureReason.SocketsNotAborted,
                $"{r.Aborted} of {l.Count} {Unit(r)} saw ECONNABORTED (opened {r.Opened}, {r.StillOpen} still open, {r.OtherErrors} other errors, first errno {r.FirstErrno}{Ends(r)}){SocketSetup(r)}{PortHint(r)}{Globals(r)}"), m);
    }

    private static CheckResult Missing(string module, string kind, string name, FailureReason? bootReason, string bootWhy, BeginRecord? unfinished)
    {
        var running = unfinished is not null && unfinished.Module == module && unfinished.Name == name && unfinished.Step == kind;
        var reason = bootReason ?? FailureReason.MissingRecord;
        var message = bootReason is null
            ? $"the agent reported nothing for this {kind}"
            : running ? $"{bootWhy} while this {kind} was running" : $"not reached: {bootWhy}";
        return new CheckResult(module, kind, name, CheckStatus.Fail, running || bootReason is null ? reason : FailureReason.NotReached, message);
    }

    private static (FailureReason?, string) BootFailure(BootResult boot, BeginRecord? unfinished)
    {
        var during = unfinished is null ? "" : $" (during {unfinished.Step} {unfinished.Module}/{unfinished.Name})";
        return boot.Outcome switch
        {
            BootOutcome.TimedOut => (FailureReason.Timeout, $"the VM was killed after {boot.Request.Timeout.TotalSeconds:0} s{during}"),
            BootOutcome.Panicked => (FailureReason.KernelPanic, $"the kernel panicked{during}: {boot.Detail}"),
            BootOutcome.QemuFailed => (FailureReason.BootFailed, boot.Detail),
            BootOutcome.Died => (FailureReason.BootFailed, boot.Detail + during),
            _ when boot.Exit?.Signal is { } sig => (FailureReason.AgentCrashed, $"the guest agent was killed by signal {sig} ({boot.Exit.SignalName}){during}"),
            _ when boot.Exit?.Code is not 0 || boot.Done is null => (FailureReason.AgentIncomplete, $"the guest agent stopped early (exit code {boot.Exit?.Code}){during}"),
            _ => (null, ""),
        };
    }

    private static FailureReason ReasonOf(FaultKind k) => k switch
    {
        FaultKind.Panic => FailureReason.KernelPanic,
        FaultKind.Oops => FailureReason.KernelOops,
        FaultKind.Bug => FailureReason.KernelBug,
        FaultKind.Warning => FailureReason.KernelWarning,
        FaultKind.Lockdep => FailureReason.Lockdep,
        FaultKind.HungTask => FailureReason.HungTask,
        FaultKind.SoftLockup => FailureReason.SoftLockup,
        FaultKind.RcuStall => FailureReason.RcuStall,
        _ => FailureReason.Sanitizer,
    };

    private static BootTimings Timings(BootResult boot, double imageSeconds, bool hit)
    {
        double? bootS = boot.Hello is { } h ? h.BoottimeNs / 1e9 : null;
        var moduleNs = boot.Records.OfType<ModuleRecord>().Sum(r => r.Ns);
        double? load = boot.Hello is null ? null : moduleNs / 1e9;
        double? tests = boot.Done is { } d ? Math.Max(0, d.Ns - moduleNs) / 1e9
            : boot.Hello is null ? null : boot.Records.OfType<ProgramRecord>().Sum(r => r.Ns) / 1e9;
        return new BootTimings(bootS, load, tests, boot.Wall.TotalSeconds, boot.FirstRecordAt?.TotalSeconds, imageSeconds, hit);
    }

    private static string SocketSetup(ProgramRecord r) => r.SetupErrno != 0 ? $"; socket setup failed with errno {r.SetupErrno} after {r.Opened} sockets" : "";

    private static string Evidence(ProgramRecord r) =>
        string.Join('\n', new[] { r.VerifierLog, r.LoaderLog }.Where(t => !string.IsNullOrWhiteSpace(t)));

    private static string LineWith(string text, string needle) =>
        text.Split('\n').FirstOrDefault(l => l.Contains(needle, StringComparison.Ordinal))?.Trim() ?? needle;

    private static string LastLine(string? log)
    {
        if (string.IsNullOrWhiteSpace(log)) return "(empty verifier log)";
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith("processed ", StringComparison.Ordinal) && !l.StartsWith("verification time", StringComparison.Ordinal) && !l.StartsWith("stack depth", StringComparison.Ordinal))
            .ToList();
        return lines.Count == 0 ? log.Trim() : lines[^1];
    }
}
