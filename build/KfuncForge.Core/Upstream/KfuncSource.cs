using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace KfuncForge.Upstream;

/// <summary>One <c>BTF_ID_FLAGS(func, name, flags)</c> line: where, which flags, in which BTF set, under which #if conditions.</summary>
public sealed record FlagsEntry(string Name, int Line, IReadOnlyList<string> Flags, BtfSet? Set, IReadOnlyList<string> Conditions);

/// <summary>A <c>BTF_KFUNCS_START(name)</c> / <c>BTF_SET8_START(name)</c> ... <c>_END(name)</c> block.</summary>
public sealed record BtfSet(string Name, string Macro, int Start, int End, int Line);

/// <summary>A <c>struct btf_kfunc_id_set</c> variable: which BTF set it publishes and its filter function, if any.</summary>
public sealed record IdSet(string Variable, string Set, string? Filter, int Line);

/// <summary>A <c>register_btf_kfunc_id_set(type, &amp;idset)</c> call. ProgramType is the first argument as written.</summary>
public sealed record RegisterCall(string ProgramType, string IdSet, int Line)
{
    /// <summary>Whether the program type is written as a BPF_PROG_TYPE_* constant (anything else is an expression the importer does not evaluate).</summary>
    public bool IsConstant => KfuncSource.ProgramTypeConstant().IsMatch(ProgramType);
}

/// <summary>A kfunc's C definition as found in a file.</summary>
public sealed record CDefinition(string Name, string ReturnType, string Arguments, int Line, string Text, string BodySha256)
{
    /// <summary>"ret name(args)", spaced the way module.yaml writes prototypes.</summary>
    public string Prototype => KfuncSource.Prototype(ReturnType, Name, Arguments);
}

/// <summary>What a search for a definition found: a plain C definition, a macro that generates it, or nothing.</summary>
public abstract record DefinitionLookup
{
    private DefinitionLookup() { }

    public sealed record Found(CDefinition Definition) : DefinitionLookup;

    /// <summary>The name is an argument of a macro invocation at file scope (or its return type is written with a macro).</summary>
    public sealed record Macro(string MacroName, int Line) : DefinitionLookup;

    public sealed record Missing : DefinitionLookup;
}

/// <summary>
/// Reads what the importer needs from one kernel C file: kfunc definitions
/// (<c>__bpf_kfunc &lt;type&gt; &lt;name&gt;(&lt;args&gt;) { ... }</c>, with or without the annotation),
/// <c>BTF_ID_FLAGS</c> entries, BTF kfunc sets, <c>struct btf_kfunc_id_set</c> variables and
/// <c>register_btf_kfunc_id_set</c> calls. Anything else, such as definitions produced by
/// macros, is reported as not understood rather than guessed.
/// </summary>
public static partial class KfuncSource
{
    /// <summary>Words that may precede a kfunc's return type and are not part of it.</summary>
    public static readonly IReadOnlySet<string> Annotations = new HashSet<string>(StringComparer.Ordinal)
    {
        "__bpf_kfunc", "static", "noinline", "notrace", "__weak", "__used", "__visible", "__noclone", "__nocfi",
        "inline", "__always_inline", "__must_check", "__cold", "__hot", "extern",
    };

    /// <summary>Macros whose arguments name kfuncs without defining them.</summary>
    private static readonly IReadOnlySet<string> TableMacros = new HashSet<string>(StringComparer.Ordinal)
    {
        "BTF_ID_FLAGS", "BTF_ID", "BTF_ID_UNUSED", "EXPORT_SYMBOL", "EXPORT_SYMBOL_GPL", "EXPORT_SYMBOL_NS_GPL", "ALLOW_ERROR_INJECTION",
        "register_btf_kfunc_id_set", "BTF_TYPE_EMIT", "__diag_ignore", "__diag_ignore_all", "__diag_push", "__diag_pop", "sizeof",
    };

    [GeneratedRegex(@"^BPF_PROG_TYPE_[A-Z0-9_]+$")]
    internal static partial Regex ProgramTypeConstant();

    [GeneratedRegex(@"\bBTF_ID_FLAGS\s*\(\s*func\s*,\s*(?<name>[A-Za-z_]\w*)\s*(?:,(?<flags>[^()]*))?\)")]
    private static partial Regex FlagsLine();

    [GeneratedRegex(@"\b(?<macro>BTF_KFUNCS_START|BTF_SET8_START)\s*\(\s*(?<name>[A-Za-z_]\w*)\s*\)")]
    private static partial Regex SetStart();

    [GeneratedRegex(@"\b(?:BTF_KFUNCS_END|BTF_SET8_END)\s*\(\s*(?<name>[A-Za-z_]\w*)\s*\)")]
    private static partial Regex SetEnd();

    [GeneratedRegex(@"\bstruct\s+btf_kfunc_id_set\s+(?<var>[A-Za-z_]\w*)\s*=\s*\{")]
    private static partial Regex IdSetStart();

