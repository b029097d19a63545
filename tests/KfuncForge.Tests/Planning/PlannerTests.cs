using KfuncForge.Model;
using KfuncForge.Planning;

namespace KfuncForge.Tests.Planning;

public sealed class PlannerTests
{
    private static readonly KfuncVariant Fallback = new("fallback", "src/a.c", new KernelRange(new KernelVersion(5, 18, 0), new KernelVersion(6, 17, 0)),
        new Dictionary<string, ConfigState> { ["CONFIG_BPF_SYSCALL"] = ConfigState.Builtin }, ["copy_from_kernel_nofault"], new VariantHooks(null, null), null);

    private static readonly Kfunc Strlen = new("bpf_strlen", "int bpf_strlen(const char *s__ign)",
        new UpstreamOrigin(new KernelVersion(6, 17, 0), "e91370550f1f", null), [], [ProgramType.Known["syscall"]], null, [Fallback]);

    private static readonly KfuncModule Module = new("kfunc_strings", "d", "GPL", "1", "/nonexistent", [Strlen], [], new LoadProfile([]));

    private static KernelFacts Fetched(string release, string? btfModules = "y", string[]? native = null, string[]? symbols = null) =>
        new(release, KernelVersion.Parse(release), "amd64",
            new Dictionary<string, string> { ["CONFIG_BPF_SYSCALL"] = "y", ["CONFIG_DEBUG_INFO_BTF_MODULES"] = btfModules ?? "n" },
            (native ?? []).ToHashSet(), (symbols ?? ["register_btf_kfunc_id_set", "copy_from_kernel_nofault"]).ToHashSet());

    [Fact]
    public void A_kfunc_in_the_kernels_BTF_is_native()
    {
        var e = Planner.Decide(Module, Strlen, Fetched("7.3.4+deb13-amd64", native: ["bpf_strlen"]));
        Assert.Equal(Verdict.Native, e.Verdict);
        Assert.Contains("BTF already has bpf_strlen", e.Reason);
    }

    [Fact]
    public void A_fitting_variant_is_a_backport_with_its_reason()
    {
        var e = Planner.Decide(Module, Strlen, Fetched("6.1.0-56-amd64"));
        Assert.Equal(Verdict.Backport, e.Verdict);
        Assert.Same(Fallback, e.Variant);
        Assert.Equal("variant 'fallback' (>= 5.18, < 6.17; requires CONFIG_BPF_SYSCALL=y, copy_from_kernel_nofault)", e.Reason);
    }

    [Fact]
    public void Kernels_without_module_BTF_are_infeasible()
    {
        var e = Planner.Decide(Module, Strlen, Fetched("6.1.0-56-amd64", btfModules: null));
        Assert.Equal(Verdict.Infeasible, e.Verdict);
        Assert.Contains("CONFIG_DEBUG_INFO_BTF_MODULES is not set", e.Reason);
    }

    [Fact]
    public void Kernels_that_cannot_register_module_kfuncs_are_infeasible()
    {
        var byVersion = Planner.Decide(Module, Strlen, new KernelFacts("5.10.0-33-amd64", new KernelVersion(5, 10, 0), "amd64", null, null, null));
        Assert.Equal(Verdict.Infeasible, byVersion.Verdict);
        Assert.Equal("kernel 5.10 cannot register kfuncs from a module (needs 5.18 or later)", byVersion.Reason);

        var bySymbol = Planner.Decide(Module, Strlen, Fetched("6.1.0-56-amd64", symbols: ["copy_from_kernel_nofault"]));
        Assert.Equal(Verdict.Infeasible, bySymbol.Verdict);
        Assert.Contains("register_btf_kfunc_id_set", bySymbol.Reason);
    }

    [Fact]
    public void Missing_symbols_and_config_disqualify_a_variant_with_the_reason()
    {
        var e = Planner.Decide(Module, Strlen, Fetched("6.1.0-56-amd64", symbols: ["register_btf_kfunc_id_set"]));
        Assert.Equal(Verdict.Infeasible, e.Verdict);
        Assert.Equal("no variant fits: 'fallback' needs symbols the kernel lacks: copy_from_kernel_nofault", e.Reason);
    }

    [Fact]
    public void Before_fetch_decisions_say_they_are_by_version()
    {
        var nominal = KernelFacts.Nominal(new KernelTarget(null, 1, "amd64", "trixie-backports", new KernelVersion(7, 3, 0)));
        var e = Planner.Decide(Module, Strlen, nominal);
        Assert.Equal(Verdict.Native, e.Verdict);
        Assert.Contains("by version", e.Reason);

        var old = Planner.Decide(Module, Strlen, KernelFacts.Nominal(new KernelTarget(null, 1, "amd64", "bookworm", new KernelVersion(6, 1, 0))));
        Assert.Equal(Verdict.Backport, old.Verdict);
        Assert.Contains("checked once the kernel is fetched", old.Reason);
    }

    [Fact]
    public void Distros_that_backport_BPF_are_planned_on_assumption_until_fetched()
    {
        var rhel = new KernelFacts("5.14.0-570.el9.x86_64", new KernelVersion(5, 14, 0), null, null, null, null, BpfLevel: new KernelVersion(6, 8, 0));
        var any = Strlen with { Variants = [Fallback with { Kernels = new KernelRange(null, new KernelVersion(6, 17, 0)) }] };
        var e = Planner.Decide(Module, any, rhel);
        Assert.Equal(Verdict.Backport, e.Verdict);
        Assert.Contains("assumed from the distro's BPF level 6.8", e.Reason);
    }
}

/// <summary>One BPF level everywhere: the fidelity differences the plan shows follow the level variants are chosen by.</summary>
public sealed class BpfLevelTests
{
    private static readonly KfuncForge.Definitions.Catalog Repo =
        KfuncForge.Definitions.Catalog.Load(new KfuncForge.Definitions.SourceTree(KfuncForge.Tests.Infrastructure.TestTree.RepoRoot, KfuncForge.Tests.Infrastructure.TestTree.Templates));

    private static IReadOnlyList<(string Reason, int Cases)> Differences(string distro)
    {
        var profile = Repo.Distro(distro);
        var plan = Planner.Make(profile, KernelSelection.Select(profile, null).Take(1).ToList(), [Repo.Modules.Single(m => m.Name == "kfunc_strings")]);
        return PlanPrinter.DeclaredDifferences(plan.Cells.Single(), "bpf_strlen");
    }

    [Fact]
    public void A_kernel_with_bpf_backported_past_6_2_gets_no_difference_declared_for_6_1()
    {
        Assert.Equal(new KernelVersion(6, 12, 0), Repo.Distro("rhel9").BpfLevel);
        Assert.Empty(Differences("rhel9"));
        Assert.NotEmpty(Differences("debian12"));   // debian12's first target is the 6.1 line
    }
}
