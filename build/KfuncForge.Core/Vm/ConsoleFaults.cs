using System.Text.RegularExpressions;

namespace KfuncForge.Vm;

/// <summary>Kernel faults recognised in a console log. Any of them fails the cells it is attributed to.</summary>
public enum FaultKind { Panic, Oops, Bug, Warning, Lockdep, HungTask, SoftLockup, RcuStall, Sanitizer }

/// <summary>A fault seen on the console: its kind, the console line number (1-based), the line, and the modules its splat names.</summary>
public sealed record ConsoleFault(FaultKind Kind, int Line, string Text)
{
    /// <summary>
    /// Modules named in the splat's own lines (the "[name]" suffix of RIP and call-trace entries), filled as later
    /// lines arrive. "Modules linked in:" is not used: it lists every loaded module, not the culprit.
    /// </summary>
    public List<string> Modules { get; } = [];

    /// <summary>The splat's first lines, for the report.</summary>
    public List<string> Context { get; } = [];
}

/// <summary>
/// Scans console lines for kernel faults. This is the only use of the console: whether tests passed is
/// decided from the agent's records, never from console text.
/// </summary>
public sealed partial class ConsoleFaultScanner
{
    private const int ContextLines = 40;
    private const int SameSplatLines = 8;

    private static readonly (FaultKind Kind, Regex Pattern)[] Patterns =
    [
        (FaultKind.Panic, new Regex(@"Kernel panic - not syncing", RegexOptions.CultureInvariant)),
        (FaultKind.SoftLockup, new Regex(@"watchdog: BUG: soft lockup|BUG: soft lockup", RegexOptions.CultureInvariant)),
        (FaultKind.Lockdep, new Regex(@"possible circular locking dependency detected|possible recursive locking detected|inconsistent lock state|possible irq lock inversion dependency|suspicious RCU usage|BUG: sleeping function called from invalid context", RegexOptions.CultureInvariant)),
        (FaultKind.HungTask, new Regex(@"INFO: task .+ blocked for more than \d+ seconds", RegexOptions.CultureInvariant)),
        (FaultKind.RcuStall, new Regex(@"rcu: INFO: \S+ (self-)?detected stalls?|rcu_(sched|preempt) detected stalls", RegexOptions.CultureInvariant)),
        (FaultKind.Sanitizer, new Regex(@"\b(UBSAN|KASAN|KFENCE|KMSAN):", RegexOptions.CultureInvariant)),
        (FaultKind.Oops, new Regex(@"\bOops: |general protection fault|BUG: unable to handle|BUG: kernel NULL pointer dereference", RegexOptions.CultureInvariant)),
        (FaultKind.Bug, new Regex(@"kernel BUG at |\bBUG: ", RegexOptions.CultureInvariant)),
        (FaultKind.Warning, new Regex(@"WARNING: CPU: \d+ PID: \d+ at |WARNING: .+ at .+\+0x", RegexOptions.CultureInvariant)),
    ];

    [GeneratedRegex(@"\[([A-Za-z0-9_]+)\]")]
    private static partial Regex ModuleTag();

    [GeneratedRegex(@"^\[\s*\d+\.\d+\]\s?")]
    private static partial Regex Timestamp();

    private readonly List<ConsoleFault> _faults = [];
    private readonly List<(ConsoleFault Fault, int Until)> _open = [];
    private int _line;

    public IReadOnlyList<ConsoleFault> Faults => _faults;

    /// <summary>Feeds one console line; returns the fault it starts, if any.</summary>
    public ConsoleFault? Add(string rawLine)
    {
        _line++;
        var line = Timestamp().Replace(rawLine.TrimEnd('\r'), "");
        for (var i = _open.Count - 1; i >= 0; i--)
        {
            var (f, until) = _open[i];
            if (_line > until) { _open.RemoveAt(i); continue; }
            f.Context.Add(line);
            foreach (Match m in ModuleTag().Matches(line))
            {
                var name = m.Groups[1].Value;
                if (!f.Modules.Contains(name, StringComparer.Ordinal) && !IsTagNoise(name)) f.Modules.Add(name);
            }
        }
        foreach (var (kind, pattern) in Patterns)
        {
            if (!pattern.IsMatch(line)) continue;
            // One splat often matches twice (a "BUG: ... NULL pointer" line, then its "Oops:" line a few lines on):
            // keep the first unless this one is a panic.
            if (kind != FaultKind.Panic && _open.Any(o => _line - o.Fault.Line <= SameSplatLines)) return null;
            var fault = new ConsoleFault(kind, _line, line);
            fault.Context.Add(line);
            foreach (Match m in ModuleTag().Matches(line))
                if (!IsTagNoise(m.Groups[1].Value)) fault.Modules.Add(m.Groups[1].Value);
            _faults.Add(fault);
            _open.Add((fault, _line + ContextLines));
            return fault;
        }
        return null;
    }

    /// <summary>Bracketed words in splats that are not module names (register and state tags).</summary>
    private static bool IsTagNoise(string s) => s.Length <= 2 || s.All(char.IsDigit) || s is "RIP" or "RSP" or "CPU" or "PID" or "Hardware";
}
