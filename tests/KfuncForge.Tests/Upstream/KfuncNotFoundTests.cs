namespace KfuncForge.Tests.Upstream;

/// <summary>A kfunc that is not registered at the ref is bad input (exit 2) naming the ref, the repository and what was searched.</summary>
public sealed class KfuncNotFoundTests : IClassFixture<ImportFindsProvenanceTests.Kernel>
{
    private const string Footer = "1 problem found; nothing was written. Fix them and run again.\n";
    private const string Searched = "searched every .c file outside Documentation/, LICENSES/, samples/, scripts/, tools/, usr/";
    private readonly KernelHistory _kernel;

    public KfuncNotFoundTests(ImportFindsProvenanceTests.Kernel kernel) => _kernel = kernel.History;

    [Fact]
    public void A_kfunc_added_after_the_ref_is_not_found_there_and_selftests_do_not_count()
    {
        using var tree = new TempTree();

        // At v6.15 only tools/ (a selftest module) registers a bpf_strfoo; import ignores tools/.
        var (exit, stdout, stderr) = tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.15", "--kfunc=bpf_strfoo");

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Equal($"error: --kfunc: kfunc 'bpf_strfoo' is not registered at 'v6.15' in '{_kernel.Path}': no C file mentions 'bpf_strfoo' ({Searched}); check the name, or pass a ref where it exists\n{Footer}", stderr);
        Assert.Empty(Directory.GetDirectories(Path.Combine(tree.Root, "kfunc-modules")));
    }

    [Fact]
    public void A_function_that_is_not_a_kfunc_is_named_where_it_appears()
    {
        using var tree = new TempTree();

        var (exit, _, stderr) = tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.17", "--kfunc=bpf_mem_alloc");

        Assert.Equal(2, exit);
        Assert.Equal($"error: --kfunc: kfunc 'bpf_mem_alloc' is not registered at 'v6.17' in '{_kernel.Path}': it is mentioned in kernel/bpf/helpers.c but never registered with BTF_ID_FLAGS(func, bpf_mem_alloc, ...) ({Searched}); check the name, or pass a ref where it exists\n{Footer}", stderr);
    }

    [Fact]
    public void A_name_that_is_not_a_C_identifier_is_refused_before_reading_anything()
    {
        using var tree = new TempTree();

        var (exit, _, stderr) = tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.17", "--kfunc=bpf-strfoo");

        Assert.Equal(2, exit);
        Assert.Equal($"error: --kfunc: 'bpf-strfoo' is not a C identifier; pass the kfunc's name, e.g. --kfunc=bpf_strlen\n{Footer}", stderr);
    }
}
