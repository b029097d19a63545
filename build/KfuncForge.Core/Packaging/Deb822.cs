using KfuncForge.Diagnostics;

namespace KfuncForge.Packaging;

/// <summary>One paragraph of a Debian control file: fields in file order, values with their continuation lines.</summary>
public sealed record Deb822Paragraph(IReadOnlyList<KeyValuePair<string, string>> Fields)
{
    public string? this[string name] => Fields.FirstOrDefault(f => string.Equals(f.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    public string Require(string name, string where) =>
        this[name] is { Length: > 0 } v ? v : throw new InputException(new Problem(where, 0, 0, name, "is missing"));
}

/// <summary>A small, strict reader for deb822 files (debian/control, DEBIAN/control, Packages).</summary>
public static class Deb822
{
    public static IReadOnlyList<Deb822Paragraph> Parse(string text, string where)
    {
        var paragraphs = new List<Deb822Paragraph>();
        var fields = new List<KeyValuePair<string, string>>();
        var lineNo = 0;
        foreach (var raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            lineNo++;
            if (raw.StartsWith('#')) continue;
            if (raw.Trim().Length == 0)
            {
                if (fields.Count > 0) paragraphs.Add(new Deb822Paragraph(fields));
                fields = [];
                continue;
            }
            if (raw[0] is ' ' or '\t')
            {
                if (fields.Count == 0) throw new InputException(new Problem(where, lineNo, 1, "", "a continuation line without a field before it"));
                var last = fields[^1];
                fields[^1] = new(last.Key, last.Value + "\n" + raw);
                continue;
            }
            var colon = raw.IndexOf(':');
            if (colon <= 0) throw new InputException(new Problem(where, lineNo, 1, "", $"'{raw}' is not a 'Field: value' line"));
            var name = raw[..colon];
            if (fields.Any(f => string.Equals(f.Key, name, StringComparison.OrdinalIgnoreCase)))
                throw new InputException(new Problem(where, lineNo, 1, name, "is given twice in one paragraph"));
            fields.Add(new(name, raw[(colon + 1)..].Trim()));
        }
        if (fields.Count > 0) paragraphs.Add(new Deb822Paragraph(fields));
        return paragraphs;
    }

    public static string Format(IEnumerable<KeyValuePair<string, string>> fields) =>
        string.Concat(fields.Select(f => $"{f.Key}: {f.Value}\n"));
}
