using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Vm;

namespace KfuncForge.Fidelity;

/// <summary>
/// The fidelity report: fidelity.json for machines and fidelity.md for people (docs/fidelity.md).
/// Kernels are ordered by version, cases by their order in module.yaml, so two runs with the same
/// results give the same files except for the measured load figures.
/// </summary>
public static class FidelityReport
{
    public static string Status(CaseStatus s) => SmokeReport.Name(s);

    public static JsonObject Json(FidelityResult r) => new()
    {
        ["version"] = 1,
        ["passed"] = r.Passed,
        ["kernels"] = new JsonArray(r.Kernels.Select(k => (JsonNode)new JsonObject
        {
            ["release"] = k.Release,
            ["distro"] = k.Distro,
            ["booted"] = k.Booted,
            ["boot_passed"] = k.Passed,
            ["hung_task_timeout_secs"] = k.HungTaskTimeoutSecs,
            ["watchdog_thresh"] = k.WatchdogThresh,
            ["soft_watchdog"] = k.SoftWatchdog,
            ["console_faults"] = new JsonArray(k.ConsoleFaults.Select(f => (JsonNode)JsonValue.Create(f)!).ToArray()),
        }).ToArray()),
        ["totals"] = Totals(r),
        ["cases"] = new JsonArray(r.Cases.Select(c => (JsonNode)new JsonObject
        {
            ["module"] = c.Module,
            ["kfunc"] = c.Kfunc,
            ["case"] = c.Name,
            ["upstream"] = Expectation(c.Upstream),
            ["oracle"] = c.OracleKernel,
            ["passed"] = c.Passed,
            ["kernels"] = new JsonArray(c.Kernels.Select(k => (JsonNode)new JsonObject
            {
                ["release"] = k.Kernel,
                ["mode"] = SmokeReport.Name(k.Mode),
                ["status"] = Status(k.Status),
                ["expected"] = k.Expected is null ? null : Expectation(k.Expected),
                ["observed"] = k.Observed is null ? null : new JsonObject
                {
                    ["kind"] = SmokeReport.Name(k.Observed.Kind),
                    ["value"] = k.Observed.Value,
                    ["detail"] = k.Observed.Detail,
                },
                ["declared_reason"] = k.DeclaredReason,
                ["message"] = k.Message,
            }).ToArray()),
        }).ToArray()),
        ["upstream_selftests"] = r.Selftests is { } selftests ? SelftestReport.Json(selftests) : null,
        ["load"] = new JsonArray(Ordered(r.Loads).Select(l => (JsonNode)With(LoadJson(l, Round(l.NsPerCall)),
            ("sockets", l.Driver == LoadDriver.SocketIterator ? l.Count : null),
            ("aborted", l.Driver == LoadDriver.SocketIterator ? l.Aborted : null),
            ("sockets_per_second", Round(l.SocketsPerSecond)),
            ("setup_seconds", Round(l.SetupSeconds)))).ToArray()),
        ["load_ratios"] = new JsonArray(r.Ratios.Select(x => (JsonNode)With(RatioJson(x, "ns_per_op", Round(x.NativeNsPerOp), Round(x.BackportNsPerOp)),
            ("native_baseline_ns", Round(x.NativeBaselineNs)),
            ("backport_baseline_ns", Round(x.BackportBaselineNs)),
            ("normalised_ratio", x.Normalised is { } n ? Math.Round(n, 3) : null))).ToArray()),
        ["socket_runs"] = new JsonArray(r.SocketRuns.Select(s => (JsonNode)new JsonObject
        {
            ["module"] = s.Module,
            ["step"] = s.Step,
            ["release"] = s.Kernel,
            ["mode"] = SmokeReport.Name(s.Mode),
            ["proto"] = s.Proto,
            ["sockets"] = s.Sockets,
            ["opened"] = s.Opened,
            ["aborted"] = s.Aborted,
            ["local_aborted"] = s.LocalAborted,
            ["peers_aborted"] = s.PeersAborted,
            ["peers_reset"] = s.PeersReset,
            ["inuse_before"] = s.InuseBefore,
            ["inuse_open"] = s.InuseOpen,
            ["inuse_after"] = s.InuseAfter,
            ["setup_seconds"] = Math.Round(s.SetupSeconds, 2),
            ["iterator_seconds"] = Math.Round(s.IteratorSeconds, 2),
            ["complete_seconds"] = Math.Round(s.CompleteSeconds, 2),
            ["passed"] = s.Passed,
        }).ToArray()),
        ["boot_failures"] = Failures(r.BootFailures),
        ["instruction_time"] = r.InstructionTime is { } it ? InstructionTimeJson(it) : null,
    };

