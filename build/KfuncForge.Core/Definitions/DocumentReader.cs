using KfuncForge.Diagnostics;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace KfuncForge.Definitions;

/// <summary>A definition document after the strict structural pass: its typed shape plus where each key path sits.</summary>
public sealed record ReadDocument<T>(string DisplayPath, T Value, IReadOnlyDictionary<string, Mark> Positions)
{
    /// <summary>A problem located at a key path (falls back to the closest parent path that has a position).</summary>
    public Problem At(string path, string message)
    {
        var probe = path;
        while (true)
        {
            if (Positions.TryGetValue(probe, out var mark))
                return new Problem(DisplayPath, (int)mark.Line, (int)mark.Column, path, message);
            var cut = Math.Max(probe.LastIndexOf('.'), probe.LastIndexOf('['));
            if (cut <= 0) return new Problem(DisplayPath, 1, 1, path, message);
            probe = probe[..cut];
        }
    }
}

/// <summary>
/// Reads a definition file strictly: size and alias limits, duplicate keys, every unknown key,
/// missing field and wrong type (SchemaWalker), then YamlDotNet's own strict deserializer.
/// </summary>
public static class DocumentReader
{
    private static readonly IDeserializer Deserializer = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .WithDuplicateKeyChecking()
        .Build();

    public static ReadDocument<T>? Read<T>(string fullPath, string displayPath, List<Problem> problems) where T : class
    {
        var document = YamlDocument.Load(fullPath, displayPath, problems);
        if (document is null) return null;

        var before = problems.Count;
        var walker = new SchemaWalker(displayPath, problems);
        walker.Walk(document.Root, typeof(T), "");
        if (problems.Count > before) return null;

        try
        {
            var value = Deserializer.Deserialize<T>(File.ReadAllText(fullPath));
            if (value is null)
            {
                problems.Add(new Problem(displayPath, 1, 1, "", "document is empty"));
                return null;
            }
            return new ReadDocument<T>(displayPath, value, walker.Positions);
        }
        catch (YamlException e)
        {
            // The walker accepts what the deserializer accepts; reaching here means the two disagree.
            problems.Add(new Problem(displayPath, (int)e.Start.Line, (int)e.Start.Column, "", $"cannot read definition: {e.InnerException?.Message ?? e.Message}"));
            return null;
        }
    }
}
