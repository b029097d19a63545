using System.Text;
using System.Text.RegularExpressions;
using KfuncForge.Diagnostics;
using LibGit2Sharp;

namespace KfuncForge.Upstream;

/// <summary>
/// One BPF selftest program file of upstream's tree (tools/testing/selftests/bpf/progs/&lt;stem&gt;.c) that names
/// some of the run's kfuncs. NotRun: why none of its programs can run here (upstream drives the file from its
/// own C test instead of its annotations), or null.
/// </summary>
public sealed record SelftestFile(string Stem, string Source, IReadOnlyList<string> Kfuncs, string? NotRun);

/// <summary>
/// The part of a kernel tree the selftests need, written out under <see cref="Root"/>: the program files that
/// name the run's kfuncs and the selftests' own headers (bpf_misc.h, ...).
/// </summary>
public sealed record SelftestTree(string Location, string Ref, string Commit, string Root, IReadOnlyList<SelftestFile> Files)
{
    public string ProgsDir => Path.Combine(Root, UpstreamSelftests.ProgsPath);

    /// <summary>
    /// Where the programs' headers are found, in order: progs/, then the selftests folder. libbpf's headers are the
    /// host's (libbpf-dev): the tree's bpf_helpers.h needs bpf_helper_defs.h, which libbpf's build generates.
    /// </summary>
    public IReadOnlyList<string> IncludeDirs => [ProgsDir, Path.Combine(Root, UpstreamSelftests.SelftestsPath)];

    public IEnumerable<SelftestFile> Calling(IReadOnlyCollection<string> kfuncs) => Files.Where(f => f.Kfuncs.Any(kfuncs.Contains));
}

/// <summary>
/// Reads upstream's BPF selftests from a kernel repository at a ref (LibGit2Sharp, nothing checked out), as Import
/// reads kfunc definitions. Files are chosen by the kfunc names they call; a file counts as annotation-driven when
/// a prog_tests/*.c runs it with RUN_TESTS(&lt;stem&gt;), as upstream's test_progs does. The project keeps none of it.
/// </summary>
public static partial class UpstreamSelftests
{
    public const string SelftestsPath = "tools/testing/selftests/bpf";
    public const string ProgsPath = SelftestsPath + "/progs";
    public const string ProgTestsPath = SelftestsPath + "/prog_tests";

    /// <summary>How prog_tests/*.c hand a program file to upstream's annotation loader: RUN_TESTS(x), verifier.c's RUN(x), or run_tests_aux("x", ...).</summary>
    [GeneratedRegex(@"\bRUN(?:_TESTS)?\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)|\brun_tests_aux\(\s*""([A-Za-z_][A-Za-z0-9_]*)""")]
    private static partial Regex RunTests();

    /// <summary>
    /// Writes the selftest files naming any of <paramref name="kfuncs"/> (with the headers they need) into
    /// <paramref name="workDir"/>, which is replaced whole. Bad input (no repository, unknown ref, a tree without
    /// BPF selftests) is an InputException naming the option.
    /// </summary>
    public static SelftestTree Extract(string upstream, string reference, IReadOnlyCollection<string> kfuncs, string workDir)
    {
        using var repo = KernelRepository.Open(upstream);
        var resolved = repo.Resolve(reference);
        var temp = workDir + ".tmp";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        IReadOnlyList<SelftestFile> files;
        try
        {
            files = Select(resolved, kfuncs, (path, text) => Write(Path.Combine(temp, path), text))
                ?? throw new InputException(new Problem("--upstream", 0, 0, "", $"{resolved.At(ProgsPath)} does not exist: '{upstream}' is not a Linux tree with BPF selftests; give a kernel repository and a ref that has them"));
            if (resolved.Commit[SelftestsPath] is { TargetType: TreeEntryTargetType.Tree } selftests)
                foreach (var e in Blobs((Tree)selftests.Target, ".h")) Write(Path.Combine(temp, SelftestsPath, e.Name), Text(e));
        }
        catch
        {
            // Nothing half-written is left behind; the previous run's folder stays as it was.
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
        if (Directory.Exists(workDir)) Directory.Delete(workDir, recursive: true);
        Directory.Move(temp, workDir);
        return new SelftestTree(upstream, resolved.Stable, resolved.CommitId, workDir, files);
    }

    /// <summary>The selftest files at a ref that name any of the kfuncs (nothing written); null when the tree has no BPF selftests. Import lists them.</summary>
    public static IReadOnlyList<SelftestFile>? Find(KernelRepository repo, ResolvedRef at, IReadOnlyCollection<string> kfuncs) => Select(at, kfuncs, null);

    /// <summary>The progs files naming a kfunc, each marked when no RUN_TESTS runs it; with <paramref name="write"/>, they and progs/'s headers are handed to it by tree path.</summary>
    private static IReadOnlyList<SelftestFile>? Select(ResolvedRef at, IReadOnlyCollection<string> kfuncs, Action<string, string>? write)
    {
        var commit = at.Commit;
        if (commit[ProgsPath] is not { TargetType: TreeEntryTargetType.Tree } progsEntry) return null;
        var runByLoader = new HashSet<string>(StringComparer.Ordinal);
        if (commit[ProgTestsPath] is { TargetType: TreeEntryTargetType.Tree } testsEntry)
            foreach (var e in Blobs((Tree)testsEntry.Target, ".c"))
                foreach (Match m in RunTests().Matches(Text(e)))
                    runByLoader.Add(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value);
        var needles = kfuncs.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
            .Select(k => (Name: k, Pattern: new Regex($@"\b{Regex.Escape(k)}\s*\(", RegexOptions.CultureInvariant))).ToList();
        var files = new List<SelftestFile>();
        foreach (var e in Blobs((Tree)progsEntry.Target, ".c", ".h"))
        {
            var isHeader = e.Name.EndsWith(".h", StringComparison.Ordinal);
            if (isHeader && write is null) continue;
            var text = Text(e);
            if (isHeader) { write!($"{ProgsPath}/{e.Name}", text); continue; }
            var named = needles.Where(n => n.Pattern.IsMatch(text)).Select(n => n.Name).ToList();
            if (named.Count == 0) continue;
            var stem = e.Name[..^2];
            write?.Invoke($"{ProgsPath}/{e.Name}", text);
            files.Add(new SelftestFile(stem, $"{ProgsPath}/{e.Name}", named,
                runByLoader.Contains(stem) ? null : $"upstream drives {e.Name} from its own C test, not from its annotations (no RUN_TESTS({stem}) or RUN({stem}) in {ProgTestsPath}/)"));
        }
        return files;
    }

    /// <summary>
    /// Regular files (not symlinks, which the selftests use for copies of other folders' files) with one of the endings,
    /// by name. A name becomes a file name here and a step name in the guest's manifest, so only plain C file names
    /// are taken (upstream's are all of this form); anything else in the tree is left alone.
    /// </summary>
    private static IEnumerable<TreeEntry> Blobs(Tree tree, params string[] endings) =>
        tree.Where(e => e.TargetType == TreeEntryTargetType.Blob && e.Mode != Mode.SymbolicLink && PlainName().IsMatch(e.Name)
                && endings.Any(x => e.Name.EndsWith(x, StringComparison.Ordinal)))
            .OrderBy(e => e.Name, StringComparer.Ordinal);

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_+-]*\.[ch]$")]
    private static partial Regex PlainName();

    private static string Text(TreeEntry e)
    {
        using var stream = ((Blob)e.Target).GetContentStream();
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false);
        return reader.ReadToEnd();
    }

    private static void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }
}