    [GeneratedRegex(@"\.set\s*=\s*&?\s*(?<set>[A-Za-z_]\w*)")]
    private static partial Regex IdSetField();

    [GeneratedRegex(@"\.filter\s*=\s*&?\s*(?<filter>[A-Za-z_]\w*)")]
    private static partial Regex FilterField();

    [GeneratedRegex(@"\bregister_btf_kfunc_id_set\s*\(")]
    private static partial Regex RegisterStart();

    [GeneratedRegex(@"^&?\s*(?<var>[A-Za-z_]\w*)$")]
    private static partial Regex AddressOf();

    [GeneratedRegex(@"^[A-Za-z_]\w*$")]
    private static partial Regex Identifier();

    /// <summary>Cheap check used while walking history: does the file register <paramref name="name"/> with BTF_ID_FLAGS?</summary>
    public static bool Registers(CText file, string name) =>
        FlagsLine().Matches(file.Code).Any(m => m.Groups["name"].Value == name);

    public static IReadOnlyList<BtfSet> Sets(CText file)
    {
        var ends = SetEnd().Matches(file.Code).ToList();
        var sets = new List<BtfSet>();
        foreach (Match start in SetStart().Matches(file.Code))
        {
            var name = start.Groups["name"].Value;
            var end = ends.FirstOrDefault(e => e.Index > start.Index && e.Groups["name"].Value == name);
            sets.Add(new BtfSet(name, start.Groups["macro"].Value, start.Index, end?.Index ?? file.Code.Length, file.LineOf(start.Index)));
        }
        return sets;
    }

    /// <summary>Every BTF_ID_FLAGS entry for <paramref name="name"/>, with its set and the #if conditions around it.</summary>
    public static IReadOnlyList<FlagsEntry> FlagsEntries(CText file, string name)
    {
        var sets = Sets(file);
        var entries = new List<FlagsEntry>();
        foreach (Match m in FlagsLine().Matches(file.Code))
        {
            if (m.Groups["name"].Value != name) continue;
            var flags = m.Groups["flags"].Success
                ? m.Groups["flags"].Value.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(f => f != "0").ToList()
                : [];
            var set = sets.LastOrDefault(s => s.Start < m.Index && m.Index < s.End);
            entries.Add(new FlagsEntry(name, file.LineOf(m.Index), flags, set, file.ConditionsAt(m.Index)));
        }
        return entries;
    }

    public static IReadOnlyList<IdSet> IdSets(CText file)
    {
        var result = new List<IdSet>();
        foreach (Match m in IdSetStart().Matches(file.Code))
        {
            var open = m.Index + m.Length - 1;
            var close = file.Matching(open);
            if (close < 0) continue;
            var body = file.Code[open..close];
            var set = IdSetField().Match(body);
            var filter = FilterField().Match(body);
            if (!set.Success) continue;
            result.Add(new IdSet(m.Groups["var"].Value, set.Groups["set"].Value, filter.Success ? filter.Groups["filter"].Value : null, file.LineOf(m.Index)));
        }
        return result;
    }

    public static IReadOnlyList<RegisterCall> RegisterCalls(CText file)
    {
        var calls = new List<RegisterCall>();
        foreach (Match m in RegisterStart().Matches(file.Code))
        {
            if (file.AtFileScope(m.Index)) continue; // the declaration in a header, or a prototype
            var open = m.Index + m.Length - 1;
            var close = file.Matching(open);
            if (close < 0) continue;
            var args = SplitArguments(file.Code[(open + 1)..close]);
            if (args.Count != 2) continue;
            var target = AddressOf().Match(args[1]);
            if (!target.Success) continue;
            calls.Add(new RegisterCall(args[0], target.Groups["var"].Value, file.LineOf(m.Index)));
        }
        return calls;
    }

