using System.Text;
using KfuncForge.Compilation;
using KfuncForge.Kernels;
using KfuncForge.Processes;
using KfuncForge.Tests.Kernels;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Compilation;

public sealed class ModuleInspectorTests
{
    private const string Release = "6.1.0-56-amd64";

    private static string Ko(TempDir t, uint id, string vermagic, bool btf = true, byte[]? btfBlob = null, byte[]? distilledBase = null)
    {
        var ids = new byte[12];
        BitConverter.GetBytes(1u).CopyTo(ids, 0); // set8 count
        BitConverter.GetBytes(id).CopyTo(ids, 8);
        var b = new ElfBuilder();
        if (btf) b.Section(".BTF", btfBlob ?? BtfReaderTests.SampleBtf(out _));
        if (distilledBase is not null) b.Section(".BTF.base", distilledBase);
        b.Section(".BTF_ids", ids)
         .Section(".modinfo", Encoding.UTF8.GetBytes($"license=GPL\0vermagic={vermagic}\0"))
         .Symbol("__BTF_ID__set8__kfuncforge_set", ".BTF_ids", 0)
         .Symbol("__BTF_ID__func__bpf_demo_add__1", ".BTF_ids", 8);
        var path = t.Combine("m.ko");
        File.WriteAllBytes(path, b.Build());
        return path;
    }

    [Fact]
    public void A_good_module_passes_every_check()
    {
        using var t = new TempDir();
        var checks = ModuleInspector.Inspect(Ko(t, 100752, $"{Release} SMP preempt mod_unload modversions "), Release, []);
        Assert.All(checks, c => Assert.True(c.Passed, c.Detail));
        Assert.Equal(["btf", "btf_ids", "vermagic"], checks.Select(c => c.Name));
    }

    [Fact]
    public void Unresolved_btf_ids_fail()
    {
        using var t = new TempDir();
        var check = ModuleInspector.Inspect(Ko(t, 0, $"{Release} SMP"), Release, []).Single(c => c.Name == "btf_ids");
        Assert.False(check.Passed);
        Assert.Contains("__BTF_ID__func__bpf_demo_add__1", check.Detail);
    }

    [Fact]
    public void A_module_without_btf_fails()
    {
        using var t = new TempDir();
        var check = ModuleInspector.Inspect(Ko(t, 5, $"{Release} SMP", btf: false), Release, []).Single(c => c.Name == "btf");
        Assert.False(check.Passed);
        Assert.Contains("never register", check.Detail);
    }

    [Fact]
    public void A_vermagic_of_another_kernel_fails()
    {
        using var t = new TempDir();
        var check = ModuleInspector.Inspect(Ko(t, 5, "6.1.0-55-amd64 SMP preempt"), Release, []).Single(c => c.Name == "vermagic");
        Assert.False(check.Passed);
        Assert.Contains("wrong kernel", check.Detail);
        // A release that is a prefix of another is not a match either.
        Assert.False(ModuleInspector.Inspect(Ko(t, 5, "6.1.0-56-amd64-rt SMP"), Release, []).Single(c => c.Name == "vermagic").Passed);
    }

    [Fact]
    public void Kfuncs_missing_from_the_module_btf_fail()
    {
        using var t = new TempDir();
        var baseBlob = new BtfBuilder().Build(); // an empty base: its string section is the single NUL
        var split = new BtfBuilder { StringBase = 1 };
        var u64 = split.Int("u64");
        split.Func("bpf_demo_add", split.FuncProto(u64, ("a", u64)));
        var checks = ModuleInspector.Inspect(Ko(t, 5, $"{Release} SMP", btfBlob: split.Build()), Release, ["bpf_demo_add", "bpf_other"], baseBlob);
        var check = checks.Single(c => c.Name == "kfuncs");
        Assert.False(check.Passed);
        Assert.Equal("module BTF lacks FUNC bpf_other", check.Detail);
    }

