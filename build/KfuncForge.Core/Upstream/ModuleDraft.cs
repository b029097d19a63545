using System.Text;

namespace KfuncForge.Upstream;

/// <summary>The values import writes for one kfunc, already mapped to module.yaml's vocabulary.</summary>
public sealed record ImportedKfunc(
    string Name,
    string Prototype,
    IReadOnlyList<string> Flags,
    IReadOnlyList<string> ProgramTypes,
    string? Release,
    string Commit,
    string Path,
    string Ref,
    string BodySha256,
    IReadOnlyList<string> BtfSets,
    IReadOnlyList<string> Filters)
{
    /// <summary>The tree's own version at the ref (its Makefile), used for the draft's kernel range while the release is unknown.</summary>
    public string? TreeVersion { get; init; }
}

/// <summary>
/// Text of what import creates: a draft module.yaml, a kfunc entry to append to an existing one,
/// and the draft C file of the variant. Drafts say what is left to do in comments, and the C file
/// stops the build with #error until someone writes the backport, so a draft can never turn into a
/// module that silently does nothing.
/// </summary>
public static class ModuleDraft
{
    public const string DraftVariant = "draft";

    public static string VariantFile(string kfunc) => $"{kfunc}.c";

    public static string Module(string module, ImportedKfunc k, UpstreamKfunc upstream, IReadOnlyList<string> smoke)
    {
        var sb = new StringBuilder();
        sb.Append("# Draft written by `kfuncforge import`. Still to do before this module is ready:\n");
        sb.Append($"#   - write the backport of {k.Name} in {VariantFile(k.Name)} (its #error stops the build until then);\n");
        sb.Append($"#   - narrow the '{DraftVariant}' variant's kernels and requires_config to what the backport supports;\n");
        sb.Append($"#   - describe the module; run SmokeTest, then turn the smoke programs in {SmokeScaffold.FileOf(k.Name)} into real cases.\n");
        sb.Append($"name: {module}\n");
        sb.Append($"description: {YamlTextEditor.Scalar($"Backport of {k.Name} from upstream Linux (draft)")}\n");
        sb.Append("license: GPL\n");
        sb.Append("version: 0.1.0\n");
        sb.Append("kfuncs:\n");
        var lines = Entry(k, upstream);
        for (var i = 0; i < lines.Count; i++)
            sb.Append(lines[i].Length == 0 ? "" : (i == 0 ? "  - " : "    ") + lines[i]).Append('\n');
        if (smoke.Count > 0)
        {
            sb.Append($"# Scaffolding from kfuncforge import: the programs are in {SmokeScaffold.FileOf(k.Name)}.\n");
            sb.Append("smoke:\n");
            foreach (var entry in smoke) sb.Append("  - ").Append(entry).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>One kfunc entry as lines relative to its "- " (the first line is "name: ...").</summary>
    public static IReadOnlyList<string> Entry(ImportedKfunc k, UpstreamKfunc upstream)
    {
        var lines = new List<string>
        {
            $"name: {k.Name}",
            $"prototype: {YamlTextEditor.Scalar(k.Prototype)}",
            "upstream:",
        };
        var upstreamLines = Upstream(k).Select(e => $"  {e.Key}: {e.Value}").ToList();
        if (k.Release is null) upstreamLines[0] += $"  {UnknownReleaseComment(k.Commit)}";
        lines.AddRange(upstreamLines);
        if (k.Flags.Count > 0) lines.Add($"flags: {YamlTextEditor.Flow(k.Flags)}");
        lines.Add($"program_types: {YamlTextEditor.Flow(k.ProgramTypes)}");
        foreach (var filter in k.Filters)
            lines.Add($"# TODO: upstream restricts this kfunc with the filter {filter}(); describe that in attach_restriction (program_type, attach_to, reason)");
        foreach (var r in upstream.Registrations.Where(r => r.Conditions.Count > 0))
            lines.Add($"# upstream registers it only when {string.Join(" && ", r.Conditions)} ({r.Path}:{r.Line}); add requires_config to the variant if the backport needs it too");
        lines.Add("variants:");
        lines.Add($"  - id: {DraftVariant}");
        lines.Add($"    file: {YamlTextEditor.Scalar(VariantFile(k.Name))}");
        if (k.Release is not null) lines.Add($"    kernels: {{ before: {YamlTextEditor.Quoted(k.Release)} }}");
        else if (k.TreeVersion is not null)
            lines.Add($"    kernels: {{ before: {YamlTextEditor.Quoted(k.TreeVersion)} }}  # the tree at {(k.Ref.Length == 40 ? k.Ref[..12] : k.Ref)} is {k.TreeVersion}; narrow this once upstream.release is known");
        lines.Add($"    notes: {YamlTextEditor.Scalar($"draft from kfuncforge import: write the backport in {VariantFile(k.Name)}, then narrow kernels and requires_config")}");
        return lines;
    }

    public static string UnknownReleaseComment(string commit) =>
        $"# TODO: no vX.Y tag contains {commit[..Math.Min(12, commit.Length)]}; set the first release that ships it";

    /// <summary>The upstream: keys in the order module.yaml writes them (release omitted when unknown is written as 'unknown').</summary>
    public static IReadOnlyList<(string Key, string Value)> Upstream(ImportedKfunc k)
    {
        var entries = new List<(string, string)>
        {
            ("release", k.Release is null ? "unknown" : YamlTextEditor.Quoted(k.Release)),
            ("commit", YamlTextEditor.Quoted(k.Commit)),
            ("path", YamlTextEditor.Scalar(k.Path)),
            ("ref", YamlTextEditor.Scalar(k.Ref)),
            ("body_sha256", YamlTextEditor.Quoted(k.BodySha256)),
            ("btf_sets", YamlTextEditor.Flow(k.BtfSets)),
        };
        if (k.Filters.Count > 0) entries.Add(("filters", YamlTextEditor.Flow(k.Filters)));
        return entries;
    }

    /// <summary>The draft C file: a header saying what to do, an #error, and upstream's definition inside #if 0 as a starting point.</summary>
    public static string CSource(ImportedKfunc k, UpstreamKfunc upstream)
    {
        var sb = new StringBuilder();
        sb.Append("// SPDX-License-Identifier: GPL-2.0\n");
        sb.Append("/*\n");
        sb.Append($" * Backport of {k.Name} for kernels that lack it: a draft created by `kfuncforge import`.\n");
        sb.Append(" * import never overwrites this file; edit it freely.\n");
        sb.Append($" * Upstream: {upstream.DefinitionPath}:{upstream.Definition.Line} at {k.Ref}, introduced by {k.Commit[..12]}");
        sb.Append(k.Release is null ? ".\n" : $" (Linux {k.Release}).\n");
        sb.Append(" * Write the implementation for older kernels here and delete the #error line.\n");
        sb.Append(" * Upstream's definition follows inside #if 0 as a starting point.\n");
        sb.Append(" */\n");
        sb.Append($"#error \"{k.Name}: draft backport created by kfuncforge import; implement it in this file (see module.yaml)\"\n");
        sb.Append("\n#if 0\n");
        sb.Append(upstream.Definition.Text.TrimEnd()).Append('\n');
        sb.Append("#endif\n");
        return sb.ToString();
    }
}
