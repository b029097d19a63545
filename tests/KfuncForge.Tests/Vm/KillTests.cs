using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Matrix;
using KfuncForge.Tests.Vm.Infrastructure;

namespace KfuncForge.Tests.Vm;

/// <summary>
/// A run ended by SIGKILL (what CI runners and nightly jobs do on a timeout) leaves no QEMU behind: every
/// child is started with PR_SET_PDEATHSIG, so the kernel kills it with the engine. Killed at two moments:
/// during the KVM probe (which hangs on this host and would burn a core forever) and during a boot.
/// </summary>
[Collection("qemu")]
public sealed class KillTests
{
    /// <summary>QEMU processes whose command line names the given folder (each run has its own --out).</summary>
    private static List<int> QemuOf(string folder) =>
        Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(n => int.TryParse(n, out _)).Select(int.Parse!)
            .Where(pid =>
            {
                try
                {
                    var argv = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
                    return argv[0].Contains("qemu-system", StringComparison.Ordinal) && argv.Any(a => a.Contains(folder, StringComparison.Ordinal));
                }
                catch (IOException) { return false; }
                catch (UnauthorizedAccessException) { return false; }
            }).ToList();

    [VmFact]
    public async Task A_smoke_run_killed_during_the_kvm_probe_or_a_boot_leaves_no_qemu_and_the_next_run_passes()
    {
        if (!File.Exists("/dev/kvm")) Assert.Fail("this host has no /dev/kvm: the probe moment cannot be reached (the boot moment still is)");
        var kernel = await TestKernel.GetAsync();
        FixtureModule[] modules = [new("kff_good")];
        var built = new List<(string, string)>();
        foreach (var m in modules) built.Add((m.Name, await VmFixtures.BuildAsync(kernel, m)));
        using var temp = TestTree.Temp();
        var tree = VmFixtures.WriteTree(temp.Combine("tree"), modules);
        var index = VmFixtures.WriteIndex(temp.Combine("build-index.json"), kernel, built);
        string[] Args(string outDir) => ["smoke", $"--root={tree}", "--distro=debian12", "--kernel=6.12", $"--index={index}", $"--out={outDir}", $"--cache={TestKernel.CacheRoot}"];

        // The probe boots with -accel kvm; the smoke boots (after the probe falls back) with -accel tcg.
        foreach (var (moment, marker) in new[] { ("probe", "kvm"), ("boot", "tcg") })
        {
            var outDir = temp.Combine("out-" + moment);
            using var engine = MatrixTree.Start(Args(outDir));
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
            List<int> running;
            while ((running = QemuOf(outDir).Where(pid => File.ReadAllText($"/proc/{pid}/cmdline").Split('\0').Contains(marker)).ToList()).Count == 0
                   && !engine.HasExited && DateTime.UtcNow < deadline)
                await Task.Delay(100);
            Assert.False(engine.HasExited, $"the smoke run ended before its {moment}; the kill would test nothing");
            Assert.NotEmpty(running);
            engine.Kill();   // SIGKILL to the engine alone: no handler runs, its children are not signalled by us
            await engine.WaitForExitAsync();
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.True(QemuOf(outDir).Count == 0, $"QEMU of the run killed during its {moment} still runs: pids {string.Join(", ", QemuOf(outDir))}");
        }

        var next = TestTree.Run(Args(temp.Combine("out-boot")));
        Assert.True(next.ExitCode == 0, next.Stdout + next.Stderr);
    }
}
