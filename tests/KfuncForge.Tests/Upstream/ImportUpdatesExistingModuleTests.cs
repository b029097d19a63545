namespace KfuncForge.Tests.Upstream;

/// <summary>Import into a hand-written module.yaml edits only the imported fields and keeps every other line, comment and file.</summary>
public sealed class ImportUpdatesExistingModuleTests : IClassFixture<ImportFindsProvenanceTests.Kernel>
{
    private readonly KernelHistory _kernel;

    public ImportUpdatesExistingModuleTests(ImportFindsProvenanceTests.Kernel kernel) => _kernel = kernel.History;

    private const string HandWritten = """
        # String kfuncs backported to older kernels.
        name: string_kfuncs
        description: "String kfuncs"   # keep this comment
        license: GPL
        version: 1.2.0
        kfuncs:
          # The first kfunc; a hand-written entry.
          - name: bpf_strfoo
            prototype: int bpf_strfoo(const char *s, u32 len)   # old argument name
            upstream:
              release: "6.16"
              commit: 1234567   # wrong on purpose
              path: kernel/bpf/helpers.c
            flags:
              - KF_RCU
            program_types:
              - tracing   # first
              - sched_cls
            variants:
              - id: v61
                file: strfoo_61.c   # hand-written
                kernels: { before: "6.16" }
                notes: >-
                  Accepts strings in stack or map memory only.

        """;

    private const string HandWrittenC = "/* my backport */\nint bpf_strfoo(const char *s__ign, u32 len) { return 0; }\n";

    [Fact]
    public void Only_the_imported_fields_change_and_comments_and_files_stay()
    {
        using var tree = new TempTree();
        Directory.CreateDirectory(tree.Module("string_kfuncs"));
        File.WriteAllText(tree.ModuleYaml("string_kfuncs"), HandWritten);
        var cFile = Path.Combine(tree.Module("string_kfuncs"), "strfoo_61.c");
        File.WriteAllText(cFile, HandWrittenC);

        var (exit, stdout, stderr) = tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.17", "--kfunc=bpf_strfoo");

        Assert.Equal("", stderr);
        Assert.Equal(0, exit);
        Assert.Contains("updated kfunc-modules/string_kfuncs/module.yaml: prototype, upstream.ref, upstream.body_sha256, upstream.btf_sets, flags, program_types\n", stdout);
        // A commit set by hand is never overwritten: import says what it found instead.
        Assert.Contains($"kept upstream.commit 1234567 as written; import found {_kernel.Introduced}: pass --commit={_kernel.Introduced} to take it\n", stdout);
        Assert.Equal($$"""
            # String kfuncs backported to older kernels.
            name: string_kfuncs
            description: "String kfuncs"   # keep this comment
            license: GPL
            version: 1.2.0
            kfuncs:
              # The first kfunc; a hand-written entry.
              - name: bpf_strfoo
                prototype: int bpf_strfoo(const char *s__ign, u32 len)   # old argument name
                upstream:
                  release: "6.16"
                  commit: 1234567   # wrong on purpose
                  path: kernel/bpf/helpers.c
                  ref: v6.17
                  body_sha256: "{{ImportFindsProvenanceTests.BodyHash(KernelHistory.StrfooV2)}}"
                  btf_sets: [generic_btf_ids]
                flags:
                  - KF_RCU
                  - KF_SLEEPABLE
                program_types:
                  - tracing
                  - xdp
                  - sched_cls
                variants:
                  - id: v61
                    file: strfoo_61.c   # hand-written
                    kernels: { before: "6.16" }
                    notes: >-
                      Accepts strings in stack or map memory only.

            """, File.ReadAllText(tree.ModuleYaml("string_kfuncs")));
        Assert.Equal(HandWrittenC, File.ReadAllText(cFile));
        Assert.False(File.Exists(Path.Combine(tree.Module("string_kfuncs"), "bpf_strfoo.c")));
    }

    [Fact]
    public void Importing_again_at_the_same_ref_writes_nothing()
    {
        using var tree = new TempTree();
        Directory.CreateDirectory(tree.Module("string_kfuncs"));
        File.WriteAllText(tree.ModuleYaml("string_kfuncs"), HandWritten);
        File.WriteAllText(Path.Combine(tree.Module("string_kfuncs"), "strfoo_61.c"), HandWrittenC);
        tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.17", "--kfunc=bpf_strfoo");
        var first = File.ReadAllText(tree.ModuleYaml("string_kfuncs"));

        var (exit, stdout, _) = tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.17", "--kfunc=bpf_strfoo");

        Assert.Equal(0, exit);
        Assert.Contains("kfunc-modules/string_kfuncs/module.yaml already matches upstream; nothing written\n", stdout);
        Assert.Equal(first, File.ReadAllText(tree.ModuleYaml("string_kfuncs")));
    }

