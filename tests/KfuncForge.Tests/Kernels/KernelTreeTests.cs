using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using KfuncForge.Caching;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Packaging;
using KfuncForge.Processes;
using KfuncForge.Rendering;
using KfuncForge.Signing;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Packaging;
using KfuncForge.Tests.Support;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Kernels;

/// <summary>
/// Kernels given as build trees (docs/kernel-trees.md) and the flatcar profile's system extension images: a fetched
/// Debian 13 6.12 kernel (gcc-14, like Flatcar's) laid out as a tree stands in for Flatcar's (whose packages cannot be reached from here) and
/// goes through Plan, Build, SmokeTest, Sign and Package; the image is read back with unsquashfs (and
/// systemd-dissect), and the signed, xz-compressed module taken out of it is booted and loaded in QEMU, the kernel
/// decompressing it as kmod would ask it to.
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class KernelTreeTests(RealKernelTrixie612 real, PackagingFixture f) : IClassFixture<PackagingFixture>
{
    private static CliResult Ok(params string[] args)
    {
        var r = TestTree.Run(args);
        Assert.True(r.ExitCode == 0, $"{args[0]} exited {r.ExitCode}: {r.Stdout}{r.Stderr}");
        return r;
    }

    [IntegrationFact]
    public void A_Debian_kernel_laid_out_as_a_build_tree_goes_through_the_pipeline_into_a_flatcar_system_extension()
    {
        var tree = DebianKernelTree.LayOut(real.Kernel, real.Temp.Combine("tree-6.12"));
        var root = RealKernel.MakePassingTree(real.Temp.Combine("flatcar-src"));
        var output = real.Temp.Combine("flatcar-out");
        var keysDir = real.Temp.Combine("flatcar-keys");
        string[] common = ["--root", root, "--templates", TestTree.Templates, $"--out={output}", "--distro=flatcar", $"--cache={real.CacheRoot}"];
        var buildId = KernelTree.BuildId(ElfFile.Load(Path.Combine(tree, "vmlinux")));
        Assert.NotNull(buildId);

        // Plan reads the tree's own facts (its BTF and config), not a nominal line.
        var plan = Ok(["plan", .. common, $"--kernel-tree={tree}"]).Stdout;
        Assert.True(plan.Contains($"kernel {real.Kernel.Release}: build tree {tree} ", StringComparison.Ordinal), plan);
        Assert.Contains($"vmlinux build id {buildId}", plan);
        Assert.Contains("bpf_kfuncforge_fixture_add", plan);

        var run = Ok(["run", .. common, $"--kernel-tree={tree}", "--container=bwrap", $"--keys-dir={keysDir}", $"--gnupg-home={f.Keyring.Home}"]).Stdout;
        Assert.Contains("STAND-IN kernel", run);
        Assert.Contains("== package: exit 0", run);

        var feed = Path.Combine(output, "repo", "flatcar", "sysext");
        var image = Directory.GetFiles(feed, "*.raw").Single();
        var name = $"kfunc-fixture-ok-{real.Kernel.Release}";
        Assert.Equal(name + ".raw", Path.GetFileName(image));
        var listing = HostTools.Checked("unsquashfs", "-l", image).Stdout;
        var module = $"usr/lib/modules/{real.Kernel.Release}/updates/kfuncforge/kfunc_fixture_ok.ko.xz";
        Assert.Contains($"squashfs-root/{module}\n", listing);
        Assert.Contains($"squashfs-root/usr/lib/extension-release.d/extension-release.{name}\n", listing);
        Assert.DoesNotContain("squashfs-root/etc", listing);
        var release = HostTools.Checked("unsquashfs", "-cat", image, $"usr/lib/extension-release.d/extension-release.{name}").Stdout;
        Assert.Contains("\nID=flatcar\n", release);
        Assert.Contains("\nVERSION_ID=4593.2.5\n", release);
        Assert.Contains("\nARCHITECTURE=x86-64\n", release);
        if (RealKernel.OnPath("systemd-dissect"))
        {
            var dissect = HostTools.Run("systemd-dissect", image);
            Assert.True(dissect.Succeeded, dissect.LogText());
            Assert.Contains("ID=flatcar", dissect.Stdout);
            Assert.Contains("✓ extension for system", dissect.Stdout);
        }

        // The module inside: xz with the CRC32 check the in-kernel decompressor needs, signed before compression.
        var unpacked = real.Temp.Combine("flatcar-unpacked");
        HostTools.Checked("unsquashfs", "-no-xattrs", "-d", unpacked, image);
        var koXz = Path.Combine(unpacked, module);
        Assert.Contains("\tCRC32\t", HostTools.Checked("xz", "--robot", "--list", koXz).Stdout);
        var plain = real.Temp.Combine("flatcar-module.ko");
        HostTools.Run(new ProcessSpec("xz", ["-dc", koXz]) { StdoutFile = plain }).EnsureSuccess();
        using var certificate = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(keysDir, "module-signing-cert.der"));
        Assert.Equal("sha256", ModuleSignatureVerifier.Verify(File.ReadAllBytes(plain), certificate, null).Hash.Name);

        // The tree's identity is the kernel "package" of the provenance; the feed's sums verify with its key.
        var statement = File.ReadAllText(image + ".intoto.json");
        Assert.Contains($"pkg:generic/kernel-tree@{Uri.EscapeDataString(real.Kernel.Release)}?config_sha256=", statement);
        Assert.Contains($"vmlinux_build_id={buildId}", statement);
        var sums = File.ReadAllText(Path.Combine(feed, SysextFeed.SumsFile));
        Assert.Equal($"{PackageStore.Sha256Of(image)} *{name}.raw\n", sums);
        var gpgv = HostTools.Run("gpgv", "--keyring", Path.Combine(feed, SysextFeed.PublicKeyFileName), Path.Combine(feed, "SHA256SUMS.gpg"), Path.Combine(feed, "SHA256SUMS"));
        Assert.True(gpgv.Succeeded, gpgv.LogText());

        // The same inputs make the same image: nothing is published again.
        Assert.Contains("unchanged: ", Ok(["run", .. common, $"--kernel-tree={tree}", "--container=bwrap", $"--keys-dir={keysDir}", $"--gnupg-home={f.Keyring.Home}"]).Stdout);

        // Boot the tree's kernel with the module from the image, as shipped: compressed, decompressed by the kernel.
        var index = BuildIndex.Load(Path.Combine(output, "build", "flatcar", "build-index.json"));
        var fromImage = real.Temp.Combine("flatcar-image-index.json");
        (index with { Modules = [.. index.Modules.Select(m => m with { Ko = koXz })] }).Save(fromImage);
        var smokeOut = real.Temp.Combine("flatcar-image-smoke");
        var smoke = Ok(["smoke", "--root", root, "--templates", TestTree.Templates, $"--out={smokeOut}", "--distro=flatcar", $"--index={fromImage}", $"--cache={real.CacheRoot}"]).Stdout;
        Assert.Contains("STAND-IN kernel", smoke);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(smokeOut, "smoke", "flatcar", "results.json")))!;
        var kernel = results["kernels"]!.AsArray().Single()!;
        Assert.Equal(real.Kernel.Release, (string?)kernel["kernel_seen"]);
        var cell = kernel["cells"]!.AsArray().Single(c => (string?)c!["module"] == "kfunc_fixture_ok")!;
        Assert.True((string?)cell["status"] == "pass", cell.ToJsonString());
        // In the guest the module lay compressed, so the agent asked the kernel to decompress it (MODULE_INIT_COMPRESSED_FILE):
        // the boot's own manifest says which file it loaded.
        var manifest = File.ReadAllText(Directory.GetFiles(Path.Combine(smokeOut, "smoke", "flatcar", "boots"), "manifest", SearchOption.AllDirectories).Single());
        Assert.Contains("module\tkfunc_fixture_ok\t/kff/modules/kfunc_fixture_ok.ko.xz\tbuilt", manifest);
    }

    [Fact]
    public void A_tree_without_its_pieces_is_refused_naming_each_piece_and_what_it_is_for()
    {
        using var temp = TestTree.Temp();
        Directory.CreateDirectory(temp.Combine("empty"));
        var r = TestTree.Run("plan", "--distro=flatcar", $"--kernel-tree={temp.Combine("empty")}", $"--cache={temp.Combine("cache")}");
        Assert.Equal(ExitCodes.BadInput, r.ExitCode);
        foreach (var (piece, _) in KernelTree.Pieces) Assert.Contains(Path.Combine(temp.Combine("empty"), piece), r.Stderr);
        Assert.Contains("modpost checks the module's imports against it", r.Stderr);
        Assert.Contains("SmokeTest boots it in QEMU", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.False(Directory.Exists(temp.Combine("cache", "kernels-v2", "trees")), "nothing is imported from a tree that is refused");

        var missing = TestTree.Run("plan", "--distro=flatcar", $"--kernel-tree={temp.Combine("nowhere")}", $"--cache={temp.Combine("cache")}");
        Assert.Equal(ExitCodes.BadInput, missing.ExitCode);
        Assert.Contains("is not a directory", missing.Stderr);
    }

    [Fact]
    public void A_profile_tree_that_is_not_there_is_planned_by_its_line_and_says_how_to_give_one()
    {
        using var temp = TestTree.Temp();
        var root = temp.Combine("src");
        RealKernel.MakePassingTree(root);
        var r = TestTree.Run("plan", "--root", root, "--templates", TestTree.Templates, "--distro=flatcar", $"--cache={temp.Combine("cache")}");
        Assert.Equal(ExitCodes.Ok, r.ExitCode);
        Assert.Contains($"{Path.Combine(root, "kernel-trees", "flatcar-4593.2.5")} (distros/flatcar.yaml: kernels: tree) does not exist; prepare it (docs/kernel-trees.md) or pass --kernel-tree=<dir>: planned by its line", r.Stdout);
        Assert.Contains("--kernel-tree=<dir>", r.Stdout);
        Assert.Contains($"6.12-flatcar {KfuncForge.Planning.PlanPrinter.NotFetched}", r.Stdout);
    }

    [Fact]
    public void A_link_that_leaves_the_tree_is_refused()
    {
        using var temp = TestTree.Temp();
        var tree = temp.Combine("tree");
        Directory.CreateDirectory(Path.Combine(tree, "include"));
        File.WriteAllText(Path.Combine(tree, "include", "a.h"), "");
        File.CreateSymbolicLink(Path.Combine(tree, "include", "b.h"), "a.h");
        KernelTree.CopyForBuild(tree, temp.Combine("inside"), "--kernel-tree");
        Assert.Equal("a.h", new FileInfo(temp.Combine("inside", "include", "b.h")).LinkTarget);

        File.CreateSymbolicLink(Path.Combine(tree, "include", "c.h"), "../../../../usr/include/stdio.h");
        var e = Assert.Throws<InputException>(() => KernelTree.CopyForBuild(tree, temp.Combine("outside"), "--kernel-tree"));
        Assert.Contains("outside the tree", e.Problems.Single().Message);
        Assert.Equal(Path.Combine(tree, "include", "c.h"), e.Problems.Single().File);
        File.Delete(Path.Combine(tree, "include", "c.h"));

        // An O= build directory whose source is not on this machine.
        File.CreateSymbolicLink(Path.Combine(tree, "source"), temp.Combine("no-such-source"));
        var o = Assert.Throws<InputException>(() => KernelTree.CopyForBuild(tree, temp.Combine("o"), "--kernel-tree"));
        Assert.Contains("which is not a directory on this machine", o.Problems.Single().Message);
    }

    [Fact]
    public void An_O_build_directory_is_copied_as_its_source_with_the_build_outputs_over_it()
    {
        using var temp = TestTree.Temp();
        var src = temp.Combine("linux");
        var build = temp.Combine("build");
        Directory.CreateDirectory(Path.Combine(src, "include", "linux"));
        File.WriteAllText(Path.Combine(src, "Makefile"), "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 102\n");
        File.WriteAllText(Path.Combine(src, "include", "linux", "module.h"), "/* source */");
        File.WriteAllText(Path.Combine(src, "include", "linux", "kernel.c"), "int x;");
        Directory.CreateDirectory(Path.Combine(build, "include", "generated"));
        File.WriteAllText(Path.Combine(build, "Makefile"), "include " + src + "/Makefile\n");
        File.WriteAllText(Path.Combine(build, "include", "generated", "autoconf.h"), "#define CONFIG_X 1");
        File.WriteAllText(Path.Combine(build, "vmlinux.o"), "object");
        File.CreateSymbolicLink(Path.Combine(build, "source"), src);

        KernelTree.CopyForBuild(build, temp.Combine("copy"), "--kernel-tree");
        Assert.StartsWith("VERSION = 6", File.ReadAllText(temp.Combine("copy", "Makefile")));
        Assert.True(File.Exists(temp.Combine("copy", "include", "linux", "module.h")));
        Assert.True(File.Exists(temp.Combine("copy", "include", "generated", "autoconf.h")));
        Assert.False(File.Exists(temp.Combine("copy", "source")), "the copy is self-contained");
        Assert.False(File.Exists(temp.Combine("copy", "vmlinux.o")), "objects are not needed by an external module build");
        Assert.False(File.Exists(temp.Combine("copy", "include", "linux", "kernel.c")), "nor C sources outside scripts/");
    }

    [Theory]
    [InlineData("sysext:\n  id: flatcar\n  version_id: \"4593.2.5\"\n", "sysext:\n  id: flatcar\n", "give exactly one of version_id")]
    [InlineData("sysext:\n  id: flatcar\n  version_id: \"4593.2.5\"\n", "sysext:\n  id: \"Flat car\"\n  version_id: \"4593.2.5\"\n", "an os-release ID")]
    [InlineData("sysext:\n  id: flatcar\n  version_id: \"4593.2.5\"\n", "", "needs a 'sysext' section")]
    [InlineData("    line: \"6.12\"\n    flavour: flatcar\n", "    flavour: flatcar\n", "needs 'line'")]
    [InlineData("family: sysext\n", "family: squash\n", "use deb, rpm or sysext")]
    public void A_bad_flatcar_profile_names_the_file_and_key(string from, string to, string message)
    {
        using var temp = TestTree.Temp();
        var root = temp.Combine("src");
        RealKernel.MakePassingTree(root);
        var profile = Path.Combine(root, "distros", "flatcar.yaml");
        var text = File.ReadAllText(profile);
        Assert.Contains(from, text);
        File.WriteAllText(profile, text.Replace(from, to));
        var r = TestTree.Run("validate", "--root", root, "--templates", TestTree.Templates);
        Assert.Equal(ExitCodes.BadInput, r.ExitCode);
        Assert.Contains("distros/flatcar.yaml:", r.Stderr);
        Assert.Contains(message, r.Stderr);
    }

    [Fact]
    public void Modules_are_compressed_as_the_kernel_config_says()
    {
        Assert.Equal(".xz", ModuleCompression.Suffix(new Dictionary<string, string> { ["CONFIG_MODULE_COMPRESS_XZ"] = "y" }));
        Assert.Equal(".zst", ModuleCompression.Suffix(new Dictionary<string, string> { ["CONFIG_MODULE_COMPRESS_ZSTD"] = "y" }));
        Assert.Equal("", ModuleCompression.Suffix(new Dictionary<string, string> { ["CONFIG_MODULE_COMPRESS_NONE"] = "y" }));
        Assert.Equal("", ModuleCompression.Suffix(null));
        Assert.Equal(["--check=crc32", "--lzma2=dict=1MiB"], ModuleCompression.Command(".xz", "m.ko", "m.ko.xz").Arguments.Take(2));
    }

    [Theory]
    [InlineData("4593.2.5", "4593.2.5")]
    [InlineData("a b", "\"a b\"")]
    [InlineData("x\"$`\\y", "\"x\\\"\\$\\`\\\\y\"")]
    [InlineData("two\nlines", "\"two lines\"")]
    public void Os_release_values_are_quoted_and_escaped(string value, string expected) =>
        Assert.Equal(expected, FormatEscapes.OsRelease(value));
}
