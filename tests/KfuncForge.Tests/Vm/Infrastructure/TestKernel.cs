using System.Runtime.InteropServices;
using KfuncForge.Processes;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Vm.Infrastructure;

/// <summary>
/// The real kernel the VM tests boot: the newest 6.12 amd64 kernel whose headers are installed
/// (build/host-packages.txt installs linux-headers-6.12-amd64; Debian's 6.12 headers carry a BTF
/// vmlinux, so fixture modules get module BTF). Its image is fetched once with apt-get download and
/// kept in the XDG cache (~/.cache/kfuncforge/test-kernels/&lt;release&gt;/vmlinuz) for every later run.
/// </summary>
public sealed class TestKernel
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static TestKernel? _instance;

    public required string Release { get; init; }
    public required string Image { get; init; }
    public required string Headers { get; init; }

    public string Vmlinux => Path.Combine(Headers, "vmlinux");

    public static string CacheRoot => Environment.GetEnvironmentVariable("KFUNCFORGE_TEST_CACHE") ?? ContentCache.DefaultRoot();

    /// <summary>Why the VM tests cannot run on this machine at all (not x86-64 Linux with apt), or null.</summary>
    public static string? Unsupported()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.OSArchitecture != Architecture.X64)
            return "the VM tests boot Debian amd64 kernels and need an x86-64 Linux host";
        if (!File.Exists("/usr/bin/apt-get") || !File.Exists("/usr/bin/dpkg-deb"))
            return "the VM tests fetch a Debian kernel with apt-get and need a Debian-family host";
        return null;
    }

    public static async Task<TestKernel> GetAsync()
    {
        await Gate.WaitAsync();
        try
        {
            return _instance ??= await FetchAsync();
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task<TestKernel> FetchAsync()
    {
        var headers = Directory.Exists("/usr/src")
            ? Directory.GetDirectories("/usr/src", "linux-headers-6.12*-amd64")
                .Where(d => File.Exists(Path.Combine(d, "vmlinux")) && File.Exists(Path.Combine(d, "Makefile")))
                .OrderByDescending(d => KfuncForge.Model.KernelVersion.Parse(Path.GetFileName(d)["linux-headers-".Length..]))
                .FirstOrDefault()
            : null;
        if (headers is null)
            throw new InvalidOperationException("no /usr/src/linux-headers-6.12*-amd64 with a vmlinux: install linux-headers-6.12-amd64 (build/host-packages.txt; `dotnet cake --target=Setup`)");
        var release = Path.GetFileName(headers)["linux-headers-".Length..];
        var dir = Path.Combine(CacheRoot, "test-kernels", release);
        var image = Path.Combine(dir, "vmlinuz");
        if (!File.Exists(image))
        {
            using var temp = TestTree.Temp();
            var runner = ProcessRunner.Instance;
            var package = $"linux-image-{release}";
            await runner.CheckedAsync(new ProcessSpec("apt-get", ["download", "-q", package]) { WorkingDirectory = temp.Path, Timeout = TimeSpan.FromMinutes(10) });
            var deb = Directory.GetFiles(temp.Path, "*.deb").Single();
            var root = temp.Combine("root");
            await runner.CheckedAsync(new ProcessSpec("dpkg-deb", ["-x", deb, root]) { Timeout = TimeSpan.FromMinutes(5) });
            var vmlinuz = new[] { Path.Combine(root, "boot", $"vmlinuz-{release}"), Path.Combine(root, "usr", "lib", "modules", release, "vmlinuz") }.First(File.Exists);
            Directory.CreateDirectory(dir);
            var partial = image + ".part-" + Guid.NewGuid().ToString("N")[..8];
            File.Copy(vmlinuz, partial);
            File.Move(partial, image, overwrite: true);
        }
        return new TestKernel { Release = release, Image = image, Headers = headers };
    }
}

/// <summary>A [Fact] that is skipped, with the reason, only on hosts where the VM tests cannot exist.</summary>
public sealed class VmFactAttribute : FactAttribute
{
    public VmFactAttribute()
    {
        if (TestKernel.Unsupported() is { } why) Skip = why;
        Timeout = 600_000;
    }
}
