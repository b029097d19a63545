using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KfuncForge.Caching;
using KfuncForge.Diagnostics;
using KfuncForge.Model;

namespace KfuncForge.Kernels;

/// <summary>
/// What makes a kernel build tree this tree and no other: its release, the digests of its config, Module.symvers and
/// bootable image, and vmlinux's GNU build id. Recorded in the cache entry's facts and, as the kernel's "package", in
/// every module's provenance (docs/kernel-trees.md).
/// </summary>
public sealed record KernelTreeIdentity(string Path, string Release, string ConfigSha256, string ModuleSymversSha256, string VmlinuxBuildId, string ImageSha256)
{
    /// <summary>How the cache entry was copied from the tree (KernelTree.ImportFormat); an entry of another format is imported again.</summary>
    public int Import { get; init; }

    /// <summary>One digest over every part (not the path: the same tree moved elsewhere is the same kernel).</summary>
    public string Digest => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
        $"kfuncforge-kernel-tree/1\n{Release}\n{ConfigSha256}\n{ModuleSymversSha256}\n{VmlinuxBuildId}\n{ImageSha256}\n")));

    /// <summary>A package URL of the generic type naming the tree's parts, for SBOMs and provenance.</summary>
    public string Purl => $"pkg:generic/kernel-tree@{Uri.EscapeDataString(Release)}?config_sha256={ConfigSha256}&vmlinux_build_id={VmlinuxBuildId}" +
                          $"&module_symvers_sha256={ModuleSymversSha256}&image_sha256={ImageSha256}";

    /// <summary>The record that stands for the tree where fetched kernels list their packages (build keys, build records, provenance).</summary>
    public PackageRecord AsPackage() => new("kernel-tree", Release, KernelTree.Suite, Digest, 0) { Uri = Purl };
}

/// <summary>
/// A kernel given as a prepared build directory instead of fetched packages (--kernel-tree, or a profile target's
/// `tree:`): a self-contained tree after `make modules_prepare` plus a full build's vmlinux (with BTF),
/// Module.symvers and bootable image. It is checked piece by piece, copied once into the kernel cache (only what an
/// external module build reads: no objects, no C sources) and read into the same facts as a fetched kernel, so
/// Plan, Build, SmokeTest, Sign and Package treat it exactly alike.
/// </summary>
public static class KernelTree
{
    /// <summary>The suite recorded for a tree kernel's "package": it came from no archive.</summary>
    public const string Suite = "kernel-tree";

    /// <summary>The bootable image of an x86-64 tree.</summary>
    public const string ImagePath = "arch/x86/boot/bzImage";

    /// <summary>Raised whenever CopyForBuild copies differently, so entries imported before are made again.</summary>
    public const int ImportFormat = 3;

    /// <summary>Where the tree lies in the build environment.</summary>
    public static string HeadersDir(string release) => $"/usr/src/linux-tree-{release}";

    /// <summary>The pieces a tree must have, each with what it is needed for.</summary>
    public static readonly IReadOnlyList<(string Path, string NeededFor)> Pieces =
    [
        (".config", "the kernel's configuration: Plan reads BTF, signing and compression options from it, and kbuild builds against it"),
        ("include/config/kernel.release", "the kernel's release name (`make modules_prepare` writes it): the module's vermagic and install path"),
        ("include/generated/autoconf.h", "the configuration as C (`make modules_prepare` writes it): every module source includes it"),
        ("Makefile", "the kernel's top Makefile: kbuild builds external modules through it"),
        ("scripts/basic/fixdep", "kbuild's host tools (`make modules_prepare` builds them): every module build runs fixdep"),
        ("scripts/mod/modpost", "kbuild's host tools (`make modules_prepare` builds them): modpost links the module against the kernel's exports"),
        ("Module.symvers", "the kernel's exported symbols (a full `make` writes it): modpost checks the module's imports against it"),
        ("vmlinux", "the kernel with its base BTF (a full `make` with CONFIG_DEBUG_INFO_BTF=y): Plan reads the kernel's kfuncs and types, pahole writes the module's split BTF against it"),
        (ImagePath, "the bootable kernel image (a full `make`): SmokeTest boots it in QEMU"),
    ];

    /// <summary>Needed only when the config asks for module BTF.</summary>
    public const string ResolveBtfids = "tools/bpf/resolve_btfids/resolve_btfids";

    private static readonly string[] SkippedDirectories = [".git", "Documentation", "samples", ".tmp_versions"];
    private static readonly string[] SkippedExtensions = [".o", ".a", ".ko", ".c", ".S", ".rs", ".cmd", ".mod", ".order", ".lst", ".tmp"];

