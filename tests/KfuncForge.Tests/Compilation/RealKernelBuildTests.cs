using KfuncForge.Compilation;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Planning;
using KfuncForge.Processes;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Compilation;

/// <summary>The real thing: bookworm's current 6.1 kernel from the Debian archive, the fixture modules built with kbuild in the sandbox.</summary>
[Collection(RealKernelCollection.Name)]
public sealed class RealKernelBuildTests(RealKernel real)
{
    [IntegrationFact]
    public void The_kernel_facts_come_from_its_own_packages()
    {
        var f = real.Kernel.Facts;
        Assert.StartsWith("6.1.0-", f.Release);
        Assert.EndsWith("-amd64", f.Release);
        Assert.Equal("xz", f.ImageCompression);
        Assert.Equal("y", f.Config["CONFIG_DEBUG_INFO_BTF_MODULES"]);
        Assert.Equal("sha256", f.Config["CONFIG_MODULE_SIG_HASH"]);
        Assert.Equal("y", f.Config["CONFIG_MODVERSIONS"]);
        Assert.True(f.BtfFunctions > 10000, $"{f.BtfFunctions} functions in the base BTF");
        Assert.DoesNotContain("bpf_sock_destroy", f.NativeKfuncs);
        Assert.DoesNotContain("bpf_strlen", f.NativeKfuncs);
        Assert.DoesNotContain("bpf_strtol", f.NativeKfuncs); // 6.1 has a *helper* of that name: a FUNC, not a kfunc
        Assert.Contains("bpf_lookup_user_key", f.NativeKfuncs); // a kfunc 6.1 does have (its BTF id sits in .BTF_ids)
        Assert.NotNull(f.ResolveBtfidsFrom); // linux-kbuild-6.1 lacks it
        var facts = real.Kernel.ToFacts(null);
        Assert.Contains(Planner.RegistrationSymbol, facts.Symbols!);
        Assert.Equal(6, facts.Version.Major);
        Assert.Equal(1, facts.Version.Minor);
        Assert.True(facts.Version.Patch > 100, $"upstream version {facts.Version}");
    }

    [IntegrationFact]
    public async Task The_base_btf_reads_the_same_as_bpftool_does()
    {
        if (!RealKernel.OnPath("bpftool")) return; // a cross-check only where bpftool is installed
        var r = await ProcessRunner.Instance.CheckedAsync(new ProcessSpec("bpftool", ["btf", "dump", "file", real.Kernel.Vmlinux]) { StdoutFile = real.Temp.Combine("btf.txt") });
        var funcs = File.ReadLines(real.Temp.Combine("btf.txt")).Count(l => l.StartsWith('[') && l.Contains("] FUNC '"));
        Assert.Equal(real.Kernel.Facts.BtfFunctions, funcs);
        _ = r;
    }

    [IntegrationFact]
    public async Task The_fixture_module_is_built_with_module_btf_resolved_ids_and_the_right_vermagic()
    {
        var cell = real.Cell("kfunc_fixture_ok");
        Assert.True(cell.Outcome == CellOutcome.Built, cell.Reason + "\n" + string.Join("\n", real.Log));
        Assert.True(File.Exists(cell.Ko));
        var checks = ModuleInspector.Inspect(cell.Ko!, real.Kernel.Release, ["bpf_kfuncforge_fixture_add"], BaseBtf());
        Assert.All(checks, c => Assert.True(c.Passed, $"{c.Name}: {c.Detail}"));
        Assert.Equal(["btf", "btf_ids", "kfuncs", "vermagic"], checks.Select(c => c.Name));
        Assert.StartsWith(real.Kernel.Release + " SMP", checks.Single(c => c.Name == "vermagic").Detail);

        if (RealKernel.OnPath("bpftool"))
        {
            var dump = await ProcessRunner.Instance.CheckedAsync(new ProcessSpec("bpftool", ["btf", "dump", "file", cell.Ko!, "--base-btf", real.Kernel.Vmlinux]));
            Assert.Contains("FUNC 'bpf_kfuncforge_fixture_add'", dump.Stdout);
        }
        var log = File.ReadAllText(cell.Log!);
        Assert.Contains("BTF [M]", log);
        Assert.DoesNotContain("Skipping BTF generation", log);
        Assert.Contains("--unshare-all", log);
        Assert.DoesNotContain("--share-net", log);
    }

    private byte[] BaseBtf()
    {
        var elf = ElfFile.Load(real.Kernel.Vmlinux);
        return elf.Bytes(elf.Section(".BTF")!).ToArray();
    }

