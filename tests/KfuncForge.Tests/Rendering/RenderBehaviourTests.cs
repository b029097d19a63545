using KfuncForge.Rendering;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Rendering;

public sealed class RenderBehaviourTests
{
    [Fact]
    public void Every_template_file_is_listed_and_every_listed_template_exists()
    {
        var onDisk = Directory.GetFiles(TestTree.Templates, "*.sbn", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(TestTree.Templates, f).Replace('\\', '/')).Order(StringComparer.Ordinal);
        Assert.Equal(onDisk, TemplateSet.Specs.Select(s => s.Template).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_repositorys_own_definitions_render_for_every_profile_byte_identically_twice()
    {
        using var temp = TestTree.Temp();
        var distros = Directory.GetFiles(Path.Combine(TestTree.RepoRoot, "distros"), "*.yaml").Select(Path.GetFileNameWithoutExtension).ToList();
        Assert.Contains("debian12", distros);
        foreach (var run in new[] { "a", "b" })
            foreach (var distro in distros)
            {
                var r = TestTree.Run("render", "--root", TestTree.RepoRoot, "--out", temp.Combine(run), "--distro", distro!, "--source-date-epoch", GoldenTests.SourceDateEpoch);
                Assert.True(r.ExitCode == 0, $"{distro}: {r.Stderr}");
            }
        var a = Snapshot(temp.Combine("a"));
        Assert.Equal(a, Snapshot(temp.Combine("b")));
    }

    [Fact]
    public void Rendered_files_carry_no_path_of_the_build_machine()
    {
        using var temp = TestTree.Temp();
        var input = Path.Combine(TestTree.Golden, "two-sets", "input");
        var r = TestTree.Run("render", "--root", input, "--templates", TestTree.Templates, "--out", temp.Path, "--distro", "debian12", "--source-date-epoch", GoldenTests.SourceDateEpoch);
        Assert.Equal(0, r.ExitCode);
        foreach (var file in Directory.GetFiles(temp.Path, "*", SearchOption.AllDirectories))
        {
            var text = File.ReadAllText(file);
            Assert.DoesNotContain(temp.Path, text);
            Assert.DoesNotContain(TestTree.RepoRoot, text);
        }
    }

    [Fact]
    public void A_failed_render_keeps_the_previous_output()
    {
        using var temp = TestTree.Temp();
        var input = Path.Combine(TestTree.Golden, "two-sets", "input");
        var ok = TestTree.Run("render", "--root", input, "--templates", TestTree.Templates, "--out", temp.Path, "--distro", "debian12", "--source-date-epoch", GoldenTests.SourceDateEpoch);
        Assert.Equal(0, ok.ExitCode);
        var before = Snapshot(temp.Path);

        var broken = temp.Combine("templates");
        TestTree.CopyDirectory(TestTree.Templates, broken);
        File.WriteAllText(Path.Combine(broken, "module", "Kbuild.sbn"), "obj-m := {{ module.nmae }}.o\n");
        var failed = TestTree.Run("render", "--root", input, "--templates", broken, "--out", temp.Path, "--distro", "debian12", "--source-date-epoch", GoldenTests.SourceDateEpoch);
        Assert.Equal(2, failed.ExitCode);

        Directory.Delete(broken, true);
        Assert.Equal(before, Snapshot(temp.Path));
    }

    private static SortedDictionary<string, string> Snapshot(string root)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in Directory.GetFiles(root, "*", SearchOption.AllDirectories))
            files[Path.GetRelativePath(root, f)] = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))) + ":" + (OperatingSystem.IsWindows() ? "" : File.GetUnixFileMode(f).ToString());
        return files;
    }
}
