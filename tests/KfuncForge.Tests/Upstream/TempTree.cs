using KfuncForge.Cli;

namespace KfuncForge.Tests.Upstream;

/// <summary>
/// A minimal KfuncForge source tree in a unique temp folder (kfunc-modules/ plus one distro profile
/// and its kernel packaging), and a way to run the engine's command line in-process against it.
/// </summary>
public sealed class TempTree : IDisposable
{
    public string Root { get; }

    public TempTree()
    {
        Root = Path.Combine(Path.GetTempPath(), "kfuncforge-tree-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path.Combine(Root, "kfunc-modules"));
        Directory.CreateDirectory(Path.Combine(Root, "distros", "kernel-packaging"));
        File.WriteAllText(Path.Combine(Root, "distros", "kernel-packaging", "debian.yaml"), """
            name: debian
            headers: ["linux-headers-{release}"]
            image:
              - package: "linux-image-{release}"
                path: "/boot/vmlinuz-{release}"
            modules_dir: "/lib/modules/{release}"
            headers_dir: "/usr/src/linux-headers-{release}"
            """);
        File.WriteAllText(Path.Combine(Root, "distros", "debian12.yaml"), """
            id: debian12
            name: "Debian 12 (bookworm)"
            family: deb
            package_manager: apt
            container_image: "debian:bookworm"
            toolchain: [gcc-12, make]
            kernel_packaging: debian
            kernels:
              - release: "6.1.0-56-amd64"
                line: "6.1"
            packaging:
              name: "{module_dashed}-modules-{release}"
              maintainer: "KfuncForge <kfuncforge@localhost>"
              vendor: KfuncForge
              install_dir: "/lib/modules/{release}/updates/kfuncforge"
            signing:
              module_hash: sha256
            """);
    }

    public string Module(string name) => Path.Combine(Root, "kfunc-modules", name);

    public string ModuleYaml(string name) => Path.Combine(Module(name), "module.yaml");

    /// <summary>Runs kfuncforge with --root pointing here; returns the exit code and both streams.</summary>
    public (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        var exit = Cli.Cli.Run([.. args, $"--root={Root}"], stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    public void Dispose() => Delete(Root);

    public static void Delete(string path)
    {
        if (!Directory.Exists(path)) return;
        foreach (var file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories))
            File.SetAttributes(file, FileAttributes.Normal);
        Directory.Delete(path, recursive: true);
    }
}
