using KfuncForge.Diagnostics;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Planning;

/// <summary>The facts a profile rests on (RHEL, Ubuntu, Flatcar: kernels not fetched here) are printed by Plan, each with its source and day.</summary>
public sealed class ProfileFactsTests
{
    [Fact]
    public void Plan_prints_the_verified_facts_with_their_source_and_no_6_1_verifier_difference_for_rhel9()
    {
        var r = TestTree.Run("plan", "--distro=rhel9");
        Assert.Equal(ExitCodes.Ok, r.ExitCode);
        Assert.Contains("verified facts (distros/rhel9.yaml):", r.Stdout);
        Assert.Contains("BPF level about 6.12 (source: AlmaLinux's rebuild of the RHEL 9.6 kernel source tree; read 2026-12-02)", r.Stdout);
        Assert.DoesNotContain("6.1's verifier", r.Stdout);
        var rhel8 = TestTree.Run("plan", "--distro=rhel8").Stdout;
        Assert.Contains("infeasible", rhel8);
        Assert.Contains("no register_btf_kfunc_id_set and its Kconfig has no DEBUG_INFO_BTF_MODULES symbol", rhel8);
        Assert.Contains("the GA kernel 5.15.0-130 has no module kfunc registration", TestTree.Run("plan", "--distro=ubuntu2204").Stdout);
    }

    [Fact]
    public void A_fact_without_a_date_is_refused_naming_the_key()
    {
        using var temp = TestTree.Temp();
        var root = temp.Combine("src");
        RealKernel.MakePassingTree(root);
        var profile = Path.Combine(root, "distros", "rhel9.yaml");
        File.WriteAllText(profile, File.ReadAllText(profile).Replace("date: \"2026-12-02\"", "date: \"last week\""));
        var r = TestTree.Run("validate", "--root", root, "--templates", TestTree.Templates);
        Assert.Equal(ExitCodes.BadInput, r.ExitCode);
        Assert.Contains("distros/rhel9.yaml:", r.Stderr);
        Assert.Contains("facts[0].date", r.Stderr);
        Assert.Contains("is not a date (YYYY-MM-DD)", r.Stderr);
    }

    [Theory]
    [InlineData("http://mirror.example/rhel9/BaseOS", "plain http would let the network choose the kernel")]
    [InlineData("https://user:secret@mirror.example/rhel9", "must not carry credentials")]
    [InlineData("ftp://mirror.example/rhel9", "https:// or file://")]
    public void A_kernel_repository_that_cannot_be_trusted_is_refused(string url, string message)
    {
        using var temp = TestTree.Temp();
        var r = TestTree.Run("build", "--distro=rhel9", $"--kernel-repo={url}", $"--cache={temp.Combine("cache")}", $"--out={temp.Combine("out")}");
        Assert.Equal(ExitCodes.BadInput, r.ExitCode);
        Assert.Contains("--kernel-repo", r.Stderr);
        Assert.Contains(message, r.Stderr);
        Assert.DoesNotContain("secret", r.Stdout + r.Stderr.Replace(url, ""));
    }

    [Fact]
    public void An_RPM_profile_without_repositories_says_which_carry_kernel_devel_before_anything_runs()
    {
        using var temp = TestTree.Temp();
        var r = TestTree.Run("build", "--distro=rhel9", $"--cache={temp.Combine("cache")}", $"--out={temp.Combine("out")}");
        Assert.Equal(ExitCodes.Failed, r.ExitCode);
        Assert.Contains("UBI's repositories do not carry kernel-devel", r.Stderr);
        Assert.Contains("--kernel-repo=<baseurl>", r.Stderr);
        Assert.False(Directory.Exists(temp.Combine("cache", "rootfs")), "no environment is made for a run that cannot fetch its kernels");
    }
}
