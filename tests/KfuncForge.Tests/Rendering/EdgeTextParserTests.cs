using KfuncForge.Model;
using KfuncForge.Packaging;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Packaging;

namespace KfuncForge.Tests.Rendering;

/// <summary>
/// The edges of every text grammar, all accepted (tests/golden/edge-text: a 200-character description in
/// several scripts with each punctuation mark the grammar allows, a non-ASCII maintainer and vendor, a
/// version with '~' and '+', an install folder with '+' and '_'): the real parsers read each rendered file
/// with its structure unchanged and every value exactly as written.
/// </summary>
public sealed class EdgeTextParserTests(PackagingFixture f) : IClassFixture<PackagingFixture>
{
    private static string Input => Path.Combine(TestTree.Golden, "edge-text", "input");
    private static string DebCell => Path.Combine(TestTree.Golden, "edge-text", "expected", "debian12", "6.1-amd64", "kfunc_demo");
    private static string RpmCell => Path.Combine(TestTree.Golden, "edge-text", "expected", "rhel9", "5.14.0-570.12.1.el9_6.x86_64", "kfunc_demo");

    private static readonly KfuncForge.Definitions.Catalog Catalog = KfuncForge.Definitions.Catalog.Load(new KfuncForge.Definitions.SourceTree(Input, TestTree.Templates));
    private static string Description => Catalog.Modules.Single().Description;
    private static string Maintainer(string distro) => Catalog.Distro(distro).Packaging.Maintainer;

    [Fact]
    public async Task Dpkg_deb_reads_the_control_file_with_every_field_as_written()
    {
        var result = await new Packager(KfuncForge.Processes.ProcessRunner.Instance).RunAsync([new PackageInput(RenderedCellFiles.Load(DebCell), f.SignedModule)],
            f.Settings(f.Temp.Combine("edge-deb", "apt"), PackageFamily.Deb));
        var deb = Directory.GetFiles(result.Repository, "kfunc-demo-modules-6.1-amd64_*.deb", SearchOption.AllDirectories).Single();
        var fields = Deb822.Parse(HostTools.Checked("dpkg-deb", "--field", deb).Stdout, deb).Single();
        Assert.Equal(["Package", "Version", "Architecture", "Maintainer", "Installed-Size", "Depends", "Section", "Priority", "Description"], fields.Fields.Select(x => x.Key));
        Assert.Equal(Maintainer("debian12"), fields["Maintainer"]);
        Assert.Equal("1.2.3~rc1+b2.x", fields["Version"]);
        Assert.Equal("linux-image-6.1-amd64, kmod", fields["Depends"]);
        Assert.StartsWith($"{Description} (Linux 6.1-amd64)\n BPF kfuncs backported by {Catalog.Distro("debian12").Packaging.Vendor} as", fields["Description"]);
        var listing = HostTools.Checked("dpkg-deb", "--contents", deb).Stdout;
        Assert.Contains("./lib/modules/6.1-amd64/updates/kf+edge_1.0/kfunc_demo.ko", listing);
    }

