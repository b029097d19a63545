using System.Globalization;
using System.Text.RegularExpressions;
using KfuncForge.Kernels;

namespace KfuncForge.Fidelity;

/// <summary>
/// Upstream's expectation for one selftest program, from its annotations: __success / __failure, __retval(N)
/// (the program is run once and must return N; without it the program is only loaded), __msg("...") (each must
/// appear in the verifier's log, in order). Unsupported: the first annotation the harness cannot honour (the
/// program is then listed as not run, with it). Calls: the kfuncs (and other externs) the program calls.
/// </summary>
public sealed record SelftestSpec(string Program, string Section, bool ExpectFailure, long? Retval, IReadOnlyList<string> Messages, IReadOnlyList<string> Calls)
{
    public string? Description { get; init; }

    /// <summary>An annotation this harness does not check (e.g. __xlated, __jited, __arch_arm64, __flag): the program is not run.</summary>
    public string? Unsupported { get; init; }

    /// <summary>__auxiliary: a helper program of the file, not a test.</summary>
    public bool Auxiliary { get; init; }

    /// <summary>__retval(POINTER_VALUE): upstream runs the program and accepts any result.</summary>
    public bool AnyValue { get; init; }

    /// <summary>Whether upstream runs the program once after loading it (__retval given).</summary>
    public bool Runs => Retval is not null || AnyValue;

    public string Describe() => ExpectFailure
        ? Messages.Count == 0 ? "rejected" : $"rejected ({string.Join(" … ", Messages.Select(m => $"\"{m}\""))})"
        : Retval is { } r ? $"returns {r}" : AnyValue ? "runs (any result)" : "loads";
}

/// <summary>
/// Reads the annotations the way upstream's test loader does: from the compiled object's BTF, where bpf_misc.h's
/// macros leave them as decl tags on each program ("comment:test_expect_success", or since Linux 6.15 or so
/// "comment:&lt;n&gt;:test_expect_success", n ordering the tags as written).
/// </summary>
public static partial class SelftestSpecs
{
    [GeneratedRegex(@"^comment:(?:(\d+):)?(.*)$", RegexOptions.Singleline)]
    private static partial Regex Comment();

    /// <summary>Tags with no effect on a privileged run's verdict: the log level (only __msg reads the log, and only of refused programs here).</summary>
    private static bool Ignored(string key) => key is "test_log_level";

    /// <summary>Every program of the object with its annotations, in the object's order.</summary>
    public static IReadOnlyList<SelftestSpec> Read(string objectFile)
    {
        var elf = ElfFile.Load(objectFile);
        var btfSection = elf.Section(".BTF") ?? throw new InvalidDataException($"{objectFile} has no .BTF section (compile with -g)");
        var btf = BtfReader.Parse(elf.Bytes(btfSection));
        var tags = btf.DeclTags().Where(t => t.Target.Kind == BtfKind.Func && t.Component == -1)
            .Select((t, i) => (Program: t.Target.Name, Match: Comment().Match(t.Tag), Index: i))
            .Where(t => t.Match.Success)
            .Select(t => (t.Program, Order: t.Match.Groups[1].Success ? long.Parse(t.Match.Groups[1].Value, CultureInfo.InvariantCulture) : t.Index, Text: t.Match.Groups[2].Value))
            .ToLookup(t => t.Program, StringComparer.Ordinal);
        var calls = elf.BpfProgramCalls();
        return elf.BpfPrograms().Select(p => Spec(p.Program, p.Section, tags[p.Program].OrderBy(t => t.Order).Select(t => t.Text).ToList(), calls[p.Program].Order(StringComparer.Ordinal).ToList())).ToList();
    }

    public static SelftestSpec Spec(string program, string section, IReadOnlyList<string> tags, IReadOnlyList<string> calls)
    {
        bool failure = false, auxiliary = false, anyValue = false, privileged = false, unprivileged = false;
        long? retval = null;
        string? description = null, unsupported = null;
        var messages = new List<string>();
        var arches = new List<string>();
        foreach (var tag in tags)
        {
            var eq = tag.IndexOf('=');
            var key = eq < 0 ? tag : tag[..eq];
            var value = eq < 0 ? "" : tag[(eq + 1)..];
            switch (key)
            {
                case "test_expect_success": failure = false; privileged = true; break;
                case "test_expect_failure": failure = true; privileged = true; break;
                case "test_expect_msg":
                    privileged = true;
                    // {{...}} marks a regular expression in upstream's loader; literal matching would be wrong.
                    if (value.Contains("{{", StringComparison.Ordinal)) unsupported ??= $"__msg(\"{value}\") with a regular expression";
                    messages.Add(value);
                    break;
                case "test_auxiliary": auxiliary = true; break;
                case "test_description": description = value; break;
                case "test_arch": arches.Add(value); break;
                case "test_retval":
                    privileged = true;
                    var r = Retval(value);
                    if (value.Trim() == "POINTER_VALUE" || r == PointerValue) anyValue = true;
                    else if (r is { } v) retval = v;
                    else unsupported ??= $"__retval({value}), a value the harness cannot read";
                    break;
                default:
                    if (key.EndsWith("_unpriv", StringComparison.Ordinal)) unprivileged = true;
                    else if (!Ignored(key)) unsupported ??= eq < 0 ? key : $"{key}={value}";
                    break;
            }
        }
        // Upstream runs a program unprivileged only when all its expectations are _unpriv ones; this harness loads as root.
        if (unprivileged && !privileged) unsupported ??= "only unprivileged expectations (__failure_unpriv, __msg_unpriv, ...): upstream does not load it as root";
        if (arches.Count > 0 && !arches.Contains("X86_64")) unsupported ??= $"test_arch={string.Join(",", arches)}";
        // The agent keeps the verifier's log only of a program it refused.
        if (!failure && messages.Count > 0) unsupported ??= "__msg on a program expected to load (the harness keeps the verifier log of refused programs only)";
        return new SelftestSpec(program, section, failure, retval, messages, calls)
        {
            Description = description, Unsupported = unsupported, Auxiliary = auxiliary, AnyValue = anyValue,
        };
    }

    /// <summary>Upstream's POINTER_VALUE (bpf_misc.h): __retval(POINTER_VALUE) accepts any result.</summary>
    public const long PointerValue = 0xbadcafe;

    /// <summary>A retval as upstream's loader reads it: decimal or hex (possibly negative) as a 32-bit int, or one of the names it knows.</summary>
    public static long? Retval(string text)
    {
        var t = text.Trim();
        switch (t)
        {
            case "INT_MIN": return int.MinValue;
            case "INT_MAX": return int.MaxValue;
            case "_INT_MIN": return int.MinValue;
        }
        var negative = t.StartsWith('-');
        var digits = (negative ? t[1..] : t).Trim().Trim('(', ')').Trim();
        long value;
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? long.TryParse(digits[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out value)
            : long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value))
            return value == PointerValue && !negative ? value : unchecked((int)(negative ? -value : value)); // upstream keeps an int
        return null;
    }
}