    private static JsonArray Failures(IEnumerable<BootFailure> failures) => new(failures.Select(f => (JsonNode)new JsonObject
    {
        ["release"] = f.Kernel,
        ["module"] = f.Module,
        ["kind"] = f.Kind,
        ["name"] = f.Name,
        ["reason"] = f.Reason,
        ["message"] = f.Message,
    }).ToArray());

    /// <summary>What the instruction-count boots measure: one virtual ns per guest instruction (VmShape.InstructionCount).</summary>
    public const string InstructionTimeUnit = "instruction time: QEMU -icount shift=0,sleep=off, 1 ns = 1 guest instruction; the same on every run of the same inputs";

    private static JsonObject InstructionTimeJson(InstructionTime it) => new()
    {
        ["unit"] = InstructionTimeUnit,
        ["baseline"] = it.Baseline,
        ["compared_with_previous"] = it.Compared,
        ["identical_to_previous"] = it.Identical,
        ["load"] = new JsonArray(Ordered(it.Loads).Select(l => (JsonNode)LoadJson(l, l.NsPerCall)).ToArray()),
        ["ratios"] = new JsonArray(it.Ratios.Select(x => (JsonNode)RatioJson(x, "ns_per_call", x.NativeNsPerOp, x.BackportNsPerOp)).ToArray()),
        ["regressions"] = new JsonArray(it.Regressions.Select(g => (JsonNode)new JsonObject
        {
            ["module"] = g.Module,
            ["step"] = g.Step,
            ["release"] = g.Kernel,
            ["previous_ns_per_call"] = g.PreviousNs,
            ["ns_per_call"] = g.CurrentNs,
            ["growth"] = Math.Round(g.Growth, 4),
        }).ToArray()),
        ["failures"] = Failures(it.Failures),
    };

    private static IEnumerable<LoadMeasurement> Ordered(IEnumerable<LoadMeasurement> loads) =>
        loads.OrderBy(l => l.Module, StringComparer.Ordinal).ThenBy(l => l.Name, StringComparer.Ordinal).ThenBy(l => Version(l.Kernel));

    private static JsonObject LoadJson(LoadMeasurement l, double? nsPerCall) => new()
    {
        ["module"] = l.Module,
        ["step"] = l.Name,
        ["kfunc"] = l.Kfunc,
        ["release"] = l.Kernel,
        ["mode"] = SmokeReport.Name(l.Verdict),
        ["passed"] = l.Passed,
        ["ns_per_call"] = nsPerCall,
    };

    /// <summary>A ratio's common fields; <paramref name="unit"/> names the per-operation figures (native_&lt;unit&gt;, backport_&lt;unit&gt;).</summary>
    private static JsonObject RatioJson(LoadRatio x, string unit, double? native, double? backport) => new()
    {
        ["module"] = x.Module,
        ["step"] = x.Step,
        ["kfunc"] = x.Kfunc,
        ["native_kernel"] = x.NativeKernel,
        ["native_" + unit] = native,
        ["backport_kernel"] = x.BackportKernel,
        ["backport_" + unit] = backport,
        ["ratio"] = Math.Round(x.Ratio, 3),
    };

    private static JsonObject With(JsonObject o, params (string Key, JsonNode? Value)[] more)
    {
        foreach (var (k, v) in more) o[k] = v;
        return o;
    }

