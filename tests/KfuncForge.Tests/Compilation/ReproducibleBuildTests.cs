using System.Text;
using KfuncForge.Compilation;
using KfuncForge.Processes;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Compilation;

/// <summary>The kbuild run is pinned: the same sources give the same .ko wherever they sit, and the build folder never reaches it.</summary>
[Collection(RealKernelCollection.Name)]
public sealed class ReproducibleBuildTests(RealKernel real)
{
    private const string Module = "kfunc_fixture_ok";

    [IntegrationFact]
    public async Task The_same_module_built_from_two_source_folders_is_bit_identical_and_names_no_build_folder()
    {
        var rendered = Directory.GetDirectories(real.Layout.RenderRoot, Module, SearchOption.AllDirectories).Single();
        var date = DateTimeOffset.FromUnixTimeSeconds(1700000000);
        var builder = new KbuildBuilder(real.Workspace.Container);
        var kos = new List<byte[]>();
        var folders = new[] { real.Temp.Combine("repro", "one"), real.Temp.Combine("repro", "a", "much", "deeper", "checkout") };
        foreach (var folder in folders)
        {
            var source = Path.Combine(folder, "src");
            RealKernel.CopyDir(rendered, source);
            var work = Path.Combine(folder, "build");
            var result = await builder.BuildAsync(new KbuildRequest(real.Distro, real.Kernel, Module, source, work, work + ".log", ["bpf_kfuncforge_fixture_add"]) { SourceDate = date });
            Assert.True(result.Outcome == CellOutcome.Built, result.Reason);
            kos.Add(File.ReadAllBytes(result.Ko!));

            var record = BuildRecord.TryLoad(work)!;
            Assert.Equal(real.Kernel.Release, record.Kernel);
            Assert.Equal("Tue Nov 14 22:13:20 UTC 2023", record.KbuildEnvironment["KBUILD_BUILD_TIMESTAMP"]);
            Assert.Equal("1700000000", record.KbuildEnvironment["SOURCE_DATE_EPOCH"]);
            Assert.Equal("kfuncforge", record.KbuildEnvironment["KBUILD_BUILD_USER"]);
            Assert.Equal("kfuncforge", record.KbuildEnvironment["KBUILD_BUILD_HOST"]);
            Assert.Equal($"-ffile-prefix-map={KbuildBuilder.MountPoint(Module)}/=", record.KbuildEnvironment["KCFLAGS"]);
            var image = record.KernelPackages.Single(p => p.Package == $"linux-image-{real.Kernel.Release}");
            Assert.Equal(real.Kernel.Facts.Packages.Single(p => p.Package == image.Package).Sha256, image.Sha256);
        }

        Assert.True(kos[0].AsSpan().SequenceEqual(kos[1]), "two builds of the same sources from different folders differ");
        var text = Encoding.Latin1.GetString(kos[0]);
        // The module carries debug info (the kernel is built with it, for BTF): its compile folder is mapped away.
        Assert.Contains(".debug_info", text);
        Assert.DoesNotContain(KbuildBuilder.MountPoint(Module), text);
        foreach (var folder in folders) Assert.DoesNotContain(folder, text);
    }

    [Fact]
    public async Task The_pinned_timestamp_has_the_format_date_prints()
    {
        foreach (var epoch in new[] { 0L, 1700000000L, 1704153600L })
        {
            var date = await ProcessRunner.Instance.CheckedAsync(new ProcessSpec("date", ["-u", "-d", $"@{epoch}"])
                { Environment = new Dictionary<string, string?> { ["LC_ALL"] = "C", ["TZ"] = "UTC" }, Timeout = TimeSpan.FromSeconds(10) });
            Assert.Equal(date.Stdout.Trim(), ReproducibleKbuild.Timestamp(DateTimeOffset.FromUnixTimeSeconds(epoch)));
        }
    }
}
