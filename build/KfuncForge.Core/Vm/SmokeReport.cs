using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KfuncForge.Model;
using KfuncForge.Planning;

namespace KfuncForge.Vm;

/// <summary>
/// The results of a smoke run for machines (results.json, and one line per boot in results.jsonl
/// while the run goes) and for people (summary.txt, and one line per finished boot on the terminal).
/// </summary>
public static class SmokeReport
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static string Name<T>(T value) where T : struct, Enum => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    public static string CellStatus(CellVerdict c) =>
        !c.Passed ? "fail"
        : c.Kfuncs.Count > 0 && c.Kfuncs.All(k => k.Verdict == Verdict.Infeasible) ? "infeasible"
        : c.Checks.Any(k => k.Status == CheckStatus.Pass) ? "pass"
        : "skipped";

    /// <summary>One boot as JSON (the unit streamed to results.jsonl and collected in results.json).</summary>
    public static JsonObject Boot(BootVerdict v, string? relativeTo = null)
    {
        string? Rel(string? p) => p is null ? null : relativeTo is null ? p : Path.GetRelativePath(relativeTo, p);
        var o = new JsonObject
        {
            ["release"] = v.Plan.Kernel.Release,
            ["boot_id"] = v.Plan.Id,
            ["passed"] = v.Passed,
            ["outcome"] = v.Boot is null ? "not_booted" : Name(v.Boot.Outcome),
            ["detail"] = v.Boot?.Detail,
        };
        if (v.Boot is { } b)
        {
            o["accelerator"] = Name(b.Request.Shape.Accelerator);
            o["boot_entry"] = v.Plan.Kernel.IsPvh ? "pvh" : "bzimage";
            o["console_log"] = Rel(b.Request.ConsoleLog);
            o["records_log"] = Rel(b.Request.RecordsLog);
            o["kernel_seen"] = b.Hello?.Kernel;
            o["tainted"] = b.Done?.Tainted;
            o["faults"] = new JsonArray(b.Faults.Select(f => (JsonNode)new JsonObject
            {
                ["kind"] = Name(f.Kind),
                ["line"] = f.Line,
                ["text"] = f.Text,
                ["modules"] = new JsonArray(f.Modules.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray()),
            }).ToArray());
        }
        if (v.Timings is { } t)
            o["timings"] = new JsonObject
            {
                ["guest_boot_seconds"] = Round(t.GuestBootSeconds),
                ["load_seconds"] = Round(t.LoadSeconds),
                ["tests_seconds"] = Round(t.TestsSeconds),
                ["wall_seconds"] = Round(t.WallSeconds),
                ["host_first_record_seconds"] = Round(t.HostFirstRecordSeconds),
                ["image_seconds"] = Round(t.ImageSeconds),
            };
        if (v.Image is { } img)
            o["initramfs"] = new JsonObject { ["sha256"] = img.Hash, ["bytes"] = img.Size, ["cache_hit"] = img.CacheHit };
        o["cells"] = new JsonArray(v.Cells.Select(c => (JsonNode)new JsonObject
        {
            ["module"] = c.Module,
            ["status"] = CellStatus(c),
            ["reason"] = c.PrimaryFailure?.Reason is { } r ? Name(r) : null,
            ["message"] = c.PrimaryFailure?.Message,
            ["kfuncs"] = new JsonArray(c.Kfuncs.Select(k => (JsonNode)new JsonObject
            {
                ["kfunc"] = k.Kfunc,
                ["verdict"] = Name(k.Verdict),
                ["plan_reason"] = k.Reason,
            }).ToArray()),
            ["checks"] = new JsonArray(c.Checks.Select(k => (JsonNode)new JsonObject
            {
                ["kind"] = k.Kind,
                ["name"] = k.Name,
                ["status"] = Name(k.Status),
                ["reason"] = k.Reason is { } kr ? Name(kr) : null,
                ["message"] = k.Message,
                ["evidence"] = k.Evidence,
            }).ToArray()),
        }).ToArray());
        o["loads"] = new JsonArray(v.Loads.Select(l => (JsonNode)Measurement(l)).ToArray());
        return o;
    }

    private static JsonObject Measurement(LoadMeasurement l) => new()
    {
        ["module"] = l.Module,
        ["name"] = l.Name,
        ["kfunc"] = l.Kfunc,
        ["verdict"] = Name(l.Verdict),
        ["driver"] = Name(l.Driver),
        ["count"] = l.Count,
        ["passed"] = l.Passed,
        ["ns_per_call"] = Round(l.NsPerCall),
        ["calls_per_second"] = Round(l.CallsPerSecond, 0),
        ["proto"] = l.Proto,
        ["sockets_aborted"] = l.Driver == LoadDriver.SocketIterator ? l.Aborted : null,
        ["sockets_per_second"] = Round(l.SocketsPerSecond, 0),
        ["iterator_sockets_per_second"] = Round(l.IteratorSocketsPerSecond, 0),
        ["setup_seconds"] = Round(l.SetupSeconds),
    };

    public static JsonObject Run(SmokeRun run, string distro, string? relativeTo = null) => new()
    {
        ["version"] = 1,
        ["distro"] = distro,
        ["passed"] = run.Passed,
        ["started"] = run.Started.ToString("O", CultureInfo.InvariantCulture),
        ["wall_seconds"] = Round(run.Wall.TotalSeconds),
        ["accelerator"] = new JsonObject { ["kind"] = Name(run.Accelerator.Accelerator), ["reason"] = run.Accelerator.Reason },
        ["vms_at_once"] = run.Slots,
        ["kernels"] = new JsonArray(Ordered(run.Verdicts).Select(v => (JsonNode)Boot(v, relativeTo)).ToArray()),
        ["comparison"] = new JsonArray(Comparison(run.Verdicts).Select(c => (JsonNode)new JsonObject
        {
            ["module"] = c.Key.Module,
            ["load"] = c.Key.Name,
            ["kfunc"] = c.Key.Kfunc,
            ["kernels"] = new JsonArray(c.OrderBy(m => KernelVersion.TryParse(m.Kernel, out var kv) ? kv : default).Select(m => (JsonNode)new JsonObject
            {
                ["release"] = m.Kernel,
                ["verdict"] = Name(m.Verdict),
                ["passed"] = m.Passed,
                ["ns_per_call"] = Round(m.NsPerCall),
                ["sockets_per_second"] = Round(m.SocketsPerSecond, 0),
            }).ToArray()),
        }).ToArray()),
    };

    public static string Json(JsonNode node) => node.ToJsonString(Indented) + "\n";

    /// <summary>The line printed when a boot finishes.</summary>
    public static string Line(BootVerdict v)
    {
        var passed = v.Cells.Count(c => c.Passed);
        var head = v.Boot is null
            ? $"[{v.Plan.Kernel.Release}] not booted"
            : $"[{v.Plan.Kernel.Release}] {Name(v.Boot.Outcome)} in {v.Boot.Wall.TotalSeconds:0.0} s";
        var failed = v.Cells.Where(c => !c.Passed).Select(c => $"{c.Module}: {Name(c.PrimaryFailure!.Reason!.Value)}");
        return $"{head}: {passed}/{v.Cells.Count} cells pass" + (v.Passed ? "" : $" (failed: {string.Join("; ", failed)})");
    }

    /// <summary>The human summary: per kernel and cell, then the load comparison, then the verdict.</summary>
    public static string Summary(SmokeRun run, string distro)
    {
        var sb = new StringBuilder();
        var cells = run.Verdicts.SelectMany(v => v.Cells).ToList();
        sb.Append(CultureInfo.InvariantCulture, $"Smoke test of {distro}: {run.Verdicts.Count} kernels, {cells.Count} cells, {run.Wall.TotalSeconds:0.0} s, up to {run.Slots} VMs at once\n");
        sb.Append(CultureInfo.InvariantCulture, $"Accelerator: {Name(run.Accelerator.Accelerator).ToUpperInvariant()} ({run.Accelerator.Reason})\n\n");
        foreach (var v in Ordered(run.Verdicts))
        {
            sb.Append(CultureInfo.InvariantCulture, $"kernel {v.Plan.Kernel.Release}: ");
            if (v.Boot is null) sb.Append(v.Cells.Count == 0 ? "not booted: no module is planned for it\n" : "not booted\n");
            else
            {
                var t = v.Timings!;
                sb.Append(CultureInfo.InvariantCulture, $"{Name(v.Boot.Outcome)} ({(v.Plan.Kernel.IsPvh ? "PVH entry" : "bzImage")}); boot {F(t.HostFirstRecordSeconds)} s to the agent (kernel's own clock {F(t.GuestBootSeconds)} s), load {F(t.LoadSeconds, 3)} s, tests {F(t.TestsSeconds)} s, wall {t.WallSeconds:0.0} s\n");
                sb.Append(CultureInfo.InvariantCulture, $"  console: {v.Boot.Request.ConsoleLog}\n");
                foreach (var f in v.Boot.Faults)
                    sb.Append(CultureInfo.InvariantCulture, $"  fault {Name(f.Kind)} at console line {f.Line}: {f.Text}\n");
            }
            foreach (var c in v.Cells)
            {
                var kfuncs = string.Join(", ", c.Kfuncs.Select(k => $"{k.Kfunc} {Name(k.Verdict)}"));
                sb.Append(CultureInfo.InvariantCulture, $"  {CellStatus(c).ToUpperInvariant(),-10} {c.Module} ({kfuncs})\n");
                foreach (var k in c.Checks.Where(k => k.Status == CheckStatus.Fail))
                    sb.Append(CultureInfo.InvariantCulture, $"      {Name(k.Reason!.Value)}: {k.Kind} {k.Name}: {k.Message}\n");
            }
            foreach (var l in v.Loads)
                sb.Append("      load ").Append(LoadText(l)).Append('\n');
            sb.Append('\n');
        }

        var comparison = Comparison(run.Verdicts).ToList();
        if (comparison.Count > 0)
        {
            sb.Append("Load comparison (backport vs native, same profile):\n");
            foreach (var group in comparison)
            {
                sb.Append(CultureInfo.InvariantCulture, $"  {group.Key.Module}/{group.Key.Name} ({group.Key.Kfunc})\n");
                foreach (var m in group.OrderBy(m => KernelVersion.TryParse(m.Kernel, out var kv) ? kv : default))
                    sb.Append(CultureInfo.InvariantCulture, $"    {m.Kernel,-28} {Name(m.Verdict),-9} {Metric(m)}\n");
            }
            sb.Append('\n');
        }

        var failed = cells.Count(c => !c.Passed);
        if (cells.Count == 0)
            return sb.Append("NOTHING TESTED: no kfunc module is planned for these kernels (kfunc-modules/ is empty or --module selected none)\n").ToString();
        sb.Append(failed == 0
            ? $"PASSED: all {cells.Count} cells ({cells.Count(c => CellStatus(c) == "pass")} tested, {cells.Count(c => CellStatus(c) == "infeasible")} infeasible by plan)\n"
            : $"FAILED: {failed} of {cells.Count} cells: {string.Join("; ", cells.Where(c => !c.Passed).Select(c => $"{c.Kernel}/{c.Module} {Name(c.PrimaryFailure!.Reason!.Value)}"))}\n");
        return sb.ToString();
    }

    private static string LoadText(LoadMeasurement l) => $"{l.Module}/{l.Name} ({l.Kfunc}, {Name(l.Verdict)}): {(l.Passed ? "" : "FAILED ")}{Metric(l)}";

    private static string Metric(LoadMeasurement m) => m.Driver == LoadDriver.TestRun
        ? (m.NsPerCall is { } ns ? string.Create(CultureInfo.InvariantCulture, $"{ns,8:0.0} ns/call  {m.CallsPerSecond,12:N0} calls/s  ({m.Count} runs)") : "no result")
        : (m.SocketsPerSecond is { } sps
            ? string.Create(CultureInfo.InvariantCulture, $"{m.Proto}: {m.Aborted}/{m.Count} {(m.Proto == "tcp" ? "connections" : "sockets")} ECONNABORTED, {sps,10:N0} destroyed/s (iterator pass alone {m.IteratorSocketsPerSecond:N0}/s)")
            : $"{m.Proto}: {m.Aborted}/{m.Count} {(m.Proto == "tcp" ? "connections" : "sockets")} ECONNABORTED");

    /// <summary>Each load step's measurements on every kernel that ran it, when it ran on more than one.</summary>
    private static IEnumerable<IGrouping<(string Module, string Name, string Kfunc), LoadMeasurement>> Comparison(IEnumerable<BootVerdict> verdicts) =>
        verdicts.SelectMany(v => v.Loads)
            .GroupBy(l => (l.Module, l.Name, l.Kfunc))
            .Where(g => g.Count() > 1)
            .OrderBy(g => g.Key.Module, StringComparer.Ordinal).ThenBy(g => g.Key.Name, StringComparer.Ordinal);

    private static IEnumerable<BootVerdict> Ordered(IEnumerable<BootVerdict> verdicts) =>
        verdicts.OrderBy(v => KernelVersion.TryParse(v.Plan.Kernel.Release, out var k) ? k : default).ThenBy(v => v.Plan.Kernel.Release, StringComparer.Ordinal);

    private static double? Round(double? v, int digits = 6) => v is null ? null : Math.Round(v.Value, digits);

    private static string F(double? v, int digits = 2) => v is null ? "?" : v.Value.ToString("F" + digits, CultureInfo.InvariantCulture);
}
