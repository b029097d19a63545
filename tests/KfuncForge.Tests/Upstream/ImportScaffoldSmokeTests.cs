using System.Text.Json.Nodes;
using KfuncForge.Compilation;
using KfuncForge.Definitions;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Rendering;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Support;
using KfuncForge.Tests.Vm.Infrastructure;
using KfuncForge.Vm;
using Xunit.Abstractions;

namespace KfuncForge.Tests.Upstream;

/// <summary>
/// Issue 15's path from Import to a passing backport: two kfuncs imported from fixture repositories, one
/// tagless (the release given with --release) and one with release tags; the test supplies only the C
/// variants. The plan (from the real 6.1 kernel's facts) refuses the kfunc registered for every program
/// type on 6.1 without building, and the smoke programs import wrote pass in QEMU on 6.12, where both are
/// backports, in one boot.
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class ImportScaffoldSmokeTests(RealKernel k61, RealKernel612 k612, ITestOutputHelper output)
{
    /// <summary>Upstream-style definitions: a sized buffer in syscall programs, and a string counter in the common set.</summary>
    private const string FillSource = """
        // SPDX-License-Identifier: GPL-2.0-only
        #include <linux/bpf.h>
        #include <linux/btf_ids.h>

        __bpf_kfunc_start_defs();

        __bpf_kfunc int bpf_kff_fill(void *dst, u32 dst__sz, u64 byte)
        {
        	memset(dst, (int)byte, dst__sz);
        	return dst__sz;
        }

        __bpf_kfunc_end_defs();

        BTF_KFUNCS_START(kff_fill_ids)
        BTF_ID_FLAGS(func, bpf_kff_fill, KF_SLEEPABLE)
        BTF_KFUNCS_END(kff_fill_ids)

        static const struct btf_kfunc_id_set kff_fill_set = {
        	.owner = THIS_MODULE,
        	.set   = &kff_fill_ids,
        };

        static int __init kff_fill_init(void)
        {
        	return register_btf_kfunc_id_set(BPF_PROG_TYPE_SYSCALL, &kff_fill_set);
        }
        late_initcall(kff_fill_init);
        """;

    private const string CountSource = """
        // SPDX-License-Identifier: GPL-2.0-only
        #include <linux/bpf.h>
        #include <linux/btf_ids.h>

        __bpf_kfunc_start_defs();

        __bpf_kfunc int bpf_kff_count(const char *s__ign, u32 len)
        {
        	u32 i;

        	if (!copy_from_kernel_nofault_allowed(s__ign, len))
        		return -ERANGE;
        	for (i = 0; i < len && s__ign[i]; i++)
        		cond_resched();
        	return i;
        }

        __bpf_kfunc_end_defs();

        BTF_KFUNCS_START(common_btf_ids)
        BTF_ID_FLAGS(func, bpf_kff_count, KF_SLEEPABLE)
        BTF_KFUNCS_END(common_btf_ids)

        static const struct btf_kfunc_id_set common_kfunc_set = {
        	.owner = THIS_MODULE,
        	.set   = &common_btf_ids,
        };

        static int __init kfunc_init(void)
        {
        	return register_btf_kfunc_id_set(BPF_PROG_TYPE_UNSPEC, &common_kfunc_set);
        }
        late_initcall(kfunc_init);
        """;

    /// <summary>The backports a user writes (the test supplies them, as the issue allows).</summary>
    private const string FillBackport = """
        // SPDX-License-Identifier: GPL-2.0
        #include "kfuncforge_compat.h"
        #include <linux/string.h>

        __bpf_kfunc_start_defs();

        __bpf_kfunc int bpf_kff_fill(void *dst, u32 dst__sz, u64 byte)
        {
        	memset(dst, (int)byte, dst__sz);
        	return dst__sz;
        }

        __bpf_kfunc_end_defs();
        """;

    private const string CountBackport = """
        // SPDX-License-Identifier: GPL-2.0
        #include "kfuncforge_compat.h"
        #include <linux/uaccess.h>

        __bpf_kfunc_start_defs();

        __bpf_kfunc int bpf_kff_count(const char *s__ign, u32 len)
        {
        	u32 i;
        	char c;

        	for (i = 0; i < len; i++) {
        		if (copy_from_kernel_nofault(&c, s__ign + i, 1) || !c)
        			break;
        		cond_resched();
        	}
        	return i;
        }

        __bpf_kfunc_end_defs();
        """;

    [IntegrationFact(Timeout = 1_200_000)]
    public async Task Imported_kfuncs_scaffolding_passes_in_QEMU_and_the_plan_refuses_the_6_1_trap()
    {
        if (TestKernel.Unsupported() is not null) return; // not an x86-64 Debian host: IntegrationFact covers the tools
        using var temp = TestTree.Temp();
        var root = temp.Combine("tree");
        Directory.CreateDirectory(Path.Combine(root, "kfunc-modules"));
        RealKernel.CopyDir(Path.Combine(RealKernel.RepoRoot, "distros"), Path.Combine(root, "distros"));

        // Tagless: the commit that adds the kfunc is found, no tag names its release, so --release gives it.
        using var tagless = KernelRepoBuilder.Create();
        tagless.Files["kernel/bpf/helpers.c"] = "// SPDX-License-Identifier: GPL-2.0-only\n";
        tagless.Commit("initial");
        tagless.Files["kernel/bpf/fill.c"] = FillSource;
        var fillCommit = tagless.Commit("bpf: Add bpf_kff_fill kfunc");
        // Tagged: the first vX.Y tag that contains the commit is the release.
        using var tagged = KernelRepoBuilder.Create();
        tagged.Files["kernel/bpf/helpers.c"] = "// SPDX-License-Identifier: GPL-2.0-only\n";
        tagged.Commit("initial");
        tagged.Files["kernel/bpf/helpers.c"] = CountSource;
        var countCommit = tagged.Commit("bpf: Add bpf_kff_count kfunc");
        tagged.Files["Makefile"] = "VERSION = 6\nPATCHLEVEL = 16\n";
        tagged.Tag("v6.16", tagged.Commit("Linux 6.16"));

        var fill = TestTree.Run("import", $"--root={root}", $"--upstream={tagless.Path}", "--ref=master", "--kfunc=bpf_kff_fill", "--module=kfunc_trial_fill", "--release=6.15", $"--cache={k612.CacheRoot}");
        Assert.True(fill.ExitCode == 0, fill.Stdout + fill.Stderr);
        Assert.Contains($"introduced:   {fillCommit[..12]}", fill.Stdout);
        Assert.Contains("created kfunc-modules/kfunc_trial_fill/bpf/smoke_bpf_kff_fill.bpf.c\n", fill.Stdout);
        var count = TestTree.Run("import", $"--root={root}", $"--upstream={tagged.Path}", "--ref=v6.16", "--kfunc=bpf_kff_count", "--module=kfunc_trial_count", $"--cache={k612.CacheRoot}");
        Assert.True(count.ExitCode == 0, count.Stdout + count.Stderr);
        Assert.Contains($"introduced:   {countCommit[..12]}", count.Stdout);
        Assert.Contains("first in v6.16 -> release 6.16", count.Stdout);
        // Upstream's bodies checked against the fetched kernels: memset is exported; the helper upstream's count
        // calls is not, so the backport (below) reads each byte with copy_from_kernel_nofault instead.
        Assert.Contains("  calls:        memset\n", fill.Stdout);
        Assert.Matches(@"  checked:      against the fetched debian12 kernels 6\.1\.\S+, 6\.12\.\S+: every call is exported or defined in their headers\n", fill.Stdout);
        Assert.True(count.Stdout.Contains("  calls:        cond_resched, copy_from_kernel_nofault_allowed\n"), count.Stdout);
        Assert.Matches(@"checked: +against the fetched debian12 kernels .*: 1 the backport will have to replace\n    copy_from_kernel_nofault_allowed: 6\.1\.\S+, 6\.12\.\S+ have it but do not export it to modules\n", count.Stdout);
        Assert.Contains("  - replace the calls a module cannot make on the debian12 kernels: copy_from_kernel_nofault_allowed (docs/add-a-kfunc.md)\n", count.Stdout);

        var fillYaml = File.ReadAllText(Path.Combine(root, "kfunc-modules", "kfunc_trial_fill", "module.yaml"));
        Assert.Contains("section: syscall, program_type: syscall, calls: [bpf_kff_fill], expect: { retval: 0 }", fillYaml);
        Assert.Contains("section: tc, program_type: sched_cls, calls: [bpf_kff_fill], expect: { verifier_rejects: \"calling kernel function bpf_kff_fill is not allowed\" }", fillYaml);
        var countYaml = File.ReadAllText(Path.Combine(root, "kfunc-modules", "kfunc_trial_count", "module.yaml"));
        Assert.Contains("kernels: { from: \"6.2\" }, expect: { verifier_rejects: \"program must be sleepable to call sleepable kfunc bpf_kff_count\" }", countYaml);
        var smokeC = File.ReadAllText(Path.Combine(root, "kfunc-modules", "kfunc_trial_fill", "bpf", "smoke_bpf_kff_fill.bpf.c"));
        Assert.Contains("extern int bpf_kff_fill(void *dst, u32 dst__sz, u64 byte) __ksym __weak;", smokeC);

        // The only hand-written parts: the backports.
        File.WriteAllText(Path.Combine(root, "kfunc-modules", "kfunc_trial_fill", "bpf_kff_fill.c"), FillBackport);
        File.WriteAllText(Path.Combine(root, "kfunc-modules", "kfunc_trial_count", "bpf_kff_count.c"), CountBackport);
        var validate = TestTree.Run("validate", $"--root={root}");
        Assert.True(validate.ExitCode == 0, validate.Stdout + validate.Stderr);

        var catalog = Catalog.Load(new SourceTree(root, TestTree.Templates));
        var distro = catalog.Distro("debian12");
        var countModule = catalog.Modules.Single(m => m.Name == "kfunc_trial_count");
        // 6.1 has no common kfunc hook: the plan says so before anything is built; 6.1 can take bpf_kff_fill.
        var on61 = Planner.Make(distro, [k61.Kernel.ToFacts(distro.BpfLevel)], catalog.Modules);
        var refused = on61.Cells.Single(c => c.Module.Name == "kfunc_trial_count").Entries.Single();
        Assert.Equal(Verdict.Infeasible, refused.Verdict);
        Assert.Contains("registers for unspec programs, but the kernel has no BTF_KFUNC_HOOK_COMMON kfunc hook", refused.Reason);
        Assert.Equal(Verdict.Backport, on61.Cells.Single(c => c.Module.Name == "kfunc_trial_fill").Entries.Single().Verdict);

        // 6.12: both are backports; build them, then one smoke boot runs the scaffolding's programs.
        var plan = Planner.Make(distro, [k612.Kernel.ToFacts(distro.BpfLevel)], catalog.Modules);
        Assert.All(plan.Cells.SelectMany(c => c.Entries), e => Assert.Equal(Verdict.Backport, e.Verdict));
        var renderer = new Renderer(TemplateSet.Load(TestTree.Templates), DateTimeOffset.UnixEpoch, KfuncForge.Provenance.ProjectProvenance.Unknown("import scaffold test"));
        var log = new List<string>();
        var results = await BuildPipeline.RunAsync(plan, new Dictionary<string, KfuncForge.Kernels.KernelEntry> { [k612.Kernel.Release] = k612.Kernel },
            k612.Workspace, renderer, new BuildLayout(temp.Combine("build")), 2, l => { lock (log) log.Add(l); });
        Assert.True(results.All(r => r.Ko is not null), string.Join("\n", log));
        var index = temp.Combine("build-index.json");
        BuildIndex.FromBuild([k612.Kernel], results).Save(index);

        var smoke = TestTree.Run("smoke", $"--root={root}", "--distro=debian12", $"--kernel={k612.Kernel.Release}", $"--index={index}",
            $"--out={temp.Combine("out")}", $"--cache={k612.CacheRoot}", "--accel=tcg");
        output.WriteLine(smoke.Stdout);
        var work = temp.Combine("out", "smoke", "debian12");
        var summary = File.Exists(Path.Combine(work, "summary.txt")) ? File.ReadAllText(Path.Combine(work, "summary.txt")) : "";
        Assert.True(smoke.ExitCode == 0, smoke.Stdout + smoke.Stderr + summary);
        var kernel = JsonNode.Parse(File.ReadAllText(Path.Combine(work, "results.json")))!["kernels"]!.AsArray().Single()!;
        foreach (var module in new[] { "kfunc_trial_fill", "kfunc_trial_count" })
        {
            var cell = kernel["cells"]!.AsArray().Single(c => (string?)c!["module"] == module)!;
            Assert.True((string?)cell["status"] == "pass", cell.ToJsonString());
        }
        foreach (var program in new[] { "bpf_kff_fill_runs", "bpf_kff_fill_refused_in_tc", "bpf_kff_count_runs", "bpf_kff_count_refused_not_sleepable" })
            Assert.Contains(program, kernel.ToJsonString());
        Assert.Equal(2, countModule.Smoke.Count);
    }
}
