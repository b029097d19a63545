namespace KfuncForge.Vm;

/// <summary>The accelerator a run uses and why (shown in every report).</summary>
public sealed record AcceleratorChoice(Accelerator Accelerator, string Reason, TimeSpan ProbeTime);

public enum AcceleratorRequest { Auto, Tcg, Kvm }

/// <summary>
/// Decides KVM or TCG once per run. KVM is used only when a real guest boots under it: on some hosts
/// /dev/kvm exists but guests hang (field notes), so the probe boots the bare image with a short
/// timeout and falls back to TCG, saying why.
/// </summary>
public sealed class AcceleratorProbe(IVmRunner vms, string kvmDevice = "/dev/kvm")
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    private Task<AcceleratorChoice>? _choice;
    private readonly Lock _lock = new();

    /// <summary>The decision for this run (probed on first call, then cached).</summary>
    public Task<AcceleratorChoice> ChooseAsync(AcceleratorRequest request, string kernel, string bareInitrd, string workDir, TimeSpan? timeout = null, CancellationToken cancellation = default)
    {
        lock (_lock)
            return _choice ??= DecideAsync(request, kernel, bareInitrd, workDir, timeout ?? DefaultTimeout, cancellation);
    }

    private async Task<AcceleratorChoice> DecideAsync(AcceleratorRequest request, string kernel, string bareInitrd, string workDir, TimeSpan timeout, CancellationToken cancellation)
    {
        if (request == AcceleratorRequest.Tcg) return new AcceleratorChoice(Accelerator.Tcg, "TCG requested (--accel=tcg)", TimeSpan.Zero);
        if (!File.Exists(kvmDevice))
            return Fallback(request, $"{kvmDevice} does not exist", TimeSpan.Zero);
        try
        {
            using var _ = new FileStream(kvmDevice, FileMode.Open, FileAccess.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fallback(request, $"{kvmDevice} cannot be opened: {e.Message}", TimeSpan.Zero);
        }
        var boot = await vms.RunAsync(new BootRequest("kvm-probe", kernel, bareInitrd, new VmShape(Accelerator.Kvm, 256), timeout, Path.Combine(workDir, "kvm-probe")), null, cancellation).ConfigureAwait(false);
        if (boot.Hello is not null && boot.Outcome != BootOutcome.TimedOut)
            return new AcceleratorChoice(Accelerator.Kvm, $"a KVM guest booted and reported in {boot.Wall.TotalSeconds:0.0} s", boot.Wall);
        var why = boot.Outcome switch
        {
            BootOutcome.TimedOut => $"a KVM guest did not report within {timeout.TotalSeconds:0} s (hung; killed)",
            BootOutcome.QemuFailed => $"QEMU could not start a KVM guest: {boot.Detail}",
            _ => $"a KVM guest ended without reporting ({boot.Outcome}: {boot.Detail})",
        };
        return Fallback(request, why, boot.Wall);
    }

    private static AcceleratorChoice Fallback(AcceleratorRequest request, string why, TimeSpan probe) =>
        request == AcceleratorRequest.Kvm
            ? throw new InvalidOperationException($"KVM was requested (--accel=kvm) but cannot be used: {why}")
            : new AcceleratorChoice(Accelerator.Tcg, $"TCG: KVM unusable ({why})", probe);
}
