namespace KfuncForge.Tests.Upstream;

/// <summary>Import reads a kfunc at a ref and finds its prototype, flags, program types and the commit that introduced it.</summary>
public sealed class ImportFindsProvenanceTests : IClassFixture<ImportFindsProvenanceTests.Kernel>
{
    public sealed class Kernel : IDisposable
    {
        public KernelHistory History { get; } = new();
        public void Dispose() => History.Dispose();
    }

    private readonly KernelHistory _kernel;

    public ImportFindsProvenanceTests(Kernel kernel) => _kernel = kernel.History;

    [Fact]
    public void Draft_module_records_introducing_commit_prototype_flags_and_program_types()
    {
        using var tree = new TempTree();

        var (exit, stdout, stderr) = tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.16", "--kfunc=bpf_strfoo");

        Assert.Equal("", stderr);
        Assert.Equal(0, exit);
        var yaml = File.ReadAllText(tree.ModuleYaml("bpf_strfoo"));
        Assert.Equal($$"""
            # Draft written by `kfuncforge import`. Still to do before this module is ready:
            #   - write the backport of bpf_strfoo in bpf_strfoo.c (its #error stops the build until then);
            #   - narrow the 'draft' variant's kernels and requires_config to what the backport supports;
            #   - describe the module; run SmokeTest, then turn the smoke programs in bpf/smoke_bpf_strfoo.bpf.c into real cases.
            name: bpf_strfoo
            description: Backport of bpf_strfoo from upstream Linux (draft)
            license: GPL
            version: 0.1.0
            kfuncs:
              - name: bpf_strfoo
                prototype: int bpf_strfoo(const char *s__ign, u32 len)
                upstream:
                  release: "6.16"
                  commit: "{{_kernel.Introduced}}"
                  path: kernel/bpf/helpers.c
                  ref: v6.16
                  body_sha256: "{{BodyHash(KernelHistory.StrfooV1)}}"
                  btf_sets: [generic_btf_ids]
                flags: [KF_RCU]
                program_types: [tracing, sched_cls]
                variants:
                  - id: draft
                    file: bpf_strfoo.c
                    kernels: { before: "6.16" }
                    notes: "draft from kfuncforge import: write the backport in bpf_strfoo.c, then narrow kernels and requires_config"
            # Scaffolding from kfuncforge import: the programs are in bpf/smoke_bpf_strfoo.bpf.c.
            smoke:
              - { name: bpf_strfoo_runs, source: bpf/smoke_bpf_strfoo.bpf.c, program: bpf_strfoo_runs, section: tc, program_type: sched_cls, calls: [bpf_strfoo], expect: { retval: 0 } }
              - { name: bpf_strfoo_refused_in_xdp, source: bpf/smoke_bpf_strfoo.bpf.c, program: bpf_strfoo_refused_in_xdp, section: xdp, program_type: xdp, calls: [bpf_strfoo], expect: { verifier_rejects: "calling kernel function bpf_strfoo is not allowed" } }

            """, yaml);
        Assert.Contains($"  introduced:   {_kernel.Introduced[..12]} \"bpf: Add bpf_strfoo kfunc\" (2025-01-01); first in v6.16 -> release 6.16\n", stdout);
        Assert.Contains("  registered:   kernel/bpf/helpers.c:", stdout);
        Assert.Contains(" in set generic_btf_ids via generic_kfunc_set for BPF_PROG_TYPE_TRACING, BPF_PROG_TYPE_SCHED_CLS\n", stdout);
        Assert.Contains("  selftests:    none (tools/testing/selftests/bpf/progs is not in the tree at v6.16)\n", stdout);
        Assert.Contains("created kfunc-modules/bpf_strfoo/module.yaml (draft module 'bpf_strfoo')\n", stdout);
        Assert.Contains("created kfunc-modules/bpf_strfoo/bpf_strfoo.c\n", stdout);
        Assert.Contains("created kfunc-modules/bpf_strfoo/bpf/smoke_bpf_strfoo.bpf.c\n", stdout);

        // The draft is a valid definition: the C file's #error is what stops a build, not the catalog.
        var (validateExit, _, validateErr) = tree.Run("validate");
        Assert.Equal("", validateErr);
        Assert.Equal(0, validateExit);
    }

