using KfuncForge.Caching;
using KfuncForge.Containers;
using KfuncForge.Model;
using KfuncForge.Processes;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Containers;

public sealed class ContainerCommandTests
{
    internal static DistroProfile Debian12(IReadOnlyList<string>? toolchain = null) => new(
        "debian12", "Debian 12", PackageFamily.Deb, "apt", "debian:bookworm",
        new RootfsRecipe("mmdebstrap", "bookworm", ["bookworm-security", "bookworm-backports"], ["main"], []),
        toolchain ?? ["gcc-12", "make", "dwarves"],
        new KernelPackaging("debian", ["linux-headers-{release}", "linux-headers-{abi}-common", "linux-kbuild-{line}"],
            [new KernelImageRule(new KernelRange(null, new KernelVersion(6, 19, 0)), "linux-image-{release}", "/boot/vmlinuz-{release}"),
             new KernelImageRule(new KernelRange(new KernelVersion(6, 19, 0), null), "linux-binary-{release}", "/usr/lib/modules/{release}/vmlinuz")],
            "/lib/modules/{release}", "/usr/src/linux-headers-{release}"),
        [new KernelTarget(null, 1, "amd64", "bookworm", new KernelVersion(6, 1, 0))],
        new PackageNaming("x", "m", "v", "/lib"), new SigningSettings(null, null, null, "sha256"), null);

    private static readonly AptMirrors Mirrors = new("http://mirror.invalid/debian", "http://mirror.invalid/debian-security");

    private static List<string> Args(ProcessSpec spec) => spec.Arguments.ToList();

    [Fact]
    public void A_build_step_has_no_network_read_only_layers_and_one_writable_mount()
    {
        using var t = new TempDir();
        t.Dir("root/usr/bin");
        t.Write("tree/usr/src/linux-headers-R/Makefile", "x");
        var step = new ContainerStep(["make", "-C", "/usr/src/linux-headers-R", "M=/tmp/kfuncforge/m", "modules"])
        {
            Layers = [t.Combine("tree")],
            Mounts = [new Mount(t.Combine("work"), "/tmp/kfuncforge/m", true)],
            WorkingDirectory = "/tmp/kfuncforge/m",
        };
        var spec = BwrapRunner.BuildCommand(t.Combine("root"), step);
        var args = Args(spec);
        Assert.Equal("bwrap", spec.FileName);
        Assert.Equal("--unshare-all", args[0]);
        Assert.DoesNotContain("--share-net", args);
        Assert.DoesNotContain("--bind", args.Take(args.IndexOf("--tmpfs"))); // everything before the writable mount is read-only
        var i = args.IndexOf("--bind");
        Assert.Equal([t.Combine("work"), "/tmp/kfuncforge/m"], args.Skip(i + 1).Take(2));
        Assert.True(args.IndexOf("--tmpfs") < i, "the writable mount goes on top of the /tmp tmpfs");
        Assert.Contains("--clearenv", args);
        Assert.Equal(["--", "make", "-C", "/usr/src/linux-headers-R", "M=/tmp/kfuncforge/m", "modules"], args.Skip(args.IndexOf("--")));
        Assert.Equal(["--chdir", "/tmp/kfuncforge/m"], args.Skip(args.IndexOf("--chdir")).Take(2));
    }

    [Fact]
    public void Only_a_step_that_asks_for_it_gets_the_network()
    {
        using var t = new TempDir();
        t.Dir("root/etc");
        var spec = BwrapRunner.BuildCommand(t.Combine("root"), new ContainerStep(["apt-get", "update"]) { Network = true });
        Assert.Equal(["--unshare-all", "--share-net"], spec.Arguments.Take(2));
    }

    [Fact]
    public void The_rootfs_is_keyed_by_its_recipe()
    {
        using var t = new TempDir();
        var cache = new CacheDirectory(t.Path);
        var runner = new BwrapRunner(cache, Mirrors, ProcessRunner.Instance);
        var a = runner.RecipeHash(Debian12());
        Assert.Equal(a, runner.RecipeHash(Debian12()));
        Assert.NotEqual(a, runner.RecipeHash(Debian12(["gcc-12", "make", "dwarves", "bc"])));
        Assert.NotEqual(a, new BwrapRunner(cache, Mirrors with { Archive = "http://other.invalid/debian" }, ProcessRunner.Instance).RecipeHash(Debian12()));
        Assert.StartsWith(Path.Combine(t.Path, "rootfs", "debian12-"), runner.EntryDir(Debian12()));
    }

    [Fact]
    public void Mmdebstrap_gets_the_suites_from_the_right_mirrors()
    {
        using var t = new TempDir();
        var runner = new BwrapRunner(new CacheDirectory(t.Path), Mirrors, ProcessRunner.Instance);
        var spec = runner.MmdebstrapCommand(Debian12(), "/x/root");
        Assert.Equal("mmdebstrap", spec.FileName);
        Assert.Equal(
        [
            "--variant=apt", "--include=dwarves,gcc-12,make", "--aptopt=Acquire::Retries \"3\"", "bookworm", "/x/root",
            "deb http://mirror.invalid/debian bookworm main",
            "deb http://mirror.invalid/debian-security bookworm-security main",
            "deb http://mirror.invalid/debian bookworm-backports main",
        ], spec.Arguments);
    }

