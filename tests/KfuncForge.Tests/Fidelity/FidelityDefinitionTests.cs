using KfuncForge.Definitions;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Fidelity;

/// <summary>The repository's own fidelity suites as the loader reads them, and what the plan says about their declared differences.</summary>
public sealed class FidelityDefinitionTests
{
    private static readonly Catalog Repo = Catalog.Load(new SourceTree(TestTree.RepoRoot));

    [Fact]
    public void Every_string_kfunc_has_at_least_ten_cases_and_sock_destroy_covers_each_socket_kind()
    {
        var strings = Repo.Modules.Single(m => m.Name == "kfunc_strings");
        Assert.All(strings.Kfuncs, k => Assert.True(strings.Fidelity!.Cases.Count(c => c.Kfunc == k.Name) >= 10, $"{k.Name} has fewer than 10 fidelity cases"));
        var sock = Repo.Modules.Single(m => m.Name == "kfunc_sock_destroy").Fidelity!;
        foreach (var family in Enum.GetValues<SocketFamily>())
            foreach (var state in Enum.GetValues<SocketState>())
                Assert.Contains(sock.Cases, c => c.Sockets == new SocketScenario(family, state));
        // Every declared difference is a backport's: it ends at or below the release where the kfunc becomes native.
        foreach (var m in Repo.Modules)
            foreach (var c in m.Fidelity!.Cases)
                foreach (var d in c.Differs)
                    Assert.True(d.Kernels.Before!.Value <= m.Kfuncs.Single(k => k.Name == c.Kfunc).Upstream.Release, $"{c.Name}: {d.Kernels}");
    }

    [Fact]
    public void The_plan_names_the_declared_differences_on_the_kernels_they_cover_and_nowhere_else()
    {
        var distro = Repo.Distro("debian12");
        var plan = Planner.Make(distro, KernelSelection.Select(distro, null), Repo.Modules);
        var text = PlanPrinter.Format(plan);
        // The table's rows by kernel (the kernel column is filled on each kernel's first row), then the numbered differences.
        var rows = new List<(string Kernel, string Kfunc, string Note)>();
        var kernel = "";
        foreach (var line in text.Split('\n').Skip(3).TakeWhile(l => l.Length > 0 && !l.StartsWith(PlanPrinter.NotFetched, StringComparison.Ordinal)))
        {
            var cells = System.Text.RegularExpressions.Regex.Split(line.Trim(), @"\s{2,}");
            if (!line.StartsWith(' ')) { kernel = cells[0]; cells = cells[1..]; }
            rows.Add((kernel, cells[1], cells[^1]));
        }
        var declared = text.Split('\n').Where(l => l.StartsWith("  D", StringComparison.Ordinal)).ToDictionary(l => l.Trim()[..l.Trim().IndexOf('.')], l => l.Trim()[(l.Trim().IndexOf('.') + 2)..]);
        string Differs(string release, string kfunc) => rows.Single(r => r.Kernel.StartsWith(release + " ", StringComparison.Ordinal) && r.Kfunc == kfunc).Note;
        string Reason(string note, string cases) => declared[System.Text.RegularExpressions.Regex.Match(note, $@"(D\d+) \({cases}\)").Groups[1].Value];

        Assert.StartsWith("Kernels before 6.5 have no kfunc-set filter", Reason(Differs("6.1-amd64", "bpf_sock_destroy"), "1 case"));
        Assert.StartsWith("6.1's verifier predates the __ign argument suffix (6.2): a string argument must be BPF memory", Reason(Differs("6.1-amd64", "bpf_strlen"), "3 cases"));
        Assert.All(rows.Where(r => r.Kernel.StartsWith("6.12-amd64", StringComparison.Ordinal)), r => Assert.DoesNotContain("differs", r.Note));
        Assert.Equal(rows.Count, plan.Cells.Sum(c => c.Entries.Count));
        var cell = plan.Cells.Single(c => c.Module.Name == "kfunc_strings" && c.Kernel.Version.Minor == 1);
        Assert.Equal(5, PlanPrinter.DeclaredDifferences(cell, "bpf_strnlen").Sum(d => d.Cases)); // .rodata, user, non-canonical, unmapped, unmapped with count 0
    }
}
