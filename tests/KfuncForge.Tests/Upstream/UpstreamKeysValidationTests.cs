namespace KfuncForge.Tests.Upstream;

/// <summary>The upstream keys import records are checked like every other definition field, with file, line and key.</summary>
public sealed class UpstreamKeysValidationTests
{
    [Fact]
    public void A_malformed_body_hash_and_set_name_are_reported_where_they_stand()
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
                upstream:
                  release: "6.16"
                  commit: "abcdef1"
                  ref: v6.16
                  body_sha256: "ABC"
                  btf_sets: [generic btf ids]
                  filters: []
                program_types: [tracing]
                variants:
                  - id: v61
                    file: strfoo.c
            """);

        var (exit, _, stderr) = tree.Run("validate");

        Assert.Equal(2, exit);
        Assert.Equal("""
            error: kfunc-modules/strings/module.yaml:12:20: kfuncs[0].upstream.body_sha256: 'ABC' is not a SHA-256 (64 lower-case hex digits); let `kfuncforge import` write it
            error: kfunc-modules/strings/module.yaml:13:18: kfuncs[0].upstream.btf_sets[0]: 'generic btf ids' is not a C identifier
            2 problems found; nothing was written. Fix them and run again.

            """, stderr);
    }
}
