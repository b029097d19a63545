using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Definitions;

/// <summary>
/// Every folder in tests/fixtures/invalid/ (except _base) is one bad input: _base/ is a valid source tree,
/// the case's tree/ and templates/ are laid over it (and over the real templates), args holds the command
/// line (default: validate), and expected.txt is the exact error output. Each must exit with code 2
/// and leave no output behind. KFUNCFORGE_BLESS=1 rewrites expected.txt.
/// </summary>
public sealed class InvalidInputTests
{
    private static string InvalidRoot => Path.Combine(TestTree.Fixtures, "invalid");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(InvalidRoot).Order(StringComparer.Ordinal))
            if (Path.GetFileName(dir) != "_base") data.Add(Path.GetFileName(dir));
        return data;
    }

    [Fact]
    public void Base_tree_is_valid()
    {
        var result = TestTree.Run("validate", "--root", Path.Combine(InvalidRoot, "_base"));
        Assert.True(result.ExitCode == 0, result.Stderr);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bad_input_is_reported_with_exit_code_2(string name)
    {
        var caseDir = Path.Combine(InvalidRoot, name);
        using var temp = TestTree.Temp();
        var source = temp.Combine("src");
        var templates = temp.Combine("templates");
        var output = temp.Combine("out");
        TestTree.CopyDirectory(Path.Combine(InvalidRoot, "_base"), source);
        if (Directory.Exists(Path.Combine(caseDir, "tree"))) TestTree.CopyDirectory(Path.Combine(caseDir, "tree"), source);
        TestTree.CopyDirectory(TestTree.Templates, templates);
        if (Directory.Exists(Path.Combine(caseDir, "templates"))) TestTree.CopyDirectory(Path.Combine(caseDir, "templates"), templates);

        var argsFile = Path.Combine(caseDir, "args");
        var args = File.Exists(argsFile) ? File.ReadAllLines(argsFile).Where(l => l.Length > 0).ToList() : ["validate"];
        args.AddRange(["--root", source, "--templates", templates, "--out", output]);

        var result = TestTree.Run([.. args]);

        var expectedFile = Path.Combine(caseDir, "expected.txt");
        var actual = $"exit {result.ExitCode}\n{result.Stderr}";
        if (Environment.GetEnvironmentVariable("KFUNCFORGE_BLESS") == "1") File.WriteAllText(expectedFile, actual);

        Assert.Equal(File.ReadAllText(expectedFile), actual);
        Assert.Equal(2, result.ExitCode);
        Assert.DoesNotContain("   at ", result.Stderr); // no stack trace
        Assert.False(Directory.Exists(output) && Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories).Any(), "bad input must not leave output behind");
    }
}
