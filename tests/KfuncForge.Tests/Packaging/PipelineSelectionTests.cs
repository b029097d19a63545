using KfuncForge.Packaging;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Packaging;

/// <summary>
/// Which cells the later stages take: exactly those of the last build index. First, the pipeline with a kernel the index cannot supply (a profile release that does not exist): Build, Sign
/// and Package run every other cell and exit 3; Package publishes the rest, and a kernel it serves that becomes unavailable
/// later is kept (retention, Packaging/Retention.cs), never dropped.
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class PipelineSelectionTests(RealKernel real, PackagingFixture f) : IClassFixture<PackagingFixture>
{
    private string _lastBuild = "";

    [IntegrationFact]
    public void Package_publishes_the_rest_and_never_drops_a_served_kernel_silently()
    {
        var root = RealKernel.MakePassingTree(real.Temp.Combine("unavailable-tree"));
        var profile = Path.Combine(root, "distros", "debian12.yaml");
        var original = File.ReadAllText(profile);
        var output = real.Temp.Combine("unavailable-out");
        var keys = real.Temp.Combine("unavailable-keys");
        CliResult Verb(string verb, params string[] extra) => TestTree.Run([verb, "--root", root, "--templates", TestTree.Templates, $"--out={output}", "--distro=debian12", .. extra]);
        CliResult Pipeline(string expected)
        {
            var build = Verb("build", $"--cache={real.CacheRoot}", "--container=bwrap");
            _lastBuild = build.Stdout;
            Assert.True(build.ExitCode == 3, build.Stdout + build.Stderr);
            Assert.Matches($@"(?m)^{System.Text.RegularExpressions.Regex.Escape(expected)}\s+kfunc_fixture_ok\s+unavailable\s", build.Stdout);
            var smoke = Verb("smoke", $"--cache={real.CacheRoot}");
            Assert.True(smoke.ExitCode == 3, smoke.Stdout + smoke.Stderr);
            var sign = Verb("sign", $"--keys-dir={keys}");
            Assert.True(sign.ExitCode == 3, sign.Stdout + sign.Stderr);
            return Verb("package", $"--keys-dir={keys}", $"--gnupg-home={f.Keyring.Home}");
        }

        // A release that does not exist beside the real targets: the others are built, signed and published.
        File.WriteAllText(profile, original.Replace("kernels:\n", "kernels:\n  - release: \"6.1.0-999-amd64\"\n"));
        var first = Pipeline("6.1.0-999-amd64");
        Assert.True(first.ExitCode == 3, first.Stdout + first.Stderr);
        Assert.Contains("6.1.0-999-amd64: unavailable, not packaged", first.Stdout);
        var repo = Path.Combine(output, "repo", "debian12", "apt");
        var served = Packager.ServedKernels(repo)!;
        Assert.Equal(2, served.Count);
        Assert.Contains(served, k => k.StartsWith("6.12.", StringComparison.Ordinal));

        // The 6.12 target now resolves to nothing. The 6.12 kernel served now is kept (retention): it is still among the newest
        // of its line, so the build takes it from the kernel cache, tests it again, and Package serves it on.
        var lines = original.Split('\n').ToList();
        var at = lines.FindIndex(l => l.Contains("suite: bookworm-backports", StringComparison.Ordinal));
        Assert.True(at > 1, "the profile's 6.12 target moved; update this test");
        lines.RemoveRange(at - 2, 4);
        lines.Insert(at - 2, "  - release: \"6.12.999+deb12-amd64\"");
        File.WriteAllText(profile, string.Join('\n', lines));
        var second = Pipeline("6.12.999+deb12-amd64");
        Assert.True(second.ExitCode == 3, second.Stdout + second.Stderr);
        Assert.Contains("6.12.999+deb12-amd64: unavailable, not packaged", second.Stdout);
        Assert.Equal(served, Packager.ServedKernels(repo));
        Assert.Contains($"{served.Single(k => k.StartsWith("6.12.", StringComparison.Ordinal))}: kept: the repository serves it and it is among the newest 3 of Linux 6.12", _lastBuild);
    }

    /// <summary>
    /// Issue 14's stale-cell scenario: a module built for 6.1 and 6.12, then its variant restricted to 6.2 and
    /// later (infeasible on 6.1). The 6.1 build folder is still there, but Sign and Package take exactly the
    /// cells of the last build index: the 6.1 package is not signed, not published, and the repository
    /// serves 6.12 only. Then the module is rebuilt without signing it again: Package refuses the signed copy of
    /// the earlier build; signed again but not smoke-tested, it is refused too: only modules that passed in QEMU,
    /// byte for byte, are published.
    /// </summary>
    [IntegrationFact]
    public void A_cell_the_plan_no_longer_builds_is_never_signed_or_published()
    {
        var root = RealKernel.MakePassingTree(real.Temp.Combine("stale-tree"));
        var output = real.Temp.Combine("stale-out");
        var keys = real.Temp.Combine("stale-keys");
        CliResult Verb(string verb, params string[] extra) => TestTree.Run([verb, "--root", root, "--templates", TestTree.Templates, $"--out={output}", "--distro=debian12", .. extra]);
        void Pipeline()
        {
            foreach (var (verb, extra) in new[] { ("build", new[] { $"--cache={real.CacheRoot}", "--container=bwrap" }), ("smoke", [$"--cache={real.CacheRoot}"]), ("sign", [$"--keys-dir={keys}"]),
                ("package", [$"--keys-dir={keys}", $"--gnupg-home={f.Keyring.Home}"]) })
            {
                var r = Verb(verb, extra);
                Assert.True(r.ExitCode == 0, $"{verb}: {r.Stdout}{r.Stderr}");
            }
        }

        Pipeline();
        var repo = Path.Combine(output, "repo", "debian12", "apt");
        Assert.Equal(2, Packager.ServedKernels(repo)!.Count);
        var release61 = Packager.ServedKernels(repo)!.Single(k => k.StartsWith("6.1.", StringComparison.Ordinal));
        // Package also wrote the KMM kmod image of each kernel and the Module manifest mapping each release to its image.
        var kmm = Path.Combine(output, "kmm", "debian12");
        foreach (var release in Packager.ServedKernels(repo)!)
            Assert.True(File.Exists(Path.Combine(kmm, KmodImages.ArchiveName("kfunc_fixture_ok", release))), $"no kmod image for {release} in {kmm}");
        var manifest = File.ReadAllText(Path.Combine(kmm, KmodImages.ModuleManifestName("kfunc_fixture_ok")));
        Assert.Contains($"- literal: \"{release61}\"\n          containerImage: \"kfuncforge/kfunc-fixture-ok-kmod:{KmodImages.Tag(release61)}\"", manifest);

        var yaml = Path.Combine(root, "kfunc-modules", "kfunc_fixture_ok", "module.yaml");
        File.WriteAllText(yaml, File.ReadAllText(yaml).Replace("kernels: { from: \"5.18\" }", "kernels: { from: \"6.2\" }"));
        Pipeline();
        Assert.True(File.Exists(Path.Combine(output, "build", "debian12", release61, "kfunc_fixture_ok", "kfunc_fixture_ok.ko")), "the stale build folder is still there (the scenario needs it)");
        Assert.DoesNotContain(release61, Packager.ServedKernels(repo)!);
        Assert.Empty(Directory.GetFiles(repo, $"*{release61}*.deb", SearchOption.AllDirectories));

        // The module changes (not its behaviour) and is built again, but Sign does not run: its signed copy is of the earlier build,
        // so Package refuses (exit 1) and the repository keeps serving what it served.
        var source = Path.Combine(root, "kfunc-modules", "kfunc_fixture_ok", "src", "fixture.c");
        File.WriteAllText(source, File.ReadAllText(source) + "\nstatic int kff_fixture_rebuilt __used = 1;\n"); // other bytes, same behaviour
        var generation = new DirectoryInfo(repo).LinkTarget;
        var rebuild = Verb("build", $"--cache={real.CacheRoot}", "--container=bwrap");
        Assert.True(rebuild.ExitCode == 0, rebuild.Stdout + rebuild.Stderr);
        var unsigned = Verb("package", $"--keys-dir={keys}", $"--gnupg-home={f.Keyring.Home}");
        Assert.True(unsigned.ExitCode == 1, unsigned.Stdout + unsigned.Stderr);
        Assert.Matches(@"nothing published for debian12: \S+/sign/debian12/6\.12\.[^/]+/kfunc_fixture_ok\.ko was signed from an earlier build of 6\.12\.\S+/kfunc_fixture_ok, not from \S+; run the Sign target again", unsigned.Stderr);
        Assert.Equal(generation, new DirectoryInfo(repo).LinkTarget);

        // Signed again, but SmokeTest has not seen this build: it did not pass in QEMU, so nothing is published.
        var signed = Verb("sign", $"--keys-dir={keys}");
        Assert.True(signed.ExitCode == 0, signed.Stdout + signed.Stderr);
        var untested = Verb("package", $"--keys-dir={keys}", $"--gnupg-home={f.Keyring.Home}");
        Assert.True(untested.ExitCode == 1, untested.Stdout + untested.Stderr);
        Assert.Matches(@"nothing published for debian12: 6\.12\.\S+/kfunc_fixture_ok was built again since it passed SmokeTest; run the SmokeTest target", untested.Stderr);
        Assert.Equal(generation, new DirectoryInfo(repo).LinkTarget);
        Pipeline();
        Assert.NotEqual(generation, new DirectoryInfo(repo).LinkTarget);
    }
}
