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
            .Where(pid => Argv(pid) is { Length: > 0 } argv && argv[0].Contains("qemu-system", StringComparison.Ordinal) && argv.Any(a => a.Contains(folder, StringComparison.Ordinal)))
            .ToList();

    [VmFact]
    public async Task A_smoke_run_killed_during_the_kvm_probe_or_a_boot_leaves_no_qemu_and_the_next_run_passes()
    {
        var kernel = await TestKernel.GetAsync();
        FixtureModule[] modules = [new("kff_good")];
        var built = new List<(string, string)>();
        foreach (var m in modules) built.Add((m.Name, await VmFixtures.BuildAsync(kernel, m)));
        using var temp = TestTree.Temp();
        var tree = VmFixtures.WriteTree(temp.Combine("tree"), modules);
        var index = VmFixtures.WriteIndex(temp.Combine("build-index.json"), kernel, built);
        string[] Args(string outDir) => ["smoke", $"--root={tree}", "--distro=debian12", "--kernel=6.12", $"--index={index}", $"--out={outDir}", $"--cache={TestKernel.CacheRoot}"];

        // The probe boots with -accel kvm; the smoke boots (after the probe falls back) with -accel tcg.
        // Without /dev/kvm there is no probe VM to kill (auto falls back to TCG at once): only the boot moment exists.
        if (File.Exists("/dev/kvm")) await KillDuringAsync(Args(temp.Combine("out-probe")), temp.Combine("out-probe"), "kvm", "the KVM probe");
        await KillDuringAsync(Args(temp.Combine("out-boot")), temp.Combine("out-boot"), "tcg", "a boot");

        var next = TestTree.Run(Args(temp.Combine("out-boot")));
        Assert.True(next.ExitCode == 0, next.Stdout + next.Stderr);
    }

    [VmFact]
    public async Task A_matrix_run_killed_during_a_boot_leaves_no_qemu_and_the_next_run_passes()
    {
        using var temp = TestTree.Temp();
        var tree = Fidelity.FidelityRunTests.Tree(temp.Combine("src"));
        var outDir = temp.Combine("out");
        string[] args = ["matrix", $"--root={tree}", $"--out={outDir}", $"--cache={TestKernel.CacheRoot}", "--distro=debian12", "--module=kfunc_sock_destroy",
            "--until=smoke", "--jobs=1", "--accel=tcg", "--progress=plain"];
        await KillDuringAsync(args, outDir, "tcg", "a boot");
        var next = TestTree.Run(args);
        Assert.True(next.ExitCode == 0, next.Stdout + next.Stderr);
    }

    [VmFact]
    public async Task A_fidelity_run_killed_during_a_boot_leaves_no_qemu()
    {
        using var temp = TestTree.Temp();
        var tree = Fidelity.FidelityRunTests.Tree(temp.Combine("src"));
        var outDir = temp.Combine("out");
        await KillDuringAsync(["fidelity", $"--root={tree}", $"--out={outDir}", "--distros=debian12", "--skip-load", "--container=bwrap", "--jobs=1",
            $"--cache={TestKernel.CacheRoot}", "--accel=tcg"], outDir, "tcg", "a boot");
    }

    /// <summary>Starts the engine, waits until it runs a QEMU with the marker among its arguments, SIGKILLs the engine alone, and finds none of its QEMU 2 s later.</summary>
    private static async Task KillDuringAsync(string[] args, string outDir, string marker, string moment)
    {
        using var engine = MatrixTree.Start(args);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        List<int> running;
        while ((running = QemuOf(outDir).Where(pid => Argv(pid).Contains(marker)).ToList()).Count == 0 && !engine.HasExited && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.False(engine.HasExited, $"{args[0]} ended before {moment}; the kill would test nothing");
        Assert.NotEmpty(running);
        engine.Kill();   // SIGKILL to the engine alone: no handler runs, its children are not signalled by us
        await engine.WaitForExitAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.True(QemuOf(outDir).Count == 0, $"QEMU of the {args[0]} run killed during {moment} still runs: pids {string.Join(", ", QemuOf(outDir))}");
    }

    private static string[] Argv(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0'); }
        catch (IOException) { return []; }
    }
}
