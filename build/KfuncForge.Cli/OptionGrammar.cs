using KfuncForge.Definitions;
using KfuncForge.Diagnostics;

namespace KfuncForge.Cli;

/// <summary>
/// The same grammars for command-line options as for definitions, checked before any path is built from
/// an option: --distro/--distros (profile ids), --module (a module name), --kernel (a release or a line),
/// and the folders output goes to, --out, --cache, --repo, --store and --report-dir (never '/', the
/// source tree or a folder in it, nor an existing file, and writable). A CI job's parameters
/// are as untrusted as a definition.
/// </summary>
public static class OptionGrammar
{
    /// <summary>Folders of the source tree that generated output must never be written into.</summary>
    private static readonly string[] SourceFolders = ["kfunc-modules", "templates", "distros", "build", "tests", "docs", ".git", ".ci", ".config"];

    public static void Check(Options options, string root)
    {
        var problems = new List<Problem>();
        void Bad(string option, string message) => problems.Add(new Problem($"--{option}", 0, 0, "", message));

        foreach (var option in new[] { "distro", "distros" })
            if (options.Get(option) is { } list)
                foreach (var id in list.Split(',', StringSplitOptions.TrimEntries).Where(i => i.Length > 0 || list.Trim().Length == 0))
                    if (!Names.SimpleId().IsMatch(id) || id.Length > 64)
                        Bad(option, $"'{Grammar.Clip(id)}' is not a profile id: lower-case letters, digits and '-' (the name of a distros/<id>.yaml)");
        if (options.Get("module") is { } module && Names.ModuleNameProblem(module) is { } m)
            Bad("module", Grammar.Clip(m, 300));
        if (options.Get("kernel") is { } kernel && Grammar.KernelRelease(kernel) is { } k)
            Bad("kernel", $"'{Grammar.Clip(kernel)}' {k} (or a line such as 6.1)");
        foreach (var folder in new[] { "out", "cache", "repo", "store", "report-dir" })
            if (options.Get(folder) is { } value && OutProblem(value, root) is { } o)
                Bad(folder, o);
        if (problems.Count > 0) throw new InputException(problems);
    }

    private static string? OutProblem(string value, string root)
    {
        if (value.Any(char.IsControl)) return "holds a control character; name a folder for the generated output";
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(value));
        if (full == Path.GetPathRoot(full)) return $"'{value}' is the file system's root; name a folder of its own";
        if (File.Exists(full)) return $"'{value}' is an existing file; name a folder for the generated output";
        var tree = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        if (full == tree) return $"'{value}' is the source tree itself; name a folder of its own (default: {Path.Combine(tree, "artifacts")})";
        foreach (var folder in SourceFolders)
        {
            var source = Path.Combine(tree, folder);
            if (full == source || full.StartsWith(source + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                return $"'{value}' is inside the source folder {folder}/; generated output never goes there (default: {Path.Combine(tree, "artifacts")})";
        }
        return Writable(full) is { } why ? $"'{value}' cannot be written: {why}; name a folder you can write" : null;
    }

    /// <summary>Whether output can be made in the folder (or the nearest folder above it that exists): a probe file is created and removed at once.</summary>
    private static string? Writable(string folder)
    {
        var existing = folder;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing)) return $"{existing} is a file";
            existing = Path.GetDirectoryName(existing) ?? "/";
        }
        var probe = Path.Combine(existing, $".kfuncforge-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
        finally
        {
            if (File.Exists(probe)) File.Delete(probe);
        }
    }
}
