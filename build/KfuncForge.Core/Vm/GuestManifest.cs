using System.Globalization;
using System.Text;
using KfuncForge.Model;

namespace KfuncForge.Vm;

/// <summary>
/// Where things live inside the guest, and the manifest the agent executes: one command per line,
/// fields separated by tabs (the agent's parser is a few lines of C; names and paths never hold tabs).
/// </summary>
public static class GuestManifest
{
    public const string AgentPath = "init";
    public const string ManifestPath = "kff/manifest";
    public const string BusyboxPath = "bin/busybox";

    /// <summary>
    /// Where a module lies in the guest. A built module given compressed (.ko.xz, .ko.zst, .ko.gz: as a system
    /// extension ships it) keeps its suffix, and the agent asks the kernel to decompress it (finit_module's
    /// MODULE_INIT_COMPRESSED_FILE, CONFIG_MODULE_DECOMPRESS), as kmod does; other modules are stored plain.
    /// </summary>
    public static string ModulePath(GuestModule m) => $"kff/modules/{m.Name}.ko{KernelDecompressed(m)}";

    /// <summary>The compression suffix of a built module the kernel decompresses itself; "" for the rest.</summary>
    public static string KernelDecompressed(GuestModule m)
    {
        if (m.Kind != GuestModuleKind.Built) return "";
        var ext = Path.GetExtension(m.KoPath);
        return ext is ".xz" or ".zst" or ".gz" && m.KoPath.EndsWith(".ko" + ext, StringComparison.Ordinal) ? ext : "";
    }

    public static string ObjectPath(string module, string hostObject) => $"kff/bpf/{module}/{Path.GetFileName(hostObject)}";

    /// <summary>The agent's name of a socket scenario: "ipv4/established", "ipv6/listening", ….</summary>
    public static string Scenario(SocketScenario sc) => $"{sc.Family.ToString().ToLowerInvariant()}/{sc.State.ToString().ToLowerInvariant()}";

    /// <summary>Manifest lines as the agent reads them; a field with a tab or newline would split a line, so it is refused.</summary>
    public static string Text(IEnumerable<string[]> lines)
    {
        var sb = new StringBuilder();
        foreach (var fields in lines) Append(sb, fields);
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, string[] fields)
    {
        foreach (var f in fields)
            if (f.Contains('\t') || f.Contains('\n'))
                throw new ArgumentException($"manifest field '{f}' contains a tab or newline");
        sb.Append(string.Join('\t', fields)).Append('\n');
    }

    public static string Render(BootPlan plan)
    {
        var sb = new StringBuilder();
        void Line(params string[] fields) => Append(sb, fields);

        Line("kff-manifest", "1");
        Line("boot", plan.Id);
        foreach (var m in plan.Modules)
            Line("module", m.Name, "/" + ModulePath(m), m.Kind == GuestModuleKind.Built ? "built" : "dependency", m.Kfuncs.Count == 0 ? "-" : string.Join(',', m.Kfuncs));
        foreach (var s in plan.Smoke)
        {
            string[] fields = ["smoke", s.Module, s.Name, "/" + ObjectPath(s.Module, s.Object), s.Program, s.Mode];
            Line(s.Sockets is { } sc ? [.. fields, Scenario(sc)] : fields);
        }
        foreach (var l in plan.Loads)
            Line("load", l.Module, l.Name, "/" + ObjectPath(l.Module, l.Object), l.Program ?? "-",
                l.Driver == LoadDriver.TestRun ? "test_run" : "socket_iterator", l.Count.ToString(CultureInfo.InvariantCulture));
        if (plan.CrashAgentAtEnd) Line("crash");
        return sb.ToString();
    }
}
