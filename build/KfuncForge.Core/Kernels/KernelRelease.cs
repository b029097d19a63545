using System.Text.RegularExpressions;
using KfuncForge.Definitions;
using KfuncForge.Model;

namespace KfuncForge.Kernels;

/// <summary>
/// A kernel release string split into the parts package names are made of:
/// 6.1.0-56-amd64 → abi 6.1.0-56, line 6.1, version 6.1.0, flavour amd64;
/// 6.12.117+deb12-amd64 → abi 6.12.117+deb12, line 6.12, version 6.12.117.
/// </summary>
public sealed partial record KernelRelease(string Release, string Abi, string Flavour, KernelVersion Version)
{
    [GeneratedRegex(@"^(?<v>\d+\.\d+(\.\d+)?)(-\d+|\+[A-Za-z0-9.~]+)?$")]
    private static partial Regex AbiShape();

    public string Line => $"{Version.Major}.{Version.Minor}";

    /// <summary>Splits a release whose flavour is known; null when the release is not abi-flavour.</summary>
    public static KernelRelease? TryParse(string release, string flavour)
    {
        if (flavour.Length == 0 || !char.IsAsciiLetterLower(flavour[0])) return null;
        var suffix = "-" + flavour;
        if (!release.EndsWith(suffix, StringComparison.Ordinal)) return null;
        var abi = release[..^suffix.Length];
        var m = AbiShape().Match(abi);
        if (!m.Success) return null;
        return new KernelRelease(release, abi, flavour, KernelVersion.Parse(m.Groups["v"].Value));
    }

    /// <summary>Splits a release whose flavour is not known: the flavour is what follows the ABI.</summary>
    public static KernelRelease? TryParse(string release)
    {
        var dash = release.IndexOf('-');
        while (dash > 0)
        {
            if (TryParse(release, release[(dash + 1)..]) is { } r) return r;
            dash = release.IndexOf('-', dash + 1);
        }
        return null;
    }

    public IReadOnlyDictionary<string, string> Placeholders => new Dictionary<string, string>
    {
        ["release"] = Release,
        ["abi"] = Abi,
        ["line"] = Line,
        ["version"] = $"{Version.Major}.{Version.Minor}.{Version.Patch}",
        ["flavour"] = Flavour,
    };

    public string Expand(string pattern) => Names.Expand(pattern, Placeholders);
}
