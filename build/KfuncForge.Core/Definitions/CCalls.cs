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
        var inactive = InactiveLines(text);
        foreach (Match m in Call().Matches(code))
        {
            var name = m.Groups[1].Value;
            if (inactive.Contains(text.LineOf(m.Index))) continue;
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

    /// <summary>Lines inside <c>#if 0</c> ... <c>#endif</c> (import's draft keeps upstream's body there), nested conditionals included; up to an <c>#else</c>.</summary>
    private static HashSet<int> InactiveLines(CText text)
    {
        var lines = new HashSet<int>();
        var all = text.Original.Split('\n');
        var depth = 0; // > 0: inside #if 0, counting nested #if
        for (var i = 0; i < all.Length; i++)
        {
            var d = Directive().Match(all[i]);
            if (depth == 0)
            {
                if (d.Success && d.Groups[1].Value == "if" && d.Groups[2].Value.Trim() == "0") depth = 1;
                continue;
            }
            if (d.Success && d.Groups[1].Value.StartsWith("if", StringComparison.Ordinal)) depth++;
            else if (d.Success && d.Groups[1].Value == "endif") depth--;
            else if (d.Success && depth == 1 && d.Groups[1].Value is "else" or "elif") { depth = 0; continue; }
            if (depth > 0) lines.Add(i + 1);
        }
        return lines;
    }

    [GeneratedRegex(@"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)$")]
    private static partial Regex Directive();

    [GeneratedRegex(@"\b([A-Za-z_]\w*)\s*\(")]
    private static partial Regex Call();
}
