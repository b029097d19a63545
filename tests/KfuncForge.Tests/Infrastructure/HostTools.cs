using KfuncForge.Processes;

namespace KfuncForge.Tests.Infrastructure;

/// <summary>Real tools the signing and packaging tests run, and the reference sign-file fetched from Debian's archive.</summary>
public static class HostTools
{
    private static readonly SemaphoreSlim FetchLock = new(1, 1);
    private static string? _signFile;

    public static ProcessResult Run(string file, params string[] args) => Run(new ProcessSpec(file, args) { Timeout = TimeSpan.FromMinutes(5) });

    public static ProcessResult Run(ProcessSpec spec) => ProcessRunner.Instance.RunAsync(spec).GetAwaiter().GetResult();

    public static ProcessResult Checked(string file, params string[] args) => Run(file, args).EnsureSuccess();

    public static string CacheRoot
    {
        get
        {
            var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (string.IsNullOrEmpty(cache)) cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(cache, "kfuncforge", "test-tools");
        }
    }

    /// <summary>
    /// scripts/sign-file from Debian 12's linux-kbuild-6.1 package: downloaded with apt-get into the
    /// test cache on first use and unpacked with dpkg-deb (never installed on the host).
    /// </summary>
    public static string SignFile()
    {
        if (_signFile is not null) return _signFile;
        FetchLock.Wait();
        try
        {
            if (_signFile is not null) return _signFile;
            const string package = "linux-kbuild-6.1";
            var dir = Path.Combine(CacheRoot, package);
            var tool = Path.Combine(dir, "usr", "lib", package, "scripts", "sign-file");
            if (!File.Exists(tool))
            {
                var work = Path.Combine(CacheRoot, $".fetch-{Guid.NewGuid():N}");
                Directory.CreateDirectory(work);
                try
                {
                    var download = Run(new ProcessSpec("apt-get", ["download", package]) { WorkingDirectory = work, Timeout = TimeSpan.FromMinutes(5) });
                    if (!download.Succeeded)
                    {
                        // The package lists may be missing or stale on a fresh machine.
                        Run(new ProcessSpec("apt-get", ["-o", "DPkg::Lock::Timeout=600", "update", "-qq"]) { Timeout = TimeSpan.FromMinutes(5) }).EnsureSuccess();
                        Run(new ProcessSpec("apt-get", ["download", package]) { WorkingDirectory = work, Timeout = TimeSpan.FromMinutes(5) }).EnsureSuccess();
                    }
                    var deb = Directory.GetFiles(work, "*.deb").Single();
                    var unpacked = Path.Combine(work, "root");
                    Checked("dpkg-deb", "-x", deb, unpacked);
                    // Another test process (another worktree) may have finished the same fetch meanwhile.
                    if (!File.Exists(tool))
                    {
                        if (Directory.Exists(dir)) Directory.Delete(dir, true);
                        try { Directory.Move(unpacked, dir); }
                        catch (IOException) when (File.Exists(tool)) { }
                    }
                }
                finally
                {
                    Directory.Delete(work, true);
                }
            }
            return _signFile = tool;
        }
        finally
        {
            FetchLock.Release();
        }
    }

    /// <summary>A real ELF relocatable object standing in for a .ko (gcc -c on a tiny C file); the label makes each distinct.</summary>
    public static string CompileModule(string directory, string label = "demo")
    {
        Directory.CreateDirectory(directory);
        var source = Path.Combine(directory, label + ".c");
        File.WriteAllText(source, $"int {label}_kfunc(int a) {{ return a + {label.Length}; }}\nconst char {label}_license[] = \"GPL\";\n");
        var output = Path.Combine(directory, label + ".ko");
        Checked("gcc", "-c", "-O2", "-o", output, source);
        return output;
    }
}
