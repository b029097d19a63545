using System.Text.RegularExpressions;
using KfuncForge.Diagnostics;

namespace KfuncForge.Packaging;

/// <summary>What Debian policy (§5.6.1, §5.6.12) and rpm accept as package names and versions.</summary>
public static partial class PackageNames
{
    [GeneratedRegex("^[a-z0-9][a-z0-9+.-]+$")]
    private static partial Regex DebName();

    [GeneratedRegex("^([0-9]+:)?[0-9][A-Za-z0-9.+~:-]*$")]
    private static partial Regex DebVersion();

    [GeneratedRegex("^[A-Za-z0-9_+][A-Za-z0-9._+-]*$")]
    private static partial Regex RpmName();

    [GeneratedRegex("^[A-Za-z0-9._+~^]+$")]
    private static partial Regex RpmVersion();

    public static bool IsDebName(string name) => DebName().IsMatch(name);
    public static bool IsDebVersion(string version) => DebVersion().IsMatch(version) && (!version.Contains(':') || version.Split(':')[0].All(char.IsAsciiDigit));
    public static bool IsRpmVersion(string version) => RpmVersion().IsMatch(version);
    public static bool IsRpmName(string name) => RpmName().IsMatch(name);

    public static void RequireDeb(string name, string version, string where)
    {
        var problems = new List<Problem>();
        if (!DebName().IsMatch(name))
            problems.Add(new Problem(where, 0, 0, "Package", $"'{name}' is not a valid Debian package name: at least two characters of lower-case letters, digits, '+', '-' and '.', starting with a letter or digit (check packaging.name in the distro profile)"));
        if (!IsDebVersion(version))
            problems.Add(new Problem(where, 0, 0, "Version", $"'{version}' is not a valid Debian version: it must start with a digit and use letters, digits and . + ~ - : only"));
        if (problems.Count > 0) throw new InputException(problems);
    }

    public static void RequireRpmName(string name, string where)
    {
        if (!RpmName().IsMatch(name))
            throw new InputException(new Problem(where, 0, 0, "Name", RpmNameMessage(name)));
    }

    private static string RpmNameMessage(string name) =>
        $"'{name}' is not a valid RPM package name: letters, digits and . _ + - only, not starting with '-' or '.' (check packaging.name in the distro profile)";

    public static void RequireRpm(string name, string version, string release, string where)
    {
        var problems = new List<Problem>();
        if (!RpmName().IsMatch(name))
            problems.Add(new Problem(where, 0, 0, "Name", RpmNameMessage(name)));
        if (!RpmVersion().IsMatch(version))
            problems.Add(new Problem(where, 0, 0, "Version", $"'{version}' is not a valid RPM version: letters, digits and . _ + ~ ^ only (no '-')"));
        if (!RpmVersion().IsMatch(release))
            problems.Add(new Problem(where, 0, 0, "Release", $"'{release}' is not a valid RPM release: letters, digits and . _ + ~ ^ only (no '-')"));
        if (problems.Count > 0) throw new InputException(problems);
    }

    /// <summary>Debian architecture → RPM architecture for the kernels this project builds.</summary>
    public static string RpmArchitecture(string debArchitecture) => debArchitecture switch
    {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "i386" => "i686",
        "ppc64el" => "ppc64le",
        "s390x" => "s390x",
        _ => throw new InputException(new Problem("--arch", 0, 0, "", $"no RPM architecture is known for '{debArchitecture}'; use amd64, arm64, i386, ppc64el or s390x")),
    };
}
