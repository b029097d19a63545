using System.Text.RegularExpressions;
using KfuncForge.Upstream;

namespace KfuncForge.Definitions;

/// <summary>
/// The functions a C file (a variant, or upstream's definition of a kfunc) calls: names followed by '(' inside
/// function bodies, less member calls through pointers (ops->fn()) and the functions the file defines itself.
/// Not a C parser: keywords and macros come out too, which is harmless, because the plan only compares the
/// names with the functions a kernel has and does not export (docs/kernels.md, "Feasibility rules").
/// </summary>
public static partial class CCalls
{
    public static IReadOnlySet<string> Of(string source)
    {
        var text = new CText(source);
        var code = text.Code;
        var calls = new SortedSet<string>(StringComparer.Ordinal);
        var defined = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match m in Call().Matches(code))
        {
            var name = m.Groups[1].Value;
            if (text.AtFileScope(m.Index))
            {
                var close = text.Matching(m.Index + m.Length - 1);
                var after = close < 0 ? close : close + 1;
                while (after >= 0 && after < code.Length && char.IsWhiteSpace(code[after])) after++;
                if (after >= 0 && after < code.Length && code[after] == '{') defined.Add(name);
                continue;
            }
            var before = m.Index - 1;
            while (before >= 0 && char.IsWhiteSpace(code[before])) before--;
            if (before >= 0 && (code[before] == '.' || (code[before] == '>' && before > 0 && code[before - 1] == '-'))) continue;
            calls.Add(name);
        }
        calls.ExceptWith(defined);
        return calls;
    }

    [GeneratedRegex(@"\b([A-Za-z_]\w*)\s*\(")]
    private static partial Regex Call();
}
