namespace KfuncForge.Definitions;

/// <summary>
/// Reads a kfunc prototype as one C function declaration: type specifiers (identifiers such as const,
/// unsigned, struct sock), pointers, the function's name, and a parameter list of the same parts separated
/// by commas, or (void); an optional ';' at the end. Nothing else: no preprocessor line, no second
/// declaration, no body, no array, no string. The prototype is copied into generated C, so it is parsed,
/// not matched by a permissive pattern.
/// </summary>
public static class CPrototype
{
    private enum Kind { Identifier, Star, Comma, Open, Close, Semicolon }

    private sealed record Token(Kind Kind, string Text, int Column);

    /// <summary>The declared function's name, or why the text is not one C function declaration.</summary>
    public static (string? Name, string? Problem) Parse(string text)
    {
        if (text.Length > 400) return (null, "is longer than 400 characters");
        var (tokens, problem) = Tokenize(text);
        if (problem is not null) return (null, problem);
        if (tokens.Count > 0 && tokens[^1].Kind == Kind.Semicolon) tokens.RemoveAt(tokens.Count - 1);
        if (tokens.FirstOrDefault(t => t.Kind == Kind.Semicolon) is { } semicolon)
            return (null, $"has ';' at column {semicolon.Column}: one declaration only");
        var open = tokens.FindIndex(t => t.Kind == Kind.Open);
        if (open < 0 || tokens[^1].Kind != Kind.Close) return (null, "is not a C function declaration: expected 'type name(parameters)'");
        var head = tokens[..open];
        if (Declarator(head, requireName: true) is { } headProblem) return (null, headProblem);
        var parameters = tokens[(open + 1)..^1];
        if (parameters.Any(t => t.Kind is Kind.Open or Kind.Close or Kind.Semicolon))
        {
            var bad = parameters.First(t => t.Kind is Kind.Open or Kind.Close or Kind.Semicolon);
            return (null, $"has '{bad.Text}' at column {bad.Column} inside the parameter list; one declaration, no function pointers");
        }
        if (!(parameters.Count == 1 && parameters[0].Text == "void"))
        {
            var groups = Split(parameters);
            if (groups.Count == 0) return (null, "has an empty parameter list; write (void) for none");
            foreach (var g in groups)
                if (Declarator(g, requireName: false) is { } p) return (null, $"parameter: {p}");
        }
        return (head[^1].Text, null);
    }

    /// <summary>One parameter of a valid prototype: its name (null when unnamed), type words before the first '*', and how many '*' follow.</summary>
    public sealed record Parameter(string? Name, IReadOnlyList<string> Specifiers, int Pointers)
    {
        /// <summary>A pointer to void (qualifiers aside): memory of no known size to the verifier.</summary>
        public bool IsVoidPointer => Pointers == 1 && Specifiers.Contains("void");
    }

    /// <summary>The parameters of a prototype <see cref="Parse"/> accepts, in order; empty for (void) or an invalid text.</summary>
    public static IReadOnlyList<Parameter> Parameters(string text)
    {
        if (Parse(text).Problem is not null) return [];
        var tokens = Tokenize(text).Tokens;
        if (tokens[^1].Kind == Kind.Semicolon) tokens.RemoveAt(tokens.Count - 1);
        var inner = tokens[(tokens.FindIndex(t => t.Kind == Kind.Open) + 1)..^1];
        if (inner.Count == 1 && inner[0].Text == "void") return [];
        return Split(inner).Select(g =>
        {
            var words = g.TakeWhile(t => t.Kind == Kind.Identifier).Select(t => t.Text).ToList();
            var pointers = g.Count(t => t.Kind == Kind.Star);
            var named = pointers > 0 ? g[^1].Kind == Kind.Identifier : words.Count >= 2;
            var name = named ? g[^1].Text : null;
            if (pointers == 0 && named) words.RemoveAt(words.Count - 1);
            return new Parameter(name, words, pointers);
        }).ToList();
    }

    private static (List<Token> Tokens, string? Problem) Tokenize(string text)
    {
        var tokens = new List<Token>();
        for (var i = 0; i < text.Length;)
        {
            var c = text[i];
            if (c is ' ' or '\t') { i++; continue; }
            if (char.IsAsciiLetter(c) || c == '_')
            {
                var start = i;
                while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '_')) i++;
                tokens.Add(new Token(Kind.Identifier, text[start..i], start + 1));
                continue;
            }
            Kind? kind = c switch { '*' => Kind.Star, ',' => Kind.Comma, '(' => Kind.Open, ')' => Kind.Close, ';' => Kind.Semicolon, _ => null };
            if (kind is null) return (tokens, $"has '{Grammar.Clip(c.ToString())}' at column {i + 1}, which is not part of a C function declaration (types, '*', the name, '(', parameters separated by ',', ')')");
            tokens.Add(new Token(kind.Value, c.ToString(), i + 1));
            i++;
        }
        return (tokens, null);
    }

    private static List<List<Token>> Split(List<Token> tokens)
    {
        var groups = new List<List<Token>> { new() };
        foreach (var t in tokens)
            if (t.Kind == Kind.Comma) groups.Add([]);
            else groups[^1].Add(t);
        return tokens.Count == 0 ? [] : groups;
    }

    /// <summary>specifier+ ('*' qualifier*)* name?  (the name required for the function itself).</summary>
    private static string? Declarator(List<Token> tokens, bool requireName)
    {
        if (tokens.Count == 0) return "is missing (expected a type)";
        if (tokens[0].Kind != Kind.Identifier) return $"'{tokens[0].Text}' at column {tokens[0].Column} where a type was expected";
        var identifiersBeforeStar = tokens.TakeWhile(t => t.Kind == Kind.Identifier).Count();
        var rest = tokens.Skip(identifiersBeforeStar).ToList();
        for (var i = 0; i < rest.Count; i++)
        {
            var t = rest[i];
            if (t.Kind == Kind.Star) continue;
            var last = i == rest.Count - 1;
            if (t.Kind == Kind.Identifier && (t.Text is "const" or "volatile" or "restrict" or "__restrict" || last)) continue;
            return $"'{t.Text}' at column {t.Column} is not a pointer, a qualifier or the name";
        }
        var hasStar = rest.Any(t => t.Kind == Kind.Star);
        var named = hasStar ? rest.Count > 0 && rest[^1].Kind == Kind.Identifier : identifiersBeforeStar >= 2;
        if (requireName && !named) return "declares no name: expected 'type name(parameters)'";
        if (!hasStar && identifiersBeforeStar == 1 && requireName) return "has a type but no name";
        var specifiers = tokens.Take(identifiersBeforeStar - (!hasStar && named ? 1 : 0)).Select(t => t.Text).ToList();
        if (specifiers.Count > 0 && specifiers[^1] is "struct" or "union" or "enum") return $"'{specifiers[^1]}' needs a tag name";
        return null;
    }
}
