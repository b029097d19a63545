namespace KfuncForge.Upstream;

/// <summary>
/// One C source file prepared for the light-weight parsing the importer does: the original text
/// plus two copies of the same length in which the parts that must not be matched are blanked
/// (so every index means the same place in all three):
/// <see cref="NoComments"/> has comments replaced by spaces (used for hashing and display);
/// <see cref="Code"/> additionally blanks string and character literals and preprocessor
/// directive lines (used to find definitions, braces, macro calls).
/// This is not a C parser: it knows comments, literals, directives and bracket nesting, which is
/// what kfunc definitions and BTF registration tables need.
/// </summary>
public sealed class CText
{
    public string Original { get; }
    public string NoComments { get; }
    public string Code { get; }

    private readonly int[] _lineStarts;
    private readonly List<(int Open, int Close)> _topLevelBraces;

    public CText(string text)
    {
        Original = text.Replace("\r\n", "\n", StringComparison.Ordinal);
        (NoComments, Code) = Mask(Original);
        _lineStarts = LineStarts(Original);
        _topLevelBraces = TopLevelBraces(Code);
    }

    /// <summary>1-based line of a character index.</summary>
    public int LineOf(int index)
    {
        var i = Array.BinarySearch(_lineStarts, index);
        return (i >= 0 ? i : ~i - 1) + 1;
    }

    /// <summary>The original text of the 1-based line, without its newline.</summary>
    public string LineText(int line)
    {
        var start = _lineStarts[line - 1];
        var end = line < _lineStarts.Length ? _lineStarts[line] - 1 : Original.EndsWith('\n') ? Original.Length - 1 : Original.Length;
        return Original[start..end];
    }

    public int LineStart(int index) => _lineStarts[LineOf(index) - 1];

