using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Rendering;

/// <summary>
/// tests/golden/&lt;case&gt;/input is a source tree; expected/ is what `render` writes for every distro
/// profile in it (with the real templates and a fixed source date). Set KFUNCFORGE_BLESS=1 to
/// rewrite expected/ from the current output after reviewing the difference.
/// </summary>
public sealed class GoldenTests
{
    public const string SourceDateEpoch = "1767225600"; // 2026-01-01T00:00:00Z

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(TestTree.Golden).Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(dir));
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Render_matches_expected_output(string name)
    {
        var caseDir = Path.Combine(TestTree.Golden, name);
        using var temp = TestTree.Temp();
        foreach (var distro in Directory.GetFiles(Path.Combine(caseDir, "input", "distros"), "*.yaml").Order(StringComparer.Ordinal))
        {
            var result = TestTree.Run("render", "--root", Path.Combine(caseDir, "input"), "--templates", TestTree.Templates,
                "--out", temp.Path, "--distro", Path.GetFileNameWithoutExtension(distro), "--source-date-epoch", SourceDateEpoch);
            Assert.True(result.ExitCode == 0, result.Stderr);
        }

        var actual = Path.Combine(temp.Path, "render");
        var expected = Path.Combine(caseDir, "expected");
        // The project's commit changes with every commit: check it is there, compare the rest.
        var provenance = Directory.GetFiles(actual, KfuncForge.Rendering.Renderer.ProvenanceFile, SearchOption.AllDirectories);
        Assert.NotEmpty(provenance);
        Assert.All(provenance, p => { Assert.Contains("\"commit\"", File.ReadAllText(p)); File.Delete(p); });

        if (Environment.GetEnvironmentVariable("KFUNCFORGE_BLESS") == "1")
        {
            if (Directory.Exists(expected)) Directory.Delete(expected, true);
            TestTree.CopyDirectory(actual, expected);
            return;
        }

        var actualFiles = Files(actual);
        var expectedFiles = Files(expected);
        Assert.Equal(expectedFiles.Keys, actualFiles.Keys);
        foreach (var (file, text) in expectedFiles)
            Assert.True(text == actualFiles[file], $"{name}: {file} differs from expected; run with KFUNCFORGE_BLESS=1 to accept.\n--- actual ---\n{actualFiles[file]}");
    }

    private static SortedDictionary<string, string> Files(string root)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(root)) return files;
        foreach (var f in Directory.GetFiles(root, "*", SearchOption.AllDirectories))
            files[Path.GetRelativePath(root, f).Replace('\\', '/')] = File.ReadAllText(f);
        return files;
    }
}
