using KfuncForge.Caching;
using KfuncForge.Processes;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Packaging;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Kernels;

/// <summary>
/// The RPM kernel fetch for real: no RPM repository is reachable here, so the test makes one. Debian 12's 6.1 kernel,
/// already fetched, is repackaged with rpmbuild as kernel-devel (the merged build tree at /usr/src/kernels/&lt;release&gt;)
/// and kernel-core (/lib/modules/&lt;release&gt;/vmlinuz, config, System.map), published with createrepo_c, and a profile
/// whose kernel packaging names them (kernel-devel-{abi}.x86_64) fetches the kernel through dnf, verifies each package
/// against the repository's SHA-256, reads its facts, builds, boots, signs and packages a kmod RPM for it.
/// The stand-in builds in Debian 12's rootfs, since Debian's gcc built that kernel. Its kernel-devel carries a kABI
/// stablelist without the kfunc registration, and the build reports that import as outside it.
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class RpmKernelFetchTests(RealKernel real, PackagingFixture f) : IClassFixture<PackagingFixture>
{
    private const string Profile = "rhel-standin";

    private static void Rpmbuild(string work, string name, string abi, string payload, string files)
    {
        var dash = abi.IndexOf('-');
        var spec = Path.Combine(work, name + ".spec");
        File.WriteAllText(spec, $"""
            %global debug_package %{"{"}nil{"}"}
            %global __os_install_post %{"{"}nil{"}"}
            %global __strip /bin/true
            %define _build_id_links none
            %define _binary_payload w1.gzdio
            Name: {name}
            Version: {abi[..dash]}
            Release: {abi[(dash + 1)..]}
            Summary: Debian's kernel repackaged for the RPM fetch test
            License: GPL-2.0-only
            AutoReqProv: no
            %description
            A stand-in for RHEL's {name}.
            %install
            cp -a %{"{"}_sourcedir{"}"}/. %{"{"}buildroot{"}"}/
            %files
            {files}
            """.Replace("\n            ", "\n"));
        HostTools.Run(new ProcessSpec("rpmbuild", ["-bb", "--target", "x86_64", "--define", $"_sourcedir {payload}", "--define", $"_rpmdir {Path.Combine(work, "rpms")}",
            "--define", $"_topdir {Path.Combine(work, "top")}", spec]) { Timeout = TimeSpan.FromMinutes(10) }).EnsureSuccess();
    }

    [IntegrationFactNeeding("dnf", "createrepo_c", "rpmbuild")]
    public void A_kernel_fetched_with_dnf_from_an_RPM_repository_is_built_booted_and_packaged_as_a_kmod()
    {
        var kernel = real.Kernel;
        var release = kernel.Release;
        var abi = release[..release.LastIndexOf('-')];
        var work = real.Temp.Combine("rpm-fetch");

        // kernel-devel: the build tree; kernel-core: the image and what /lib/modules/<release> holds of it.
        var devel = Path.Combine(work, "devel");
        var develTree = DebianKernelTree.LayOut(kernel, Path.Combine(devel, "usr", "src", "kernels", release));
        // A kABI stablelist as RHEL's kernel-devel carries one: here every export but the kfunc registration.
        File.WriteAllLines(Path.Combine(develTree, KfuncForge.Compilation.KabiReport.StablelistName),
            File.ReadLines(Path.Combine(develTree, "Module.symvers")).Where(l => !l.Contains("\tregister_btf_kfunc_id_set\t", StringComparison.Ordinal)));
        var core = Path.Combine(work, "core", "lib", "modules", release);
        Directory.CreateDirectory(core);
        File.Copy(kernel.Vmlinuz, Path.Combine(core, "vmlinuz"));
        File.Copy(kernel.ConfigFile, Path.Combine(core, "config"));
        Rpmbuild(work, "kernel-devel", abi, devel, $"/usr/src/kernels/{release}");
        Rpmbuild(work, "kernel-core", abi, Path.Combine(work, "core"), $"/lib/modules/{release}");
        var repo = Path.Combine(work, "repo");
        Directory.CreateDirectory(repo);
        foreach (var rpm in Directory.GetFiles(Path.Combine(work, "rpms"), "*.rpm", SearchOption.AllDirectories)) File.Copy(rpm, Path.Combine(repo, Path.GetFileName(rpm)));
        HostTools.Checked("createrepo_c", "--quiet", repo);

        var root = RealKernel.MakePassingTree(Path.Combine(work, "src"));
        var debian12 = File.ReadAllText(Path.Combine(root, "distros", "debian12.yaml"));
        var toolchain = debian12.Split('\n').Single(l => l.StartsWith("toolchain:", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(root, "distros", Profile + ".yaml"), $"""
            id: {Profile}
            name: "RPM stand-in: Debian 12's kernel repackaged as kernel-devel and kernel-core"
            family: rpm
            package_manager: dnf
            container_image: "debian:bookworm"
            rootfs:
              tool: mmdebstrap
              suite: bookworm
              extra_suites: [bookworm-updates, bookworm-security]
              components: [main]
            {toolchain}
            kernel_packaging: {Profile}
            kernel_repositories: ["file://{repo}"]
            kernels:
              - release: "{release}"
            packaging:
              name: "kmod-{"{"}module{"}"}-{"{"}release{"}"}"
              maintainer: "KfuncForge <kfuncforge@localhost>"
              vendor: KfuncForge
              install_dir: "/lib/modules/{"{"}release{"}"}/updates/kfuncforge"
            signing:
              module_hash: from-kernel-config
            """.Replace("\n            ", "\n"));
        File.WriteAllText(Path.Combine(root, "distros", "kernel-packaging", Profile + ".yaml"), """
            name: rhel-standin
            headers:
              - "kernel-devel-{abi}.x86_64"
            image:
              - package: "kernel-core-{abi}.x86_64"
                path: "/lib/modules/{release}/vmlinuz"
            modules_dir: "/lib/modules/{release}"
            headers_dir: "/usr/src/kernels/{release}"
            kmod_requires: "kernel-core = {abi}"
            """.Replace("\n            ", "\n"));

        var output = Path.Combine(work, "out");
        var cache = Path.Combine(work, "cache");
        // Its own cache, so the packages really come through dnf; the rootfs is shared with the other tests.
        Directory.CreateDirectory(cache);
        Directory.CreateSymbolicLink(Path.Combine(cache, "rootfs"), new CacheDirectory(real.CacheRoot).Rootfs);
        var r = TestTree.Run("run", "--root", root, "--templates", TestTree.Templates, $"--out={output}", $"--distro={Profile}", "--module=kfunc_fixture_ok",
            "--container=bwrap", $"--cache={cache}", $"--keys-dir={Path.Combine(work, "keys")}", $"--gnupg-home={f.Keyring.Home}");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains($"dnf download kernel-devel-{abi}.x86_64 kernel-core-{abi}.x86_64 (network)", r.Stdout);
        Assert.Contains("== smoke: exit 0", r.Stdout);
        // The kABI report: the kfunc registration is outside the stablelist, so the module is built for this kernel only.
        Assert.Matches(@"kabi \(1 of \d+ imported symbols are outside Module\.kabi_x86_64: register_btf_kfunc_id_set;", r.Stdout);

        // The facts are the kernel's own, read from the RPMs, and the packages are recorded with the repository's SHA-256.
        var facts = File.ReadAllText(Directory.GetFiles(Path.Combine(cache, "kernels-v2", Profile), "facts.json", SearchOption.AllDirectories).Single());
        Assert.Contains($"\"headers_dir\": \"/usr/src/kernels/{release}\"", facts);
        Assert.Contains("\"CONFIG_DEBUG_INFO_BTF\": \"y\"", facts);
        var develRpm = Directory.GetFiles(repo, "kernel-devel-*.rpm").Single();
        Assert.Contains($"\"sha256\": \"{PackageStore.Sha256Of(develRpm)}\"", facts);

        var kmod = Directory.GetFiles(Path.Combine(output, "repo", Profile, "yum"), $"kmod-kfunc_fixture_ok-{release}-*.rpm", SearchOption.AllDirectories).Single();
        Assert.Contains($"kernel-core = {abi}", HostTools.Checked("rpm", "-qp", "--nosignature", "--requires", kmod).Stdout);
        Assert.Contains($"/lib/modules/{release}/updates/kfuncforge/kfunc_fixture_ok.ko\n", HostTools.Checked("rpm", "-qlp", "--nosignature", kmod).Stdout);
        Assert.DoesNotContain("weak-modules", HostTools.Checked("rpm", "-qp", "--nosignature", "--scripts", kmod).Stdout);
        Assert.Contains($"pkg:rpm/{Profile}/kernel-devel@{abi}?arch=x86_64", File.ReadAllText(kmod + ".intoto.json"));
    }
}
