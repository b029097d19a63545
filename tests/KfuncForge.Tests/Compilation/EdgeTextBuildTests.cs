using System.Text.Json;
using KfuncForge.Compilation;
using KfuncForge.Definitions;
using KfuncForge.Kernels;
using KfuncForge.Planning;
using KfuncForge.Rendering;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Compilation;

/// <summary>
/// The C parser's word on the edge of the text grammars: the fixture module with the edge-text case's
/// description, version and license is rendered and built by kbuild for the real 6.1 kernel (gcc parses
/// the generated C and make the Kbuild file), and the module's .modinfo carries each value exactly.
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class EdgeTextBuildTests(RealKernel real)
{
    [IntegrationFact]
    public async Task Gcc_and_kbuild_take_the_edge_values_and_the_module_carries_them_exactly()
    {
        var edge = Catalog.Load(new SourceTree(Path.Combine(TestTree.Golden, "edge-text", "input"), TestTree.Templates)).Modules.Single();
        var root = real.Temp.Combine("edge-tree");
        RealKernel.MakeSourceTree(root);
        var yaml = Path.Combine(root, "kfunc-modules", "kfunc_fixture_ok", "module.yaml");
        File.WriteAllText(yaml, File.ReadAllText(yaml)
            .Replace("description: \"KfuncForge test fixture: one trivial kfunc\"", $"description: {JsonSerializer.Serialize(edge.Description, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping })}")
            .Replace("license: GPL", $"license: \"{edge.License}\"")
            .Replace("version: 0.1.0", $"version: \"{edge.Version}\""));
        var catalog = Catalog.Load(new SourceTree(root, TestTree.Templates));
        var module = catalog.Modules.Single(m => m.Name == "kfunc_fixture_ok");
        Assert.Equal(edge.Description, module.Description);

        var cell = Planner.Make(real.Distro, [real.Kernel.ToFacts(real.Distro.BpfLevel)], [module]).Cells.Single();
        var rendered = new Renderer(TemplateSet.Load(TestTree.Templates), DateTimeOffset.UnixEpoch, KfuncForge.Provenance.ProjectProvenance.Unknown("test"))
            .Render(cell, real.Temp.Combine("edge-render"));
        var work = real.Temp.Combine("edge-build");
        var result = await new KbuildBuilder(real.Workspace.Container).BuildAsync(new KbuildRequest(real.Distro, real.Kernel, module.Name, rendered.Directory, work, work + ".log", ["bpf_kfuncforge_fixture_add"]));
        Assert.True(result.Outcome == CellOutcome.Built, result.Reason);

        var info = ElfFile.Load(result.Ko!).ModInfo();
        Assert.Equal(edge.Description, Assert.Single(info["description"]));
        Assert.Equal(edge.Version, Assert.Single(info["version"]));
        Assert.Equal(edge.License, Assert.Single(info["license"]));
    }
}
