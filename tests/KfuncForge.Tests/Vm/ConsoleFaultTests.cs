using KfuncForge.Tests.Infrastructure;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Vm;

/// <summary>
/// Fault detection on console logs: panic, oops and WARN captured from real boots of the fixture
/// modules on Debian's 6.12 kernel, a clean boot with modules loaded, and short lockdep, hung-task,
/// soft-lockup and RCU-stall splats in the kernel's format (kernels here lack lockdep).
/// </summary>
public sealed class ConsoleFaultTests
{
    [Theory]
    [InlineData("clean", "")]
    [InlineData("panic", "panic@347 kff_panic")]
    [InlineData("oops", "oops@345 kff_oops")]
    [InlineData("warn", "warning@350 kff_warn")]
    [InlineData("lockdep", "lockdep@4 kfunc_sock_destroy")]
    [InlineData("hung-task", "hung_task@2 kfunc_sock_destroy")]
    [InlineData("soft-lockup", "soft_lockup@2 kfunc_strings")]
    [InlineData("rcu-stall", "rcu_stall@2 kff_spin")]
    public void Each_kind_of_splat_is_found_once_with_the_modules_it_names(string log, string expected)
    {
        var scanner = new ConsoleFaultScanner();
        foreach (var line in File.ReadLines(Path.Combine(TestTree.Fixtures, "vm", "console", log + ".log")))
            scanner.Add(line);

        var found = string.Join("; ", scanner.Faults.Select(f => $"{SmokeReport.Name(f.Kind)}@{f.Line} {string.Join(",", f.Modules)}"));
        Assert.Equal(expected, found);
    }

    [Fact]
    public void A_panic_after_an_oops_is_reported_as_well()
    {
        var scanner = new ConsoleFaultScanner();
        scanner.Add("[    3.1] BUG: kernel NULL pointer dereference, address: 0000000000000000");
        scanner.Add("[    3.2] Oops: 0000 [#1] PREEMPT SMP NOPTI");
        scanner.Add("[    3.3] RIP: 0010:kff_init+0x25/0xff0 [kff_oops]");
        scanner.Add("[    3.4] Kernel panic - not syncing: Fatal exception");

        Assert.Equal([FaultKind.Oops, FaultKind.Panic], scanner.Faults.Select(f => f.Kind));
        Assert.Equal(["kff_oops"], scanner.Faults[0].Modules);
    }

    [Fact]
    public void Ordinary_boot_noise_is_not_a_fault()
    {
        var scanner = new ConsoleFaultScanner();
        foreach (var line in new[]
        {
            "[    1.17] PCI: Using host bridge windows from ACPI; if necessary, use \"pci=nocrs\" and report a bug",
            "[    1.93] RAS: Correctable Errors collector initialized.",
            "[    2.66] kff_good: module verification failed: signature and/or required key missing - tainting kernel",
            "[    2.70] missing module BTF, cannot register kfunc",
        })
            Assert.Null(scanner.Add(line));
    }
}
