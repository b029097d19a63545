using KfuncForge.Model;
using KfuncForge.Packaging;
using KfuncForge.Processes;
using KfuncForge.Signing;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Packaging;

/// <summary>The .deb made from a rendered cell with dpkg-deb, and the signed apt repository around it.</summary>
public sealed class DebPackageTests(PackagingFixture f) : IClassFixture<PackagingFixture>
{
    private const string Package = "kfunc-demo-modules-6.1-amd64";
    private const string DebFile = Package + "_1.2.3_amd64.deb";

    private async Task<(PackagingResult Result, string Deb)> Build(string name)
    {
        var result = await f.PackageAsync(f.Temp.Combine(name, "apt"), PackageFamily.Deb);
        return (result, Path.Combine(result.Repository, "pool", "main", Package, DebFile));
    }

    [Fact]
    public async Task Control_fields_come_from_the_rendered_debian_files()
    {
        var (_, deb) = await Build("fields");
        var fields = Deb822.Parse(HostTools.Checked("dpkg-deb", "--field", deb).Stdout, deb).Single();
        Assert.Equal(Package, fields["Package"]);
        Assert.Equal("1.2.3", fields["Version"]);
        Assert.Equal("amd64", fields["Architecture"]);
        Assert.Equal("KfuncForge <kfuncforge@localhost>", fields["Maintainer"]);
        Assert.Equal("linux-image-6.1-amd64, kmod", fields["Depends"]);
        Assert.Equal("kernel", fields["Section"]);
        Assert.Equal("optional", fields["Priority"]);
        Assert.True(int.Parse(fields["Installed-Size"]!) > 0);
        Assert.StartsWith("Demo kfuncs for the golden render test (Linux 6.1-amd64)\n BPF kfuncs backported by KfuncForge", fields["Description"]);
        Assert.Equal(["Package", "Version", "Architecture", "Maintainer", "Installed-Size", "Depends", "Section", "Priority", "Description"], fields.Fields.Select(x => x.Key));
    }

    [Fact]
    public async Task Payload_has_the_module_under_updates_the_modules_load_file_and_the_supply_chain_files_owned_by_root()
    {
        var (_, deb) = await Build("payload");
        var listing = HostTools.Checked("dpkg-deb", "--contents", deb).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.StartsWith('-')).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(p => (Mode: p[0], Owner: p[1], Time: p[3] + " " + p[4], Path: p[5])).ToList();
        Assert.All(listing, e => Assert.Equal("root/root", e.Owner));
        Assert.All(listing, e => Assert.Equal("-rw-r--r--", e.Mode));
        Assert.All(listing, e => Assert.Equal("2023-11-14 22:13", e.Time));
        Assert.Equal(
            [
                "./lib/modules/6.1-amd64/updates/kfuncforge/kfunc_demo.ko",
                $"./usr/lib/modules-load.d/kfunc_demo-6.1-amd64.conf",
                $"./usr/share/doc/{Package}/changelog.Debian.gz",
                $"./usr/share/doc/{Package}/kfuncforge/provenance.intoto.json",
                $"./usr/share/doc/{Package}/kfuncforge/sbom.cdx.json",
                "./usr/share/kfuncforge/certs/kfunc_demo-6.1-amd64.der",
            ],
            listing.Select(e => e.Path).Order(StringComparer.Ordinal));

        using var temp = TestTree.Temp();
        HostTools.Checked("dpkg-deb", "-x", deb, temp.Combine("root"));
        HostTools.Checked("dpkg-deb", "-e", deb, temp.Combine("DEBIAN"));
        Assert.Equal(File.ReadAllBytes(f.SignedModule), File.ReadAllBytes(temp.Combine("root", "lib", "modules", "6.1-amd64", "updates", "kfuncforge", "kfunc_demo.ko")));
        Assert.Equal("kfunc_demo", File.ReadAllLines(temp.Combine("root", "usr", "lib", "modules-load.d", "kfunc_demo-6.1-amd64.conf")).Last());
        // The signing certificate, DER, for `mokutil --import` (docs/signing.md, "Secure Boot").
        using (var certificate = SigningKey.LoadCertificate(f.Keys.RsaCert))
            Assert.Equal(certificate.RawData, File.ReadAllBytes(temp.Combine("root", "usr", "share", "kfuncforge", "certs", "kfunc_demo-6.1-amd64.der")));