    [Fact]
    public void A_profile_without_a_rootfs_recipe_says_which_engine_it_needs()
    {
        using var t = new TempDir();
        var rhel = Debian12() with { Id = "rhel9", Family = PackageFamily.Rpm, PackageManager = "dnf", ContainerImage = "redhat/ubi9", Rootfs = null };
        var why = new BwrapRunner(new CacheDirectory(t.Path), Mirrors, ProcessRunner.Instance).CannotServe(rhel);
        Assert.NotNull(why);
        Assert.Contains("podman", why);
        Assert.Contains("redhat/ubi9", why);
    }

    [Theory]
    [InlineData("docker")]
    [InlineData("podman")]
    public void Docker_and_podman_commands_are_built_without_running_them(string engine)
    {
        using var t = new TempDir();
        t.Write("tree/usr/src/linux-headers-R/Makefile", "x");
        t.Dir("tree/usr/lib/linux-kbuild-6.1/scripts");
        File.CreateSymbolicLink(t.Combine("tree/usr/src/linux-headers-R/scripts"), "../../lib/linux-kbuild-6.1/scripts");
        t.Write("extras/usr/src/linux-headers-R/vmlinux", "ELF");
        var runner = new EngineRunner(engine, ProcessRunner.Instance);
        var step = new ContainerStep(["make", "modules"])
        {
            Layers = [t.Combine("tree"), t.Combine("extras")],
            Mounts = [new Mount("/work/m", "/tmp/kfuncforge/m", true)],
            WorkingDirectory = "/tmp/kfuncforge/m",
            Environment = new Dictionary<string, string> { ["V"] = "1" },
        };
        var spec = runner.Command(Debian12(), step);
        Assert.Equal(engine, spec.FileName);
        var args = spec.Arguments.ToList();
        Assert.Equal(["run", "--rm", "--read-only", "--tmpfs", "/tmp", "--network=none"], args.Take(6));
        Assert.Contains($"{t.Combine("tree/usr/lib/linux-kbuild-6.1")}:/usr/lib/linux-kbuild-6.1:ro", args);
        Assert.Contains($"{t.Combine("tree/usr/src/linux-headers-R/Makefile")}:/usr/src/linux-headers-R/Makefile:ro", args);
        Assert.Contains($"{t.Combine("tree/usr/lib/linux-kbuild-6.1/scripts")}:/usr/src/linux-headers-R/scripts:ro", args);
        Assert.Contains($"{t.Combine("extras/usr/src/linux-headers-R/vmlinux")}:/usr/src/linux-headers-R/vmlinux:ro", args);
        Assert.Contains("/work/m:/tmp/kfuncforge/m:rw", args);
        Assert.Equal(["--env", "V=1", "--workdir", "/tmp/kfuncforge/m", EngineRunner.BuildImageTag(Debian12()), "make", "modules"], args.Skip(args.IndexOf("--env")));
    }

    [Fact]
    public void A_network_step_in_an_engine_uses_the_host_network()
    {
        var spec = new EngineRunner("docker", ProcessRunner.Instance).Command(Debian12(), new ContainerStep(["apt-get", "update"]) { Network = true });
        Assert.Contains("--network=host", spec.Arguments);
        Assert.DoesNotContain("--network=none", spec.Arguments);
    }

    [Fact]
    public void The_toolchain_image_is_built_from_an_exec_form_containerfile()
    {
        var file = EngineRunner.Containerfile(Debian12());
        Assert.Equal("FROM debian:bookworm\nRUN [\"apt-get\", \"update\"]\nRUN [\"apt-get\", \"install\", \"-y\", \"--no-install-recommends\", \"gcc-12\", \"make\", \"dwarves\"]\n", file);
    }

    /// <summary>The real engines on this machine: docker is a client without a daemon, podman cannot start containers (or is absent).</summary>
    [Theory]
    [InlineData("docker")]
    [InlineData("podman")]
    public async Task A_probe_says_why_an_engine_cannot_work(string engine)
    {
        var probe = await new EngineRunner(engine, ProcessRunner.Instance).ProbeAsync();
        if (probe.Available) return; // where the engine works, there is nothing to explain
        Assert.False(string.IsNullOrWhiteSpace(probe.Reason));
        Assert.Contains(engine, probe.Reason);
    }

    [Fact]
    public async Task Asking_for_an_unknown_backend_is_bad_input()
    {
        using var t = new TempDir();
        var e = await Assert.ThrowsAsync<KfuncForge.Diagnostics.InputException>(() =>
            ContainerSelection.SelectAsync("lxc", Debian12(), new CacheDirectory(t.Path), ProcessRunner.Instance, _ => { }));
        Assert.Contains("bwrap, podman, docker", e.Message);
    }
}
