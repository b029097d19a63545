using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using KfuncForge.Diagnostics;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KfuncForge.Upstream;

/// <summary>
/// Edits a YAML file as text, at the positions YamlDotNet reports for its nodes, so that every line
/// and comment the edit does not touch stays byte for byte as it was. Edits are collected and
/// applied together; values that already hold the wanted content are left alone (with their
/// comments and style).
/// </summary>
public sealed partial class YamlTextEditor
{
    private readonly List<(int Start, int End, string Text)> _edits = [];

    public string Text { get; }
    public YamlNode Root { get; }

    private YamlTextEditor(string text, YamlNode root)
    {
        Text = text;
        Root = root;
    }

    public static YamlTextEditor Parse(string text, string displayPath)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new InputException(new Problem(displayPath, (int)e.Start.Line, (int)e.Start.Column, "", $"malformed YAML, which import will not edit: {e.InnerException?.Message ?? e.Message}"));
        }
        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new InputException(new Problem(displayPath, 1, 1, "", "expected one YAML document holding a mapping; import will not edit this file"));
        return new YamlTextEditor(text, root);
    }

    public static YamlNode? Get(YamlMappingNode map, string key) =>
        map.Children.FirstOrDefault(kv => kv.Key is YamlScalarNode { Value: var k } && k == key).Value;

    /// <summary>Sets a scalar value, replacing the old one in place or adding the key.</summary>
    public bool SetScalar(YamlMappingNode map, string key, string value, string? afterKey = null)
    {
        switch (Get(map, key))
        {
            case YamlScalarNode s when s.Value == value:
                return false;
            case YamlScalarNode s:
                Replace(s.Start, DeepEnd(s), Scalar(value));
                return true;
            case { } other:
                Replace(other.Start, DeepEnd(other), Scalar(value));
                return true;
            default:
                InsertKeys(map, [(key, Scalar(value))], afterKey);
                return true;
        }
    }

    /// <summary>Sets a list of plain words. Order is ignored when comparing; a new list keeps the style (block or flow) of the old one.</summary>
    public bool SetList(YamlMappingNode map, string key, IReadOnlyList<string> values, bool addWhenEmpty, string? afterKey = null)
    {
        var node = Get(map, key);
        if (node is null)
        {
            if (values.Count == 0 && !addWhenEmpty) return false;
            InsertKeys(map, [(key, Flow(values))], afterKey);
            return true;
        }
        if (node is YamlSequenceNode seq && seq.Children.All(c => c is YamlScalarNode)
            && seq.Children.Select(c => ((YamlScalarNode)c).Value ?? "").Order(StringComparer.Ordinal).SequenceEqual(values.Order(StringComparer.Ordinal)))
            return false;
        if (node is YamlSequenceNode { Style: YamlDotNet.Core.Events.SequenceStyle.Block } block && block.Children.Count > 0 && values.Count > 0)
        {
            var indent = new string(' ', (int)block.Start.Column - 1);
            Replace(block.Start, DeepEnd(block), string.Join("\n" + indent, values.Select(v => "- " + Scalar(v))));
        }
        else
        {
            Replace(node.Start, DeepEnd(node), Flow(values));
        }
        return true;
    }

    /// <summary>Adds keys (already rendered values) to a mapping: after <paramref name="afterKey"/>'s entry when present, else at its end.</summary>
    public void InsertKeys(YamlMappingNode map, IReadOnlyList<(string Key, string Value)> entries, string? afterKey = null)
    {
        if (entries.Count == 0) return;
        if (map.Style == YamlDotNet.Core.Events.MappingStyle.Flow)
        {
            var close = DeepEnd(map) - 1;
            var text = string.Concat(entries.Select(e => $"{(map.Children.Count == 0 ? "" : ", ")}{e.Key}: {e.Value}"));
            _edits.Add((close, close, text));
            return;
        }
        var indent = new string(' ', (int)map.Start.Column - 1);
        var anchor = afterKey is not null && Get(map, afterKey) is { } after ? after : map.Children.Last().Value;
        var at = LineEnd(DeepEnd(anchor));
        _edits.Add((at, at, string.Concat(entries.Select(e => $"\n{indent}{e.Key}: {e.Value}"))));
    }

    /// <summary>Appends an item (rendered as lines relative to the item's "- ") to a block sequence.</summary>
    public void Append(YamlSequenceNode seq, IReadOnlyList<string> itemLines, string displayPath)
    {
        if (seq.Style != YamlDotNet.Core.Events.SequenceStyle.Block || seq.Children.Count == 0)
            throw new InputException(new Problem(displayPath, (int)seq.Start.Line, (int)seq.Start.Column, "",
                "import appends to a block list ('- name: ...' lines); rewrite this list in block style first"));
        var indent = new string(' ', (int)seq.Start.Column - 1);
        var at = LineEnd(DeepEnd(seq));
        var sb = new StringBuilder();
        for (var i = 0; i < itemLines.Count; i++)
        {
            sb.Append('\n').Append(indent);
            if (itemLines[i].Length > 0) sb.Append(i == 0 ? "- " : "  ").Append(itemLines[i]);
        }
        _edits.Add((at, at, sb.ToString()));
    }

    public string Apply()
    {
        var sb = new StringBuilder(Text);
        // From the end backwards, so earlier positions stay valid; of two inserts at one position the
        // one added later is applied first, which leaves them in the order they were added.
        foreach (var (start, end, text) in _edits.Select((e, i) => (e, i)).OrderByDescending(x => x.e.Start).ThenByDescending(x => x.e.End).ThenByDescending(x => x.i).Select(x => x.e))
        {
            sb.Remove(start, end - start);
            sb.Insert(start, text);
        }
        return sb.ToString();
    }

    public bool HasEdits => _edits.Count > 0;

    private void Replace(Mark start, int end, string text) => _edits.Add(((int)start.Index, end, text));

    /// <summary>Where the text of a node really ends (YamlDotNet marks a block collection's end at its start).</summary>
    public int DeepEnd(YamlNode node) => node switch
    {
        YamlScalarNode s => TrimEnd((int)s.Start.Index, (int)s.End.Index),
        YamlSequenceNode { Style: YamlDotNet.Core.Events.SequenceStyle.Flow } => FlowEnd((int)node.Start.Index),
        YamlMappingNode { Style: YamlDotNet.Core.Events.MappingStyle.Flow } => FlowEnd((int)node.Start.Index),
        YamlSequenceNode seq => seq.Children.Count == 0 ? (int)seq.Start.Index : DeepEnd(seq.Children[^1]),
        YamlMappingNode map => map.Children.Count == 0 ? (int)map.Start.Index : DeepEnd(map.Children[^1].Value),
        _ => (int)node.End.Index,
    };

    // Block scalars (| and >) end after their trailing line breaks; the value itself ends before them.
    private int TrimEnd(int start, int end)
    {
        while (end > start && char.IsWhiteSpace(Text[end - 1])) end--;
        return end;
    }

    private int FlowEnd(int open)
    {
        var depth = 0;
        for (var i = open; i < Text.Length; i++)
        {
            var c = Text[i];
            if (c is '[' or '{') depth++;
            else if (c is ']' or '}')
            {
                if (--depth == 0) return i + 1;
            }
            else if (c is '"' or '\'')
            {
                var j = i + 1;
                while (j < Text.Length && Text[j] != c) j += Text[j] == '\\' && c == '"' ? 2 : 1;
                i = j;
            }
            else if (c == '#' && i > 0 && char.IsWhiteSpace(Text[i - 1]))
            {
                while (i < Text.Length && Text[i] != '\n') i++;
            }
        }
        return Text.Length;
    }

    private int LineEnd(int index)
    {
        var nl = Text.IndexOf('\n', index);
        return nl < 0 ? Text.Length : nl;
    }

    [GeneratedRegex(@"^[A-Za-z_/][A-Za-z0-9_ ./*(),+-]*$")]
    private static partial Regex PlainSafe();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_.-]*$")]
    private static partial Regex FlowSafe();

    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "true", "false", "yes", "no", "on", "off", "null", "y", "n",
    };

    /// <summary>A value as a YAML scalar: plain when that reads back as the same text, double-quoted otherwise.</summary>
    public static string Scalar(string value)
    {
        if (PlainSafe().IsMatch(value) && !value.EndsWith(' ') && !Reserved.Contains(value) && !LooksNumeric(value))
            return value;
        return Quoted(value);
    }

    /// <summary>A list of words as a flow sequence, e.g. [KF_RCU, KF_SLEEPABLE].</summary>
    public static string Flow(IReadOnlyList<string> values) =>
        "[" + string.Join(", ", values.Select(v => FlowSafe().IsMatch(v) && !Reserved.Contains(v) && !LooksNumeric(v) ? v : Quoted(v))) + "]";

    public static string Quoted(string value)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in value)
        {
            sb.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                < ' ' => $"\\x{(int)c:x2}",
                _ => c.ToString(),
            });
        }
        return sb.Append('"').ToString();
    }

    private static bool LooksNumeric(string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _) || value.StartsWith('.') || value.StartsWith('0');
}