    /// <summary>
    /// Checks that <paramref name="dir"/> is a usable tree and returns its identity; every missing or unusable piece
    /// is reported together, each naming the file and what it is needed for.
    /// </summary>
    public static KernelTreeIdentity Inspect(string dir, string what = "--kernel-tree")
    {
        var root = System.IO.Path.GetFullPath(dir);
        if (!Directory.Exists(root))
            throw new InputException(new Problem(what, 0, 0, "", $"kernel build tree '{dir}' is not a directory; give the directory where the kernel was built (docs/kernel-trees.md)"));
        var problems = new List<Problem>();
        foreach (var (piece, neededFor) in Pieces)
        {
            var info = new FileInfo(System.IO.Path.Combine(root, piece));
            if (!info.Exists || info.Length == 0)
                problems.Add(new Problem(System.IO.Path.Combine(root, piece), 0, 0, what, $"is {(info.Exists ? "empty" : "missing")}; it is {neededFor}"));
        }
        if (problems.Count > 0) throw new InputException(problems);

        var config = KernelFiles.ParseConfig(File.ReadLines(System.IO.Path.Combine(root, ".config")));
        if (config.GetValueOrDefault("CONFIG_DEBUG_INFO_BTF_MODULES") == "y" && !File.Exists(System.IO.Path.Combine(root, ResolveBtfids)))
            problems.Add(new Problem(System.IO.Path.Combine(root, ResolveBtfids), 0, 0, what,
                "is missing; the config has CONFIG_DEBUG_INFO_BTF_MODULES=y and kbuild resolves each module's .BTF_ids with it (`make modules_prepare` builds it)"));
        var release = File.ReadAllText(System.IO.Path.Combine(root, "include/config/kernel.release")).Trim();
        if (Definitions.Grammar.KernelRelease(release) is not null || !KernelVersion.TryParse(release, out _))
            problems.Add(new Problem(System.IO.Path.Combine(root, "include/config/kernel.release"), 1, 1, what, $"'{Definitions.Grammar.Clip(release)}' is not a kernel release (e.g. 6.12.102-flatcar)"));
        string? buildId = null;
        try
        {
            var elf = ElfFile.Load(System.IO.Path.Combine(root, "vmlinux"));
            if (elf.Section(".BTF") is null)
                problems.Add(new Problem(System.IO.Path.Combine(root, "vmlinux"), 0, 0, what, "has no .BTF section; build the kernel with CONFIG_DEBUG_INFO_BTF=y (kfuncs need the kernel's BTF)"));
            buildId = BuildId(elf);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or IndexOutOfRangeException or IOException)
        {
            problems.Add(new Problem(System.IO.Path.Combine(root, "vmlinux"), 0, 0, what, $"is not an ELF kernel image ({e.Message}); give the tree's uncompressed vmlinux"));
        }
        if (problems.Count > 0) throw new InputException(problems);
        return new KernelTreeIdentity(root, release,
            PackageStore.Sha256Of(System.IO.Path.Combine(root, ".config")),
            PackageStore.Sha256Of(System.IO.Path.Combine(root, "Module.symvers")),
            buildId ?? "none",
            PackageStore.Sha256Of(System.IO.Path.Combine(root, ImagePath))) { Import = ImportFormat };
    }

    /// <summary>The GNU build id note of an ELF file (vmlinux keeps its notes in .notes), in hex; null when it has none.</summary>
    public static string? BuildId(ElfFile elf) =>
        new[] { ".note.gnu.build-id", ".notes" }.Select(elf.Section).OfType<ElfSection>().Select(s => BuildIdIn(elf.Bytes(s))).FirstOrDefault(id => id is not null);

    private static string? BuildIdIn(ReadOnlySpan<byte> data)
    {
        for (long off = 0; off + 12 <= data.Length;)
        {
            long nameSize = BinaryPrimitives.ReadUInt32LittleEndian(data[(int)off..]);
            long descSize = BinaryPrimitives.ReadUInt32LittleEndian(data[(int)(off + 4)..]);
            var type = BinaryPrimitives.ReadUInt32LittleEndian(data[(int)(off + 8)..]);
            var nameAt = off + 12;
            var descAt = nameAt + ((nameSize + 3) & ~3L);
            if (descAt + descSize > data.Length) return null;
            if (type == 3 && nameSize == 4 && data.Slice((int)nameAt, 3).SequenceEqual("GNU"u8)) return Convert.ToHexStringLower(data.Slice((int)descAt, (int)descSize));
            off = descAt + ((descSize + 3) & ~3L);
        }
        return null;
    }

