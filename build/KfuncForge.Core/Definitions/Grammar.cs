using System.Globalization;
using System.Text.RegularExpressions;

namespace KfuncForge.Definitions;

/// <summary>
/// The grammars of every text that reaches a generated file, a path or a command line. Each check returns
/// why a value is refused (said so a person can fix it), or null when it is fine. The whole string must
/// match: nothing is read "up to the first bad character". docs/definitions.md states each field's grammar.
/// </summary>
public static partial class Grammar
{
    /// <summary>Characters no summary-like text may hold: each is syntax in one of the formats it reaches (shell, make, RPM macros, C strings).</summary>
    public const string TextForbidden = "\\\"$%`";

    /// <summary>
    /// One-line printable text (description, vendor, reasons): letters of any script, digits, spaces and
    /// punctuation, no control or format characters (newline, tab, ESC, NUL, line separators), none of
    /// \ " $ % `, no C comment delimiters, no leading or trailing space.
    /// </summary>
    public static string? Text(string value, int maxLength = 200)
    {
        if (value.Length == 0) return "is empty; write one line of text";
        if (value.Length > maxLength) return $"is {value.Length} characters long; at most {maxLength} fit on one line of a package's metadata";
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            var category = char.GetUnicodeCategory(c);
            if (c == '\n' || c == '\r') return "holds a line break; it must be one line (a line break would start a new field in a control file or a new section in a spec)";
            if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.PrivateUse)
                return $"holds the non-printable character U+{(int)c:X4} at position {i + 1}; use printable characters only";
            if (char.IsSurrogate(c) && !char.IsSurrogatePair(value, Math.Max(0, char.IsHighSurrogate(c) ? i : i - 1)))
                return $"holds an unpaired surrogate at position {i + 1}";
            if (TextForbidden.Contains(c)) return $"holds '{c}' at position {i + 1}; none of \\ \" $ % ` may appear (each is syntax in a shell script, a Makefile, an RPM spec or a C string)";
        }
        if (value.Contains("/*", StringComparison.Ordinal) || value.Contains("*/", StringComparison.Ordinal)) return "holds a C comment delimiter (/* or */)";
        if (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1])) return "starts or ends with white space";
        return null;
    }

    /// <summary>A maintainer as Debian and RPM write one: "Name &lt;address&gt;", the name one-line text.</summary>
    public static string? Maintainer(string value)
    {
        var m = MaintainerForm().Match(value);
        if (!m.Success) return "must be 'Name <user@host>' (one line, an e-mail address in angle brackets)";
        return Text(m.Groups["name"].Value, 100) is { } bad ? $"name {bad}" : null;
    }

    [GeneratedRegex(@"^(?<name>[^<>]+) <[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+>$")]
    private static partial Regex MaintainerForm();

    /// <summary>An upstream version both Debian and RPM accept: starts with a digit; letters, digits, '.', '+', '~' (no '-': it separates the revision).</summary>
    public static string? PackageVersion(string value) =>
        VersionForm().IsMatch(value) ? null : "must be a version like 0.1.0: a digit first, then letters, digits, '.', '+' or '~' (no '-', no spaces)";

    [GeneratedRegex(@"^[0-9][A-Za-z0-9.+~]{0,63}$")]
    private static partial Regex VersionForm();

    /// <summary>The licenses the kernel's module loader knows (include/linux/license.h), as MODULE_LICENSE takes them.</summary>
    public static readonly string[] KernelLicenses = ["GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"];

    public static string? License(string value) =>
        KernelLicenses.Contains(value) ? null : $"'{Clip(value)}' is not a license the kernel accepts for a module that uses GPL-only symbols; use one of: {string.Join(", ", KernelLicenses)}";

    /// <summary>A module name: a C identifier that starts with a lower-case letter (it is also part of Debian and RPM package names).</summary>
    public static string? ModuleName(string value) => ModuleForm().IsMatch(value) ? null : "must start with a lower-case letter, then lower-case letters, digits and '_'";

    [GeneratedRegex("^[a-z][a-z0-9_]*$")]
    private static partial Regex ModuleForm();

    /// <summary>A kernel release as uname -r prints it: 6.1.0-56-amd64, 6.12.117+deb12-amd64, 5.14.0-570.12.1.el9_6.x86_64.</summary>
    public static string? KernelRelease(string value) =>
        value.Length <= 100 && ReleaseForm().IsMatch(value) && VersionPartsFit(value) ? null
            : "is not a kernel release (like 6.1.0-56-amd64): digits 'major.minor[.patch]', then '-', '+', '.', '_' or '~' followed by letters and digits, nothing else";

    [GeneratedRegex(@"^[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,5})?([-+._~][A-Za-z0-9]+)*$")]
    private static partial Regex ReleaseForm();

    /// <summary>A kernel line: major.minor, each a number the kernel's version code can hold (0 to 255).</summary>
    public static string? KernelLine(string value) =>
        LineForm().IsMatch(value) && VersionPartsFit(value) ? null : "is not a kernel line (like 6.1): two numbers from 0 to 255 joined by '.', nothing else";

    [GeneratedRegex(@"^[0-9]{1,3}\.[0-9]{1,3}$")]
    private static partial Regex LineForm();

    /// <summary>A kernel version in a range (from/before) or a release field: major.minor[.patch], each part 0 to 255, nothing after.</summary>
    public static string? KernelVersion(string value) =>
        VersionNumberForm().IsMatch(value) && VersionPartsFit(value) ? null : "is not a kernel version (like 6.1 or 6.1.192): numbers from 0 to 255 joined by '.', nothing else";

    [GeneratedRegex(@"^[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,3})?$")]
    private static partial Regex VersionNumberForm();

    private static bool VersionPartsFit(string value)
    {
        var parts = value.Split('.', 3);
        return int.TryParse(parts[0], out var major) && major <= 255 && int.TryParse(new string(parts[1].TakeWhile(char.IsAsciiDigit).ToArray()), out var minor) && minor <= 255;
    }

    /// <summary>A name in a distro's archive (suite, component, flavour): lower-case letters, digits and '-'.</summary>
    public static string? ArchiveName(string value) =>
        ArchiveForm().IsMatch(value) ? null : "must be lower-case letters, digits and '-' (like bookworm-security or amd64)";

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,63}$")]
    private static partial Regex ArchiveForm();

    /// <summary>A package name in a list of packages to install (toolchain, rootfs packages).</summary>
    public static string? PackageName(string value) =>
        PackageForm().IsMatch(value) ? null : "is not a package name: a letter or digit, then letters, digits, '.', '+', '_' or '-'";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9.+_-]{0,99}$")]
    private static partial Regex PackageForm();

    /// <summary>A package name pattern: package-name characters and {placeholders}.</summary>
    public static string? PackagePattern(string value) =>
        PackagePatternForm().IsMatch(value) ? null : "is not a package name pattern: letters, digits, '.', '+', '_', '-' and {placeholders} only";

    [GeneratedRegex(@"^([A-Za-z0-9.+_-]|\{[a-z_]+\})+$")]
    private static partial Regex PackagePatternForm();

    /// <summary>An image repository without tag or digest (where the KMM kmod images are pushed): registry/path, lower case.</summary>
    public static string? ImageRepository(string value) =>
        ImageRepositoryForm().IsMatch(value) ? null : "is not an image repository (like registry.example.com/team/kfunc-strings-kmod): lower-case letters, digits, '.', '_', '-', '/' and a registry port, without tag or digest";

    [GeneratedRegex(@"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*){1,8}$")]
    private static partial Regex ImageRepositoryForm();

    /// <summary>A container image reference: registry/name[:tag][@sha256:digest].</summary>
    public static string? ImageReference(string value) =>
        ImageForm().IsMatch(value) ? null : "is not a container image reference (like debian:bookworm or redhat/ubi9:latest)";

    [GeneratedRegex(@"^[a-z0-9][a-z0-9._/-]{0,199}(:[A-Za-z0-9._-]{1,128})?(@sha256:[0-9a-f]{64})?$")]
    private static partial Regex ImageForm();

    /// <summary>
    /// An absolute path on a target system (install and header folders): '/' then segments of letters, digits,
    /// '.', '_', '+', '-' or {placeholders}, normalized (no empty, '.' or '..' segment, no trailing '/'). No
    /// character here is syntax in a shell, a Makefile, an RPM spec or a control file.
    /// </summary>
    public static string? AbsolutePath(string value) => PathProblem(value, absolute: true);

    /// <summary>A path inside a module folder (variant and BPF sources): like AbsolutePath, but relative and without placeholders.</summary>
    public static string? RelativePath(string value) => PathProblem(value, absolute: false);

    /// <summary>An os-release ID (what systemd-sysext compares with the host's): lower-case letters, digits, '.', '_', '-'.</summary>
    public static string? OsReleaseId(string value) =>
        System.Text.RegularExpressions.Regex.IsMatch(value, "^[a-z0-9][a-z0-9._-]{0,63}\\z") ? null : "must be lower-case letters, digits, '.', '_' and '-' (an os-release ID such as flatcar)";

    /// <summary>An os-release VERSION_ID or SYSEXT_LEVEL: letters, digits, '.', '_', '-', '~', '+'.</summary>
    public static string? OsReleaseVersion(string value) =>
        System.Text.RegularExpressions.Regex.IsMatch(value, "^[A-Za-z0-9][A-Za-z0-9._~+-]{0,63}\\z") ? null : "must be letters, digits, '.', '_', '-', '~' and '+' (an os-release VERSION_ID such as 4593.2.5)";

    /// <summary>
    /// A repository base URL dnf reads (it lands in a dnf configuration file and in provenance): https or file only (the
    /// packages are checked against the metadata, so the metadata must come over an authenticated channel), no
    /// credentials, spaces or control characters.
    /// </summary>
    public static string? RepositoryUrl(string value) =>
        !System.Text.RegularExpressions.Regex.IsMatch(value, @"^(https|file)://[!-~]{1,1000}\z") ? "must be an https:// or file:// URL without spaces (plain http would let the network choose the kernel)"
        : System.Text.RegularExpressions.Regex.IsMatch(value, @"^https://[^/]*@") ? "must not carry credentials (they would land in logs and provenance); use dnf's client certificates or a mirror"
        : null;

    /// <summary>
    /// A directory on this machine (a profile's kernel build tree): absolute, or relative to the repository root. It is
    /// only read, never written into a generated file, so any printable characters are allowed.
    /// </summary>
    public static string? FilePath(string value) =>
        value.Length == 0 ? "is empty"
        : value.Length > 1024 ? "is longer than 1024 characters"
        : value.Any(char.IsControl) ? "has a control character; give a plain directory path"
        : null;

    private static string? PathProblem(string value, bool absolute)
    {
        if (value.Length == 0) return "is empty";
        if (value.Length > 200) return "is longer than 200 characters";
        if (absolute != value.StartsWith('/')) return absolute ? "must be an absolute path (start with '/')" : "must be relative to the module folder (not start with '/')";
        var segments = (absolute ? value[1..] : value).Split('/');
        foreach (var s in segments)
        {
            if (s.Length == 0) return "has an empty segment ('//' or a trailing '/'); write it normalized";
            if (s is "." or "..") return $"has a '{s}' segment; write it normalized, without '.' or '..'";
            if (!(absolute ? AbsoluteSegment() : RelativeSegment()).IsMatch(s))
                return $"segment '{Clip(s)}' may hold only letters, digits, '.', '_', '+', '-'{(absolute ? " and {placeholders}" : "")} (other characters are syntax in a shell, Makefile, spec or control file)";
        }
        return null;
    }

    [GeneratedRegex(@"^([A-Za-z0-9._+-]|\{[a-z_]+\})+$")]
    private static partial Regex AbsoluteSegment();

    [GeneratedRegex(@"^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$")]
    private static partial Regex RelativeSegment();

    /// <summary>A program an attach restriction names (BTF ids of attach targets, like iter/tcp): letters, digits, '_', '/', '.', ':'.</summary>
    public static string? AttachTarget(string value) =>
        AttachForm().IsMatch(value) ? null : "is not an attach target (like iter/tcp): letters, digits, '_', '/', '.' and ':' only";

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_/.:]{0,99}$")]
    private static partial Regex AttachForm();

    /// <summary>A value shortened for an error message, without its control characters.</summary>
    public static string Clip(string value, int length = 60)
    {
        var clean = new string(value.Take(length).Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return value.Length > length ? clean + "…" : clean;
    }
}
