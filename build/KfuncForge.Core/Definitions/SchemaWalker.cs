using System.Globalization;
using System.Reflection;
using KfuncForge.Diagnostics;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization.NamingConventions;

namespace KfuncForge.Definitions;

/// <summary>Marks a definition field that must be present and non-empty.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class RequiredAttribute : Attribute;

/// <summary>
/// Checks a YAML node tree against a definition class before anything is deserialized, so that
/// every unknown key, missing field and wrongly typed value is reported at once with its position
/// (YamlDotNet's deserializer stops at the first). It also records where each key path lives,
/// for the semantic validation that follows.
/// </summary>
public sealed class SchemaWalker
{
    private readonly string _file;
    private readonly List<Problem> _problems;

    public Dictionary<string, Mark> Positions { get; } = new(StringComparer.Ordinal);

    public SchemaWalker(string file, List<Problem> problems)
    {
        _file = file;
        _problems = problems;
    }

    public static string YamlName(PropertyInfo p) => UnderscoredNamingConvention.Instance.Apply(p.Name);

    public void Walk(YamlNode node, Type type, string path)
    {
        Positions.TryAdd(path, node.Start);
        var underlying = Nullable.GetUnderlyingType(type) ?? type;

        if (IsNull(node))
        {
            return; // required-ness is checked by the parent, which knows the key
        }
        if (underlying == typeof(string))
        {
            if (node is not YamlScalarNode) Error(node, path, $"expected a text value, found {Describe(node)}");
            return;
        }
        if (underlying == typeof(int) || underlying == typeof(long))
        {
            if (node is not YamlScalarNode s || !long.TryParse(s.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
                || (underlying == typeof(int) && (n < int.MinValue || n > int.MaxValue)))
                Error(node, path, $"expected a whole number, found {Describe(node)}");
            return;
        }
        if (underlying == typeof(bool))
        {
            if (node is not YamlScalarNode { Value: "true" or "false" })
                Error(node, path, $"expected true or false, found {Describe(node)}");
            return;
        }
        if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(List<>))
        {
            if (node is not YamlSequenceNode seq)
            {
                Error(node, path, $"expected a list, found {Describe(node)}");
                return;
            }
            var element = underlying.GetGenericArguments()[0];
            for (var i = 0; i < seq.Children.Count; i++)
            {
                var child = seq.Children[i];
                if (IsNull(child)) Error(child, $"{path}[{i}]", "list entry is empty");
                else Walk(child, element, $"{path}[{i}]");
            }
            return;
        }
        if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            if (node is not YamlMappingNode map)
            {
                Error(node, path, $"expected a mapping, found {Describe(node)}");
                return;
            }
            var valueType = underlying.GetGenericArguments()[1];
            foreach (var (k, v) in map.Children)
            {
                if (k is not YamlScalarNode { Value: { } key })
                {
                    Error(k, path, $"keys must be plain text, found {Describe(k)}");
                    continue;
                }
                Walk(v, valueType, $"{path}.{key}");
            }
            return;
        }
        WalkObject(node, underlying, path);
    }

    private void WalkObject(YamlNode node, Type type, string path)
    {
        if (node is not YamlMappingNode map)
        {
            Error(node, path, $"expected a mapping with keys {string.Join(", ", Properties(type).Keys)}, found {Describe(node)}");
            return;
        }
        var props = Properties(type);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (keyNode, valueNode) in map.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key })
            {
                Error(keyNode, path, "keys must be plain text");
                continue;
            }
            var childPath = path.Length == 0 ? key : $"{path}.{key}";
            if (!props.TryGetValue(key, out var prop))
            {
                Error(keyNode, childPath, $"unknown key '{key}'; expected one of: {string.Join(", ", props.Keys)}. Fix the spelling or remove it");
                continue;
            }
            seen.Add(key);
            Positions.TryAdd(childPath + "#key", keyNode.Start);
            if (IsNull(valueNode) && prop.GetCustomAttribute<RequiredAttribute>() is not null)
            {
                Error(keyNode, childPath, "required field has no value");
                continue;
            }
            Walk(valueNode, prop.PropertyType, childPath);
        }
        foreach (var (name, prop) in props)
        {
            if (!seen.Contains(name) && prop.GetCustomAttribute<RequiredAttribute>() is not null)
                Error(map, path.Length == 0 ? name : $"{path}.{name}", $"required field '{name}' is missing{(path.Length == 0 ? "" : $" in {path}")}");
        }
    }

    private static Dictionary<string, PropertyInfo> Properties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .ToDictionary(YamlName, p => p, StringComparer.Ordinal);

    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain } s && (s.Value is null or "" or "~" or "null");

    private static string Describe(YamlNode node) => node switch
    {
        YamlScalarNode s => $"'{s.Value}'",
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping",
        _ => "an alias",
    };

    private void Error(YamlNode at, string path, string message) =>
        _problems.Add(new Problem(_file, (int)at.Start.Line, (int)at.Start.Column, path, message));
}