    /// <summary>A previous report's instruction-time figures per (module, step, kernel); empty when it has none (made with --icount=off, or before there was a mode).</summary>
    public static IReadOnlyDictionary<(string Module, string Step, string Kernel), double> PreviousInstructionTimes(JsonNode report)
    {
        var result = new Dictionary<(string, string, string), double>();
        if (report["instruction_time"]?["load"] is not JsonArray loads) return result;
        foreach (var l in loads.OfType<JsonObject>())
            if ((string?)l["module"] is { } m && (string?)l["step"] is { } s && (string?)l["release"] is { } k && l["ns_per_call"] is JsonValue v && v.TryGetValue<double>(out var ns))
                result[(m, s, k)] = ns;
        return result;
    }

    private static JsonObject Totals(FidelityResult r)
    {
        var o = new JsonObject();
        foreach (var k in r.Kernels)
        {
            var cells = r.Cases.SelectMany(c => c.Kernels).Where(c => c.Kernel == k.Release).ToList();
            var t = new JsonObject();
            foreach (var s in Enum.GetValues<CaseStatus>())
                t[Status(s)] = cells.Count(c => c.Status == s);
            o[k.Release] = t;
        }
        return o;
    }

    private static JsonObject Expectation(SmokeExpectation e) =>
        e.VerifierRejects is { } t ? new JsonObject { ["verifier_rejects"] = t } : new JsonObject { ["retval"] = e.Retval };

    /// <summary>The Markdown report: totals per kernel, cases per kfunc, every case × kernel, declared differences with reasons, load ratios, failures.</summary>
    public static string Markdown(FidelityResult r)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.Append("# Fidelity report\n\n");
        sb.Append(r.Passed ? "**Result: pass** — every case gave upstream's result or its declared difference on every kernel.\n\n"
            : "**Result: FAIL** — see the cases marked ✗ and the failures at the end.\n\n");