    /// <summary>Looks for the definition of <paramref name="name"/> as a plain C function at file scope.</summary>
    public static DefinitionLookup FindDefinition(CText file, string name)
    {
        var code = file.Code;
        var call = new Regex($@"\b{Regex.Escape(name)}\s*\(", RegexOptions.CultureInvariant);
        foreach (Match m in call.Matches(code))
        {
            if (!file.AtFileScope(m.Index)) continue;
            var open = m.Index + m.Length - 1;
            var close = file.Matching(open);
            if (close < 0) continue;
            var after = close + 1;
            while (after < code.Length && char.IsWhiteSpace(code[after])) after++;
            if (after >= code.Length || code[after] != '{') continue; // a declaration or a use, not a definition

            var (prefixStart, stop) = PrefixStart(code, m.Index);
            var words = code[prefixStart..m.Index].Replace("*", " * ", StringComparison.Ordinal)
                .Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
            // A ')' right before the type on the same line is a macro in the declaration: RET_TYPE(int) name(...).
            var sameLine = stop >= 0 && !code[stop..prefixStart].Contains('\n');
            var typeWords = words.Where(w => !Annotations.Contains(w)).ToList();
            if ((stop >= 0 && code[stop] == ')' && sameLine) || typeWords.Count == 0 || typeWords.All(w => w == "*"))
                return new DefinitionLookup.Macro(MacroBefore(code, stop) ?? name, file.LineOf(m.Index));

            var bodyClose = file.Matching(after);
            if (bodyClose < 0) continue;
            var returnType = ReturnType(typeWords);
            var arguments = Arguments(file.NoComments[(open + 1)..close]);
            var text = file.Original[file.LineStart(prefixStart)..(bodyClose + 1)];
            var hash = Sha256(CText.Tokens(file.NoComments[after..(bodyClose + 1)]));
            return new DefinitionLookup.Found(new CDefinition(name, returnType, arguments, file.LineOf(m.Index), text, hash));
        }

        // Not a plain definition: is the name an argument of a macro invocation at file scope?
        var word = new Regex($@"\b{Regex.Escape(name)}\b", RegexOptions.CultureInvariant);
        foreach (Match m in word.Matches(code))
        {
            if (!file.AtFileScope(m.Index)) continue;
            var macro = EnclosingCall(code, m.Index);
            if (macro is not null && !TableMacros.Contains(macro) && !macro.StartsWith("BTF_", StringComparison.Ordinal))
                return new DefinitionLookup.Macro(macro, file.LineOf(m.Index));
        }
        return new DefinitionLookup.Missing();
    }

    /// <summary>Joins return type, name and arguments the way module.yaml prototypes are written: "struct x *name(int a)".</summary>
    public static string Prototype(string returnType, string name, string arguments) =>
        returnType.EndsWith('*') ? $"{returnType}{name}({arguments})" : $"{returnType} {name}({arguments})";

    /// <summary>A prototype reduced to its tokens, for comparing a hand-written one with upstream's.</summary>
    public static string Normalise(string prototype) => CText.Tokens(prototype.Trim().TrimEnd(';'));

    public static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static string ReturnType(List<string> words)
    {
        var sb = new StringBuilder();
        foreach (var w in words)
        {
            if (w == "*") sb.Append(sb.Length > 0 && sb[^1] != '*' ? " *" : "*");
            else sb.Append(sb.Length > 0 ? " " : "").Append(w);
        }
        return sb.ToString();
    }

    private static string Arguments(string raw)
    {
        var parts = SplitArguments(raw).Select(a => string.Join(' ', a.Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries)));
        return string.Join(", ", parts);
    }

    private static List<string> SplitArguments(string raw)
    {
        var parts = new List<string>();
        var depth = 0;
        var start = 0;
        for (var i = 0; i < raw.Length; i++)
        {
            if (raw[i] is '(' or '[' or '{') depth++;
            else if (raw[i] is ')' or ']' or '}') depth--;
            else if (raw[i] == ',' && depth == 0)
            {
                parts.Add(raw[start..i].Trim());
                start = i + 1;
            }
        }
        var last = raw[start..].Trim();
        if (last.Length > 0 || parts.Count > 0) parts.Add(last);
        return parts;
    }

    // Walks back from the name over identifiers, '*' and white space: the return type and annotations.
    // Returns where that run starts and the index of the character that stopped it (-1 at file start).
    private static (int Start, int Stop) PrefixStart(string code, int nameIndex)
    {
        var i = nameIndex - 1;
        while (i >= 0 && (CText.IsWord(code[i]) || code[i] == '*' || char.IsWhiteSpace(code[i]))) i--;
        var start = i + 1;
        while (start < nameIndex && char.IsWhiteSpace(code[start])) start++;
        return (start, i);
    }

    private static string? MacroBefore(string code, int stop)
    {
        if (stop < 0 || code[stop] != ')') return null;
        var depth = 0;
        for (var i = stop; i >= 0; i--)
        {
            if (code[i] == ')') depth++;
            else if (code[i] == '(' && --depth == 0) return IdentifierBefore(code, i);
        }
        return null;
    }

    // The identifier before the innermost unclosed '(' that contains the index, on file scope.
    private static string? EnclosingCall(string code, int index)
    {
        var depth = 0;
        for (var i = index - 1; i >= 0; i--)
        {
            var c = code[i];
            if (c == ')') depth++;
            else if (c == '(')
            {
                if (depth == 0) return IdentifierBefore(code, i);
                depth--;
            }
            else if (c is ';' or '{' or '}') return null;
        }
        return null;
    }

    private static string? IdentifierBefore(string code, int paren)
    {
        var end = paren;
        while (end > 0 && char.IsWhiteSpace(code[end - 1])) end--;
        var start = end;
        while (start > 0 && CText.IsWord(code[start - 1])) start--;
        var word = code[start..end];
        return Identifier().IsMatch(word) ? word : null;
    }
}