        var rendered = File.ReadAllText(Path.Combine(PackagingFixture.DebCell, "debian", Package + ".postinst"));
        var postinst = File.ReadAllText(temp.Combine("DEBIAN", "postinst"));
        Assert.Equal(rendered.Replace("#DEBHELPER#\n", ""), postinst);
        Assert.Contains("depmod -a 6.1-amd64", postinst);
        Assert.Contains("mokutil --import '/usr/share/kfuncforge/certs/kfunc_demo-6.1-amd64.der", postinst);
        Assert.Contains("depmod -a 6.1-amd64", File.ReadAllText(temp.Combine("DEBIAN", "postrm")));
        Assert.Equal(StagedTree.ExecutableMode, File.GetUnixFileMode(temp.Combine("DEBIAN", "postinst")));
        Assert.Contains("  lib/modules/6.1-amd64/updates/kfuncforge/kfunc_demo.ko\n", File.ReadAllText(temp.Combine("DEBIAN", "md5sums")));
    }

    [Fact]
    public async Task Two_runs_give_bit_identical_deb_and_repository()
    {
        var (a, debA) = await Build("twice-a");
        var (b, debB) = await Build("twice-b");
        Assert.Equal(File.ReadAllBytes(debA), File.ReadAllBytes(debB));
        Assert.Equal(Snapshot(a.Repository), Snapshot(b.Repository));
    }

    [Fact]
    public async Task Apt_verifies_the_repository_signature_and_fetches_the_package_and_refuses_a_changed_Release()
    {
        var (result, deb) = await Build("apt");
        using var apt = TestTree.Temp();
        var list = apt.Combine("sources.list");
        File.WriteAllText(list, $"deb [signed-by={Path.Combine(result.Repository, AptRepository.KeyringFileName)}] file:{result.Repository} debian12 main\n");
        var update = HostTools.Run(AptGet(apt, list, "update"));
        Assert.True(update.Succeeded, update.Stderr + update.Stdout);
        Assert.True(!update.Stderr.Contains("GPG") && !update.Stderr.Contains("not signed") && !update.Stderr.Contains("E:"), update.Stderr);
        Assert.Contains("debian12 InRelease", update.Stdout);
        var download = HostTools.Run(AptGet(apt, list, "download", Package) with { WorkingDirectory = apt.Path });
        Assert.True(download.Succeeded, download.Stderr);
        Assert.Equal(File.ReadAllBytes(deb), File.ReadAllBytes(apt.Combine(DebFile)));

        // A Release changed after signing no longer matches InRelease's signature.
        using var bad = TestTree.Temp();
        TestTree.CopyDirectory(result.Repository, bad.Combine("repo"));
        var inRelease = bad.Combine("repo", "dists", "debian12", "InRelease");
        File.WriteAllText(inRelease, File.ReadAllText(inRelease).Replace("Label: KfuncForge", "Label: Tampered"));
        File.WriteAllText(list, $"deb [signed-by={Path.Combine(result.Repository, AptRepository.KeyringFileName)}] file:{bad.Combine("repo")} debian12 main\n");
        var refused = HostTools.Run(AptGet(bad, list, "update"));
        Assert.Contains("signature", refused.Stdout + refused.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("is not signed", refused.Stdout + refused.Stderr);
    }

    [Fact]
    public async Task A_new_run_replaces_the_repository_through_one_link_and_keeps_the_previous_generation()
    {
        var repo = f.Temp.Combine("generations", "apt");
        var first = await f.PackageAsync(repo, PackageFamily.Deb);
        var second = await f.PackageAsync(repo, PackageFamily.Deb, run: 1);
        Assert.NotNull(new DirectoryInfo(repo).LinkTarget);
        Assert.Equal(Path.GetFileName(second.Generation), new DirectoryInfo(repo).LinkTarget);
        Assert.True(Directory.Exists(first.Generation));
        var third = await f.PackageAsync(repo, PackageFamily.Deb, run: 2);
        Assert.False(Directory.Exists(first.Generation));
        Assert.True(Directory.Exists(second.Generation));
        Assert.Equal(Path.GetFileName(third.Generation), new DirectoryInfo(repo).LinkTarget);
    }

    internal static ProcessSpec AptGet(TempDir state, string list, params string[] args) => new("apt-get",
    [
        "-o", $"Dir::Etc::SourceList={list}", "-o", "Dir::Etc::SourceParts=/nonexistent",
        "-o", $"Dir::State::Lists={Mkdir(state.Combine("lists"))}", "-o", $"Dir::Cache={Mkdir(state.Combine("cache"))}",
        "-o", $"Dir::State::status={Touch(state.Combine("status"))}", "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root",
        .. args,
    ]) { Timeout = TimeSpan.FromMinutes(2) };

    private static string Mkdir(string path)
    {
        Directory.CreateDirectory(Path.Combine(path, "partial"));
        Directory.CreateDirectory(Path.Combine(path, "archives", "partial"));
        return path;
    }

    private static string Touch(string path)
    {
        if (!File.Exists(path)) File.WriteAllText(path, "");
        return path;
    }

    internal static SortedDictionary<string, string> Snapshot(string root)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.GetFiles(root, "*", SearchOption.AllDirectories))
            map[Path.GetRelativePath(root, file)] = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file)));
        return map;
    }
}
