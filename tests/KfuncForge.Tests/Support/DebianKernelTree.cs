using KfuncForge.Kernels;

namespace KfuncForge.Tests.Support;

/// <summary>
/// Lays out a fetched Debian kernel as the self-contained build tree a user would prepare (`make modules_prepare`
/// after a full build, in the source directory): Debian splits it over three packages (the -common headers, the
/// flavour's generated headers and config, and the kbuild tools) joined by symbolic links; here they are merged into
/// one directory, with the kernel's vmlinux (its BTF) and bootable image where a kernel build leaves them.
/// </summary>
public static class DebianKernelTree
{
    public static string LayOut(KernelEntry entry, string dest)
    {
        var flavourDir = Path.Combine(entry.Tree, entry.Facts.HeadersDir.TrimStart('/'));
        // The flavour's Makefile is one line, "include /usr/src/linux-headers-<abi>-common/Makefile".
        var include = File.ReadLines(Path.Combine(flavourDir, "Makefile")).Single(l => l.StartsWith("include ", StringComparison.Ordinal))["include ".Length..].Trim();
        var commonDir = Path.Combine(entry.Tree, Path.GetDirectoryName(include)!.TrimStart('/'));
        var scriptsLink = new FileInfo(Path.Combine(flavourDir, "scripts")).LinkTarget ?? throw new InvalidOperationException($"{flavourDir}/scripts is not a link to the kbuild package");
        var kbuildDir = Path.GetFullPath(Path.Combine(flavourDir, scriptsLink, ".."));
        string[] links = ["scripts", "tools"];
        Copy(commonDir, dest, skipTop: links);
        Copy(kbuildDir, dest, skipTop: []);
        Copy(flavourDir, dest, skipTop: [.. links, "Makefile", "vmlinux"]);
        // Debian 6.1's kbuild package lacks resolve_btfids; the fetch put one in the entry's extras.
        var resolveBtfids = Path.Combine(dest, KernelTree.ResolveBtfids);
        if (!File.Exists(resolveBtfids))
        {
            var donor = Directory.EnumerateFiles(entry.Extras, "resolve_btfids", SearchOption.AllDirectories).First();
            Directory.CreateDirectory(Path.GetDirectoryName(resolveBtfids)!);
            File.Copy(donor, resolveBtfids);
            File.SetUnixFileMode(resolveBtfids, File.GetUnixFileMode(donor));
        }
        File.Copy(entry.Vmlinux, Path.Combine(dest, "vmlinux"), overwrite: true);
        Directory.CreateDirectory(Path.Combine(dest, "arch", "x86", "boot"));
        File.Copy(entry.Vmlinuz, Path.Combine(dest, KernelTree.ImagePath), overwrite: true);
        return dest;
    }

    private static void Copy(string from, string to, string[] skipTop)
    {
        foreach (var path in Directory.EnumerateFileSystemEntries(from))
        {
            var name = Path.GetFileName(path);
            if (skipTop.Contains(name)) continue;
            var target = Path.Combine(to, name);
            if (Directory.Exists(path) && new FileInfo(path).LinkTarget is null)
            {
                Directory.CreateDirectory(target);
                foreach (var file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories))
                {
                    var into = Path.Combine(target, Path.GetRelativePath(path, file));
                    Directory.CreateDirectory(Path.GetDirectoryName(into)!);
                    File.Copy(file, into, overwrite: true);
                    File.SetUnixFileMode(into, File.GetUnixFileMode(file));
                }
            }
            else
            {
                Directory.CreateDirectory(to);
                File.Copy(path, target, overwrite: true);
                File.SetUnixFileMode(target, File.GetUnixFileMode(path));
            }
        }
    }
}
