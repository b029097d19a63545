using KfuncForge.Caching;
using KfuncForge.Containers;
using KfuncForge.Processes;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Containers;

/// <summary>
/// podman for real: its probe finds the flags this host needs and says which; the image is imported from the
/// profile's own mmdebstrap rootfs (no registry); and a module built in it is byte for byte the one bwrap builds.
/// Skipped, saying so, where podman is not installed (build/host-packages.txt installs it).
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class PodmanBuildTests(RealKernel real)
{
    [IntegrationFactNeeding("podman")]
    public async Task The_probe_finds_the_flags_this_host_needs_and_says_which()
    {
        var runner = EngineRunner.Podman(ProcessRunner.Instance, new BwrapRunner(new CacheDirectory(real.CacheRoot), AptMirrors.FromHost(), ProcessRunner.Instance));
        var probe = await runner.ProbeAsync();
        Assert.True(probe.Available, probe.Reason);
        Assert.Contains(EngineRunner.PodmanFlagSets, s => s.Global.SequenceEqual(runner.GlobalFlags) && s.Run.SequenceEqual(runner.RunFlags));
        var flags = string.Join(' ', runner.GlobalFlags.Concat(runner.RunFlags));
        if (flags.Length > 0) Assert.Contains($"with {flags}", probe.Reason);
        // The flags go where podman reads them: before and after `run`.
        var spec = runner.Command(real.Distro, new ContainerStep(["true"]));
        Assert.Equal([.. runner.GlobalFlags, "run"], spec.Arguments.Take(runner.GlobalFlags.Count + 1));
        Assert.StartsWith("localhost/kfuncforge-debian12:", spec.Arguments[spec.Arguments.Count - 2]);
    }

    [IntegrationFactNeeding("podman")]
    public void A_module_built_with_podman_is_byte_for_byte_the_one_bwrap_builds()
    {
        var root = RealKernel.MakePassingTree(real.Temp.Combine("podman-src"));
        string[] common = ["--root", root, "--templates", TestTree.Templates, "--distro=debian12", "--kernel=6.1", "--module=kfunc_fixture_ok",
            "--source-date-epoch=1700000000", $"--cache={real.CacheRoot}"];
        var kos = new Dictionary<string, byte[]>();
        foreach (var backend in new[] { "podman", "bwrap" })
        {
            var output = real.Temp.Combine("podman-out-" + backend);
            var r = TestTree.Run(["build", .. common, $"--container={backend}", $"--out={output}"]);
            Assert.True(r.ExitCode == 0, $"{backend}: {r.Stdout}{r.Stderr}");
            if (backend == "podman") Assert.Contains("container backend: podman (podman can run containers", r.Stdout);
            kos[backend] = File.ReadAllBytes(Directory.GetFiles(Path.Combine(output, "build", "debian12"), "kfunc_fixture_ok.ko", SearchOption.AllDirectories).Single());
        }
        Assert.Equal(kos["bwrap"], kos["podman"]);
    }
}
