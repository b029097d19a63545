using Xunit.Abstractions;
using KfuncForge.Containers;
using KfuncForge.Diagnostics;
using KfuncForge.Model;
using KfuncForge.Packaging;
using KfuncForge.Processes;
using KfuncForge.Signing;
using KfuncForge.Tests.Signing;
using KfuncForge.Tests.Support;
using KfuncForge.Tests.Vm.Infrastructure;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Packaging;

/// <summary>
/// The Package stage's done-when check, for real: kfunc_fixture_ok built by the pipeline for bookworm's
/// 6.1 kernel, signed, packaged into a signed apt repository; apt installs it from there (signed-by, no
/// trusted=yes) into a fresh Debian 12 rootfs; that rootfs boots in QEMU on the kernel apt installed with
/// it, and the guest runs depmod and modprobe. The same boot loads a copy with one byte changed.
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class InstallCheckTests(RealKernel real, ITestOutputHelper output) : IAsyncLifetime
{
    private const string Module = "kfunc_fixture_ok";
    private readonly TestKeys _keys = new();
    private readonly TempDir _temp = new("kfuncforge-install-");
    private GpgKeyring _keyring = null!;
    private PackagingResult _published = null!;

    public async Task InitializeAsync()
    {
        if (RealKernel.SkipReason is not null || TestKernel.Unsupported() is not null) return;
        var cell = real.Cell(Module);
        Assert.True(cell.Ko is not null, cell.Reason);
        using var key = SigningKey.Load(_keys.RsaKey, _keys.RsaCert);
        var signed = _temp.Combine("signed", Module + ".ko");
        await new ModuleSigner(new KeySignatureSource(key, ModuleHash.Sha256)).SignAsync(cell.Ko!, signed);
        _keyring = new GpgKeyring(ProcessRunner.Instance, _temp.Combine("gnupg"));
        var packageKey = (await _keyring.EnsureDevelopmentKeyAsync()).Key;
        var settings = new PackagingSettings(_temp.Combine("repo", "apt"), PackageFamily.Deb, "amd64", PackagingFixture.SourceDate,
            SigningKey.LoadCertificate(_keys.RsaCert), ModuleHash.Sha256, _keyring, packageKey, PackagingFixture.Provenance, "debian12");
        _published = await new Packager(ProcessRunner.Instance).RunAsync([new PackageInput(RenderedCellFiles.Load(Path.GetDirectoryName(cell.Ko!)!), signed)], settings);
    }

    public async Task DisposeAsync()
    {
        if (_keyring is not null) await _keyring.StopAgentAsync();
        _temp.Dispose();
        _keys.Dispose();
    }

    private InstallCheckRequest Request(string work, string? keyring = null) =>
        new(_published.Repository, "debian12", Assert.Single(_published.Packages).Name, real.Kernel.Release, Module, _temp.Combine(work))
        {
            RootfsSuite = real.Distro.Rootfs!.Suite,
            ExtraSuites = real.Distro.Rootfs.ExtraSuites,
            Components = real.Distro.Rootfs.Components,
            Keyring = keyring,
        };

    private static InstallCheck Check() =>
        new(ProcessRunner.Instance, new GuestTools(new ContentCache(TestKernel.CacheRoot), ProcessRunner.Instance), new QemuVmRunner(ProcessRunner.Instance));

    [IntegrationFact(Timeout = 1_800_000)]
    public async Task Apt_installs_the_package_from_the_signed_repository_and_modprobe_loads_it_in_the_booted_rootfs()
    {
        if (TestKernel.Unsupported() is not null) return; // not an x86-64 Debian host: IntegrationFact covers the tools
        var lines = new List<string>();

        var result = await Check().RunAsync(Request("check"), AptMirrors.FromHost(), lines.Add);

        var report = string.Join("\n", result.Summary());
        output.WriteLine(report);
        Assert.True(result.Passed, report + "\n" + File.ReadAllText(result.Boot?.Request.ConsoleLog ?? "/dev/null"));
        Assert.Equal(real.Kernel.Release, result.KernelSeen);
        Assert.Equal($"linux-image-{real.Kernel.Release} {real.Kernel.Facts.Packages.Single(p => p.Package == $"linux-image-{real.Kernel.Release}").Version}", result.KernelImagePackage);
        Assert.Equal($"/usr/lib/modules/{real.Kernel.Release}/updates/kfuncforge/{Module}.ko", result.InstalledModulePath);
        Assert.True(result.Commands.Single(c => c.Name == "depmod").Succeeded, report);
        Assert.EndsWith($"/updates/kfuncforge/{Module}.ko", result.Commands.Single(c => c.Name == "modinfo").Output.Trim());

        // What the stock Debian kernel does with a module signed by a key it does not trust (docs/signing.md):
        // it loads it and taints itself ('E': unsigned or unverifiable module; 'O': out of tree), and says so once per boot.
        Assert.True(result.Signed!.Loaded, report);
        Assert.Equal("OE", result.Signed.Taint);
        Assert.Contains(result.Signed.KernelLog, l => l.Contains("module verification failed: signature and/or required key missing - tainting kernel", StringComparison.Ordinal));
        // The tampered copy cannot be told apart without the key: loaded and flagged the same way (the message is printed once per boot).
        Assert.True(result.Tampered!.Loaded, report);
        Assert.Equal("OE", result.Tampered.Taint);
        // With enforcement on, the kernel refuses both: the signer's key is missing, so the content is never checked.
        Assert.False(result.SignedEnforced!.Loaded, report);
        Assert.Contains("Key was rejected by service", result.SignedEnforced.Error);
        Assert.False(result.TamperedEnforced!.Loaded, report);
        Assert.Equal("Key was rejected by service", result.TamperedEnforced.Error);
        Assert.Contains(result.TamperedEnforced.KernelLog, l => l.Contains("Loading of module with unavailable key is rejected", StringComparison.Ordinal));
    }

    [IntegrationFact(Timeout = 600_000)]
    public async Task Apt_refuses_the_repository_when_its_signature_does_not_match_the_key()
    {
        if (TestKernel.Unsupported() is not null) return; // not an x86-64 Debian host: IntegrationFact covers the tools

        // Debian's own archive key stands in for a wrong key: the repository's InRelease is not signed by it.
        var e = await Assert.ThrowsAsync<StageException>(() => Check().RunAsync(Request("wrong-key", "/usr/share/keyrings/debian-archive-keyring.gpg"), AptMirrors.FromHost()));

        Assert.Contains($"apt could not install {_published.Packages[0].Name}", e.Message);
        Assert.Contains("NO_PUBKEY", e.Message);
    }
}
