namespace KfuncForge.Tests.Upstream;

/// <summary>--upstream must name a git repository; anything else is bad input (exit 2) naming the path.</summary>
public sealed class NotAGitRepositoryTests
{
    private const string Footer = "1 problem found; nothing was written. Fix them and run again.\n";

    [Theory]
    [InlineData("import", "--kfunc=bpf_strfoo")]
    [InlineData("drift", null)]
    public void A_plain_folder_is_refused(string verb, string? extra)
    {
        using var tree = new TempTree();
        var folder = Path.Combine(tree.Root, "not-a-kernel");
        Directory.CreateDirectory(folder);
        string[] args = extra is null ? [verb, $"--upstream={folder}", "--ref=v6.17"] : [verb, $"--upstream={folder}", "--ref=v6.17", extra];

        var (exit, stdout, stderr) = tree.Run(args);

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Equal($"error: --upstream: '{folder}' is not a git repository; pass the path of a kernel clone\n{Footer}", stderr);
        Assert.Empty(Directory.GetDirectories(Path.Combine(tree.Root, "kfunc-modules")));
    }

    [Fact]
    public void A_missing_path_is_refused()
    {
        using var tree = new TempTree();
        var missing = Path.Combine(tree.Root, "no-such-clone");

        var (exit, _, stderr) = tree.Run("import", $"--upstream={missing}", "--ref=v6.17", "--kfunc=bpf_strfoo");

        Assert.Equal(2, exit);
        Assert.Equal($"error: --upstream: '{missing}' does not exist; pass the path of a kernel clone\n{Footer}", stderr);
    }

    [Fact]
    public void Missing_options_are_reported_together()
    {
        using var tree = new TempTree();

        var (exit, _, stderr) = tree.Run("import");

        Assert.Equal(2, exit);
        Assert.Equal("""
            error: command line: import needs --upstream=<path to a kernel git repository>
            error: command line: import needs --ref=<tag or commit> (e.g. --ref=v6.17)
            error: command line: import needs --kfunc=<name> (e.g. --kfunc=bpf_strlen)
            3 problems found; nothing was written. Fix them and run again.

            """, stderr);
    }
}