    /// <summary>Whether the index lies outside every function body and initializer (brace depth 0).</summary>
    public bool AtFileScope(int index)
    {
        int lo = 0, hi = _topLevelBraces.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            var (open, close) = _topLevelBraces[mid];
            if (index < open) hi = mid - 1;
            else if (index > close) lo = mid + 1;
            else return false;
        }
        return true;
    }

    /// <summary>The index of the bracket closing the one at <paramref name="open"/> in <see cref="Code"/>, or -1.</summary>
    public int Matching(int open)
    {
        var (o, c) = Code[open] switch
        {
            '(' => ('(', ')'),
            '{' => ('{', '}'),
            '[' => ('[', ']'),
            _ => throw new ArgumentException($"no bracket at {open}", nameof(open)),
        };
        var depth = 0;
        for (var i = open; i < Code.Length; i++)
        {
            if (Code[i] == o) depth++;
            else if (Code[i] == c && --depth == 0) return i;
        }
        return -1;
    }

    /// <summary>
    /// The preprocessor conditions in force at an index, outermost first: "CONFIG_X" for #ifdef,
    /// "!CONFIG_X" for #ifndef, the expression for #if and #elif, prefixed with "not " in #else.
    /// </summary>
    public IReadOnlyList<string> ConditionsAt(int index)
    {
        var stack = new List<string>();
        var line = LineOf(index);
        for (var l = 1; l < line; l++)
        {
            var text = LineText(l).TrimStart();
            if (!text.StartsWith('#')) continue;
            var body = StripLineComment(text[1..].TrimStart());
            if (body.StartsWith("ifdef", StringComparison.Ordinal)) stack.Add(body[5..].Trim());
            else if (body.StartsWith("ifndef", StringComparison.Ordinal)) stack.Add("!" + body[6..].Trim());
            else if (body.StartsWith("if", StringComparison.Ordinal)) stack.Add(body[2..].Trim());
            else if (body.StartsWith("elif", StringComparison.Ordinal) && stack.Count > 0) stack[^1] = body[4..].Trim();
            else if (body.StartsWith("else", StringComparison.Ordinal) && stack.Count > 0) stack[^1] = "not " + stack[^1];
            else if (body.StartsWith("endif", StringComparison.Ordinal) && stack.Count > 0) stack.RemoveAt(stack.Count - 1);
        }
        return stack;
    }

    private static string StripLineComment(string s)
    {
        var c = s.IndexOf("/*", StringComparison.Ordinal);
        var d = s.IndexOf("//", StringComparison.Ordinal);
        var cut = c < 0 ? d : d < 0 ? c : Math.Min(c, d);
        return (cut < 0 ? s : s[..cut]).Trim();
    }

    /// <summary>Collapses the text to its tokens: whitespace survives only as one space between two word characters.</summary>
    public static string Tokens(string text)
    {
        var sb = new System.Text.StringBuilder(text.Length);
        var pendingSpace = false;
        foreach (var ch in text)
        {
            if (char.IsWhiteSpace(ch))
            {
                pendingSpace = sb.Length > 0;
                continue;
            }
            if (pendingSpace && IsWord(sb[^1]) && IsWord(ch)) sb.Append(' ');
            pendingSpace = false;
            sb.Append(ch);
        }
        return sb.ToString();
    }

    public static bool IsWord(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    // Start index of every line; a final newline does not open another line.
    private static int[] LineStarts(string text)
    {
        var starts = new List<int> { 0 };
        for (var i = 0; i < text.Length - 1; i++)
            if (text[i] == '\n') starts.Add(i + 1);
        return starts.ToArray();
    }

    private static List<(int, int)> TopLevelBraces(string code)
    {
        var spans = new List<(int, int)>();
        var depth = 0;
        var open = 0;
        for (var i = 0; i < code.Length; i++)
        {
            if (code[i] == '{')
            {
                if (depth == 0) open = i;
                depth++;
            }
            else if (code[i] == '}' && depth > 0 && --depth == 0)
            {
                spans.Add((open, i));
            }
        }
        if (depth > 0) spans.Add((open, code.Length));
        return spans;
    }

    // One pass over the text with a small state machine. Newlines are always kept, so line numbers
    // agree between the copies. Directive lines (with their backslash continuations) are blanked in
    // Code only; they still count for ConditionsAt, which reads the original.
    private static (string NoComments, string Code) Mask(string s)
    {
        var noComments = s.ToCharArray();
        var code = s.ToCharArray();
        var i = 0;
        var atLineStart = true;
        while (i < s.Length)
        {
            var c = s[i];
            if (c == '\n') { atLineStart = true; i++; continue; }
            if (atLineStart && c is ' ' or '\t') { i++; continue; }
            if (atLineStart && c == '#')
            {
                // A directive runs to the end of the line, continued by a trailing backslash; comments inside still count as comments.
                while (i < s.Length && s[i] != '\n')
                {
                    if (s[i] == '/' && i + 1 < s.Length && s[i + 1] == '*') i = SkipBlockComment(s, i, noComments, code);
                    else if (s[i] == '/' && i + 1 < s.Length && s[i + 1] == '/') i = SkipLineComment(s, i, noComments, code);
                    else
                    {
                        if (s[i] == '\\' && i + 1 < s.Length && s[i + 1] == '\n') { code[i] = ' '; i += 2; continue; }
                        code[i] = ' ';
                        i++;
                    }
                }
                continue;
            }
            atLineStart = false;
            if (c == '/' && i + 1 < s.Length && s[i + 1] == '*') { i = SkipBlockComment(s, i, noComments, code); continue; }
            if (c == '/' && i + 1 < s.Length && s[i + 1] == '/') { i = SkipLineComment(s, i, noComments, code); continue; }
            if (c is '"' or '\'')
            {
                var quote = c;
                i++;
                while (i < s.Length && s[i] != quote && s[i] != '\n')
                {
                    if (s[i] == '\\' && i + 1 < s.Length) { code[i] = ' '; if (s[i + 1] != '\n') code[i + 1] = ' '; i += 2; continue; }
                    code[i] = ' ';
                    i++;
                }
                i++; // closing quote (kept, so "..." still reads as an expression)
                continue;
            }
            i++;
        }
        return (new string(noComments), new string(code));
    }

    private static int SkipBlockComment(string s, int i, char[] noComments, char[] code)
    {
        var end = s.IndexOf("*/", i + 2, StringComparison.Ordinal);
        var stop = end < 0 ? s.Length : end + 2;
        for (var j = i; j < stop; j++)
            if (s[j] != '\n') noComments[j] = code[j] = ' ';
        return stop;
    }

    private static int SkipLineComment(string s, int i, char[] noComments, char[] code)
    {
        var j = i;
        while (j < s.Length && s[j] != '\n')
        {
            noComments[j] = code[j] = ' ';
            j++;
        }
        return j;
    }
}