    [Fact]
    public void A_new_kfunc_is_appended_with_a_draft_variant_and_an_existing_C_file_is_kept()
    {
        using var tree = new TempTree();
        Directory.CreateDirectory(tree.Module("string_kfuncs"));
        File.WriteAllText(tree.ModuleYaml("string_kfuncs"), HandWritten);
        File.WriteAllText(Path.Combine(tree.Module("string_kfuncs"), "strfoo_61.c"), HandWrittenC);
        var existing = Path.Combine(tree.Module("string_kfuncs"), "bpf_sock_thing.c");
        File.WriteAllText(existing, "/* already started */\n");

        var (exit, stdout, stderr) = tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.17", "--kfunc=bpf_sock_thing", "--module=string_kfuncs");

        Assert.Equal("", stderr);
        Assert.Equal(0, exit);
        Assert.Contains("added bpf_sock_thing to kfunc-modules/string_kfuncs/module.yaml\n", stdout);
        Assert.Contains("kept kfunc-modules/string_kfuncs/bpf_sock_thing.c (exists; import never overwrites implementation files)\n", stdout);
        Assert.Equal("/* already started */\n", File.ReadAllText(existing));
        var yaml = File.ReadAllText(tree.ModuleYaml("string_kfuncs"));
        Assert.StartsWith(HandWritten.TrimEnd('\n'), yaml);
        Assert.Contains("""
                    notes: >-
                      Accepts strings in stack or map memory only.
              - name: bpf_sock_thing
                prototype: int bpf_sock_thing(struct sock_common *sock)
                upstream:
            """, yaml);
        Assert.Contains("""
                variants:
                  - id: draft
                    file: bpf_sock_thing.c
                    kernels: { before: "6.15" }
            """, yaml);
        // The smoke scaffolding is written beside it; an existing module's smoke: list is left alone and
        // import prints the entries to add (bpf_sock_thing takes a kernel object: negative case only).
        Assert.Contains("created kfunc-modules/string_kfuncs/bpf/smoke_bpf_sock_thing.bpf.c\n", stdout);
        Assert.True(File.Exists(Path.Combine(tree.Module("string_kfuncs"), "bpf", "smoke_bpf_sock_thing.bpf.c")));
        Assert.DoesNotContain("smoke:", yaml[HandWritten.TrimEnd('\n').Length..]);
        Assert.Contains("  - add to the smoke: list of kfunc-modules/string_kfuncs/module.yaml: - { name: bpf_sock_thing_refused_in_tc, source: bpf/smoke_bpf_sock_thing.bpf.c,", stdout);
        Assert.Contains("  - write a positive smoke program for bpf_sock_thing in bpf/smoke_bpf_sock_thing.bpf.c: ", stdout);
        var (validateExit, _, validateErr) = tree.Run("validate");
        Assert.Equal("", validateErr);
        Assert.Equal(0, validateExit);

        // Imported again, the BPF file someone edited is kept.
        File.WriteAllText(Path.Combine(tree.Module("string_kfuncs"), "bpf", "smoke_bpf_sock_thing.bpf.c"), "/* mine */\n");
        tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.17", "--kfunc=bpf_sock_thing", "--module=string_kfuncs");
        Assert.Equal("/* mine */\n", File.ReadAllText(Path.Combine(tree.Module("string_kfuncs"), "bpf", "smoke_bpf_sock_thing.bpf.c")));
    }

    [Fact]
    public void A_kfunc_owned_by_another_module_is_refused()
    {
        using var tree = new TempTree();
        Directory.CreateDirectory(tree.Module("string_kfuncs"));
        File.WriteAllText(tree.ModuleYaml("string_kfuncs"), HandWritten);

        var (exit, _, stderr) = tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.17", "--kfunc=bpf_strfoo", "--module=other");

        Assert.Equal(2, exit);
        Assert.Equal("""
            error: --module: kfunc 'bpf_strfoo' already belongs to module 'string_kfuncs' (kfunc-modules/string_kfuncs/module.yaml); a kfunc belongs to one module: import into 'string_kfuncs' or move it first
            1 problem found; nothing was written. Fix them and run again.

            """, stderr);
        Assert.False(Directory.Exists(tree.Module("other")));
    }
}