    [IntegrationFact]
    public void A_compile_error_fails_its_cell_with_the_compilers_message_and_the_other_cell_still_builds()
    {
        var broken = real.Cell("kfunc_fixture_broken");
        Assert.Equal(CellOutcome.Failed, broken.Outcome);
        Assert.Contains("src/broken.c:", broken.Reason);
        Assert.Contains("error: 'kfuncforge_fixture_undeclared' undeclared", broken.Reason);
        Assert.Contains("error:", File.ReadAllText(broken.Log!));
        Assert.Equal(CellOutcome.Built, real.Cell("kfunc_fixture_ok").Outcome);
        Assert.Contains("1 built, 1 failed", BuildSummary.Format(real.Results));
    }

    [IntegrationFact]
    public void A_release_missing_from_the_live_index_is_reported_with_what_is_there()
    {
        var e = Assert.Throws<InputException>(() => KernelFetcher.Select(real.Distro, real.Index, "6.1.0-999-amd64"));
        Assert.Contains("6.1.0-999-amd64 is not in the debian12 package index", e.Message);
        Assert.Contains(real.Kernel.Release, e.Message);
    }

    [IntegrationFact]
    public async Task Headers_without_the_btf_prerequisites_fail_the_cell_and_plan_infeasible()
    {
        var config = real.Kernel.Facts.Config.Where(kv => kv.Key != "CONFIG_DEBUG_INFO_BTF_MODULES").ToDictionary();
        var crippled = real.Kernel with { Facts = real.Kernel.Facts with { Config = config } };
        var module = real.Catalog.Modules.Single(m => m.Name == "kfunc_fixture_ok");
        var entry = Planner.Decide(module, module.Kfuncs[0], crippled.ToFacts(null));
        Assert.Equal(Verdict.Infeasible, entry.Verdict);
        Assert.Contains("CONFIG_DEBUG_INFO_BTF_MODULES", entry.Reason);

        var work = real.Temp.Combine("crippled");
        var result = await new KbuildBuilder(real.Workspace.Container).BuildAsync(new KbuildRequest(real.Distro, crippled, module.Name,
            real.Cell("kfunc_fixture_ok").Ko is { } ko ? Path.GetDirectoryName(ko)! : throw new InvalidOperationException(), work, work + ".log", ["bpf_kfuncforge_fixture_add"]));
        Assert.Equal(CellOutcome.Failed, result.Outcome);
        Assert.Contains("CONFIG_DEBUG_INFO_BTF_MODULES", result.Reason);
    }

    [IntegrationFact]
    public async Task A_second_fetch_reuses_the_cache_entry()
    {
        var again = await real.Workspace.FetchAsync("6.1", _ => { });
        Assert.Equal(real.Kernel.Dir, Assert.Single(again.Entries).Dir);
        Assert.True(File.Exists(Path.Combine(real.Kernel.Dir, KernelEntry.FactsFile)));
        Assert.DoesNotContain(Directory.GetDirectories(Path.GetDirectoryName(real.Kernel.Dir)!, ".tmp-*"), d => Directory.GetLastWriteTimeUtc(d) < DateTime.UtcNow.AddHours(-2));
    }

    [IntegrationFact]
    public void The_cli_dry_run_prints_the_plan_from_the_real_kernel()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = Cli.Cli.Run(["build", "--dryrun", $"--root={real.SourceRoot}", $"--templates={real.Templates}", "--distro=debian12", "--kernel=6.1",
            $"--cache={real.CacheRoot}", $"--out={real.Temp.Combine("cli-out")}"], stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        // The plan's table: the fetched release (no "not fetched" mark), each kfunc's verdict and rule, the reasons below.
        Assert.Matches($@"(?m)^{System.Text.RegularExpressions.Regex.Escape(real.Kernel.Release)}\s+kfunc_fixture_", stdout.ToString());
        Assert.Matches(@"(?m)^\s+kfunc_fixture_ok\s+bpf_kfuncforge_fixture_add\s+backport\s+variant:\S+\s+\d+$", stdout.ToString());
        Assert.DoesNotContain(KfuncForge.Planning.PlanPrinter.NotFetched, stdout.ToString());
    }

    [IntegrationFact]
    public void The_cli_build_exits_1_when_a_cell_fails_and_lists_every_cell()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = Cli.Cli.Run(["build", $"--root={real.SourceRoot}", $"--templates={real.Templates}", "--distro=debian12", "--kernel=6.1",
            "--module=kfunc_fixture_broken", $"--cache={real.CacheRoot}", $"--out={real.Temp.Combine("cli-broken")}", "--jobs=1"], stdout, stderr);
        Assert.Equal(1, code);
        var text = stdout.ToString();
        Assert.Contains("kfunc_fixture_broken  failed", text);
        Assert.Contains("src/broken.c:9:20: error:", text);
        Assert.Contains("1 cells: 0 built, 1 failed", text);
    }
}
