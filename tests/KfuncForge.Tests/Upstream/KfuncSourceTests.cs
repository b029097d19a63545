using KfuncForge.Upstream;

namespace KfuncForge.Tests.Upstream;

/// <summary>What the light-weight C reader understands in kernel sources, and what it refuses to guess.</summary>
public sealed class KfuncSourceTests
{
    private static CDefinition Definition(string source, string name) =>
        Assert.IsType<DefinitionLookup.Found>(KfuncSource.FindDefinition(new CText(source), name)).Definition;

    [Fact]
    public void A_multi_line_definition_with_annotations_and_comments_gives_a_clean_prototype()
    {
        const string source = """
            struct bpf_cpumask *bpf_cpumask_create(void);   /* a declaration first */

            /* bpf_cpumask_create(void) { in a comment } */
            static const char *s = "bpf_cpumask_create(void) {";

            __bpf_kfunc
            static noinline struct bpf_cpumask *
            bpf_cpumask_create(void /* nothing */)
            {
            	return kmalloc(sizeof(struct bpf_cpumask), GFP_KERNEL);
            }
            """;

        var d = Definition(source, "bpf_cpumask_create");

        Assert.Equal("struct bpf_cpumask *bpf_cpumask_create(void)", d.Prototype);
        Assert.Equal(8, d.Line);
        Assert.StartsWith("__bpf_kfunc\nstatic noinline struct bpf_cpumask *\n", d.Text);
    }

    [Fact]
    public void Calls_inside_functions_are_not_definitions()
    {
        const string source = """
            static int caller(void)
            {
            	if (bpf_thing(1)) {
            		return 1;
            	}
            	return 0;
            }

            int bpf_thing(int x)
            {
            	return x;
            }
            """;

        Assert.Equal(9, Definition(source, "bpf_thing").Line);
    }

    [Fact]
    public void The_body_hash_ignores_comments_and_layout_but_not_string_contents()
    {
        var a = Definition("int f(void)\n{\n\treturn g(\"x\", 1 + 2); /* why */\n}\n", "f");
        var b = Definition("int f(void) {   // reformatted\n    return g( \"x\" , 1+2 );\n}\n", "f");
        var c = Definition("int f(void)\n{\n\treturn g(\"y\", 1 + 2);\n}\n", "f");

        Assert.Equal(a.BodySha256, b.BodySha256);
        Assert.NotEqual(a.BodySha256, c.BodySha256);
    }

    [Fact]
    public void Sets_of_the_6_1_style_multi_line_registration_and_conditions_are_read()
    {
        var file = new CText("""
            BTF_SET8_START(key_sig_kfunc_set)
            BTF_ID_FLAGS(func, bpf_lookup_user_key, KF_ACQUIRE | KF_RET_NULL | KF_SLEEPABLE)
            #ifdef CONFIG_SYSTEM_DATA_VERIFICATION
            #if IS_ENABLED(CONFIG_KEYS)
            #else
            BTF_ID_FLAGS(func, bpf_verify_pkcs7_signature, KF_SLEEPABLE)
            #endif
            #endif
            BTF_SET8_END(key_sig_kfunc_set)

            static const struct btf_kfunc_id_set bpf_key_sig_kfunc_set = {
            	.owner = THIS_MODULE,
            	.set = &key_sig_kfunc_set,
            };

            static int __init bpf_key_sig_kfuncs_init(void)
            {
            	return register_btf_kfunc_id_set(BPF_PROG_TYPE_TRACING,
            					 &bpf_key_sig_kfunc_set);
            }
            """);

        var entry = Assert.Single(KfuncSource.FlagsEntries(file, "bpf_verify_pkcs7_signature"));
        Assert.Equal(["KF_SLEEPABLE"], entry.Flags);
        Assert.Equal("key_sig_kfunc_set", entry.Set?.Name);
        Assert.Equal("BTF_SET8_START", entry.Set?.Macro);
        Assert.Equal(["CONFIG_SYSTEM_DATA_VERIFICATION", "not IS_ENABLED(CONFIG_KEYS)"], entry.Conditions);
        Assert.Equal(["KF_ACQUIRE", "KF_RET_NULL", "KF_SLEEPABLE"], KfuncSource.FlagsEntries(file, "bpf_lookup_user_key")[0].Flags);
        var call = Assert.Single(KfuncSource.RegisterCalls(file));
        Assert.Equal(("BPF_PROG_TYPE_TRACING", "bpf_key_sig_kfunc_set", 18), (call.ProgramType, call.IdSet, call.Line));
        Assert.Equal("key_sig_kfunc_set", Assert.Single(KfuncSource.IdSets(file)).Set);
    }

    [Fact]
    public void A_registration_for_a_computed_program_type_is_refused_with_its_line()
    {
        var text = new CText("""
            int bpf_thing(void)
            {
            	return 0;
            }

            BTF_KFUNCS_START(thing_ids)
            BTF_ID_FLAGS(func, bpf_thing)
            BTF_KFUNCS_END(thing_ids)

            static const struct btf_kfunc_id_set thing_set = { .set = &thing_ids };

            static int init(void)
            {
            	for (int t = 0; t < 3; t++)
            		register_btf_kfunc_id_set(types[t], &thing_set);
            	return 0;
            }
            """);
        using var repo = KernelRepoBuilder.Create();
        repo.Files["Makefile"] = "\n";
        repo.Commit("root");
        using var kernel = KernelRepository.Open(repo.Path);
        var at = kernel.Resolve("master");

        var failed = Assert.IsType<Located.Failed>(KfuncLocator.LocateIn(at, "bpf_thing", [new SourceFile("net/thing.c", LibGit2Sharp.ObjectId.Zero, text)]));

        Assert.Equal("master:net/thing.c:15:1: register_btf_kfunc_id_set(types[t], &thing_set) registers bpf_thing for a program type that is not a BPF_PROG_TYPE_* constant; the importer does not evaluate expressions: write program_types by hand", failed.Problem.ToString());
    }
}
