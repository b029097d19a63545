using System.Globalization;
using System.Text.RegularExpressions;

namespace KfuncForge.Model;

/// <summary>A kernel version as the kernel orders it: major.minor.patch (release suffixes ignored).</summary>
public readonly partial record struct KernelVersion(int Major, int Minor, int Patch) : IComparable<KernelVersion>
{
    [GeneratedRegex(@"^(\d{1,3})\.(\d{1,3})(?:\.(\d{1,5}))?")]
    private static partial Regex Leading();

    /// <summary>Parses "6.1", "6.12.117" or a release string such as "6.1.0-56-amd64" (its leading numbers).</summary>
    public static bool TryParse(string? text, out KernelVersion version)
    {
        version = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var m = Leading().Match(text.Trim());
        if (!m.Success) return false;
        version = new KernelVersion(
            int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
            int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
            m.Groups[3].Success ? int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture) : 0);
        return true;
    }

    public static KernelVersion Parse(string text) =>
        TryParse(text, out var v) ? v : throw new FormatException($"'{text}' is not a kernel version (expected e.g. 6.1 or 6.12.117)");

    /// <summary>The kernel's own LINUX_VERSION_CODE encoding (patch saturates at 255 as in KERNEL_VERSION()).</summary>
    public int Code => (Major << 16) + (Minor << 8) + Math.Min(Patch, 255);

    public int CompareTo(KernelVersion other) =>
        Major != other.Major ? Major.CompareTo(other.Major)
        : Minor != other.Minor ? Minor.CompareTo(other.Minor)
        : Patch.CompareTo(other.Patch);

    public static bool operator <(KernelVersion a, KernelVersion b) => a.CompareTo(b) < 0;
    public static bool operator >(KernelVersion a, KernelVersion b) => a.CompareTo(b) > 0;
    public static bool operator <=(KernelVersion a, KernelVersion b) => a.CompareTo(b) <= 0;
    public static bool operator >=(KernelVersion a, KernelVersion b) => a.CompareTo(b) >= 0;

    public override string ToString() => Patch == 0
        ? string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}")
        : string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}.{Patch}");
}

/// <summary>A half-open range of kernel versions: From (inclusive, open when null) to Before (exclusive, open when null).</summary>
public sealed record KernelRange(KernelVersion? From, KernelVersion? Before)
{
    public static readonly KernelRange Any = new(null, null);

    public bool Contains(KernelVersion v) => (From is null || v >= From.Value) && (Before is null || v < Before.Value);

    public bool IsEmpty => From is not null && Before is not null && From.Value >= Before.Value;

    public bool Overlaps(KernelRange other)
    {
        var lo = Max(From, other.From);
        var hi = Min(Before, other.Before);
        return lo is null || hi is null || lo.Value < hi.Value;
    }

    private static KernelVersion? Max(KernelVersion? a, KernelVersion? b) =>
        a is null ? b : b is null ? a : (a.Value >= b.Value ? a : b);

    private static KernelVersion? Min(KernelVersion? a, KernelVersion? b) =>
        a is null ? b : b is null ? a : (a.Value <= b.Value ? a : b);

    public override string ToString() => (From, Before) switch
    {
        (null, null) => "any kernel",
        (not null, null) => $">= {From}",
        (null, not null) => $"< {Before}",
        _ => $">= {From}, < {Before}",
    };
}