        sb.Append("## Kernels\n\n| kernel | profile | same | declared | differs | error | skipped | boot checks | console faults | hung-task timeout | lockup threshold |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
        foreach (var k in r.Kernels)
        {
            var cells = r.Cases.SelectMany(c => c.Kernels).Where(c => c.Kernel == k.Release).ToList();
            int N(CaseStatus s) => cells.Count(c => c.Status == s);
            var checks = !k.Booted ? "not booted" : k.Passed ? "pass" : "**fail**";
            string Seconds(long? v) => v is null or < 0 ? "n/a" : $"{v} s";
            var lockup = k.SoftWatchdog == 0 ? "off" : k.WatchdogThresh is > 0 ? $"{2 * k.WatchdogThresh} s" : "n/a";
            sb.Append(inv, $"| {k.Release} | {k.Distro} | {N(CaseStatus.Same)} | {N(CaseStatus.Declared)} | {N(CaseStatus.Differs)} | {N(CaseStatus.Error)} | {N(CaseStatus.Skipped)} | {checks} | {(k.Booted ? k.ConsoleFaults.Count.ToString(inv) : "–")} | {Seconds(k.HungTaskTimeoutSecs)} | {lockup} |\n");
        }

        sb.Append("\n## Cases per kfunc\n\n| module | kfunc | cases | how each kernel provides it |\n|---|---|---|---|\n");
        foreach (var g in r.Cases.GroupBy(c => (c.Module, c.Kfunc)))
        {
            var modes = string.Join(", ", g.First().Kernels.Select(k => $"{k.Kernel}: {SmokeReport.Name(k.Mode)}"));
            sb.Append(inv, $"| {g.Key.Module} | {g.Key.Kfunc} | {g.Count()} | {modes} |\n");
        }

        var reasons = r.Cases.SelectMany(c => c.Kernels).Select(k => k.DeclaredReason).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        sb.Append("\n## Every case on every kernel\n\n");
        sb.Append("`✓` same as upstream (and the native kernel), `D<n>` the declared difference n (below), `✗` an undeclared difference, `–` skipped. Values are the program's result; for socket iterators the number of sockets not aborted.\n\n");
        foreach (var module in r.Cases.GroupBy(c => c.Module))
        {
            sb.Append(inv, $"### {module.Key}\n\n| case | kfunc | upstream |");
            foreach (var k in r.Kernels) sb.Append(inv, $" {k.Release} |");
            sb.Append("\n|---|---|---|");
            foreach (var _ in r.Kernels) sb.Append("---|");
            sb.Append('\n');
            foreach (var c in module)
            {
                sb.Append(inv, $"| {c.Name} | {c.Kfunc} | {Cell(FidelityJudge.Describe(c.Upstream))} |");
                foreach (var k in r.Kernels)
                {
                    var on = c.Kernels.FirstOrDefault(x => x.Kernel == k.Release);
                    sb.Append(' ').Append(on is null ? "" : Mark(on, reasons)).Append(" |");
                }
                sb.Append('\n');
            }
            sb.Append('\n');
        }

        if (reasons.Count > 0)
        {
            sb.Append("## Declared differences\n\n");
            for (var i = 0; i < reasons.Count; i++)
            {
                var where = r.Cases.SelectMany(c => c.Kernels.Where(k => k.DeclaredReason == reasons[i]).Select(k => (c.Name, k.Kernel))).ToList();
                sb.Append(inv, $"- **D{i + 1}** ({where.Select(w => w.Name).Distinct().Count()} cases on {string.Join(", ", where.Select(w => w.Kernel).Distinct())}): {reasons[i]}\n");
            }
            sb.Append('\n');
        }

        sb.Append("## Load: backport ÷ native\n\n");
        if (r.Ratios.Count == 0) sb.Append("No load step ran on both a native and a backport kernel.\n\n");
        else
        {
            sb.Append("Wall-clock ns per operation under TCG (test_run: the kernel's average per program run; socket steps: time per destroyed socket): guest time is host time here, so a busy host moves these figures; compare kernels within this run only, and see the instruction-time table for figures that hold across runs. ");
            sb.Append("Normalised: each kernel's ns/op divided first by its own boot's baseline (a program calling no kfunc), so a host busier during one boot than another cancels out; prefer it where given.\n\n");
            sb.Append("| module | step | kfunc | native (kernel) | backport (kernel) | ratio | baselines native / backport | normalised |\n|---|---|---|---|---|---|---|---|\n");
            foreach (var x in r.Ratios)
                sb.Append(inv, $"| {x.Module} | {x.Step} | {x.Kfunc} | {x.NativeNsPerOp:0.#} ns ({x.NativeKernel}) | {x.BackportNsPerOp:0.#} ns ({x.BackportKernel}) | {x.Ratio:0.00} | {(x.Normalised is null ? "–" : $"{x.NativeBaselineNs:0.#} / {x.BackportBaselineNs:0.#} ns")} | {(x.Normalised is { } n ? n.ToString("0.00", inv) : "–")} |\n");
            sb.Append('\n');
        }

        if (r.InstructionTime is { } it)
        {
            sb.Append("## Load in instruction time: backport ÷ native\n\n");
            sb.Append(inv, $"ns per call in {InstructionTimeUnit}: the kernel's average over the step's test_run repetitions, in a boot of its own per kernel (only the test_run steps). These are the figures to compare across runs and machines. Compared with: {it.Baseline}{(it.Compared > 0 ? $"; {it.Identical} of {it.Compared} figures identical to it" : "")}.\n\n");
            if (it.Ratios.Count == 0) sb.Append("No test_run step ran on both a native and a backport kernel.\n\n");
            else
            {
                sb.Append("| module | step | kfunc | native (kernel) | backport (kernel) | ratio |\n|---|---|---|---|---|---|\n");
                foreach (var x in it.Ratios)
                    sb.Append(inv, $"| {x.Module} | {x.Step} | {x.Kfunc} | {x.NativeNsPerOp:0.#} ({x.NativeKernel}) | {x.BackportNsPerOp:0.#} ({x.BackportKernel}) | {x.Ratio:0.00} |\n");
                sb.Append('\n');
            }
            foreach (var g in it.Regressions)
                sb.Append(inv, $"- **regression**: {g.Module}/{g.Step} on {g.Kernel}: {g.PreviousNs:0.#} → {g.CurrentNs:0.#} ns per call (+{g.Growth:0.0%})\n");
            foreach (var f in it.Failures)
                sb.Append(inv, $"- {f.Kernel} {f.Module} {f.Kind} {f.Name}: {f.Reason}: {f.Message}\n");
            if (it.Regressions.Count + it.Failures.Count > 0) sb.Append('\n');
        }

        if (r.SocketRuns.Count > 0)
        {
            sb.Append("## Socket runs\n\nTCP: connections (one end aborted, the peer aborted or reset); sockets in use: TCP or UDP, IPv4 + IPv6, before the set-up, with everything open, and after closing everything. Times: set-up, the iterator pass, iterator start to the last abort seen.\n\n");
            sb.Append("| module | step | kernel | mode | sockets | aborted | ends aborted / peers aborted / peers reset | in use before → open → after | set-up | iterator | all aborted after | passed |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
            foreach (var s in r.SocketRuns)
                sb.Append(inv, $"| {s.Module} | {s.Step} | {s.Kernel} | {SmokeReport.Name(s.Mode)} | {s.Sockets} | {s.Aborted} | {(s.Proto == "tcp" ? $"{s.LocalAborted} / {s.PeersAborted} / {s.PeersReset}" : "–")} | {s.InuseBefore} → {s.InuseOpen} → {s.InuseAfter} | {s.SetupSeconds:0.00} s | {s.IteratorSeconds:0.00} s | {s.CompleteSeconds:0.00} s | {(s.Passed ? "yes" : "**no**")} |\n");
            sb.Append('\n');
        }

        if (r.Selftests is { } selftests) SelftestReport.Markdown(sb, selftests);

        var failed = r.Cases.SelectMany(c => c.Kernels.Where(k => k.Status is CaseStatus.Differs or CaseStatus.Error).Select(k => (c, k))).ToList();
        if (r.Cases.Any(c => c.OracleKernel is null) || failed.Count > 0 || r.BootFailures.Count > 0)
        {
            sb.Append("## Failures\n\n");
            foreach (var c in r.Cases.Where(c => c.OracleKernel is null))
                sb.Append(inv, $"- {c.Module}/{c.Name}: no native kernel ran this case, so there is no oracle; include a kernel where {c.Kfunc} is native\n");
            foreach (var (c, k) in failed)
                sb.Append(inv, $"- {c.Module}/{c.Name} on {k.Kernel} ({SmokeReport.Name(k.Mode)}): {k.Message}\n");
            foreach (var f in r.BootFailures)
                sb.Append(inv, $"- {f.Kernel} {f.Module} {f.Kind} {f.Name}: {f.Reason}: {f.Message}\n");
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static string Mark(CaseOnKernel k, List<string> reasons) => k.Status switch
    {
        CaseStatus.Same => $"✓ {Short(k.Observed!)}",
        CaseStatus.Declared => $"D{reasons.IndexOf(k.DeclaredReason!) + 1} {Short(k.Observed!)}",
        CaseStatus.Skipped => "–",
        _ => $"✗ {(k.Observed is null ? "not run" : Short(k.Observed))}",
    };

    private static string Short(Observed o) => o.Kind == ObservedKind.Returned ? o.Value!.Value.ToString(CultureInfo.InvariantCulture) : o.ToString();

    private static string Cell(string s) => s.Replace("|", "\\|", StringComparison.Ordinal);

    private static double? Round(double? v) => v is null ? null : Math.Round(v.Value, 1);

    private static KernelVersion Version(string release) => KernelVersion.TryParse(release, out var v) ? v : default;
}
