using System.Diagnostics;
using System.Globalization;

namespace KfuncForge.Vm;

/// <summary>Settings of a smoke run.</summary>
public sealed record SmokeOptions(string WorkDir)
{
    /// <summary>Folder with kff-agent.c to build instead of the engine's embedded copy (agent development).</summary>
    public string? AgentSourceDir { get; init; }

    public AcceleratorRequest Accelerator { get; init; } = AcceleratorRequest.Auto;
    public int MemoryMiB { get; init; } = 512;

    /// <summary>VMs at a time; null: as many as cores and memory allow (VmSlots).</summary>
    public int? Jobs { get; init; }

    /// <summary>Hard timeout per VM: QEMU is killed and the boot reported as timed out.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(180);

    public string Busybox { get; init; } = GuestImageBuilder.DefaultBusybox;

    /// <summary>Added to every guest's kernel command line (the fidelity run lowers the hung-task and lockup thresholds).</summary>
    public IReadOnlyList<string> KernelArguments { get; init; } = [];

    /// <summary>Instruction-count mode for every boot (VmShape.InstructionCount): TCG, figures in instruction time.</summary>
    public bool InstructionCount { get; init; }

    /// <summary>Boot every kernel under UEFI Secure Boot with this certificate enrolled as a MOK (the modules must be signed with its key).</summary>
    public SecureBootGuests? SecureBoot { get; init; }
}

/// <summary>The Secure Boot mode of a smoke run: the firmware helper and the DER certificate to enrol.</summary>
public sealed record SecureBootGuests(SecureBootFirmware Firmware, byte[] Certificate);

/// <summary>How many VMs run at once: one per core (a TCG vCPU keeps a core busy) and as many as memory holds.</summary>
public static class VmSlots
{
    /// <summary>Memory kept for the host and QEMU's own overhead per VM, in MiB.</summary>
    public const int HostReserveMiB = 1024;
    public const int QemuOverheadMiB = 192;

    public static int Compute(int cores, long availableMiB, int vmMemoryMiB, int? requested)
    {
        var byMemory = (int)Math.Max(1, (availableMiB - HostReserveMiB) / (vmMemoryMiB + QemuOverheadMiB));
        var slots = Math.Max(1, Math.Min(cores, byMemory));
        return requested is > 0 ? Math.Min(requested.Value, Math.Max(slots, 1)) : slots;
    }

    /// <summary>MemAvailable from /proc/meminfo (MiB); a conservative 2 GiB where it cannot be read.</summary>
    public static long AvailableMiB()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException) { }
        return 2048;
    }
}

/// <summary>The outcome of a run: every boot's verdict, in the order they finished.</summary>
public sealed record SmokeRun(AcceleratorChoice Accelerator, int Slots, DateTimeOffset Started, TimeSpan Wall, IReadOnlyList<BootVerdict> Verdicts)
{
    /// <summary>Every cell passed, and there was at least one: a run that tested nothing does not pass.</summary>
    public bool Passed => Verdicts.Any(v => v.Cells.Count > 0) && Verdicts.All(v => v.Passed);
}

/// <summary>
/// Runs boot plans: builds the agent and each guest image, decides KVM or TCG once, boots up to
/// Slots VMs at a time, judges each boot as it finishes and hands its verdict to the caller at once.
/// </summary>
public sealed class SmokeSession(GuestTools tools, IVmRunner vms, SmokeOptions options)
{
    private readonly GuestImageBuilder _images = new(tools, options.Busybox);
    private readonly AcceleratorProbe _probe = new(vms);

    public SmokeOptions Options { get; } = options;

    public GuestImageBuilder Images => _images;

    public async Task<AcceleratorChoice> AcceleratorAsync(IReadOnlyList<BootPlan> boots, CancellationToken cancellation = default)
    {
        var kernel = boots.FirstOrDefault(b => b.Kernel.Image.Length > 0)?.Kernel.BootImage;
        if (kernel is null) return new AcceleratorChoice(Accelerator.Tcg, "no kernel to boot", TimeSpan.Zero);
        if (Options.InstructionCount) return new AcceleratorChoice(Accelerator.Tcg, "instruction-count mode (-icount) runs under TCG only", TimeSpan.Zero);
        var bare = await _images.BuildBareAsync().ConfigureAwait(false);
        return await _probe.ChooseAsync(Options.Accelerator, kernel, bare.Path, Options.WorkDir, null, cancellation).ConfigureAwait(false);
    }

    public async Task<SmokeRun> RunAsync(IReadOnlyList<BootPlan> boots, Action<BootVerdict>? finished = null, Action<VmEvent>? events = null, CancellationToken cancellation = default)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var needsVm = boots.Any(Bootable);
        var agent = needsVm ? await tools.AgentAsync(Options.AgentSourceDir, cancellation).ConfigureAwait(false) : "";
        var accel = await AcceleratorAsync(boots, cancellation).ConfigureAwait(false);
        var slots = VmSlots.Compute(Environment.ProcessorCount, VmSlots.AvailableMiB(), Options.MemoryMiB, Options.Jobs);
        using var gate = new SemaphoreSlim(slots);
        var verdicts = new List<BootVerdict>();
        var report = new Lock();

        async Task One(BootPlan plan)
        {
            BootVerdict verdict;
            if (!Bootable(plan))
            {
                verdict = SmokeJudge.Unbooted(plan);
            }
            else
            {
                await gate.WaitAsync(cancellation).ConfigureAwait(false);
                try
                {
                    verdict = await BootAsync(plan, agent, accel.Accelerator, events, cancellation).ConfigureAwait(false);
                }
                finally
                {
                    gate.Release();
                }
            }
            lock (report)
            {
                verdicts.Add(verdict);
                finished?.Invoke(verdict);
            }
        }

