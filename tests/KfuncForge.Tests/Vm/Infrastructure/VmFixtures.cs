using System.Globalization;
using KfuncForge.Processes;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Vm.Infrastructure;

/// <summary>How a fixture module behaves (tests/fixtures/vm/module/kff_fixture.c, KFF_MODE).</summary>
public enum FixtureMode { Correct = 0, WrongValue = 1, Hang = 2, Panic = 3, Warn = 4, Oops = 5 }

/// <summary>One fixture module: its name, its kfunc, its behaviour, and whether it is built with module BTF.</summary>
public sealed record FixtureModule(string Name, FixtureMode Mode = FixtureMode.Correct, bool WithBtf = true)
{
    public string Kfunc => $"bpf_{Name}_add";
}

/// <summary>
/// Real fixture modules and source trees for the VM tests: modules built with kbuild against the test
/// kernel's headers (cached by content), and a KfuncForge source tree whose module.yaml files describe
/// them (smoke: tc, syscall, an XDP call the verifier must reject; load: test_run), plus an optional
/// module whose kfunc, bpf_sock_destroy, the 6.12 kernel has natively (smoke and load over sockets).
/// </summary>
public static class VmFixtures
{
    public static string Dir => Path.Combine(TestTree.Fixtures, "vm");

    private static readonly SemaphoreSlim BuildGate = new(1, 1);

    /// <summary>Builds (or takes from the cache) the .ko of a fixture module for the test kernel.</summary>
    public static async Task<string> BuildAsync(TestKernel kernel, FixtureModule m)
    {
        var source = Path.Combine(Dir, "module", "kff_fixture.c");
        var kbuild = $"obj-m := {m.Name}.o\nccflags-y := -DKFF_MODE={(int)m.Mode} -DKFF_NAME={m.Kfunc}\n";
        var key = Hashing.Combine([Hashing.File(source), kbuild, kernel.Release, m.WithBtf ? "btf" : "no-btf", Hashing.File(Path.Combine(kernel.Headers, "Module.symvers"))]);
        var cache = new ContentCache(Path.Combine(TestKernel.CacheRoot, "test-modules"));
        await BuildGate.WaitAsync();
        try
        {
            var dir = await cache.GetOrCreateAsync(m.Name, key, async temp =>
            {
                var headers = m.WithBtf ? kernel.Headers : HeadersWithoutVmlinux(kernel.Headers, Path.Combine(temp, "headers"));
                var src = Path.Combine(temp, "src");
                Directory.CreateDirectory(src);
                File.Copy(source, Path.Combine(src, m.Name + ".c"));
                File.WriteAllText(Path.Combine(src, "Kbuild"), kbuild);
                var result = await ProcessRunner.Instance.RunAsync(new ProcessSpec("make", ["-C", headers, $"M={src}", "modules"]) { Timeout = TimeSpan.FromMinutes(5) });
                if (!result.Succeeded) throw new InvalidOperationException($"building fixture {m.Name} failed:\n{result.LogText()}");
                if (!m.WithBtf && !result.Stderr.Contains("Skipping BTF generation", StringComparison.Ordinal))
                    throw new InvalidOperationException($"fixture {m.Name} was meant to be built without BTF, but kbuild did not skip it:\n{result.LogText()}");
                File.Copy(Path.Combine(src, m.Name + ".ko"), Path.Combine(temp, m.Name + ".ko"));
                if (Directory.Exists(Path.Combine(temp, "headers"))) Directory.Delete(Path.Combine(temp, "headers"), true);
                Directory.Delete(src, true);
            });
            return Path.Combine(dir, m.Name + ".ko");
        }
        finally
        {
            BuildGate.Release();
        }
    }

    /// <summary>A copy of the headers folder without vmlinux (kbuild then skips module BTF): the "module without BTF" fixture.</summary>
    private static string HeadersWithoutVmlinux(string headers, string copy)
    {
        Directory.CreateDirectory(copy);
        foreach (var entry in new DirectoryInfo(headers).GetFileSystemInfos())
        {
            if (entry.Name == "vmlinux") continue;
            var target = Path.Combine(copy, entry.Name);
            // Link everything else by absolute path: the headers' own relative links would break in the copy.
            var real = entry.LinkTarget is not null ? entry.ResolveLinkTarget(true)!.FullName : entry.FullName;
            File.CreateSymbolicLink(target, real);
        }
        return copy;
    }

