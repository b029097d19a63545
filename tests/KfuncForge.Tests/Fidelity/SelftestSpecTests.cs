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

        SEC("syscall") __attribute__((btf_decl_tag("comment:9:test_expect_msg=written first, numbered last")))
            __attribute__((btf_decl_tag("comment:2:test_expect_msg=written last, numbered first"))) __attribute__((btf_decl_tag("comment:1:test_expect_failure")))
        int numbered(void *ctx) { return 0; }

        SEC("syscall") NEW("test_retval=" XSTR(0xbadcafe))
        int pointer_value_expanded(void *ctx) { return 0; }

        SEC("syscall") NEW("test_retval=0xffffffff")
        int all_ones(void *ctx) { return -1; }

        SEC("syscall") NEW("test_expect_failure_unpriv") NEW("test_expect_msg_unpriv=no")
        int unpriv_only(void *ctx) { return 0; }

        SEC("syscall") NEW("test_arch=ARM64") NEW("test_arch=X86_64") NEW("test_expect_success")
        int two_arches(void *ctx) { return 0; }

        SEC("syscall") NEW("test_arch=ARM64")
        int arm_only(void *ctx) { return 0; }

        SEC("syscall") NEW("test_expect_failure") NEW("test_expect_msg=R1 {{.*}} expected")
        int regex_msg(void *ctx) { return 0; }

        SEC("syscall") NEW("test_expect_success") NEW("test_log_level=2") NEW("test_expect_msg=processed")
        int msg_on_success(void *ctx) { return 0; }

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

        Assert.Equal(["old_success", "old_failure", "new_failure", "jited", "pointer_value", "numbered", "pointer_value_expanded", "all_ones", "unpriv_only", "two_arches", "arm_only",
            "regex_msg", "msg_on_success", "aux", "plain"], SelftestSpecs.Read(obj).Select(s => s.Program));
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
        // POINTER_VALUE, by name or expanded: upstream runs the program and takes any result.
        foreach (var any in new[] { specs["pointer_value"], specs["pointer_value_expanded"] })
        {
            Assert.Null(any.Unsupported);
            Assert.True(any.AnyValue && any.Runs && any.Retval is null);
        }
        Assert.Equal(["written last, numbered first", "written first, numbered last"], specs["numbered"].Messages);
        Assert.Equal(-1, specs["all_ones"].Retval); // an int, as upstream keeps it
        Assert.Contains("only unprivileged expectations", specs["unpriv_only"].Unsupported);
        Assert.Null(specs["two_arches"].Unsupported);
        Assert.Equal("test_arch=ARM64", specs["arm_only"].Unsupported);
        Assert.Contains("with a regular expression", specs["regex_msg"].Unsupported);
        Assert.Contains("__msg on a program expected to load", specs["msg_on_success"].Unsupported);
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
    [InlineData("0xffffffff", -1L)]
    [InlineData("-2147483648", (long)int.MinValue)]
    [InlineData("-ERANGE", null)]
    [InlineData("", null)]
    public void Retvals_are_read_as_upstream_writes_them(string text, long? expected) =>
        Assert.Equal(expected, SelftestSpecs.Retval(text));
}
