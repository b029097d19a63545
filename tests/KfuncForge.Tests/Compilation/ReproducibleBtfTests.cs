using System.Security.Cryptography;
using KfuncForge.Compilation;
using KfuncForge.Definitions;
using KfuncForge.Kernels;
using KfuncForge.Planning;
using KfuncForge.Rendering;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Compilation;

/// <summary>
/// Module BTF is the same on every rebuild. kfunc_strings has two compilation units, which is what
/// pahole's threaded encoder (-j, passed by Debian 6.1's pahole-flags.sh) reorders; built ten times per
/// kernel, every .ko must be the same bytes. Two different encodings are reported with the sections
/// that differ.
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class ReproducibleBtfTests(RealKernel real)
{
    private const string Module = "kfunc_strings";
    private const int Builds = 10;

    public static TheoryData<string> Lines => new() { "6.1", "6.12" };

    [IntegrationTheory]
    [MemberData(nameof(Lines))]
    public async Task Ten_builds_of_a_two_file_module_give_one_set_of_bytes(string line)
    {
        var kernel = line == "6.1" ? real.Kernel : Assert.Single((await real.Workspace.FetchAsync(line, _ => { })).Entries);
        var catalog = Catalog.Load(new SourceTree(TestTree.RepoRoot, TestTree.Templates));
        var distro = catalog.Distro("debian12");
        var module = catalog.Modules.Single(m => m.Name == Module);
        var cell = Planner.Make(distro, [kernel.ToFacts(distro.BpfLevel)], [module]).Cells.Single();
        Assert.True(cell.NeedsModule, $"{Module} needs no module on {kernel.Release}");
        var date = DateTimeOffset.FromUnixTimeSeconds(1700000000);
        var rendered = new Renderer(TemplateSet.Load(TestTree.Templates), date, KfuncForge.Provenance.ProjectProvenance.Unknown("test"))
            .Render(cell, real.Temp.Combine("btf-repro", line, "render"));

        var builder = new KbuildBuilder(real.Workspace.Container);
        var builds = new List<(string Sha, string Ko)>();
        for (var i = 0; i < Builds; i++)
        {
            var work = real.Temp.Combine("btf-repro", line, $"build-{i}");
            var result = await builder.BuildAsync(new KbuildRequest(real.Distro, kernel, Module, rendered.Directory, work, work + ".log",
                cell.Backports.Select(b => b.Kfunc).ToList()) { SourceDate = date });
            Assert.True(result.Outcome == CellOutcome.Built, result.Reason);
            builds.Add((Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(result.Ko!))), result.Ko!));
            if (i == 0)
            {
                var pahole = BuildRecord.TryLoad(work)!.Pahole!;
                // 6.1 picks pahole's flags with pahole-flags.sh (and -j); 6.12 with Makefile.btf.
                if (line == "6.1") Assert.True(pahole.Flags is { } f && !f.Split(' ').Contains("-j"), pahole.Reason);
                else Assert.Null(pahole.Flags);
            }
        }
        var distinct = builds.GroupBy(b => b.Sha).ToList();
        Assert.True(distinct.Count == 1,
            $"{Builds} builds for {kernel.Release} gave {distinct.Count} different modules ({string.Join(", ", distinct.Select(g => $"{g.Count()} × {g.Key[..12]}"))}); " +
            $"sections that differ: {string.Join(", ", DifferingSections(distinct[0].First().Ko, distinct[^1].First().Ko))}");
    }

    private static IEnumerable<string> DifferingSections(string a, string b)
    {
        var ea = ElfFile.Load(a);
        var eb = ElfFile.Load(b);
        foreach (var s in ea.Sections)
            if (eb.Section(s.Name) is not { } t || !ea.Bytes(s).ToArray().AsSpan().SequenceEqual(eb.Bytes(t)))
                yield return s.Name;
    }
}
