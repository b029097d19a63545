using KfuncForge.Definitions;
using KfuncForge.Model;

namespace KfuncForge.Tests.Definitions;

public sealed class CPrototypeTests
{
    [Fact]
    public void Parameters_give_each_name_type_words_and_pointer_depth()
    {
        var ps = CPrototype.Parameters("int bpf_copy_from_user_task_str(void *dst, u32 dst__sz, const void __user *unsafe_ptr__ign, struct task_struct *tsk, u64 flags);");
        Assert.Equal(["dst", "dst__sz", "unsafe_ptr__ign", "tsk", "flags"], ps.Select(p => p.Name));
        Assert.Equal([1, 0, 1, 1, 0], ps.Select(p => p.Pointers));
        Assert.Equal(["const", "void", "__user"], ps[2].Specifiers);
        Assert.Equal([true, false, true, false, false], ps.Select(p => p.IsVoidPointer));
    }

    [Fact]
    public void Unnamed_void_and_invalid_prototypes()
    {
        Assert.Empty(CPrototype.Parameters("int f(void)"));
        Assert.Empty(CPrototype.Parameters("int f(int a; int b)"));
        var unnamed = Assert.Single(CPrototype.Parameters("int f(const char *)"));
        Assert.Null(unnamed.Name);
        var n = Assert.Single(CPrototype.Parameters("int f(unsigned long n)"));
        Assert.Equal(("n", 0), (n.Name, n.Pointers));
        Assert.Equal(["unsigned", "long"], n.Specifiers);
    }

    [Theory]
    [InlineData("s__ign", "__ign")]
    [InlineData("len__szk", "__szk")]
    [InlineData("len__sz", "__sz")]
    [InlineData("__ign", null)]
    [InlineData("size", null)]
    [InlineData("name__str", "__str")]
    public void A_parameters_verifier_suffix(string name, string? suffix) => Assert.Equal(suffix, ArgSuffix.Of(name));
}