    /// <summary>
    /// Writes a source tree: distros/debian12.yaml from the repository, the given fixture modules, and
    /// (when <paramref name="withSocketDestroy"/>) kff_sockd, whose kfunc the 6.12 kernel has natively.
    /// </summary>
    public static string WriteTree(string root, IEnumerable<FixtureModule> modules, bool withSocketDestroy = false, int loadRepeat = 200_000, int sockets = 256)
    {
        Directory.CreateDirectory(Path.Combine(root, "distros", "kernel-packaging"));
        File.Copy(Path.Combine(TestTree.RepoRoot, "distros", "debian12.yaml"), Path.Combine(root, "distros", "debian12.yaml"));
        File.Copy(Path.Combine(TestTree.RepoRoot, "distros", "kernel-packaging", "debian.yaml"), Path.Combine(root, "distros", "kernel-packaging", "debian.yaml"));
        var shared = File.ReadAllText(Path.Combine(Dir, "bpf", "kff_fixture.bpf.c"));
        foreach (var m in modules)
        {
            var dir = Path.Combine(root, "kfunc-modules", m.Name);
            Directory.CreateDirectory(Path.Combine(dir, "src"));
            Directory.CreateDirectory(Path.Combine(dir, "bpf"));
            File.Copy(Path.Combine(Dir, "module", "kff_fixture.c"), Path.Combine(dir, "src", "kff_fixture.c"));
            File.WriteAllText(Path.Combine(dir, "bpf", "smoke.bpf.c"), $"#define KFF_NAME {m.Kfunc}\n{shared}");
            File.WriteAllText(Path.Combine(dir, "bpf", "load.bpf.c"), $"#define KFF_NAME {m.Kfunc}\n#define KFF_LOAD_ONLY\n{shared}");
            File.WriteAllText(Path.Combine(dir, "module.yaml"), string.Create(CultureInfo.InvariantCulture, $$"""
                name: {{m.Name}}
                description: "smoke-harness fixture ({{m.Mode}}, {{(m.WithBtf ? "with" : "without")}} BTF)"
                license: GPL
                version: 1.0.0
                kfuncs:
                  - name: {{m.Kfunc}}
                    prototype: "int {{m.Kfunc}}(int a, int b)"
                    upstream: { release: "99.0", commit: 0123456789ab }
                    program_types: [sched_cls, syscall]
                    variants:
                      - id: plain
                        file: src/kff_fixture.c
                smoke:
                  - { name: tc, source: bpf/smoke.bpf.c, program: add_tc, section: tc, program_type: sched_cls, calls: [{{m.Kfunc}}], expect: { retval: 42 } }
                  - { name: syscall, source: bpf/smoke.bpf.c, program: add_syscall, section: syscall, program_type: syscall, calls: [{{m.Kfunc}}], expect: { retval: 1024 } }
                  - { name: xdp-rejected, source: bpf/smoke.bpf.c, program: add_xdp, section: xdp, program_type: xdp, calls: [{{m.Kfunc}}], expect: { verifier_rejects: "calling kernel function {{m.Kfunc}} is not allowed" } }
                load:
                  - { name: add, kfunc: {{m.Kfunc}}, program: bpf/load.bpf.c, driver: test_run, repeat: {{loadRepeat}} }

                """));
        }
        if (withSocketDestroy)
        {
            var dir = Path.Combine(root, "kfunc-modules", "kff_sockd");
            Directory.CreateDirectory(Path.Combine(dir, "src"));
            Directory.CreateDirectory(Path.Combine(dir, "bpf"));
            File.WriteAllText(Path.Combine(dir, "src", "none.c"), "/* no backport: the fixture runs only where the kernel has bpf_sock_destroy */\n");
            File.Copy(Path.Combine(Dir, "bpf", "sock_destroy.bpf.c"), Path.Combine(dir, "bpf", "sock_destroy.bpf.c"));
            File.WriteAllText(Path.Combine(dir, "module.yaml"), string.Create(CultureInfo.InvariantCulture, $$"""
                name: kff_sockd
                description: "smoke-harness fixture: bpf_sock_destroy where the kernel has it natively"
                license: GPL
                version: 1.0.0
                kfuncs:
                  - name: bpf_sock_destroy
                    prototype: "int bpf_sock_destroy(struct sock_common *sock)"
                    upstream: { release: "6.5", commit: 4ddbcb886268 }
                    flags: [KF_TRUSTED_ARGS]
                    program_types: [tracing]
                    variants:
                      - id: none
                        file: src/none.c
                        kernels: { from: "5.18", before: "6.5" }
                smoke:
                  - { name: tcp, source: bpf/sock_destroy.bpf.c, program: destroy_tcp, section: iter/tcp, program_type: tracing, calls: [bpf_sock_destroy], expect: { retval: 0 } }
                  - { name: udp, source: bpf/sock_destroy.bpf.c, program: destroy_udp, section: iter/udp, program_type: tracing, calls: [bpf_sock_destroy], expect: { retval: 0 } }
                  - { name: tc-rejected, source: bpf/sock_destroy.bpf.c, program: destroy_from_tc, section: tc, program_type: sched_cls, calls: [bpf_sock_destroy], expect: { verifier_rejects: "calling kernel function bpf_sock_destroy is not allowed" } }
                load:
                  - { name: destroy, kfunc: bpf_sock_destroy, program: bpf/sock_destroy.bpf.c, driver: socket_iterator, sockets: {{sockets}} }

                """));
        }
        return root;
    }

    /// <summary>A build index for the test kernel with the given built modules.</summary>
    public static string WriteIndex(string path, TestKernel kernel, IEnumerable<(string Module, string Ko)> modules)
    {
        new BuildIndex
        {
            Kernels = [new IndexedKernel { Release = kernel.Release, Image = kernel.Image, Btf = kernel.Vmlinux, Line = "6.12" }],
            Modules = modules.Select(m => new IndexedModule { Kernel = kernel.Release, Module = m.Module, Ko = m.Ko }).ToList(),
        }.Save(path);
        return path;
    }
}