        await Task.WhenAll(boots.Select(One)).ConfigureAwait(false);
        return new SmokeRun(accel, slots, started, clock.Elapsed, verdicts);
    }

    /// <summary>One boot: image, QEMU, judgement. Also used by the benchmark.</summary>
    public async Task<BootVerdict> BootAsync(BootPlan plan, string agent, Accelerator accelerator, Action<VmEvent>? events, CancellationToken cancellation)
    {
        var imageClock = Stopwatch.StartNew();
        var image = await _images.BuildAsync(plan, agent, cancellation).ConfigureAwait(false);
        var imageSeconds = imageClock.Elapsed.TotalSeconds;
        var request = new BootRequest(plan.Id, plan.Kernel.BootImage, image.Path, new VmShape(accelerator, Options.MemoryMiB) { InstructionCount = Options.InstructionCount }, Options.Timeout, BootDirectory(plan))
        {
            ExtraKernelArguments = Options.KernelArguments,
        };
        if (Options.SecureBoot is { } sb)
        {
            // Through the EFI stub of the packaged image (never the PVH entry), re-signed with the firmware's key, on a copy of the enrolled store.
            var kernel = await sb.Firmware.SignedKernelAsync(plan.Kernel.Image, cancellation).ConfigureAwait(false);
            var (vars, _) = await sb.Firmware.EnrolledVarsAsync(sb.Certificate, fw => EnrolAsync(plan, agent, kernel, fw, accelerator, cancellation)).ConfigureAwait(false);
            request = request with
            {
                Kernel = kernel,
                Shape = request.Shape with { MemoryMiB = SecureBootFirmware.MemoryMiB(image.Size, Options.MemoryMiB) },
                Firmware = SecureBootFirmware.Copy(vars, request.Directory + ".firmware"),
            };
        }
        var boot = await vms.RunAsync(request, events, cancellation).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(request.Directory, "manifest"), GuestManifest.Render(plan), cancellation).ConfigureAwait(false);
        return SmokeJudge.Judge(plan, boot, imageSeconds, image.CacheHit) with { Image = image };
    }

    /// <summary>
    /// The enrolment boot of a Secure Boot run (once per certificate; the store is cached): the agent, busybox for
    /// dd, the kernel's efivarfs module unless it is built in, and the bytes to write.
    /// </summary>
    private async Task EnrolAsync(BootPlan plan, string agent, string kernel, UefiFirmware firmware, Accelerator accelerator, CancellationToken cancellation)
    {
        // The kernel's efivarfs: from its cache entry (boot/modules), else its module tree; none means built in.
        var efivarfs = new[] { Kernels.KernelEntry.BootModulesBeside(plan.Kernel.Image), plan.Kernel.ModulesDir }.OfType<string>().Where(Directory.Exists)
            .Select(d => Directory.EnumerateFiles(d, "efivarfs.ko*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).FirstOrDefault())
            .FirstOrDefault(f => f is not null);
        string[][] lines = [["kff-manifest", "1"], ["boot", "enrol-" + plan.Kernel.Release]];
        var entries = new List<CpioEntry>
        {
            new(GuestManifest.AgentPath, CpioEntryKind.File, 0x1ED, SourceFile: agent),
            new(GuestManifest.BusyboxPath, CpioEntryKind.File, 0x1ED, SourceFile: _images.Busybox),
            new(SecureBootFirmware.MokListGuestPath, CpioEntryKind.File, 0x1A4, Bytes: SecureBootFirmware.MokListRtWrite(Options.SecureBoot!.Certificate)),
        };
        if (efivarfs is not null)
        {
            var module = new GuestModule("efivarfs", efivarfs, GuestModuleKind.Dependency, []);
            entries.Add(new CpioEntry(GuestManifest.ModulePath(module), CpioEntryKind.File, 0x1A4, SourceFile: await tools.ModuleFileAsync(efivarfs, cancellation).ConfigureAwait(false)));
            lines = [.. lines, ["module", "efivarfs", "/" + GuestManifest.ModulePath(module), "dependency", "-"]];
        }
        lines = [.. lines, SecureBootFirmware.MountEfivarfs, SecureBootFirmware.EnrolStep("/" + GuestManifest.BusyboxPath, "dd")];
        entries.Add(new CpioEntry(GuestManifest.ManifestPath, CpioEntryKind.File, 0x1A4, Bytes: System.Text.Encoding.UTF8.GetBytes(GuestManifest.Text(lines))));
        var image = await _images.BuildAsync(entries).ConfigureAwait(false);
        var boot = await vms.RunAsync(new BootRequest("enrol/" + plan.Kernel.Release, kernel, image.Path, new VmShape(accelerator, SecureBootFirmware.MemoryMiB(image.Size, Options.MemoryMiB)),
            Options.Timeout, BootDirectory(plan) + ".enrol") { Firmware = firmware }, null, cancellation).ConfigureAwait(false);
        SecureBootFirmware.RequireEnrolled(boot, plan.Kernel.Release);
    }

    public string BootDirectory(BootPlan plan) => Path.Combine(Options.WorkDir, "boots", SafeName(plan.Id));

    private static bool Bootable(BootPlan plan) =>
        plan.Kernel.Image.Length > 0 && (plan.Modules.Count > 0 || plan.Smoke.Count > 0 || plan.Loads.Count > 0);

    public static string SafeName(string id) => string.Concat(id.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or '+' ? c : '_'));
}