    /// <summary>
    /// Copies what an external module build reads: the tree without objects, C and assembly sources (except under
    /// scripts/), kbuild's command files, documentation and git metadata; vmlinux goes to the extras layer (as for a fetched kernel). Symbolic
    /// links are kept when they stay inside the tree; one that leaves it (an O= build's `source`) is refused.
    /// </summary>
    public static void CopyForBuild(string from, string to, string what)
    {
        var root = System.IO.Path.GetFullPath(from);
        // An O= build directory: its `source` link names the source tree, and its Makefile only forwards to the
        // source's. The copy is then the source tree with the build's outputs laid over it: one self-contained tree.
        var source = new FileInfo(System.IO.Path.Combine(root, "source"));
        if (source.LinkTarget is { } sourceLink)
        {
            var sourceDir = System.IO.Path.GetFullPath(System.IO.Path.Combine(root, sourceLink));
            if (!Directory.Exists(sourceDir))
                throw new InputException(new Problem(source.FullName, 0, 0, what, $"links to the kernel source '{sourceLink}', which is not a directory on this machine; give the build directory where its source is present"));
            CopyTree(sourceDir, to, what, skipTop: []);
            CopyTree(root, to, what, skipTop: ["source", "Makefile"]);
            return;
        }
        CopyTree(root, to, what, skipTop: []);
    }

