using KfuncForge.Diagnostics;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KfuncForge.Definitions;

/// <summary>
/// A YAML file parsed into YamlDotNet's node tree, with the limits that keep hostile input cheap:
/// a size cap on the file and a cap on how many nodes the document expands to through aliases
/// (the "billion laughs" shape is a small graph that expands exponentially).
/// </summary>
public sealed class YamlDocument
{
    public const int MaxFileBytes = 1 << 20;
    public const int MaxExpandedNodes = 20_000;

    /// <summary>The text a document may expand to through aliases: a 20 KB value aliased a thousand times is a 20 MB document.</summary>
    public const long MaxExpandedBytes = 4 << 20;

    public string DisplayPath { get; }
    public YamlNode Root { get; }

    private YamlDocument(string displayPath, YamlNode root)
    {
        DisplayPath = displayPath;
        Root = root;
    }

    /// <summary>Loads and checks one file. Problems (syntax, duplicate keys, alias bombs) are returned, never thrown.</summary>
    public static YamlDocument? Load(string fullPath, string displayPath, List<Problem> problems)
    {
        var info = new FileInfo(fullPath);
        if (!info.Exists)
        {
            problems.Add(new Problem(displayPath, 0, 0, "", "file does not exist"));
            return null;
        }
        if (info.Length > MaxFileBytes)
        {
            problems.Add(new Problem(displayPath, 0, 0, "", $"file is {info.Length} bytes; definitions are limited to {MaxFileBytes} bytes"));
            return null;
        }

        var text = File.ReadAllText(fullPath);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            var inner = e.InnerException is null ? e.Message : $"{e.Message} {e.InnerException.Message}";
            var message = Clean(inner);
            // YamlDotNet reports a tab in indentation at the start of the enclosing mapping: name the tab's own line.
            if (message.Contains("tab", StringComparison.OrdinalIgnoreCase) && TabInIndentation(text) is { } tab)
            {
                problems.Add(new Problem(displayPath, tab.Line, tab.Column, "", "a tab in the indentation; YAML indents with spaces only"));
                return null;
            }
            problems.Add(message.StartsWith("Duplicate key ", StringComparison.Ordinal)
                ? new Problem(displayPath, (int)e.Start.Line, (int)e.Start.Column, message["Duplicate key ".Length..], "key appears twice in the same mapping; keep one")
                : new Problem(displayPath, (int)e.Start.Line, (int)e.Start.Column, "", $"malformed YAML: {message}"));
            return null;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner throws this (not a YamlException) when the file ends inside a flow collection.
            var lines = text.Split('\n');
            var last = lines.Length > 1 && lines[^1].Length == 0 ? lines.Length - 1 : lines.Length;
            problems.Add(new Problem(displayPath, last, 1, "", "malformed YAML: the file ends inside an unclosed '[' or '{'; close it"));
            return null;
        }

        if (stream.Documents.Count != 1)
        {
            problems.Add(new Problem(displayPath, 1, 1, "", $"expected exactly one YAML document, found {stream.Documents.Count}"));
            return null;
        }

        var root = stream.Documents[0].RootNode;
        var expanded = ExpandedSize(root, new Dictionary<YamlNode, long>(ReferenceEqualityComparer.Instance), MaxExpandedNodes + 1);
        if (expanded > MaxExpandedNodes)
        {
            problems.Add(new Problem(displayPath, (int)root.Start.Line, (int)root.Start.Column, "", HasAliases(root, new HashSet<YamlNode>(ReferenceEqualityComparer.Instance))
                ? $"document expands to more than {MaxExpandedNodes} nodes through aliases (a YAML alias bomb?); write the values out or reduce the nesting of aliases"
                : $"document has more than {MaxExpandedNodes} nodes; a definition is far smaller"));
            return null;
        }
        var bytes = ExpandedBytes(root, new Dictionary<YamlNode, long>(ReferenceEqualityComparer.Instance), MaxExpandedBytes + 1);
        if (bytes > MaxExpandedBytes)
        {
            problems.Add(new Problem(displayPath, (int)root.Start.Line, (int)root.Start.Column, "",
                $"document expands to more than {MaxExpandedBytes / (1 << 20)} MiB of text through aliases; write the values out or alias less"));
            return null;
        }
        return new YamlDocument(displayPath, root);
    }

    private static IEnumerable<YamlNode> Children(YamlNode node) => node switch
    {
        YamlMappingNode m => m.Children.SelectMany(kv => new[] { kv.Key, kv.Value }),
        YamlSequenceNode q => q.Children,
        _ => [],
    };

    // A node reached twice is an alias (YamlDotNet resolves *x to the anchored node itself).
    private static bool HasAliases(YamlNode node, HashSet<YamlNode> seen) => !seen.Add(node) || Children(node).Any(c => HasAliases(c, seen));

    // Nodes, and bytes of scalar text, of the tree as a consumer would see it with every alias expanded.
    private static long ExpandedSize(YamlNode node, Dictionary<YamlNode, long> memo, long cap) => Expanded(node, memo, cap, _ => 1);

    private static long ExpandedBytes(YamlNode node, Dictionary<YamlNode, long> memo, long cap) =>
        Expanded(node, memo, cap, n => n is YamlScalarNode s ? s.Value?.Length ?? 0 : 0);

    // Computed over the graph with memoisation, so the bomb itself is never expanded; saturates at the cap.
    private static long Expanded(YamlNode node, Dictionary<YamlNode, long> memo, long cap, Func<YamlNode, long> weight)
    {
        if (memo.TryGetValue(node, out var known)) return known;
        memo[node] = cap; // a cycle (not possible in YAML 1.1 aliases, but be safe) counts as too big
        var size = Math.Min(cap, weight(node));
        foreach (var child in Children(node))
        {
            size = Math.Min(cap, size + Expanded(child, memo, cap, weight));
            if (size >= cap) break;
        }
        memo[node] = size;
        return size;
    }

    private static (int Line, int Column)? TabInIndentation(string text)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var indent = lines[i].TakeWhile(c => c is ' ' or '\t').ToList();
            var at = indent.IndexOf('\t');
            if (at >= 0) return (i + 1, at + 1);
        }
        return null;
    }

    private static string Clean(string message)
    {
        // YamlDotNet prefixes messages with "(Line: x, Col: y, Idx: z) - (Line: ...): "; we give the position ourselves.
        var idx = message.LastIndexOf("): ", StringComparison.Ordinal);
        return idx >= 0 && message.StartsWith("(Line", StringComparison.Ordinal) ? message[(idx + 3)..] : message;
    }
}
