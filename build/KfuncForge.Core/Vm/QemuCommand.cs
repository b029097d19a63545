using System.Globalization;

namespace KfuncForge.Vm;

public enum Accelerator { Tcg, Kvm }

/// <summary>Machine size and the accelerator of a boot.</summary>
public sealed record VmShape(Accelerator Accelerator, int MemoryMiB = 512, int Cpus = 1);

/// <summary>
/// The QEMU command line of one boot, as an argv list: direct kernel boot, no firmware disks or
/// default devices, the console on the first serial port and the agent's records on the second,
/// each to its own file. -no-reboot with panic=-1 makes a panicking guest end QEMU at once.
/// </summary>
public static class QemuCommand
{
    public const string Binary = "qemu-system-x86_64";

    /// <summary>Kernel command line: console on ttyS0 at full log level (WARN splats are KERN_WARNING, hidden by "quiet").</summary>
    public static IReadOnlyList<string> KernelArguments { get; } =
        ["console=ttyS0,115200", "panic=-1", "loglevel=7", "rdinit=/init", "printk.time=1"];

    public static IReadOnlyList<string> Arguments(VmShape shape, string kernel, string initrd, string consoleLog, string recordsLog, IEnumerable<string>? extraKernelArguments = null)
    {
        var append = string.Join(' ', KernelArguments.Concat(extraKernelArguments ?? []));
        var args = new List<string>
        {
            "-accel", shape.Accelerator == Accelerator.Kvm ? "kvm" : "tcg",
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
        return args;
    }
}
