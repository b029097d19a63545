using KfuncForge.Processes;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Vm.Infrastructure;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Vm;

/// <summary>KVM when a guest really boots under it, else TCG with the reason; decided once per run.</summary>
public sealed class AcceleratorTests
{
    /// <summary>A VM runner that answers every boot with a fixed outcome (for the branches this host cannot produce).</summary>
    private sealed class FixedRunner(BootOutcome outcome, bool hello) : IVmRunner
    {
        public int Boots;

        public Task<BootResult> RunAsync(BootRequest request, Action<VmEvent>? events = null, CancellationToken cancellation = default)
        {
            Interlocked.Increment(ref Boots);
            IReadOnlyList<GuestRecord> records = hello ? [new HelloRecord { V = 1, Type = "hello", Boot = "bare", Kernel = "6.12" }] : [];
            return Task.FromResult(new BootResult(request, outcome, "fixed", records, [], 0, TimeSpan.FromSeconds(1), null, null, ""));
        }
    }

    [Fact]
    public async Task Without_the_kvm_device_tcg_is_used_without_booting_anything()
    {
        var runner = new FixedRunner(BootOutcome.Completed, true);
        var probe = new AcceleratorProbe(runner, "/nonexistent/kvm");

        var choice = await probe.ChooseAsync(AcceleratorRequest.Auto, "k", "i", "/tmp");

        Assert.Equal(Accelerator.Tcg, choice.Accelerator);
        Assert.Equal("TCG: KVM unusable (/nonexistent/kvm does not exist)", choice.Reason);
        Assert.Equal(0, runner.Boots);
    }

    [Fact]
    public async Task A_kvm_guest_that_hangs_means_tcg_and_the_probe_runs_once_per_run()
    {
        using var temp = TestTree.Temp();
        var device = temp.Combine("kvm");
        File.WriteAllText(device, "");
        var runner = new FixedRunner(BootOutcome.TimedOut, false);
        var probe = new AcceleratorProbe(runner, device);

        var first = await probe.ChooseAsync(AcceleratorRequest.Auto, "k", "i", temp.Path);
        var second = await probe.ChooseAsync(AcceleratorRequest.Auto, "k", "i", temp.Path);

        Assert.Equal(Accelerator.Tcg, first.Accelerator);
        Assert.Equal("TCG: KVM unusable (a KVM guest did not report within 10 s (hung; killed))", first.Reason);
        Assert.Same(first, second);
        Assert.Equal(1, runner.Boots);
    }

    [Fact]
    public async Task A_kvm_guest_that_reports_means_kvm_and_explicit_requests_are_honoured()
    {
        using var temp = TestTree.Temp();
        var device = temp.Combine("kvm");
        File.WriteAllText(device, "");

        var kvm = await new AcceleratorProbe(new FixedRunner(BootOutcome.Completed, true), device).ChooseAsync(AcceleratorRequest.Auto, "k", "i", temp.Path);
        var tcg = await new AcceleratorProbe(new FixedRunner(BootOutcome.Completed, true), device).ChooseAsync(AcceleratorRequest.Tcg, "k", "i", temp.Path);

        Assert.Equal(Accelerator.Kvm, kvm.Accelerator);
        Assert.Equal(Accelerator.Tcg, tcg.Accelerator);
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            new AcceleratorProbe(new FixedRunner(BootOutcome.TimedOut, false), device).ChooseAsync(AcceleratorRequest.Kvm, "k", "i", temp.Path));
    }

    [VmFact]
    public async Task The_real_probe_on_this_host_picks_an_accelerator_and_says_why()
    {
        var kernel = await TestKernel.GetAsync();
        var tools = new GuestTools(new ContentCache(TestKernel.CacheRoot), ProcessRunner.Instance);
        var bare = await new GuestImageBuilder(tools).BuildBareAsync();
        using var temp = TestTree.Temp();

        var choice = await new AcceleratorProbe(new QemuVmRunner(ProcessRunner.Instance)).ChooseAsync(AcceleratorRequest.Auto, kernel.Image, bare.Path, temp.Path);

        if (choice.Accelerator == Accelerator.Kvm) Assert.StartsWith("a KVM guest booted", choice.Reason);
        else Assert.StartsWith("TCG: KVM unusable (", choice.Reason);
        Assert.True(choice.ProbeTime < TimeSpan.FromSeconds(30));
    }
}
