using KfuncForge.Model;
using KfuncForge.Packaging;
using KfuncForge.Signing;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Packaging;

/// <summary>
/// The kmod RPM from the rendered spec (rhel9 golden cell) around a module built here: RPM-family
/// kernels cannot be fetched on this machine, so the RPM path is proven with a Debian-side module.
/// </summary>
public sealed class RpmPackageTests(PackagingFixture f) : IClassFixture<PackagingFixture>
{
    private const string Name = "kmod-kfunc_demo-5.14.0-570.12.1.el9_6.x86_64";
    private const string RpmFile = Name + "-1.2.3-1.x86_64.rpm";
    private const string Release = "5.14.0-570.12.1.el9_6.x86_64";

    private async Task<(PackagingResult Result, string Rpm)> Build(string name)
    {
        var result = await f.PackageAsync(f.Temp.Combine(name, "yum"), PackageFamily.Rpm);
        return (result, Path.Combine(result.Repository, "Packages", RpmFile));
    }

    private string ImportKey(TempDir db, PackagingResult result)
    {
        var dbPath = db.Combine("rpmdb");
        Directory.CreateDirectory(dbPath);
        HostTools.Checked("rpm", "--dbpath", dbPath, "--import", Path.Combine(result.Repository, YumRepository.PublicKeyFileName));
        return dbPath;
    }

    [Fact]
    public async Task Rpm_K_verifies_the_signed_package_with_the_published_key()
    {
        var (result, rpm) = await Build("rpmk");
        using var db = TestTree.Temp();
        var dbPath = ImportKey(db, result);
        var check = HostTools.Checked("rpm", "--dbpath", dbPath, "-K", rpm);
        Assert.Equal($"{rpm}: digests signatures OK", check.Stdout.Trim());
        var verbose = HostTools.Checked("rpm", "--dbpath", dbPath, "-Kv", rpm).Stdout;
        Assert.Contains($"key ID {f.PackageKey.Fingerprint[^8..].ToLowerInvariant()}: OK", verbose);

        // Without the key the signature cannot be checked, and a changed package fails its digests.
        using var empty = TestTree.Temp();
        Assert.Contains("NOKEY", HostTools.Run("rpm", "--dbpath", empty.Path, "-Kv", rpm).Stdout + HostTools.Run("rpm", "--dbpath", empty.Path, "-Kv", rpm).Stderr);
        var tampered = db.Combine("tampered.rpm");
        var bytes = File.ReadAllBytes(rpm);
        bytes[^10] ^= 0xff;
        File.WriteAllBytes(tampered, bytes);
        Assert.False(HostTools.Run("rpm", "--dbpath", dbPath, "-K", tampered).Succeeded);
    }

