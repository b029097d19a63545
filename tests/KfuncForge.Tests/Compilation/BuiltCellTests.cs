using KfuncForge.Compilation;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Compilation;

public sealed class BuiltCellTests
{
    [Fact]
    public void Finds_only_cells_with_a_module_and_a_render_manifest_in_order()
    {
        using var temp = TestTree.Temp();
        void Cell(string release, string module, bool ko, bool manifest)
        {
            var dir = temp.Combine("build", "debian12", release, module);
            Directory.CreateDirectory(dir);
            if (ko) File.WriteAllText(Path.Combine(dir, module + ".ko"), "elf");
            if (manifest) File.WriteAllText(Path.Combine(dir, "kfuncforge-render.json"), "{}");
        }
        Cell("6.12.117+deb12-amd64", "kfunc_strings", ko: true, manifest: true);
        Cell("6.1.0-56-amd64", "kfunc_strings", ko: true, manifest: true);
        Cell("6.1.0-56-amd64", "kfunc_sock_destroy", ko: false, manifest: true); // failed build
        Cell("6.1.0-56-amd64", "stray", ko: true, manifest: false);

        var cells = BuiltCell.Find(temp.Path, "debian12");

        Assert.Equal(["6.1.0-56-amd64/kfunc_strings", "6.12.117+deb12-amd64/kfunc_strings"], cells.Select(c => $"{c.Release}/{c.Module}"));
        Assert.Equal(temp.Combine("sign", "debian12", "6.1.0-56-amd64", "kfunc_strings.ko"), cells[0].SignedPath(temp.Path));
        Assert.Empty(BuiltCell.Find(temp.Path, "debian13"));
    }
}
