using System.Globalization;

namespace KfuncForge.Vm;

public enum Accelerator { Tcg, Kvm }

/// <summary>Machine size and the accelerator of a boot.</summary>
public sealed record VmShape(Accelerator Accelerator, int MemoryMiB = 512, int Cpus = 1)
{
    /// <summary>
    /// Instruction-count mode (TCG only): QEMU's -icount shift=0,sleep=off makes the guest's clocks advance one
    /// nanosecond per instruction executed, so time measured in the guest is "instruction time", the same on
    /// every run of the same inputs however busy the host is (docs/fidelity.md).
    /// </summary>
    public bool InstructionCount { get; init; }
}

/// <summary>
/// The QEMU command line of one boot, as an argv list: direct kernel boot, no firmware disks or
/// default devices, the console on the first serial port and the agent's records on the second,
/// each to its own file. -no-reboot with panic=-1 makes a panicking guest end QEMU at once.
/// </summary>
public static class QemuCommand
{
    public const string Binary = "qemu-system-x86_64";

    /// <summary>
    /// One instruction per virtual nanosecond, and no sleeping ahead of the host when the guest idles; the guest's
    /// real-time clock starts at a fixed date and runs on the virtual clock, so nothing in the guest depends on the
    /// host's date or speed.
    /// </summary>
    public static IReadOnlyList<string> InstructionCountArguments { get; } = ["-icount", "shift=0,sleep=off", "-rtc", "base=2026-01-01T00:00:00,clock=vm"];

    /// <summary>Kernel command line: console on ttyS0 at full log level (WARN splats are KERN_WARNING, hidden by "quiet").</summary>
    public static IReadOnlyList<string> KernelArguments { get; } =
        ["console=ttyS0,115200", "panic=-1", "loglevel=7", "rdinit=/init", "printk.time=1"];

    /// <summary>
    /// With <paramref name="firmware"/>, the boot goes through UEFI with Secure Boot's requirements met: q35 with
    /// SMM (the variable store is only writable from SMM) and secure pflash, the code read-only, the store writable.
    /// </summary>
    public static IReadOnlyList<string> Arguments(VmShape shape, string kernel, string initrd, string consoleLog, string recordsLog, IEnumerable<string>? extraKernelArguments = null,
        UefiFirmware? firmware = null)
    {
        var append = string.Join(' ', KernelArguments.Concat(extraKernelArguments ?? []));
        var args = new List<string>
        {
            "-accel", shape.Accelerator == Accelerator.Kvm && !shape.InstructionCount ? "kvm" : "tcg",
            "-m", shape.MemoryMiB.ToString(CultureInfo.InvariantCulture),
            "-smp", shape.Cpus.ToString(CultureInfo.InvariantCulture),
            "-nodefaults",
            "-display", "none",
            "-no-reboot",
            "-kernel", kernel,
            "-initrd", initrd,
            "-append", append,
            "-serial", "file:" + consoleLog,
            "-serial", "file:" + recordsLog,
        };
        if (shape.InstructionCount) args.AddRange(InstructionCountArguments);
        if (firmware is not null)
            args.AddRange([
                "-machine", "q35,smm=on",
                "-global", "driver=cfi.pflash01,property=secure,value=on",
                "-drive", $"if=pflash,format=raw,unit=0,readonly=on,file={firmware.Code.Replace(",", ",,")}",
                "-drive", $"if=pflash,format=raw,unit=1,file={firmware.Vars.Replace(",", ",,")}",
            ]);
        return args;
    }
}
