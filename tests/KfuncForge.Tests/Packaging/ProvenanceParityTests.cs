using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Packaging;

/// <summary>
/// One Package stage, whoever runs it: the same cell (fixture module × debian12's 6.1 kernel) taken through the
/// stage verbs (build, smoke, sign, package) and through one matrix cell gives the same package, byte for byte,
/// with the same provenance statement and SBOM beside it. Before the stages were shared, the matrix recorded one
/// digest per module folder, kernel packages without package URLs, no kbuild environment, and built with another
/// timestamp. The same run shows the shared store at work: the matrix reuses the verbs' build, and a second pass
/// of the verbs with nothing changed builds, boots and publishes nothing.
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class ProvenanceParityTests(RealKernel real, PackagingFixture f) : IClassFixture<PackagingFixture>
{
    [IntegrationFact]
    public void The_matrix_and_the_package_verb_make_the_same_package_with_the_same_provenance()
    {
        var root = RealKernel.MakePassingTree(real.Temp.Combine("parity-tree"));
        var output = real.Temp.Combine("parity-out");
        string[] common = ["--root", root, "--templates", TestTree.Templates, $"--out={output}", "--distro=debian12"];
        string[] keys = [$"--keys-dir={real.Temp.Combine("parity-keys")}", $"--gnupg-home={f.Keyring.Home}"];
        string[] cell = ["--module=kfunc_fixture_ok", "--kernel=6.1", $"--cache={real.CacheRoot}"];

        CliResult Run(params string[] args)
        {
            var r = TestTree.Run(args);
            Assert.True(r.ExitCode == 0, $"{args[0]}: {r.Stdout}{r.Stderr}");
            return r;
        }
        Run(["build", .. common, .. cell, "--container=bwrap"]);
        Run(["smoke", .. common, .. cell]);
        Run(["sign", .. common, keys[0]]);
        Run(["package", .. common, .. keys]);
        Run(["matrix", .. common, .. cell, .. keys, "--container=bwrap", "--jobs=1", "--progress=plain", $"--store={real.Temp.Combine("parity-store")}"]);

        // The stages share one store keyed by inputs: the matrix took the verbs' build of the cell, and with nothing
        // changed the verbs neither build, boot nor publish again.
        var record = File.ReadAllText(Directory.GetFiles(real.Temp.Combine("parity-store"), "record.json", SearchOption.AllDirectories).Single());
        Assert.Contains("unchanged, reused", record);
        Assert.Contains("unchanged, reused", Run(["build", .. common, .. cell, "--container=bwrap"]).Stdout);
        Assert.Contains("[reused: passed before with exactly these inputs", Run(["smoke", .. common, .. cell]).Stdout);
        Run(["sign", .. common, keys[0]]);
        Assert.Contains("unchanged: ", Run(["package", .. common, .. keys]).Stdout);

        // The module package (the meta package of its line is beside it, made the same way by both).
        static string ModulePackage(string repo) => Directory.GetFiles(repo, "*.deb", SearchOption.AllDirectories)
            .Single(f => !Path.GetFileName(f).StartsWith("kfunc-fixture-ok-modules-amd64-", StringComparison.Ordinal));
        var fromVerbs = ModulePackage(Path.Combine(output, "repo", "debian12", "apt"));
        var cellFolder = Directory.GetDirectories(real.Temp.Combine("parity-store")).Single(d => !Path.GetFileName(d).StartsWith('.'));
        var fromMatrix = ModulePackage(Path.Combine(cellFolder, "package", "apt"));
        Assert.Equal(Path.GetFileName(fromVerbs), Path.GetFileName(fromMatrix));
        foreach (var sidecar in new[] { ".intoto.json", ".cdx.json" })
            Assert.Equal(File.ReadAllText(fromVerbs + sidecar), File.ReadAllText(fromMatrix + sidecar));
        Assert.Equal(File.ReadAllBytes(fromVerbs), File.ReadAllBytes(fromMatrix));
        // The statement is the full one: a digest per definition file, kernel packages with package URLs, the kbuild environment.
        var statement = File.ReadAllText(fromVerbs + ".intoto.json");
        Assert.Contains("\"definition:kfunc-modules/kfunc_fixture_ok/module.yaml\"", statement);
        Assert.Contains("\"uri\": \"pkg:deb/debian/linux-headers-", statement);
        Assert.Contains("\"KBUILD_BUILD_TIMESTAMP\"", statement);
    }
}
