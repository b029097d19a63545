using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Definitions;

/// <summary>--out never points at '/', the source tree or a folder in it, or an existing file; refused before anything is written.</summary>
public sealed class OutOptionTests
{
    private static string Base => Path.Combine(TestTree.Fixtures, "invalid", "_base");

    public static TheoryData<string, string> Cases => new()
    {
        { "/", "is the file system's root" },
        { "{root}", "is the source tree itself" },
        { "{root}/kfunc-modules/kfunc_base/out", "is inside the source folder kfunc-modules/" },
        { "{root}/distros", "is inside the source folder distros/" },
        { "{root}/kfunc-modules/kfunc_base/module.yaml", "is an existing file" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_bad_out_folder_is_refused_and_nothing_is_written(string output, string message)
    {
        using var temp = TestTree.Temp();
        var source = temp.Combine("src");
        TestTree.CopyDirectory(Base, source);
        var before = Directory.GetFileSystemEntries(source, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();

        var result = TestTree.Run("render", "--root", source, "--templates", TestTree.Templates, $"--out={output.Replace("{root}", source)}");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error: --out: ", result.Stderr);
        Assert.Contains(message, result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.Equal(before, Directory.GetFileSystemEntries(source, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
    }
}
