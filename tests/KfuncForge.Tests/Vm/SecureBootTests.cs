using KfuncForge.Processes;
using KfuncForge.Signing;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Signing;
using KfuncForge.Tests.Vm.Infrastructure;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Vm;

/// <summary>
/// The host side of the Secure Boot mode (Vm/SecureBoot.cs): the MokListRT bytes against efitools' own
/// encoder, the QEMU firmware arguments, and the kernel image re-signed with OVMF's test key, checked by
/// sbverify. The boots themselves are in Packaging/InstallCheckTests.
/// </summary>
public sealed class SecureBootTests
{
    [Fact]
    public void The_MokListRT_signature_list_is_byte_for_byte_what_cert_to_efi_sig_list_makes()
    {
        using var keys = new TestKeys();
        using var temp = TestTree.Temp();
        var esl = temp.Combine("reference.esl");
        HostTools.Checked("cert-to-efi-sig-list", "-g", SecureBootFirmware.ShimLockGuid.ToString(), keys.RsaCert, esl);
        using var certificate = SigningKey.LoadCertificate(keys.RsaCert);

        Assert.Equal(File.ReadAllBytes(esl), SecureBootFirmware.SignatureList(certificate.RawData, SecureBootFirmware.ShimLockGuid));

        // efivarfs takes the variable's attributes (non-volatile, boot service, runtime) first, in the same write.
        var write = SecureBootFirmware.MokListRtWrite(certificate.RawData);
        Assert.Equal(new byte[] { 7, 0, 0, 0 }, write[..4]);
        Assert.Equal(File.ReadAllBytes(esl), write[4..]);
    }

    [Fact]
    public void A_firmware_boot_is_q35_with_SMM_secure_pflash_and_a_read_only_code_unit()
    {
        var args = QemuCommand.Arguments(new VmShape(Accelerator.Tcg), "k", "i", "c", "r", firmware: new UefiFirmware("/fw/CODE.fd", "/work/a,b/vars.fd"));

        Assert.Equal("q35,smm=on", args[args.ToList().IndexOf("-machine") + 1]);
        Assert.Contains("driver=cfi.pflash01,property=secure,value=on", args);
        Assert.Contains("if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd", args);
        // A comma in a path would start a new -drive option; QEMU reads ",," as one comma.
        Assert.Contains("if=pflash,format=raw,unit=1,file=/work/a,,b/vars.fd", args);
        Assert.DoesNotContain("-machine", QemuCommand.Arguments(new VmShape(Accelerator.Tcg), "k", "i", "c", "r"));
    }

    [Fact]
    public async Task The_kernel_image_is_re_signed_with_the_firmware_test_key_and_cached()
    {
        if (TestKernel.Unsupported() is { } why) Assert.Fail(why);
        Assert.Empty(SecureBootFirmware.Missing());
        var kernel = await TestKernel.GetAsync();
        using var temp = TestTree.Temp();

        var first = await new SecureBootFirmware(new ContentCache(temp.Combine("a")), ProcessRunner.Instance).SignedKernelAsync(kernel.Image);
        var written = File.GetLastWriteTimeUtc(first);
        var again = await new SecureBootFirmware(new ContentCache(temp.Combine("a")), ProcessRunner.Instance).SignedKernelAsync(kernel.Image);

        // Cached: the second call signs nothing (sbsign puts its signing time in the signature, so a new one would differ).
        Assert.Equal(first, again);
        Assert.Equal(written, File.GetLastWriteTimeUtc(again));
        HostTools.Checked("sbverify", "--cert", SecureBootFirmware.CertificateFile, first);
        // Debian's own signature is gone: the test key's is the only one.
        var list = HostTools.Checked("sbverify", "--list", first).Stdout;
        Assert.Contains("signature 1", list);
        Assert.DoesNotContain("signature 2", list);
        Assert.Contains("SnakeOil", list);
        Assert.DoesNotContain("Debian", list);
        // The decrypted test key never stays in the cache.
        Assert.Equal(["vmlinuz"], Directory.GetFiles(Path.GetDirectoryName(first)!).Select(Path.GetFileName));
    }
}
