using KfuncForge.Kernels;

namespace KfuncForge.Compilation;

/// <summary>
/// RHEL's kABI: the symbols Red Hat keeps stable across a release's kernels (Module.kabi_&lt;arch&gt;, symvers format, in
/// the build tree when the kernel ships it). A module whose imports all lie inside may be linked into later kernels
/// by weak-modules; a kfunc module never is (its split BTF matches one kernel only), and this report says which of its
/// imports are outside, so it is plain why it is built per kernel. It informs; it never fails a build.
/// </summary>
public static class KabiReport
{
    public const string StablelistName = "Module.kabi_x86_64";

    /// <summary>The kernel's kABI stablelist, when its build tree has one.</summary>
    public static string? StablelistOf(KernelEntry kernel)
    {
        var path = Path.Combine(kernel.Tree, kernel.Facts.HeadersDir.TrimStart('/'), StablelistName);
        return File.Exists(path) ? path : null;
    }

    /// <summary>The symbols a stablelist lists (its second column, as in Module.symvers).</summary>
    public static IReadOnlySet<string> Read(string stablelist) =>
        File.ReadLines(stablelist).Select(l => l.Split('\t')).Where(p => p.Length >= 2 && p[1].Length > 0).Select(p => p[1]).ToHashSet(StringComparer.Ordinal);

    /// <summary>The symbols a module imports: undefined in its symbol table, the module's own record excepted.</summary>
    public static IReadOnlyList<string> Imports(string ko) =>
        ElfFile.Load(ko).Symbols().Where(s => s.SectionIndex == 0 && s.Name.Length > 0 && s.Name != "__this_module")
            .Select(s => s.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>The report as a build check (always passing): how many imports are outside the stablelist, and which.</summary>
    public static ModuleCheck Check(string ko, string stablelist)
    {
        var listed = Read(stablelist);
        var imports = Imports(ko);
        var outside = imports.Where(i => !listed.Contains(i)).ToList();
        return new ModuleCheck("kabi", true, outside.Count == 0
            ? $"all {imports.Count} imported symbols are in {StablelistName}"
            : $"{outside.Count} of {imports.Count} imported symbols are outside {StablelistName}: {string.Join(", ", outside)}; built for this kernel only, never linked into another by weak-modules");
    }
}
