using KfuncForge.Fidelity;
using KfuncForge.Processes;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Fidelity;

/// <summary>
/// Upstream's annotations are read back from the compiled object's BTF decl tags, as upstream's loader reads
/// them, in both tag layouts ("comment:&lt;tag&gt;" and the newer "comment:&lt;n&gt;:&lt;tag&gt;"); each program's
/// kfunc calls come from its relocations.
/// </summary>
public sealed class SelftestSpecTests
{
    private const string Source = """
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>
        #define STR(x) #x
        #define XSTR(x) STR(x)
        #define OLD(t) __attribute__((btf_decl_tag("comment:" t)))
        #define NEW(t) __attribute__((btf_decl_tag("comment:" XSTR(__COUNTER__) ":" t)))
        #define MY_ERR 34

        extern int bpf_kff_one(int x) __ksym;
        extern int bpf_kff_two(int x) __ksym;
        char _license[] SEC("license") = "GPL";

        SEC("syscall") OLD("test_expect_success") OLD("test_retval=" XSTR(-MY_ERR))
        int old_success(void *ctx) { return bpf_kff_one(1); }

        SEC("tc") OLD("test_expect_failure") OLD("test_expect_msg=first") OLD("test_expect_msg=second")
        int old_failure(struct __sk_buff *skb) { return bpf_kff_two(2) + bpf_kff_one(3); }

        SEC("syscall") NEW("test_expect_failure") NEW("test_expect_msg=a=b") NEW("test_expect_msg=then this") NEW("test_log_level=2") NEW("test_retval_unpriv=1")
        int new_failure(void *ctx) { return 0; }

        SEC("syscall") NEW("test_expect_success") NEW("test_retval=0x10") NEW("test_jited=nop")
        int jited(void *ctx) { return 16; }

        SEC("syscall") NEW("test_retval=POINTER_VALUE")
        int pointer_value(void *ctx) { return 0; }

        SEC("syscall") NEW("test_auxiliary")
        int aux(void *ctx) { return bpf_kff_two(0); }

        SEC("syscall")
        int plain(void *ctx) { return 0; }
        """;

    [Fact]
    public async Task Annotations_and_calls_come_from_the_compiled_object()
    {
        using var temp = TestTree.Temp();
        var source = Path.Combine(temp.Path, "annotated.c");
        File.WriteAllText(source, Source);
        var tools = new GuestTools(new ContentCache(Path.Combine(temp.Path, "cache")), ProcessRunner.Instance);
        var obj = await tools.CompileBpfAsync(source, []);

        var specs = SelftestSpecs.Read(obj).ToDictionary(s => s.Program);

        Assert.Equal(["old_success", "old_failure", "new_failure", "jited", "pointer_value", "aux", "plain"], SelftestSpecs.Read(obj).Select(s => s.Program));
        var a = specs["old_success"];
        Assert.False(a.ExpectFailure);
        Assert.Equal(-34, a.Retval);
        Assert.Equal(["bpf_kff_one"], a.Calls);
        Assert.Equal("returns -34", a.Describe());
        var b = specs["old_failure"];
        Assert.True(b.ExpectFailure);
        Assert.Equal(["first", "second"], b.Messages);
        Assert.Equal(["bpf_kff_one", "bpf_kff_two"], b.Calls);
        Assert.Equal("tc", b.Section);
        var c = specs["new_failure"];
        Assert.Equal(["a=b", "then this"], c.Messages);
        Assert.Null(c.Unsupported); // log level and unprivileged expectations do not change a privileged verdict
        Assert.Empty(c.Calls);
        Assert.Equal("test_jited=nop", specs["jited"].Unsupported);
        Assert.Equal(16, specs["jited"].Retval);
        Assert.Equal("__retval(POINTER_VALUE), a value the harness cannot read", specs["pointer_value"].Unsupported);
        Assert.True(specs["aux"].Auxiliary);
        var plain = specs["plain"];
        Assert.False(plain.ExpectFailure);
        Assert.Null(plain.Retval);
        Assert.Equal("loads", plain.Describe());
    }

    [Theory]
    [InlineData("-34", -34L)]
    [InlineData("0", 0L)]
    [InlineData("-(14)", -14L)]
    [InlineData("0xff", 255L)]
    [InlineData("INT_MIN", (long)int.MinValue)]
    [InlineData("-ERANGE", null)]
    [InlineData("", null)]
    public void Retvals_are_read_as_upstream_writes_them(string text, long? expected) =>
        Assert.Equal(expected, SelftestSpecs.Retval(text));
}
