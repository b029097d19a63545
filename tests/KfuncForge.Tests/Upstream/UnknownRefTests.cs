namespace KfuncForge.Tests.Upstream;

/// <summary>--ref must resolve to a commit of the repository; otherwise bad input (exit 2) naming the ref and the repository.</summary>
public sealed class UnknownRefTests : IClassFixture<ImportFindsProvenanceTests.Kernel>
{
    private const string Footer = "1 problem found; nothing was written. Fix them and run again.\n";
    private readonly KernelHistory _kernel;

    public UnknownRefTests(ImportFindsProvenanceTests.Kernel kernel) => _kernel = kernel.History;

    [Theory]
    [InlineData("import")]
    [InlineData("drift")]
    public void An_unknown_tag_is_refused(string verb)
    {
        using var tree = new TempTree();
        string[] args = verb == "import"
            ? [verb, $"--upstream={_kernel.Path}", "--ref=v9.9", "--kfunc=bpf_strfoo"]
            : [verb, $"--upstream={_kernel.Path}", "--ref=v9.9"];

        var (exit, stdout, stderr) = tree.Run(args);

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Equal($"error: --ref: unknown ref 'v9.9' in '{_kernel.Path}': no tag, branch or commit by that name\n{Footer}", stderr);
    }

    [Fact]
    public void A_ref_that_names_a_file_is_not_a_commit()
    {
        using var tree = new TempTree();

        var (exit, _, stderr) = tree.Run("import", $"--upstream={_kernel.Path}", "--ref=v6.16:Makefile", "--kfunc=bpf_strfoo");

        Assert.Equal(2, exit);
        Assert.Equal($"error: --ref: unknown ref 'v6.16:Makefile' in '{_kernel.Path}': it names a blob, not a commit\n{Footer}", stderr);
    }

    [Fact]
    public void A_repository_without_tags_says_so()
    {
        using var tree = new TempTree();
        using var repo = KernelRepoBuilder.Create();
        repo.Files["kernel/bpf/helpers.c"] = KernelHistory.Helpers(KernelHistory.StrfooV1, sleepable: false, xdp: false);
        repo.Commit("bpf: Add bpf_strfoo kfunc");

        var (exit, _, stderr) = tree.Run("import", $"--upstream={repo.Path}", "--ref=v6.17", "--kfunc=bpf_strfoo");

        Assert.Equal(2, exit);
        Assert.Equal($"error: --ref: unknown ref 'v6.17' in '{repo.Path}': no tag, branch or commit by that name; the repository has no tags (fetch them with 'git fetch --tags')\n{Footer}", stderr);
    }
}
