using System.Text.RegularExpressions;

namespace KfuncForge.Definitions;

/// <summary>The naming rules definitions must follow, each with the reason it exists.</summary>
public static partial class Names
{
    /// <summary>The kernel stores module names in char[MODULE_NAME_LEN], MODULE_NAME_LEN = 64 - sizeof(unsigned long): 55 characters plus NUL.</summary>
    public const int MaxModuleName = 55;

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    public static partial Regex CIdentifier();

    [GeneratedRegex("^[0-9a-f]{7,40}$")]
    public static partial Regex CommitId();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    public static partial Regex Sha256();

    [GeneratedRegex("^CONFIG_[A-Z0-9_]+$")]
    public static partial Regex ConfigOption();

    [GeneratedRegex("^[a-z0-9][a-z0-9+.-]+$")]
    public static partial Regex DebianPackage();

    [GeneratedRegex("^[A-Za-z0-9_+][A-Za-z0-9._+-]*$")]
    public static partial Regex RpmPackage();

    [GeneratedRegex("^[a-z0-9][a-z0-9-]*$")]
    public static partial Regex SimpleId();

    [GeneratedRegex(@"\{([^{}]*)\}")]
    public static partial Regex Placeholder();

    /// <summary>Why a module name is unusable, or null when it is fine.</summary>
    public static string? ModuleNameProblem(string name)
    {
        if (name.Contains('/') || name.Contains('\\')) return $"module name '{name}' contains a path separator; use letters, digits and '_' only";
        if (name.Contains("..")) return $"module name '{name}' contains '..'; use letters, digits and '_' only";
        if (name.Any(char.IsWhiteSpace)) return $"module name '{name}' contains white space; use letters, digits and '_' only";
        if (name.Length > MaxModuleName) return $"module name '{name}' is {name.Length} characters; the kernel allows at most {MaxModuleName}";
        if (name.Contains('-')) return $"module name '{name}' must use lower-case letters, digits and '_' only (the kernel turns '-' into '_', which would make two names for one module)";
        return Grammar.ModuleName(name) is { } grammar ? $"module name '{name}' {grammar} (a C identifier and part of a package name)" : null;
    }

    /// <summary>Substitutes {name} placeholders; unknown names are reported through <paramref name="unknown"/>.</summary>
    public static string Expand(string pattern, IReadOnlyDictionary<string, string> values, List<string>? unknown = null) =>
        Placeholder().Replace(pattern, m =>
        {
            if (values.TryGetValue(m.Groups[1].Value, out var v)) return v;
            unknown?.Add(m.Groups[1].Value);
            return m.Value;
        });

    /// <summary>The placeholders a pattern uses that are not in the allowed set.</summary>
    public static IReadOnlyList<string> UnknownPlaceholders(string pattern, IEnumerable<string> allowed)
    {
        var set = allowed.ToHashSet(StringComparer.Ordinal);
        return Placeholder().Matches(pattern).Select(m => m.Groups[1].Value).Where(n => !set.Contains(n)).Distinct().ToList();
    }
}