    [Fact]
    public async Task Rpm_reads_the_spec_with_every_field_as_written_and_only_our_scriptlets()
    {
        var spec = Directory.GetFiles(Path.Combine(RpmCell, "rpm"), "*.spec").Single();
        HostTools.Checked("rpmspec", "-P", spec);
        // The meta package's spec parses too, with the hostile text as data.
        var meta = HostTools.Checked("rpmspec", "-q", "--qf", "%{SUMMARY}\n", Directory.GetFiles(Path.Combine(RpmCell, "fleet", "rpm"), "*.spec").Single()).Stdout;
        Assert.Equal($"{Description} (follows kernel updates)\n", meta);
        var result = await new Packager(KfuncForge.Processes.ProcessRunner.Instance).RunAsync([new PackageInput(RenderedCellFiles.Load(RpmCell), f.SignedModule)],
            f.Settings(f.Temp.Combine("edge-rpm", "yum"), PackageFamily.Rpm, "rhel9"));
        var rpm = Directory.GetFiles(result.Repository, "kmod-kfunc_demo-5.*.rpm", SearchOption.AllDirectories).Single();
        var q = HostTools.Checked("rpm", "-qp", "--qf", "%{SUMMARY}\\n%{LICENSE}\\n%{VERSION}\\n", rpm).Stdout.Split('\n');
        Assert.Equal(Description, q[0]);
        Assert.Equal("Dual MIT/GPL", q[1]);
        Assert.Equal("1.2.3~rc1+b2.x", q[2]);
        var info = HostTools.Checked("rpm", "-qpi", rpm).Stdout;
        Assert.Contains($"BPF kfuncs backported by {Catalog.Distro("rhel9").Packaging.Vendor} as the kernel module kfunc_demo,", info);
        var scripts = HostTools.Checked("rpm", "-qp", "--scripts", rpm).Stdout;
        Assert.Equal(["postinstall scriptlet (using /bin/sh):", "postuninstall scriptlet (using /bin/sh):"], scripts.Split('\n').Where(l => l.EndsWith("):", StringComparison.Ordinal)));
        Assert.Contains("/lib/modules/5.14.0-570.12.1.el9_6.x86_64/extra/kf+edge_1.0/kfunc_demo.ko", HostTools.Checked("rpm", "-qpl", rpm).Stdout);
        Assert.Contains($"{Maintainer("rhel9")} - 1.2.3~rc1+b2.x-1", HostTools.Checked("rpm", "-qp", "--changelog", rpm).Stdout);
    }

    [Fact]
    public void Maintainer_scripts_parse_as_shell()
    {
        foreach (var script in Directory.GetFiles(Path.Combine(DebCell, "debian"), "*.post*"))
        {
            HostTools.Checked("bash", "-n", script);
            HostTools.Checked("sh", "-n", script);
        }
    }

    [Fact]
    public void Make_reads_the_makefile_kbuild_and_rules_as_written()
    {
        using var temp = TestTree.Temp();
        var probe = temp.Combine("probe.mk");
        File.WriteAllText(probe, $"include {Path.Combine(DebCell, "Kbuild")}\nprint:\n\t@echo '$(obj-m)|$(kfunc_demo-y)|$(ccflags-y)'\n");
        var printed = HostTools.Checked("make", "-s", "-f", probe, "print", "src=.").Stdout.Trim();
        Assert.Equal("kfunc_demo.o|kfunc_demo_main.o src/demo.o src/kill.o|-I.", printed);
        var dry = HostTools.Checked("make", "-n", "-C", DebCell, "-f", "Makefile", "modules", "MAKE=echo").Stdout;   // the recursive make only echoed
        Assert.Contains("-C /usr/src/linux-headers-6.1-amd64 M=", dry);
        var rules = HostTools.Checked("make", "-n", "-f", Path.Combine(DebCell, "debian", "rules"), "override_dh_auto_install").Stdout;
        Assert.Contains("install -D -m 0644 kfunc_demo.ko debian/kfunc-demo-modules-6.1-amd64/lib/modules/6.1-amd64/updates/kf+edge_1.0/kfunc_demo.ko", rules);
    }

    [Fact]
    public void Dkms_conf_sourced_by_bash_sets_its_values_and_does_nothing_else()
    {
        using var temp = TestTree.Temp();
        var work = temp.Combine("work");
        Directory.CreateDirectory(work);
        File.Copy(Path.Combine(DebCell, "dkms.conf"), Path.Combine(work, "dkms.conf"));
        var r = HostTools.Checked("bash", "-c", "cd \"$1\" && ( . ./dkms.conf && printf '%s\\n' \"$PACKAGE_NAME\" \"$PACKAGE_VERSION\" \"${BUILT_MODULE_NAME[0]}\" \"$BUILD_EXCLUSIVE_KERNEL\" )", "bash", work);
        Assert.Equal(["kfunc-demo", "1.2.3~rc1+b2.x", "kfunc_demo", "^6\\.1-amd64$"], r.Stdout.TrimEnd('\n').Split('\n'));
        Assert.Equal(["dkms.conf"], Directory.GetFileSystemEntries(work).Select(Path.GetFileName));
    }
}