    private static void CopyTree(string root, string to, string what, string[] skipTop)
    {
        var stack = new Stack<string>([root]);
        while (stack.Count > 0)
        {
            var dir = stack.Pop();
            foreach (var path in Directory.EnumerateFileSystemEntries(dir).Order(StringComparer.Ordinal))
            {
                var relative = System.IO.Path.GetRelativePath(root, path);
                var name = System.IO.Path.GetFileName(path);
                var target = System.IO.Path.Combine(to, relative);
                var info = new FileInfo(path);
                if (skipTop.Contains(relative)) continue;
                if (info.LinkTarget is { } link)
                {
                    var resolved = System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path)!, link));
                    if (System.IO.Path.IsPathRooted(link) || !(resolved + "/").StartsWith(root + "/", StringComparison.Ordinal))
                        throw new InputException(new Problem(path, 0, 0, what,
                            $"is a link to '{link}', outside the tree; a tree must be self-contained (an O= build directory's `source` link is the one exception): copy what the link points to into the tree"));
                    Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
                    if (File.Exists(target) || Directory.Exists(target)) File.Delete(target);
                    File.CreateSymbolicLink(target, link);
                    continue;
                }
                if (Directory.Exists(path))
                {
                    if (!SkippedDirectories.Contains(name)) stack.Push(path);
                    continue;
                }
                // scripts/ is kept whole: kbuild compiles some of its sources into every module (6.12's scripts/module-common.c).
                var inScripts = relative.StartsWith("scripts/", StringComparison.Ordinal);
                if (relative == "vmlinux" || (!inScripts && SkippedExtensions.Any(e => name.EndsWith(e, StringComparison.Ordinal))) || !info.Exists) continue;
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
                File.Copy(path, target, overwrite: true);
                if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(target, File.GetUnixFileMode(path));
            }
        }
    }

    /// <summary>Imports the tree into the kernel cache (once per identity) and returns it as a kernel entry.</summary>
    public static KernelEntry Import(CacheDirectory cache, DistroProfile distro, string dir, string? flavour, Action<string> log, string what = "--kernel-tree")
    {
        var identity = Inspect(dir, what);
        var final = System.IO.Path.Combine(cache.Kernels, "trees", distro.Id, identity.Release);
        if (KernelEntry.TryOpen(final) is { } cached && IsImportOf(cached, identity)) return Here(cached, identity);
        using var held = FileLock.Acquire(cache.LockFile($"tree-{distro.Id}-{identity.Release}"), KernelFetcher.LockTimeout, $"importing the kernel tree {identity.Path}", log);
        if (KernelEntry.TryOpen(final) is { } other && IsImportOf(other, identity)) return Here(other, identity);
        var parent = System.IO.Path.GetDirectoryName(final)!;
        Directory.CreateDirectory(parent);
        string? staging = null;
        try
        {
            staging = CacheDirectory.NewStaging(parent, identity.Release);
            log($"importing kernel tree {identity.Path} ({identity.Release}, vmlinux build id {identity.VmlinuxBuildId})");
            var release = identity.Release;
            var headersDir = HeadersDir(release);
            CopyForBuild(identity.Path, System.IO.Path.Combine(staging, "tree", headersDir.TrimStart('/')), what);
            var boot = System.IO.Path.Combine(staging, "boot");
            Directory.CreateDirectory(boot);
            File.Copy(System.IO.Path.Combine(identity.Path, ImagePath), System.IO.Path.Combine(boot, $"vmlinuz-{release}"));
            File.Copy(System.IO.Path.Combine(identity.Path, ".config"), System.IO.Path.Combine(boot, $"config-{release}"));
            var symbolsFrom = "Module.symvers";
            var map = System.IO.Path.Combine(identity.Path, "System.map");
            if (File.Exists(map) && KernelFiles.ParseSystemMap(File.ReadLines(map)).Count > 1000)
            {
                File.Copy(map, System.IO.Path.Combine(boot, $"System.map-{release}"));
                symbolsFrom = "System.map+Module.symvers";
            }
            var fs = System.IO.Path.Combine(identity.Path, "fs");
            foreach (var module in Directory.Exists(fs) ? KernelEntry.BootModuleNames : [])
                foreach (var ko in Directory.EnumerateFiles(fs, module + ".ko*", SearchOption.AllDirectories).Take(1))
                {
                    Directory.CreateDirectory(System.IO.Path.Combine(boot, "modules"));
                    File.Copy(ko, System.IO.Path.Combine(boot, "modules", System.IO.Path.GetFileName(ko)));
                }
            var vmlinux = System.IO.Path.Combine(staging, "extras", headersDir.TrimStart('/'), "vmlinux");
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(vmlinux)!);
            File.Copy(System.IO.Path.Combine(identity.Path, "vmlinux"), vmlinux);
            var config = KernelFiles.ParseConfig(File.ReadLines(System.IO.Path.Combine(boot, $"config-{release}")));
            var elf = ElfFile.Load(vmlinux);
            var btf = BtfReader.Parse(elf.Bytes(elf.Section(".BTF")!));
            var facts = new KernelFactsDocument
            {
                Distro = distro.Id,
                Release = release,
                UpstreamVersion = UpstreamVersion(identity.Path, release).ToString(),
                Flavour = flavour ?? FlavourOf(release),
                Suite = Suite,
                HeadersDir = headersDir,
                ImageCompression = "bzImage",
                Packages = [identity.AsPackage()],
                Notes = [$"a kernel build tree, not a distro package: {identity.Path}"],
                SymbolsFrom = symbolsFrom,
                BtfTypes = btf.Types.Count,
                BtfFunctions = btf.Functions.Count(),
                NativeKfuncs = NativeKfuncs.Read(elf, btf).Order(StringComparer.Ordinal).ToList(),
                Config = config,
                Tree = identity,
            };
            File.WriteAllText(System.IO.Path.Combine(staging, KernelEntry.FactsFile), JsonSerializer.Serialize(facts, KernelFactsDocument.Json) + "\n");
            if (Directory.Exists(final)) CacheDirectory.DeleteQuietly(final);
            CacheDirectory.Publish(staging, final);
            var (made, damage) = KernelEntry.Inspect(final);
            return made ?? throw new StageException($"kernel cache entry {final} is not whole after importing {identity.Path} ({damage}); check the disk holding {cache.Root}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CacheErrors.Describe(e, cache.Root, $"importing the kernel tree {identity.Path}") ?? throw new StageException($"importing the kernel tree {identity.Path} failed: {e.Message}");
        }
        finally
        {
            if (staging is not null) CacheDirectory.DeleteQuietly(staging);
        }
    }

    /// <summary>An entry imported from the same tree at another path (moved, or another copy): the same kernel, reported where it is now.</summary>
    private static KernelEntry Here(KernelEntry entry, KernelTreeIdentity identity) =>
        entry.Facts.Tree!.Path == identity.Path ? entry
            : entry with { Facts = entry.Facts with { Tree = identity, Notes = [$"a kernel build tree, not a distro package: {identity.Path}"] } };

    private static bool IsImportOf(KernelEntry entry, KernelTreeIdentity identity) =>
        entry.Facts.Tree is { } t && t.Digest == identity.Digest && t.Import == ImportFormat;

    /// <summary>VERSION, PATCHLEVEL and SUBLEVEL from the top Makefile; the release's leading numbers when it has none.</summary>
    public static KernelVersion UpstreamVersion(string dir, string release)
    {
        var values = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(System.IO.Path.Combine(dir, "Makefile")).Take(20))
        {
            var parts = line.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length == 2 && parts[0] is "VERSION" or "PATCHLEVEL" or "SUBLEVEL" && int.TryParse(parts[1], out var n)) values[parts[0]] = n;
        }
        return values.Count == 3 ? new KernelVersion(values["VERSION"], values["PATCHLEVEL"], values["SUBLEVEL"]) : KernelVersion.Parse(release);
    }

    /// <summary>The release's last '-' part when it is a word (6.12.102-flatcar: flatcar); else none.</summary>
    public static string FlavourOf(string release)
    {
        var dash = release.LastIndexOf('-');
        var last = dash < 0 ? "" : release[(dash + 1)..];
        return last.Length > 0 && last.All(char.IsAsciiLetterOrDigit) && last.Any(char.IsAsciiLetter) ? last : "";
    }
}
