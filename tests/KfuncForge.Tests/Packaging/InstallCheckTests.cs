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
/// 6.1 and 6.12 kernels, signed, packaged into one signed apt repository; apt installs a package from
/// there (signed-by, no trusted=yes) into a fresh Debian 12 rootfs; that rootfs boots in QEMU on the kernel
/// apt installed with it, and the guest runs depmod and modprobe. The same boot loads altered copies: without
/// Secure Boot a tampered one; under Secure Boot with the package's certificate enrolled as a MOK, tampered,
/// signed by another key and unsigned ones (issue 18).
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class InstallCheckTests(RealKernel real, RealKernel612 real612, ITestOutputHelper output) : IAsyncLifetime
{
    private const string Module = "kfunc_fixture_ok";
    private readonly TestKeys _keys = new();
    private readonly TempDir _temp = new("kfuncforge-install-");
    private GpgKeyring _keyring = null!;
    private PackagingResult _published = null!;

    public async Task InitializeAsync()
    {
        if (RealKernel.SkipReason is not null || TestKernel.Unsupported() is not null) return;
        using var key = SigningKey.Load(_keys.RsaKey, _keys.RsaCert);
        var inputs = new List<PackageInput>();
        foreach (var kernel in new[] { real, real612 })
        {
            var cell = kernel.Cell(Module);
            Assert.True(cell.Ko is not null, cell.Reason);
            var signed = _temp.Combine("signed", kernel.Kernel.Release, Module + ".ko");
            await new ModuleSigner(new KeySignatureSource(key, ModuleHash.Sha256)).SignAsync(cell.Ko!, signed);
            inputs.Add(new PackageInput(RenderedCellFiles.Load(Path.GetDirectoryName(cell.Ko!)!), signed));
        }
        _keyring = new GpgKeyring(ProcessRunner.Instance, _temp.Combine("gnupg"));
        var packageKey = (await _keyring.EnsureDevelopmentKeyAsync()).Key;
        var settings = new PackagingSettings(_temp.Combine("repo", "apt"), PackageFamily.Deb, "amd64", PackagingFixture.SourceDate,
            SigningKey.LoadCertificate(_keys.RsaCert), ModuleHash.Sha256, _keyring, packageKey, PackagingFixture.Provenance, "debian12");
        _published = await new Packager(ProcessRunner.Instance).RunAsync(inputs, settings);
    }

    public async Task DisposeAsync()
    {
        if (_keyring is not null) await _keyring.StopAgentAsync();
        _temp.Dispose();
        _keys.Dispose();
    }

    private InstallCheckRequest Request(string work, string? keyring = null, RealKernel? kernel = null, bool secureBoot = false)
    {
        kernel ??= real;
        return new(_published.Repository, "debian12", _published.Packages.Single(p => p.Name.Contains(kernel.Kernel.Release, StringComparison.Ordinal)).Name,
            kernel.Kernel.Release, Module, _temp.Combine(work))
        {
            RootfsSuite = kernel.Distro.Rootfs!.Suite,
            ExtraSuites = kernel.Distro.Rootfs.ExtraSuites,
            Components = kernel.Distro.Rootfs.Components,
            Keyring = keyring,
            SecureBoot = secureBoot,
        };
    }

    private static InstallCheck Check(string? cache = null) =>
        new(ProcessRunner.Instance, new GuestTools(new ContentCache(cache ?? TestKernel.CacheRoot), ProcessRunner.Instance), new QemuVmRunner(ProcessRunner.Instance));

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
        var request = Request("wrong-key", "/usr/share/keyrings/debian-archive-keyring.gpg");
        var e = await Assert.ThrowsAsync<StageException>(() => Check().RunAsync(request, AptMirrors.FromHost()));

        Assert.Contains($"apt could not install {request.Package}", e.Message);
        Assert.Contains("NO_PUBKEY", e.Message);
    }

    public static TheoryData<string> Lines => new() { "6.1", "6.12" };

    /// <summary>
    /// Each package ships the module as its kernel ships its own: Debian's 6.12 has CONFIG_MODULE_COMPRESS_XZ, so .ko.xz
    /// (signed before compression, xz with the CRC32 check the in-kernel decompressor needs); 6.1 compresses none.
    /// </summary>
    [IntegrationFact]
    public void The_module_is_compressed_as_the_kernel_config_asks()
    {
        foreach (var (kernel, file) in new[] { (real, Module + ".ko"), (real612, Module + ".ko.xz") })
        {
            var package = _published.Packages.Single(p => p.Name.Contains(kernel.Kernel.Release, StringComparison.Ordinal));
            var deb = Directory.GetFiles(_published.Repository, package.FileName, SearchOption.AllDirectories).Single();
            var listing = KfuncForge.Tests.Infrastructure.HostTools.Checked("dpkg-deb", "-c", deb).Stdout;
            Assert.Contains($"./lib/modules/{kernel.Kernel.Release}/updates/kfuncforge/{file}\n", listing);
        }
        var modules = _published.Modules.Where(m => m.InstallPath.EndsWith(".ko.xz", StringComparison.Ordinal)).ToList();
        Assert.Equal("sha256", Assert.Single(modules).Signature.Hash.Name);
    }

    [IntegrationTheory(Timeout = 1_800_000)]
    [MemberData(nameof(Lines))]
    public async Task Under_secure_boot_with_the_packaged_certificate_enrolled_only_our_signed_module_loads(string line)
    {
        if (TestKernel.Unsupported() is not null) return; // not an x86-64 Debian host: IntegrationTheory covers the tools
        var kernel = line == "6.1" ? real : real612;

        // A cache of its own: the test's key is new each run, so its enrolled variable store would only pile up in the user's cache.
        var result = await Check(_temp.Combine("cache")).RunAsync(Request("secure-boot-" + line, kernel: kernel, secureBoot: true), AptMirrors.FromHost());

        var report = string.Join("\n", result.Summary());
        output.WriteLine(report);
        Assert.True(result.Passed, report + "\n" + File.ReadAllText(result.Boot?.Request.ConsoleLog ?? "/dev/null"));
        Assert.Equal(kernel.Kernel.Release, result.KernelSeen);
        var sb = result.SecureBoot!;
        // The kernel booted locked down by Secure Boot and loaded the certificate the package ships, from MokListRT.
        Assert.Contains(sb.KernelLines, l => l.Contains("Secure boot enabled", StringComparison.Ordinal));
        Assert.Contains(sb.KernelLines, l => l.Contains("Kernel is locked down from EFI Secure Boot", StringComparison.Ordinal));
        Assert.Contains(sb.KernelLines, l => l.Contains("Loading X.509 certificate: UEFI:MokListRT", StringComparison.Ordinal));
        using var ours = SigningKey.LoadCertificate(_keys.RsaCert);
        var name = ours.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, false);
        Assert.Contains(sb.KernelLines, l => l.Contains("Loaded X.509 cert", StringComparison.Ordinal) && l.Contains(name, StringComparison.Ordinal));

        // Signed by our key: loaded, and verified (no 'E' taint, no "verification failed").
        Assert.True(result.Signed!.Loaded, report);
        Assert.Equal("O", result.Signed.Taint);
        Assert.DoesNotContain(result.Signed.KernelLog, l => l.Contains("verification failed", StringComparison.Ordinal));
        // One byte changed: the signature no longer matches.
        Assert.False(result.Tampered!.Loaded, report);
        Assert.Equal("Key was rejected by service", result.Tampered.Error);
        // Signed by a key the kernel does not trust, and not signed at all: refused, and the kernel says why.
        Assert.False(result.Foreign!.Loaded, report);
        Assert.Contains(result.Foreign.KernelLog, l => l.Contains("Loading of module with unavailable key is rejected", StringComparison.Ordinal));
        Assert.False(result.Unsigned!.Loaded, report);
        Assert.Contains(result.Unsigned.KernelLog, l => l.Contains("Loading of unsigned module is rejected", StringComparison.Ordinal));

        // The package's postinst, run as apt runs it (no terminal): silent success when enrolled, the mokutil command when not; never a failure.
        var certificate = ShippedCertificate.PathFor(Module, kernel.Kernel.Release);
        Assert.True(sb.EnrolledNow);
        Assert.Equal(0, sb.PostinstBeforeEnrolment!.Code);
        Assert.Contains($"mokutil --import {certificate}", sb.PostinstBeforeEnrolment.Output);
        Assert.Equal(0, sb.PostinstEnrolled!.Code);
        Assert.Contains("module signing key is enrolled", sb.PostinstEnrolled.Output);
        Assert.Equal(0, sb.PostinstNotEnrolled!.Code);
        Assert.Contains($"mokutil --import {certificate}", sb.PostinstNotEnrolled.Output);
    }
}
