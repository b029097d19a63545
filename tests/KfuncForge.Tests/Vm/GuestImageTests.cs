using System.Text;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Processes;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Vm.Infrastructure;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Vm;

/// <summary>The initramfs (cpio newc, deterministic), the manifest, the QEMU argv, and the BPF/ELF tools, checked with real tools.</summary>
public sealed class GuestImageTests
{
    [Fact]
    public async Task Cpio_is_deterministic_and_the_real_cpio_extracts_it_exactly()
    {
        using var temp = TestTree.Temp();
        var file = temp.Combine("payload.bin");
        File.WriteAllBytes(file, Enumerable.Range(0, 1001).Select(i => (byte)(i * 7)).ToArray());
        CpioEntry[] entries =
        [
            new("kff/modules/a.ko", CpioEntryKind.File, 0x1A4, SourceFile: file),
            new("init", CpioEntryKind.File, 0x1ED, Bytes: "#!/bin/sh\n"u8.ToArray()),
            new("bin/sh", CpioEntryKind.Symlink, 0x1FF, LinkTarget: "busybox"),
            new("tmp", CpioEntryKind.Directory, 0x3FF),
        ];
        byte[] Write(IEnumerable<CpioEntry> e)
        {
            using var ms = new MemoryStream();
            Cpio.Write(e, ms);
            return ms.ToArray();
        }

        var first = Write(entries);
        Assert.Equal(first, Write(entries.Reverse()));
        File.WriteAllBytes(temp.Combine("image.cpio"), first);
        var root = temp.Combine("root");
        Directory.CreateDirectory(root);
        await ProcessRunner.Instance.CheckedAsync(new ProcessSpec("cpio", ["-idm", "--quiet", "--no-absolute-filenames"]) { WorkingDirectory = root, StdinFile = temp.Combine("image.cpio") });

        Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(root, "kff", "modules", "a.ko")));
        Assert.Equal("#!/bin/sh\n", File.ReadAllText(Path.Combine(root, "init")));
        Assert.Equal("busybox", new FileInfo(Path.Combine(root, "bin", "sh")).LinkTarget);
        if (OperatingSystem.IsLinux())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute,
                File.GetUnixFileMode(Path.Combine(root, "init")));
        var listing = await ProcessRunner.Instance.CheckedAsync(new ProcessSpec("cpio", ["-t", "--quiet"]) { StdinFile = temp.Combine("image.cpio") });
        Assert.Equal(["bin", "bin/sh", "init", "kff", "kff/modules", "kff/modules/a.ko", "tmp"], listing.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("../etc/passwd")]
    [InlineData("a//b")]
    public void Cpio_refuses_paths_that_escape_or_are_malformed(string path) =>
        Assert.Throws<ArgumentException>(() => Cpio.Normalise([new CpioEntry(path, CpioEntryKind.Directory, 0x1ED)]));

    [Fact]
    public void The_manifest_lists_modules_smoke_and_load_steps_as_tab_separated_commands()
    {
        var plan = new BootPlan("debian12/6.1.0-56-amd64", "debian12", new GuestKernel("6.1.0-56-amd64", "/k"),
            [new GuestModule("inet_diag", "/lib/inet_diag.ko.xz", GuestModuleKind.Dependency, []), new GuestModule("kfunc_sock_destroy", "/b/kfunc_sock_destroy.ko", GuestModuleKind.Built, ["bpf_sock_destroy"])],
            [new GuestSmoke("kfunc_sock_destroy", "tcp", "/c/abc/smoke.bpf.o", "destroy_tcp", "iter/tcp", ["bpf_sock_destroy"], new SmokeExpectation(4, null))],
            [new GuestLoad("kfunc_sock_destroy", "destroy:udp", "bpf_sock_destroy", "/c/def/load.bpf.o", "destroy_udp", LoadDriver.SocketIterator, 10000)],
            [], []);

        Assert.Equal(
            "kff-manifest\t1\n"
            + "boot\tdebian12/6.1.0-56-amd64\n"
            + "module\tinet_diag\t/kff/modules/inet_diag.ko\tdependency\t-\n"
            + "module\tkfunc_sock_destroy\t/kff/modules/kfunc_sock_destroy.ko\tbuilt\tbpf_sock_destroy\n"
            + "smoke\tkfunc_sock_destroy\ttcp\t/kff/bpf/kfunc_sock_destroy/smoke.bpf.o\tdestroy_tcp\tretval\n"
            + "load\tkfunc_sock_destroy\tdestroy:udp\t/kff/bpf/kfunc_sock_destroy/load.bpf.o\tdestroy_udp\tsocket_iterator\t10000\n",
            GuestManifest.Render(plan));
    }

    [Fact]
    public void Qemu_is_started_with_an_argv_list_and_two_serial_files()
    {
        var argv = QemuCommand.Arguments(new VmShape(Accelerator.Tcg, 512, 1), "/k/vmlinuz", "/c/initramfs.cpio", "/w/console.log", "/w/records.jsonl");

        Assert.Equal(
        [
            "-accel", "tcg", "-m", "512", "-smp", "1", "-nodefaults", "-display", "none", "-no-reboot",
            "-kernel", "/k/vmlinuz", "-initrd", "/c/initramfs.cpio",
            "-append", "console=ttyS0,115200 panic=-1 loglevel=7 rdinit=/init printk.time=1",
            "-serial", "file:/w/console.log", "-serial", "file:/w/records.jsonl",
        ], argv);
        Assert.Equal("kvm", QemuCommand.Arguments(new VmShape(Accelerator.Kvm), "k", "i", "c", "r")[1]);
    }

    [Theory]
    [InlineData(2, 22000, 512, null, 2)]
    [InlineData(16, 3000, 512, null, 2)]
    [InlineData(8, 64000, 512, 3, 3)]
    [InlineData(2, 500, 512, null, 1)]
    public void Vm_slots_are_bounded_by_cores_and_memory(int cores, long availableMiB, int vmMiB, int? requested, int expected) =>
        Assert.Equal(expected, VmSlots.Compute(cores, availableMiB, vmMiB, requested));

    [Fact]
    public async Task Bpf_objects_list_their_programs_and_sections_from_the_elf()
    {
        var tools = new GuestTools(new ContentCache(TestKernel.CacheRoot), ProcessRunner.Instance);
        using var temp = TestTree.Temp();
        var source = temp.Combine("smoke.bpf.c");
        File.WriteAllText(source, "#define KFF_NAME bpf_kff_elf_add\n" + File.ReadAllText(Path.Combine(VmFixtures.Dir, "bpf", "kff_fixture.bpf.c")));

        var obj = await tools.CompileBpfAsync(source, []);

        Assert.Equal([("add_tc", "tc"), ("add_syscall", "syscall"), ("add_xdp", "xdp")], ElfFile.Load(obj).BpfPrograms());
        Assert.Equal(obj, await tools.CompileBpfAsync(source, []));
    }

    [Fact]
    public async Task The_build_index_reports_every_missing_file_at_once()
    {
        using var temp = TestTree.Temp();
        var path = temp.Combine("build-index.json");
        await File.WriteAllTextAsync(path, """
            { "version": 1,
              "kernels": [ { "release": "6.1.0-56-amd64", "image": "missing/vmlinuz" } ],
              "modules": [ { "kernel": "6.1.0-99-amd64", "module": "kfunc_strings", "ko": "missing.ko" } ] }
            """);

        var e = Assert.Throws<KfuncForge.Diagnostics.InputException>(() => BuildIndex.Load(path));

        Assert.Equal(["kernels[0].image", "modules[0].ko", "modules[0].kernel"], e.Problems.Select(p => p.Key));
        File.WriteAllText(path, """{ "kernels": [], "surprise": 1 }""");
        var strict = Assert.Throws<KfuncForge.Diagnostics.InputException>(() => BuildIndex.Load(path)).Problems.Single();
        Assert.Equal("$.surprise", strict.Key);
        Assert.Contains("could not be mapped", strict.Message);
    }

    [Fact]
    public void Plan_kernels_known_by_line_match_the_newest_release_of_that_line_and_flavour()
    {
        var index = new BuildIndex
        {
            Kernels =
            [
                new IndexedKernel { Release = "6.1.0-55-amd64", Image = "a" },
                new IndexedKernel { Release = "6.1.0-56-amd64", Image = "b" },
                new IndexedKernel { Release = "6.1.0-56-cloud-amd64", Image = "c" },
                new IndexedKernel { Release = "6.12.117+deb12-amd64", Image = "d" },
            ],
        };
        var nominal = KernelFacts.Nominal(new KernelTarget(null, 1, "amd64", "bookworm", new KernelVersion(6, 1, 0)));
        Assert.Equal("6.1.0-56-amd64", SmokePlanner.MatchKernel(nominal, index)?.Release);
        var cloud = KernelFacts.Nominal(new KernelTarget(null, 1, "cloud-amd64", "bookworm", new KernelVersion(6, 1, 0)));
        Assert.Equal("6.1.0-56-cloud-amd64", SmokePlanner.MatchKernel(cloud, index)?.Release);
        var missing = KernelFacts.Nominal(new KernelTarget(null, 1, "amd64", "trixie", new KernelVersion(7, 3, 0)));
        Assert.Null(SmokePlanner.MatchKernel(missing, index));
    }

    [Fact]
    public async Task The_agent_builds_statically_and_reports_its_own_crash_through_the_supervisor()
    {
        var tools = new GuestTools(new ContentCache(TestKernel.CacheRoot), ProcessRunner.Instance);
        var agent = await tools.AgentAsync();
        Assert.True(HostRequirements.IsStaticElf(agent), "the agent runs as /init of an initramfs without a dynamic loader");
        using var temp = TestTree.Temp();
        var manifest = temp.Combine("manifest");
        File.WriteAllText(manifest, "kff-manifest\t1\nboot\thost-test\ncrash\n", Encoding.UTF8);
        var records = temp.Combine("records.jsonl");

        // Outside a VM (not PID 1) the agent runs the manifest and writes records to a file.
        var run = await ProcessRunner.Instance.RunAsync(new ProcessSpec(agent, [$"--manifest={manifest}", $"--records={records}"]) { Timeout = TimeSpan.FromSeconds(30) });

        var parsed = File.ReadAllLines(records).Select(GuestRecords.Parse).ToList();
        Assert.IsType<HelloRecord>(parsed[0]);
        var exit = Assert.IsType<ExitRecord>(parsed[^1]);
        Assert.Equal(11, exit.Signal);
        Assert.Equal("host-test", exit.Boot);
        Assert.NotEqual(0, run.ExitCode);
    }

    [Fact]
    public async Task The_agent_runs_programs_of_the_image_and_writes_files_with_exit_code_output_and_errno()
    {
        var agent = await new GuestTools(new ContentCache(TestKernel.CacheRoot), ProcessRunner.Instance).AgentAsync();
        using var temp = TestTree.Temp();
        var target = temp.Combine("switch");
        File.WriteAllText(target, "0");
        var manifest = temp.Combine("manifest");
        File.WriteAllText(manifest, $"kff-manifest\t1\nboot\thost-test\nrun\techo\techo\tsay \"hi\"\nrun\tfails\tsh\t-c\texit 3\nrun\tabsent\tno-such-program-kff\n"
            + $"write\tflip\t{target}\t1\nwrite\tnowhere\t{temp.Combine("absent", "file")}\t1\n", Encoding.UTF8);
        var records = temp.Combine("records.jsonl");

        var run = await ProcessRunner.Instance.RunAsync(new ProcessSpec(agent, [$"--manifest={manifest}", $"--records={records}"]) { Timeout = TimeSpan.FromSeconds(30) });

        Assert.True(run.ExitCode == 0, run.LogText());
        var commands = File.ReadAllLines(records).Select(GuestRecords.Parse).OfType<CommandRecord>().ToDictionary(c => c.Name);
        Assert.True(commands["echo"].Succeeded);
        Assert.Equal(["echo", "say \"hi\""], commands["echo"].Argv);
        Assert.Equal("say \"hi\"\n", commands["echo"].Output);
        Assert.Equal(3, commands["fails"].Code);
        Assert.Equal(127, commands["absent"].Code);
        Assert.Contains("cannot run no-such-program-kff", commands["absent"].Output);
        Assert.True(commands["flip"].Succeeded);
        Assert.Equal("1", File.ReadAllText(target));
        Assert.Equal(2, commands["nowhere"].Errno);
        Assert.False(commands["nowhere"].Succeeded);
    }
}
