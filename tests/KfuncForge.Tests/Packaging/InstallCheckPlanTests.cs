using KfuncForge.Containers;
using KfuncForge.Packaging;
using KfuncForge.Signing;

namespace KfuncForge.Tests.Packaging;

/// <summary>What the install check asks of apt and of the guest, without running either (the real run is InstallCheckTests).</summary>
public sealed class InstallCheckPlanTests(PackagingFixture f) : IClassFixture<PackagingFixture>
{
    private static readonly InstallCheckRequest Request = new("/srv/repo/debian12/apt", "debian12", "kfunc-demo-modules-6.1.0-56-amd64", "6.1.0-56-amd64", "kfunc_demo", "/tmp/w")
    {
        RootfsSuite = "bookworm", ExtraSuites = ["bookworm-security"], Components = ["main"],
    };

    [Fact]
    public void Apt_checks_the_repository_against_its_published_key_and_never_trusts_it_blindly()
    {
        var spec = InstallCheck.RootfsCommand(Request, new AptMirrors("http://mirror.invalid/debian", "http://mirror.invalid/debian-security"), "/tmp/w/rootfs", withKernelModules: false);

        Assert.Equal("mmdebstrap", spec.FileName);
        Assert.Equal("deb [signed-by=/srv/repo/debian12/apt/kfuncforge-archive-keyring.gpg] copy:///srv/repo/debian12/apt debian12 main", spec.Arguments[^1]);
        Assert.DoesNotContain(spec.Arguments, a => a.Contains("trusted", StringComparison.Ordinal) || a.Contains("AllowInsecure", StringComparison.Ordinal) || a.Contains("allow-unauthenticated", StringComparison.Ordinal));
        Assert.Contains("--include=kfunc-demo-modules-6.1.0-56-amd64", spec.Arguments);
        Assert.Contains("deb http://mirror.invalid/debian-security bookworm-security main", spec.Arguments);
        Assert.Contains("--dpkgopt=path-exclude=/lib/modules/*/kernel/*", spec.Arguments);
        Assert.Equal("No", spec.Environment!["INITRD"]);

        var withModules = InstallCheck.RootfsCommand(Request, new AptMirrors("http://m.invalid/d", "http://m.invalid/s"), "/tmp/w/rootfs", withKernelModules: true);
        Assert.DoesNotContain(withModules.Arguments, a => a.Contains("/kernel/*", StringComparison.Ordinal));
    }

    [Fact]
    public void The_guest_runs_depmod_and_modprobe_then_the_tampered_copy_without_and_with_enforcement()
    {
        var lines = InstallCheck.Manifest("install-6.1.0-56-amd64", "6.1.0-56-amd64", "kfunc_demo", "kff/tampered/module.ko").Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(
        [
            "kff-manifest\t1", "boot\tinstall-6.1.0-56-amd64",
            "run\tdepmod\tdepmod\t-a\t6.1.0-56-amd64", "run\tmodinfo\tmodinfo\t-F\tfilename\tkfunc_demo", "run\tmodprobe\tmodprobe\tkfunc_demo",
            "run\tlsmod\tcat\t/proc/modules", "run\ttaint\tcat\t/sys/module/kfunc_demo/taint", "run\tremove\tmodprobe\t-r\tkfunc_demo",
            "module\tkfunc_demo\t/kff/tampered/module.ko\ttampered\t-", "run\ttaint-tampered\tcat\t/sys/module/kfunc_demo/taint", "run\tremove-tampered\trmmod\tkfunc_demo",
            "write\tenforce\t/sys/module/module/parameters/sig_enforce\t1", "run\tmodprobe-enforced\tmodprobe\tkfunc_demo",
            "module\tkfunc_demo\t/kff/tampered/module.ko\ttampered-enforced\t-",
        ], lines);
    }

    [Fact]
    public void Under_secure_boot_efivarfs_is_mounted_before_the_postinst_looks_and_the_variable_is_written_last()
    {
        var enrol = InstallCheck.EnrolmentManifest("enrol-6.1.0-56-amd64", "6.1.0-56-amd64", "kfunc-demo-modules-6.1.0-56-amd64").Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(
        [
            "kff-manifest\t1", "boot\tenrol-6.1.0-56-amd64", "run\tdepmod\tdepmod\t-a\t6.1.0-56-amd64", "run\tefivarfs\tmodprobe\tefivarfs",
            "mount\tmount-efivarfs\tefivarfs\t/sys/firmware/efi/efivars",
            "run\tpostinst-before-enrolment\t/var/lib/dpkg/info/kfunc-demo-modules-6.1.0-56-amd64.postinst\tconfigure",
            "run\tenrol\tdd\tif=/kff/mok/MokListRT\tof=/sys/firmware/efi/efivars/MokListRT-605dab50-e046-4300-abb6-3dd810dd8b23\tbs=1048576\tconv=notrunc",
        ], enrol);

        var check = InstallCheck.SecureBootManifest("sb", "6.1.0-56-amd64", "kfunc_demo", "kfunc-demo-modules-6.1.0-56-amd64").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToList();
        int At(string name) => check.FindIndex(l => l[0] == "module" ? l[3] == name : l.Length > 1 && l[1] == name);
        Assert.True(At("mount-efivarfs") < At("modprobe") && At("modprobe") < At("postinst-enrolled"));
        // Each copy the kernel must refuse is tried, and removed again should it load, so the next one is judged on its own.
        foreach (var kind in new[] { "tampered", "foreign", "unsigned" })
            Assert.Equal(At(kind) + 1, At("remove-" + kind));
        Assert.Equal(["unlink", "forget-mok", "/sys/firmware/efi/efivars/MokListRT-605dab50-e046-4300-abb6-3dd810dd8b23"], check[At("forget-mok")]);
        Assert.Equal(At("forget-mok") + 1, At("postinst-not-enrolled"));
    }

    [Fact]
    public void The_tampered_copy_differs_in_one_byte_of_the_signed_body_and_no_longer_verifies()
    {
        var signed = File.ReadAllBytes(f.SignedModule);
        var offset = InstallCheck.TamperOffset(signed, f.SignedModule);
        var tampered = (byte[])signed.Clone();
        tampered[offset] ^= 0x01;

        var comment = KfuncForge.Kernels.ElfFile.Parse(signed, "module").Section(".comment")!;
        Assert.InRange(offset, comment.Offset, comment.Offset + comment.Size - 1);
        using var cert = SigningKey.LoadCertificate(f.Keys.RsaCert);
        ModuleSignatureVerifier.Verify(signed, cert, ModuleHash.Sha256);
        Assert.Throws<ModuleSignatureException>(() => ModuleSignatureVerifier.Verify(tampered, cert, ModuleHash.Sha256));
    }
}