    [Fact]
    public void Module_btf_split_against_a_distilled_base_is_read_against_that_base()
    {
        using var t = new TempDir();
        var distilled = new BtfBuilder();
        distilled.Int("long"); // a distilled base: a few types of vmlinux, its own strings
        var distilledBlob = distilled.Build();
        var split = new BtfBuilder { StringBase = BtfReader.StringSection(distilledBlob).Length };
        var u64 = split.Int("u64");
        split.Func("bpf_demo_add", split.FuncProto(u64 + 1, ("a", u64 + 1)));
        var vmlinuxBase = BtfReaderTests.SampleBtf(out _); // would give wrong names if used
        var checks = ModuleInspector.Inspect(Ko(t, 5, $"{Release} SMP", btfBlob: split.Build(), distilledBase: distilledBlob), Release, ["bpf_demo_add"], vmlinuxBase);
        var check = checks.Single(c => c.Name == "kfuncs");
        Assert.True(check.Passed, check.Detail);
        Assert.Contains(".BTF.base", check.Detail);
    }

    [Fact]
    public void Compiler_errors_are_quoted_with_paths_relative_to_the_module()
    {
        var result = new ProcessResult(new ProcessSpec("make", []), 2, "  CC [M]  /tmp/kfuncforge/m/src/broken.o\n",
            "/tmp/kfuncforge/m/src/broken.c:9:20: error: 'x' undeclared (first use in this function)\nmake[2]: *** [scripts/Makefile.build:250: /tmp/kfuncforge/m/src/broken.o] Error 1\n", TimeSpan.Zero, false);
        Assert.Equal("src/broken.c:9:20: error: 'x' undeclared (first use in this function)", KbuildBuilder.CompilerMessage(result, "m"));
    }
}

public sealed class CellSchedulerTests
{
    [Fact]
    public async Task A_failing_cell_does_not_stop_the_others_and_concurrency_is_bounded()
    {
        var running = 0;
        var peak = 0;
        CellScheduler.Cell Cell(string name, bool fail) => new("d", "k", name, async _ =>
        {
            var now = Interlocked.Increment(ref running);
            lock (this) peak = Math.Max(peak, now);
            await Task.Delay(150);
            Interlocked.Decrement(ref running);
            if (fail) throw new InvalidOperationException($"{name} broke");
            return new CellResult("d", "k", name, CellOutcome.Built, "ok", TimeSpan.Zero);
        });
        var cells = new[] { Cell("a", false), Cell("b", true), Cell("c", false), Cell("d", false), Cell("e", false) };
        var results = await CellScheduler.RunAsync(cells, jobs: 2);
        Assert.Equal(["a", "b", "c", "d", "e"], results.Select(r => r.Module));
        Assert.Equal([CellOutcome.Built, CellOutcome.Failed, CellOutcome.Built, CellOutcome.Built, CellOutcome.Built], results.Select(r => r.Outcome));
        Assert.Equal("b broke", results[1].Reason);
        Assert.True(peak <= 2, $"peak concurrency {peak}");
    }

    [Fact]
    public void The_summary_lists_every_cell_and_counts_outcomes()
    {
        var text = BuildSummary.Format(
        [
            new CellResult("debian12", "6.1.0-56-amd64", "kfunc_a", CellOutcome.Built, "btf ok", TimeSpan.FromSeconds(2.5)),
            new CellResult("debian12", "6.1.0-56-amd64", "kfunc_b", CellOutcome.Failed, "kbuild failed:\nsrc/x.c:1:1: error: y", TimeSpan.FromSeconds(1)),
            new CellResult("debian12", "6.12.117+deb12-amd64", "kfunc_a", CellOutcome.Native, "the kernel already has bpf_a", TimeSpan.Zero),
        ]);
        var lines = text.TrimEnd().Split('\n');
        Assert.Equal(5, lines.Length);
        Assert.Contains("failed", lines[2]);
        Assert.Contains("kbuild failed: | src/x.c:1:1: error: y", lines[2]);
        Assert.Equal("3 cells: 1 built, 1 failed, 1 native, 0 infeasible", lines[4]);
    }

    [Fact]
    public void A_second_build_into_the_same_output_fails_at_once()
    {
        using var t = new TempDir();
        var layout = new BuildLayout(t.Path);
        using var first = BuildPipeline.LockOutput(layout, "debian12");
        var e = Assert.Throws<KfuncForge.Diagnostics.StageException>(() => BuildPipeline.LockOutput(layout, "debian12"));
        Assert.Contains("another kfuncforge build is writing", e.Message);
        using var other = BuildPipeline.LockOutput(layout, "debian13"); // other distros are independent
    }
}
