using System.Text.RegularExpressions;
using KfuncForge.Diagnostics;
using KfuncForge.Model;

namespace KfuncForge.Signing;

/// <summary>Reads a kernel's .config (/boot/config-&lt;release&gt;) into KernelFacts: enough to decide the module signature hash.</summary>
public static partial class KernelConfigFile
{
    [GeneratedRegex(@"^# Linux/\S+ (?<version>\d+\.\d+\.\d+)\S* Kernel Configuration")]
    private static partial Regex Header();

    [GeneratedRegex(@"^(?<key>CONFIG_[A-Za-z0-9_]+)=(?<value>.*)$")]
    private static partial Regex Line();

    public static KernelFacts Read(string path, string? release = null)
    {
        if (!File.Exists(path)) throw new InputException(new Problem(path, 0, 0, "", "the kernel config does not exist"));
        var config = new Dictionary<string, string>(StringComparer.Ordinal);
        KernelVersion? version = null;
        foreach (var line in File.ReadLines(path))
        {
            if (Header().Match(line) is { Success: true } h) version = KernelVersion.Parse(h.Groups["version"].Value);
            else if (Line().Match(line) is { Success: true } m) config[m.Groups["key"].Value] = m.Groups["value"].Value;
        }
        var name = Path.GetFileName(path);
        release ??= name.StartsWith("config-", StringComparison.Ordinal) ? name["config-".Length..] : null;
        if (version is null && release is not null && KernelVersion.TryParse(release, out var fromRelease)) version = fromRelease;
        if (version is null || config.Count == 0)
            throw new InputException(new Problem(path, 0, 0, "", "is not a kernel config (no '# Linux/... Kernel Configuration' header or no CONFIG_ lines)"));
        return new KernelFacts(release ?? version.Value.ToString(), version.Value, null, config, null, null);
    }
}
