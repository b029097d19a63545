namespace KfuncForge.Tests.Upstream;

/// <summary>Drift compares what import recorded with a newer ref and fails (exit 1) when a kfunc's upstream semantics moved.</summary>
public sealed class DriftReportsChangeTests : IClassFixture<ImportFindsProvenanceTests.Kernel>
{
    private readonly KernelHistory _kernel;

    public DriftReportsChangeTests(ImportFindsProvenanceTests.Kernel kernel) => _kernel = kernel.History;

    [Fact]
    public void A_changed_body_flags_and_registration_are_reported_with_the_commit_that_changed_them()
    {
        using var tree = new TempTree();
        Assert.Equal(0, tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.16", "--kfunc=bpf_strfoo").Exit);

        var (exit, stdout, stderr) = tree.Run("drift", $"--upstream={_kernel.Path}", "--ref=v6.17");

        Assert.Equal("", stderr);
        Assert.Equal(1, exit);
        var lines = stdout.Split('\n');
        Assert.Equal($"drift: 1 kfunc in 1 module against {_kernel.Path} at v6.17 ({_kernel.Changed[..12]})", lines[0]);
        Assert.Equal("  bpf_strfoo (bpf_strfoo): CHANGED", lines[1]);
        Assert.Equal("    flags: added KF_SLEEPABLE (recorded at v6.16 [KF_RCU], now [KF_RCU, KF_SLEEPABLE])", lines[2]);
        Assert.Equal("    program types: added BPF_PROG_TYPE_XDP (recorded at v6.16 [BPF_PROG_TYPE_TRACING, BPF_PROG_TYPE_SCHED_CLS], now [BPF_PROG_TYPE_TRACING, BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_SCHED_CLS])", lines[3]);
        var before = ImportFindsProvenanceTests.BodyHash(KernelHistory.StrfooV1);
        var after = ImportFindsProvenanceTests.BodyHash(KernelHistory.StrfooV2);
        Assert.StartsWith($"    body: recorded at v6.16 sha256 {before[..16]}…, now {after[..16]}… (kernel/bpf/helpers.c:", lines[4]);
        Assert.Equal($"    last changed upstream by {_kernel.Changed[..12]} \"bpf: Make bpf_strfoo sleepable and reject NULL\" (2025-01-01)", lines[5]);
        Assert.StartsWith("  cost: scanned ", lines[6]);
        Assert.Equal("1 of 1 kfunc moved upstream: review their backports, then run import for each at v6.17 to record the new state.", lines[7]);
    }

    [Fact]
    public void Nothing_moved_at_the_imported_ref()
    {
        using var tree = new TempTree();
        tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.16", "--kfunc=bpf_strfoo");

        var (exit, stdout, _) = tree.Run("drift", $"--upstream={_kernel.Path}", "--ref=v6.16");

        Assert.Equal(0, exit);
        Assert.Contains("  bpf_strfoo (bpf_strfoo): unchanged\n", stdout);
        Assert.EndsWith("no upstream drift.\n", stdout);
    }

    [Fact]
    public void Comment_and_white_space_changes_are_not_drift()
    {
        using var tree = new TempTree();
        tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.17", "--kfunc=bpf_strfoo");

        var (exit, stdout, _) = tree.Run("drift", $"--upstream={_kernel.Path}", "--ref=v6.18-rc1");

        Assert.Equal(0, exit);
        Assert.Contains("  bpf_strfoo (bpf_strfoo): unchanged\n", stdout);
    }

    [Fact]
    public void A_kfunc_that_no_longer_exists_at_the_ref_is_drift()
    {
        using var tree = new TempTree();
        tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.16", "--kfunc=bpf_strfoo");

        var (exit, stdout, _) = tree.Run("drift", $"--upstream={_kernel.Path}", "--ref=v6.15");

        Assert.Equal(1, exit);
        Assert.Contains($"  bpf_strfoo (bpf_strfoo): CHANGED\n    cannot be read upstream any more: --kfunc: kfunc 'bpf_strfoo' is not registered at 'v6.15' in '{_kernel.Path}'", stdout);
    }

    [Fact]
    public void A_hand_written_entry_without_a_body_hash_is_checked_as_far_as_it_goes()
    {
        using var tree = new TempTree();
        Directory.CreateDirectory(tree.Module("strings"));
        File.WriteAllText(Path.Combine(tree.Module("strings"), "strfoo.c"), "/* backport */\n");
        File.WriteAllText(tree.ModuleYaml("strings"), """
            name: strings
            description: String kfuncs
            license: GPL
            version: 1.0.0
            kfuncs:
              - name: bpf_strfoo
                prototype: "int bpf_strfoo(const char *s__ign, u32 len)"
                upstream: { release: "6.16", commit: "abcdef1" }
                flags: [KF_RCU]
                program_types: [sched_cls, tracing]
                variants:
                  - id: v61
                    file: strfoo.c
            """);

        var (exit, stdout, _) = tree.Run("drift", $"--upstream={_kernel.Path}", "--ref=v6.16");

        Assert.Equal(0, exit);
        Assert.Contains("    note: body not compared: no upstream.body_sha256 recorded; run `kfuncforge import` for this kfunc to record it\n", stdout);
        Assert.Contains("  bpf_strfoo (strings): unchecked\n", stdout);
    }
}