    [Fact]
    public void Draft_C_file_stops_the_build_and_carries_upstreams_definition()
    {
        using var tree = new TempTree();

        tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.16", "--kfunc=bpf_strfoo");

        var c = File.ReadAllText(Path.Combine(tree.Module("bpf_strfoo"), "bpf_strfoo.c"));
        Assert.Contains("\n#error \"bpf_strfoo: draft backport created by kfuncforge import; implement it in this file (see module.yaml)\"\n", c);
        Assert.Contains("#if 0\n__bpf_kfunc int bpf_strfoo(const char *s__ign,\n", c);
        Assert.EndsWith("\treturn i;\n}\n#endif\n", c);
    }

    [Fact]
    public void Importing_at_a_later_ref_still_finds_the_introducing_commit_and_reads_the_new_state()
    {
        using var tree = new TempTree();

        var (exit, stdout, stderr) = tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.17", "--kfunc=bpf_strfoo");

        Assert.Equal("", stderr);
        Assert.Equal(0, exit);
        var yaml = File.ReadAllText(tree.ModuleYaml("bpf_strfoo"));
        Assert.Contains($"      commit: \"{_kernel.Introduced}\"\n", yaml);
        Assert.Contains("      release: \"6.16\"\n", yaml);
        Assert.Contains("    flags: [KF_RCU, KF_SLEEPABLE]\n", yaml);
        Assert.Contains("    program_types: [tracing, xdp, sched_cls]\n", yaml);
        Assert.Contains($"      body_sha256: \"{BodyHash(KernelHistory.StrfooV2)}\"\n", yaml);
        Assert.Contains("; walked 3 commits (", stdout);
    }

    [Fact]
    public void A_kfunc_defined_in_another_file_than_its_registration_is_found_with_its_config_condition()
    {
        using var tree = new TempTree();

        var (exit, stdout, stderr) = tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.17", "--kfunc=bpf_panic_thing", "--module=panic_kfuncs");

        Assert.Equal("", stderr);
        Assert.Equal(0, exit);
        Assert.Contains("  defined:      kernel/panic.c:4\n", stdout);
        Assert.Contains("; only when CONFIG_PANIC_KFUNC\n", stdout);
        var yaml = File.ReadAllText(tree.ModuleYaml("panic_kfuncs"));
        Assert.Contains("    prototype: void bpf_panic_thing(const char *msg)\n", yaml);
        Assert.Contains("      path: kernel/panic.c\n", yaml);
        Assert.Contains("      release: \"6.15\"\n", yaml);
        Assert.Contains("    # upstream registers it only when CONFIG_PANIC_KFUNC (kernel/bpf/helpers.c:", yaml);
    }

    [Fact]
    public void A_filtered_kfunc_records_its_filter_and_asks_for_an_attach_restriction()
    {
        using var tree = new TempTree();

        var (exit, stdout, _) = tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.17", "--kfunc=bpf_sock_thing");

        Assert.Equal(0, exit);
        var yaml = File.ReadAllText(tree.ModuleYaml("bpf_sock_thing"));
        Assert.Contains("      filters: [tracing_iter_filter]\n", yaml);
        Assert.Contains("    # TODO: upstream restricts this kfunc with the filter tracing_iter_filter(); describe that in attach_restriction (program_type, attach_to, reason)\n", yaml);
        Assert.Contains("  - upstream restricts bpf_sock_thing with the filter tracing_iter_filter(); describe that in its attach_restriction\n", stdout);
    }

    [Fact]
    public void A_kfunc_under_drivers_is_found_by_the_second_pass()
    {
        using var tree = new TempTree();

        var (exit, stdout, stderr) = tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.17", "--kfunc=hid_bpf_thing");

        Assert.Equal("", stderr);
        Assert.Equal(0, exit);
        Assert.Contains("  defined:      drivers/hid/bpf/hid_bpf_dispatch.c:3\n", stdout);
        Assert.Contains("  prototype:    struct hid_bpf_ctx *hid_bpf_thing(unsigned int hid_id)\n", stdout);
        Assert.Contains("  program types: syscall\n", stdout);
    }

    internal static string BodyHash(string definition)
    {
        var text = new KfuncForge.Upstream.CText(definition);
        var open = text.Code.IndexOf('{');
        var close = text.Matching(open);
        return KfuncForge.Upstream.KfuncSource.Sha256(KfuncForge.Upstream.CText.Tokens(text.NoComments[open..(close + 1)]));
    }
}