    [Fact]
    public async Task Installs_into_a_scratch_rpm_database_with_the_expected_files_and_depmod_scriptlets()
    {
        var (result, rpm) = await Build("install");
        using var root = TestTree.Temp();
        HostTools.Checked("rpm", "--root", root.Path, "--dbpath", "/var/lib/rpm", "--initdb");
        HostTools.Checked("rpm", "--root", root.Path, "--dbpath", "/var/lib/rpm", "--import", Path.Combine(result.Repository, YumRepository.PublicKeyFileName));
        // Signature checked on install (the key is in the scratch database); dependencies and scripts are for a real RHEL system.
        HostTools.Checked("rpm", "--root", root.Path, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts", rpm);
        var files = HostTools.Checked("rpm", "--root", root.Path, "--dbpath", "/var/lib/rpm", "-ql", Name).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([$"/lib/modules/{Release}/updates/kfuncforge/kfunc_demo.ko", "/usr/lib/modules-load.d/kfunc_demo.conf", "/usr/share/kfuncforge", "/usr/share/kfuncforge/certs", $"/usr/share/kfuncforge/certs/kfunc_demo-{Release}.der"], files);
        using (var certificate = SigningKey.LoadCertificate(f.Keys.RsaCert))
            Assert.Equal(certificate.RawData, File.ReadAllBytes(Path.Combine(root.Path, "usr", "share", "kfuncforge", "certs", $"kfunc_demo-{Release}.der")));
        Assert.Equal(File.ReadAllBytes(f.SignedModule), File.ReadAllBytes(Path.Combine(root.Path, "lib", "modules", Release, "updates", "kfuncforge", "kfunc_demo.ko")));

        var scripts = HostTools.Checked("rpm", "-qp", "--nosignature", "--scripts", rpm).Stdout;
        Assert.Contains($"postinstall scriptlet (using /bin/sh):\n/sbin/depmod -a {Release} || :", scripts);
        Assert.Contains($"mokutil --test-key /usr/share/kfuncforge/certs/kfunc_demo-{Release}.der", scripts);
        Assert.Contains($"postuninstall scriptlet (using /bin/sh):\n/sbin/depmod -a {Release} || :", scripts);
        // Out of weak-modules' reach: never called, and nothing installed under extra/, the folder it links into newer kernels.
        Assert.DoesNotContain("weak-modules", scripts);
        Assert.DoesNotContain(files, p => p.Contains("/extra/", StringComparison.Ordinal));
        var requires = HostTools.Checked("rpm", "-qp", "--nosignature", "--requires", rpm).Stdout;
        Assert.Contains($"kernel-uname-r = {Release}", requires);
        var info = HostTools.Checked("rpm", "-qp", "--nosignature", "--qf", "%{BUILDHOST} %{BUILDTIME}", rpm).Stdout;
        Assert.Equal($"{RpmPackageBuilder.BuildHost} {PackagingFixture.SourceDateEpoch}", info);
    }

    /// <summary>
    /// The kmod meta package (Fedora/RHEL convention): kmod-kfunc_demo requires the newest kernel's kmod package, is signed
    /// like it, and installs the kernel-install plugin; the plugin, run as kernel-install runs it, stays quiet for a kernel
    /// whose module is installed and warns, exit 0, for one without.
    /// </summary>
    [Fact]
    public async Task The_kmod_meta_package_requires_the_newest_kernels_kmod_and_its_kernel_install_plugin_warns_without_failing()
    {
        var (result, _) = await Build("meta");
        var meta = Path.Combine(result.Repository, "Packages", $"kmod-kfunc_demo-1.2.3-{Release.Replace('-', '_')}.x86_64.rpm");
        Assert.True(File.Exists(meta), string.Join(", ", Directory.GetFiles(Path.Combine(result.Repository, "Packages"), "*.rpm").Select(Path.GetFileName)));
        using var db = TestTree.Temp();
        Assert.Equal($"{meta}: digests signatures OK", HostTools.Checked("rpm", "--dbpath", ImportKey(db, result), "-K", meta).Stdout.Trim());
        Assert.Contains($"{Name} >= 1.2.3", HostTools.Checked("rpm", "-qp", "--nosignature", "--requires", meta).Stdout);
        Assert.Contains("kmod-kfunc_demo = 1.2.3-1", HostTools.Checked("rpm", "-qp", "--nosignature", "--provides", Path.Combine(result.Repository, "Packages", RpmFile)).Stdout);
        Assert.Equal("/usr/lib/kernel/install.d/90-kfuncforge-kfunc_demo.install", HostTools.Checked("rpm", "-qp", "--nosignature", "-l", meta).Stdout.Trim());
        Assert.StartsWith("-rwxr-xr-x", HostTools.Checked("rpm", "-qp", "--nosignature", "-lv", meta).Stdout.Trim());

        using var root = TestTree.Temp();
        var copy = Path.Combine(root.Path, "meta.rpm");
        File.Copy(meta, copy);
        HostTools.Checked("rpm2archive", copy);
        HostTools.Checked("tar", "-xzf", copy + ".tgz", "-C", root.Path);
        var plugin = Path.Combine(root.Path, "usr", "lib", "kernel", "install.d", "90-kfuncforge-kfunc_demo.install");
        // No kmod package for this kernel: a loud warning naming kernel and package, and exit 0 (the kernel's installation goes on).
        var missing = HostTools.Run("sh", plugin, "add", "5.14.0-611.el9.x86_64", "/boot/entry", "/boot/vmlinuz");
        Assert.Equal(0, missing.ExitCode);
        Assert.Contains("kfuncforge: WARNING: kernel 5.14.0-611.el9.x86_64 was installed without kmod-kfunc_demo-5.14.0-611.el9.x86_64", missing.Stderr);
        // Another verb, or a kernel whose module is in place: nothing said.
        Assert.Equal("", HostTools.Run("sh", plugin, "remove", "5.14.0-611.el9.x86_64").Stderr);
    }

    [Fact]
    public async Task Two_runs_give_bit_identical_signed_rpm_and_repository()
    {
        var (a, rpmA) = await Build("twice-a");
        var (b, rpmB) = await Build("twice-b");
        Assert.Equal(File.ReadAllBytes(rpmA), File.ReadAllBytes(rpmB));
        Assert.Equal(DebPackageTests.Snapshot(a.Repository), DebPackageTests.Snapshot(b.Repository));
    }

    [Fact]
    public async Task The_repository_metadata_is_signed_and_lists_the_package()
    {
        var (result, _) = await Build("repomd");
        var repomd = Path.Combine(result.Repository, "repodata", "repomd.xml");
        using var gpg = TestTree.Temp();
        var keyring = gpg.Combine("trusted.gpg");
        HostTools.Checked("gpg", "--homedir", gpg.Path, "--batch", "--no-default-keyring", "--keyring", keyring, "--import", Path.Combine(result.Repository, YumRepository.PublicKeyFileName));
        var verify = HostTools.Run("gpgv", "--homedir", gpg.Path, "--keyring", keyring, repomd + ".asc", repomd);
        Assert.True(verify.Succeeded, verify.Stderr);
        Assert.Contains("Good signature", verify.Stderr);
        File.AppendAllText(repomd, " ");
        Assert.False(HostTools.Run("gpgv", "--homedir", gpg.Path, "--keyring", keyring, repomd + ".asc", repomd).Succeeded);
        HostTools.Run("gpgconf", "--homedir", gpg.Path, "--kill", "gpg-agent");
        var primary = Directory.GetFiles(Path.Combine(result.Repository, "repodata"), "*-primary.xml.gz").Single();
        using var gz = new System.IO.Compression.GZipStream(File.OpenRead(primary), System.IO.Compression.CompressionMode.Decompress);
        Assert.Contains($"<name>{Name}</name>", new StreamReader(gz).ReadToEnd());
    }

    [Fact]
    public async Task A_spec_that_installs_the_supply_chain_files_gets_them_inside_the_rpm()
    {
        using var temp = TestTree.Temp();
        // The two install lines and two %files lines proposed for templates/rpm/kmod.spec.sbn (docs/packaging.md).
        var cell = FailClosedTests.CopyCell(PackagingFixture.RpmCell, temp.Combine("cell"), "rpm/" + Name + ".spec", t => t
            .Replace("\n%post\n", "\ninstall -D -m 0644 %{_sourcedir}/kfuncforge-sbom.cdx.json %{buildroot}%{_docdir}/%{name}/kfuncforge/sbom.cdx.json\n"
                + "install -D -m 0644 %{_sourcedir}/kfuncforge-provenance.intoto.json %{buildroot}%{_docdir}/%{name}/kfuncforge/provenance.intoto.json\n\n%post\n")
            .Replace("\n%changelog\n", "%{_docdir}/%{name}/kfuncforge/sbom.cdx.json\n%{_docdir}/%{name}/kfuncforge/provenance.intoto.json\n\n%changelog\n"));
        var result = await new Packager(KfuncForge.Processes.ProcessRunner.Instance).RunAsync(
            [new PackageInput(RenderedCellFiles.Load(cell), f.SignedModule)], f.Settings(temp.Combine("yum"), PackageFamily.Rpm, "rhel9"));
        var rpm = Path.Combine(result.Repository, "Packages", RpmFile);
        var files = HostTools.Checked("rpm", "-qlp", "--nosignature", rpm).Stdout;
        Assert.Contains($"/usr/share/doc/{Name}/kfuncforge/sbom.cdx.json", files);
        Assert.Contains($"/usr/share/doc/{Name}/kfuncforge/provenance.intoto.json", files);
    }
}
