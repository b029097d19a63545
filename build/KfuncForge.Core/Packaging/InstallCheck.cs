using System.Diagnostics;
using System.Text;
using KfuncForge.Compilation;
using KfuncForge.Containers;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Processes;
using KfuncForge.Signing;
using KfuncForge.Vm;

namespace KfuncForge.Packaging;

/// <summary>One package to install from a published apt repository and check in a VM.</summary>
public sealed record InstallCheckRequest(
    string Repository,
    string Suite,
    string Package,
    string Kernel,
    string Module,
    string WorkDir)
{
    /// <summary>The Debian suite of the rootfs (the profile's rootfs recipe) and the suites the kernel may come from.</summary>
    public required string RootfsSuite { get; init; }
    public IReadOnlyList<string> ExtraSuites { get; init; } = [];
    public IReadOnlyList<string> Components { get; init; } = ["main"];

    /// <summary>The keyring apt checks the repository with (signed-by); the repository's own published key by default.</summary>
    public string? Keyring { get; init; }

    /// <summary>Boot under UEFI Secure Boot with the package's certificate enrolled as a MOK (Vm/SecureBoot.cs).</summary>
    public bool SecureBoot { get; init; }

    public Accelerator Accelerator { get; init; } = Accelerator.Tcg;
    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>How one module load in the guest went: refused (errno and message) or loaded, and its taint flags.</summary>
public sealed record GuestLoad(string What, bool Loaded, string Error, string Taint, IReadOnlyList<string> KernelLog)
{
    public string Describe() => Loaded
        ? $"{What}: loaded{(Taint.Length > 0 ? $", module taint '{Taint}'" : ", module not tainted")}{Log()}"
        : $"{What}: refused ({Error}){Log()}";

    private string Log() => KernelLog.Count > 0 ? $"; kernel: {string.Join(" | ", KernelLog)}" : "";
}

/// <summary>What the install check saw: the rootfs apt made, and the guest's own report of depmod, modprobe and the tampered copy.</summary>
public sealed record InstallCheckResult(
    InstallCheckRequest Request,
    bool Passed,
    IReadOnlyList<string> Problems,
    string InstalledVersion,
    string KernelImagePackage,
    string InstalledModulePath,
    long ImageBytes,
    TimeSpan RootfsTime,
    BootResult? Boot,
    IReadOnlyList<CommandRecord> Commands,
    GuestLoad? Signed,
    GuestLoad? Tampered,
    GuestLoad? SignedEnforced,
    GuestLoad? TamperedEnforced)
{
    /// <summary>Secure Boot mode: the module signed by another key, and without a signature.</summary>
    public GuestLoad? Foreign { get; init; }
    public GuestLoad? Unsigned { get; init; }
    public SecureBootEvidence? SecureBoot { get; init; }

    public string? KernelSeen => Boot?.Hello?.Kernel;

    /// <summary>The rmmod after a copy the kernel should refuse: failing there means there was nothing to remove.</summary>
    private static bool IsCleanUp(CommandRecord c) => c.Name.StartsWith("remove-", StringComparison.Ordinal) && c.Argv.FirstOrDefault() == "rmmod" && c.Code == 1;

    public IEnumerable<string> Summary()
    {
        yield return $"install check of {Request.Package} on {Request.Kernel}: {(Passed ? "passed" : "FAILED")}";
        yield return $"  rootfs: mmdebstrap + apt from {Request.Repository} (signed-by, InRelease verified) in {RootfsTime.TotalSeconds:0.0} s; {Request.Package} {InstalledVersion}, {KernelImagePackage}";
        if (Boot is not null)
            yield return $"  boot: {Boot.Outcome} in {Boot.Wall.TotalSeconds:0.0} s ({Request.Accelerator.ToString().ToLowerInvariant()}), image {ImageBytes / (1024.0 * 1024):0.0} MiB, kernel seen {KernelSeen ?? "none"}";
        foreach (var c in Commands)
            yield return $"  {c.Name}: {string.Join(' ', c.Argv)} -> {(c.Succeeded ? "ok" : IsCleanUp(c) ? "nothing to remove (the copy was refused)" : c.Code is { } code ? $"exit {code}" : $"errno {c.Errno} {c.Error}")}";
        if (SecureBoot is { } sb)
            foreach (var line in sb.Summary()) yield return "  " + line;
        foreach (var l in new[] { Signed, Tampered, Foreign, Unsigned, SignedEnforced, TamperedEnforced })
            if (l is not null) yield return "  " + l.Describe();
        if (SecureBoot is { } evidence)
            foreach (var line in evidence.Scripts()) yield return "  " + line;
        foreach (var p in Problems) yield return "  problem: " + p;
    }
}

/// <summary>What a Secure Boot install check saw besides the module loads: the firmware and keyring lines of the
/// kernel, whether the enrolment boot ran now or came from the cache, and the package's postinst in both states.</summary>
public sealed record SecureBootEvidence(
    string Certificate,
    bool EnrolledNow,
    IReadOnlyList<string> KernelLines,
    CommandRecord? PostinstBeforeEnrolment,
    CommandRecord? PostinstEnrolled,
    CommandRecord? PostinstNotEnrolled)
{
    public IEnumerable<string> Summary()
    {
        yield return $"secure boot: OVMF with Secure Boot on; {Certificate} enrolled through MokListRT ({(EnrolledNow ? "enrolment boot made now" : "enrolled variable store from the cache")})";
        yield return "  note: " + SecureBootFirmware.Caveat;
        foreach (var l in KernelLines) yield return "  kernel: " + l;
    }

    public IEnumerable<string> Scripts()
    {
        foreach (var (what, c) in new[] { ("postinst before enrolment", PostinstBeforeEnrolment), ("postinst, key enrolled", PostinstEnrolled), ("postinst, MokListRT removed", PostinstNotEnrolled) })
            if (c is not null)
                yield return $"{what}: exit {c.Code?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}, stdin /dev/null: {string.Join(" | ", c.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => !l.StartsWith("****", StringComparison.Ordinal)))}";
    }
}

/// <summary>
/// The done-when check of the Package stage: installs a package with apt from the published repository
/// into a fresh rootfs (mmdebstrap; the repository is checked against its key with signed-by, never
/// trusted blindly), boots that rootfs as the initramfs of the kernel apt installed with it, and lets the
/// guest agent run the rootfs's own depmod and modprobe. In the same boot, a copy of the installed module
/// with one byte changed is loaded, without and then with signature enforcement, and the kernel's answers
/// are reported as they are (refused, or loaded and flagged).
///
/// The boot image is the rootfs without what a module load never reads: the kernel's own modules (not
/// even unpacked, unless the module depends on some), /boot (the kernel boots from outside), docs, man
/// pages, locales, apt's lists and caches. The kernel's module index (modules.dep and friends) is left
/// out too, so the guest's depmod must make it.
/// </summary>
public sealed partial class InstallCheck(IProcessRunner runner, GuestTools tools, IVmRunner vms)
{
    public static readonly TimeSpan RootfsTimeout = TimeSpan.FromMinutes(20);

    /// <summary>Files depmod writes: left out of the image so the guest makes them itself.</summary>
    public static readonly IReadOnlyList<string> DepmodOutputs =
    [
        "modules.dep", "modules.dep.bin", "modules.alias", "modules.alias.bin", "modules.symbols", "modules.symbols.bin",
        "modules.softdep", "modules.weakdep", "modules.devname", "modules.builtin.bin", "modules.builtin.alias.bin",
    ];

    private static readonly string[] ExcludedTrees = ["boot", "dev", "proc", "sys", "run", "tmp", "usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info", "var/cache", "var/lib/apt/lists", "var/log"];

    /// <summary>The mmdebstrap argv (pure): apt variant, the package, the distro's suites and the repository with signed-by.</summary>
    public static ProcessSpec RootfsCommand(InstallCheckRequest request, AptMirrors mirrors, string target, bool withKernelModules)
    {
        var repo = Path.GetFullPath(request.Repository);
        var keyring = Path.GetFullPath(request.Keyring ?? Path.Combine(repo, AptRepository.KeyringFileName));
        var args = new List<string>
        {
            "--variant=apt",
            "--include=" + request.Package,
            "--skip=cleanup/apt/lists",
            "--aptopt=Acquire::Retries \"3\"",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
        };
        // Kernels ship their modules under /lib/modules (bookworm) or /usr/lib/modules (trixie on): neither is unpacked.
        if (!withKernelModules) args.AddRange(["--dpkgopt=path-exclude=/lib/modules/*/kernel/*", "--dpkgopt=path-exclude=/usr/lib/modules/*/kernel/*"]);
        args.Add(request.RootfsSuite);
        args.Add(target);
        args.AddRange(mirrors.SourceLines(request.RootfsSuite, request.ExtraSuites, request.Components));
        // copy:// rather than file://: apt copies the packages into its cache, where dpkg in the chroot finds them.
        args.Add($"deb [signed-by={keyring}] copy://{repo} {request.Suite} main");
        return new ProcessSpec("mmdebstrap", args)
        {
            Timeout = RootfsTimeout,
            // The kernel package's hooks would build an initramfs nobody boots (the check boots the rootfs itself).
            Environment = new Dictionary<string, string?> { ["INITRD"] = "No" },
        };
    }

    private const string TamperedPath = "kff/tampered/module.ko";
    private const string ForeignPath = "kff/foreign/module.ko";
    private const string UnsignedPath = "kff/unsigned/module.ko";

    /// <summary>The guest's manifest: depmod, modinfo, modprobe, then the tampered copy without and with enforcement.</summary>
    public static string Manifest(string bootId, string kernel, string module, string tamperedPath) => GuestManifest.Text(
    [
        ["kff-manifest", "1"],
        ["boot", bootId],
        .. InstalledModuleSteps(kernel, module),
        ["module", module, "/" + tamperedPath, "tampered", "-"],
        ["run", "taint-tampered", "cat", $"/sys/module/{module}/taint"],
        ["run", "remove-tampered", "rmmod", module],
        ["write", "enforce", "/sys/module/module/parameters/sig_enforce", "1"],
        ["run", "modprobe-enforced", "modprobe", module],
        ["module", module, "/" + tamperedPath, "tampered-enforced", "-"],
    ]);

    /// <summary>The first Secure Boot boot (once per certificate, then cached): the postinst before enrolment, then MokListRT written through efivarfs in one write.</summary>
    public static string EnrolmentManifest(string bootId, string kernel, string package) => GuestManifest.Text(
    [
        ["kff-manifest", "1"],
        ["boot", bootId],
        ["run", "depmod", "depmod", "-a", kernel],
        ["run", "efivarfs", "modprobe", "efivarfs"],
        SecureBootFirmware.MountEfivarfs,
        ["run", "postinst-before-enrolment", Postinst(package), "configure"],
        SecureBootFirmware.EnrolStep("dd"),
    ]);

    /// <summary>
    /// The Secure Boot check, on the enrolled store: the signed module by modprobe, then copies tampered, signed by
    /// another key and unsigned (each removed again should the kernel take it), then the postinst with the key
    /// enrolled, and again once MokListRT is gone (the keys the kernel loaded at boot stay; only the script's view changes).
    /// </summary>
    public static string SecureBootManifest(string bootId, string kernel, string module, string package) => GuestManifest.Text(
    [
        ["kff-manifest", "1"],
        ["boot", bootId],
        .. InstalledModuleSteps(kernel, module, ["run", "efivarfs", "modprobe", "efivarfs"], SecureBootFirmware.MountEfivarfs),
        ["module", module, "/" + TamperedPath, "tampered", "-"],
        ["run", "remove-tampered", "rmmod", module],
        ["module", module, "/" + ForeignPath, "foreign", "-"],
        ["run", "remove-foreign", "rmmod", module],
        ["module", module, "/" + UnsignedPath, "unsigned", "-"],
        ["run", "remove-unsigned", "rmmod", module],
        ["run", "postinst-enrolled", Postinst(package), "configure"],
        ["unlink", "forget-mok", SecureBootFirmware.MokListRtPath],
        ["run", "postinst-not-enrolled", Postinst(package), "configure"],
    ]);

    /// <summary>depmod (the guest makes the index), <paramref name="first"/>, then the installed module by name as a host loads it, and out again.</summary>
    public static string[][] InstalledModuleSteps(string kernel, string module, params string[][] first) =>
    [
        ["run", "depmod", "depmod", "-a", kernel],
        .. first,
        ["run", "modinfo", "modinfo", "-F", "filename", module],
        ["run", "modprobe", "modprobe", module],
        ["run", "lsmod", "cat", "/proc/modules"],
        ["run", "taint", "cat", $"/sys/module/{module}/taint"],
        ["run", "remove", "modprobe", "-r", module],
    ];

    private static string Postinst(string package) => $"/var/lib/dpkg/info/{package}.postinst";

    /// <summary>Where the one changed byte goes: inside .comment (never loaded, so only the signature can tell), else the middle of .modinfo.</summary>
    public static long TamperOffset(byte[] signedModule, string what)
    {
        var body = ModuleSignatureTrailer.ContentLength(signedModule);
        var elf = ElfFile.Parse(signedModule[..body], what);
        var section = elf.Section(".comment") is { Size: > 0 } c ? c : elf.Section(".modinfo") ?? throw new StageException($"{what} has neither .comment nor .modinfo to change");
        return section.Offset + section.Size / 2;
    }


    public async Task<InstallCheckResult> RunAsync(InstallCheckRequest request, AptMirrors mirrors, Action<string>? log = null, CancellationToken cancellation = default)
    {
        var problems = new List<string>();
        if (request.SecureBoot && SecureBootFirmware.Missing() is { Count: > 0 } lacking)
            throw new StageException($"the Secure Boot install check needs host files that are missing: {string.Join(", ", lacking)}. Run `dotnet cake --target=Setup` (build/host-packages.txt), or pass --secure-boot=off");
        var work = Path.GetFullPath(request.WorkDir);
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        Directory.CreateDirectory(work);
        var root = Path.Combine(work, "rootfs");

        // Does the module need in-tree modules? Then the kernel's own modules are unpacked too (and efivarfs under Secure Boot).
        var deb = Directory.GetFiles(Path.Combine(request.Repository, "pool"), $"{request.Package}_*.deb", SearchOption.AllDirectories).SingleOrDefault()
            ?? throw new InputException(new Problem(request.Repository, 0, 0, "", $"has no package {request.Package} in pool/; publish it first (Package target)"));
        var depends = (await ModuleDependsAsync(deb, request.Module, work, cancellation).ConfigureAwait(false)).ToList();
        if (request.SecureBoot) depends.Add("efivarfs");

        var imagePackage = $"linux-image-{request.Kernel}";
        var kernelCopy = Path.Combine(work, "vmlinuz");
        var baseImage = Path.Combine(work, "rootfs.cpio");
        var certificatePath = ShippedCertificate.PathFor(request.Module, request.Kernel);
        byte[]? certificate = null;
        TimeSpan rootfsTime;
        string version;
        string? imageVersion, installed;
        long imageBytes;
        try
        {
            log?.Invoke($"install check: mmdebstrap {request.RootfsSuite} + apt install {request.Package} from {request.Repository}");
            var watch = Stopwatch.StartNew();
            var mm = await runner.RunAsync(RootfsCommand(request, mirrors, root, withKernelModules: depends.Count > 0), cancellation).ConfigureAwait(false);
            rootfsTime = watch.Elapsed;
            File.WriteAllText(Path.Combine(work, "mmdebstrap.log"), mm.LogText());
            if (!mm.Succeeded)
                throw new StageException($"apt could not install {request.Package} from {request.Repository} into a {request.RootfsSuite} rootfs (log: {Path.Combine(work, "mmdebstrap.log")}):\n{CommandLine.Tail(mm.Stderr, 8)}");

            var status = DpkgStatus(root);
            version = status.GetValueOrDefault(request.Package) ?? "";
            if (version.Length == 0) problems.Add($"{request.Package} is not installed in the rootfs");
            imageVersion = status.GetValueOrDefault(imagePackage);
            if (imageVersion is null) problems.Add($"apt did not install {imagePackage} with it");
            var lists = Path.Combine(root, "var", "lib", "apt", "lists");
            if (!Directory.GetFiles(lists, $"*_dists_{request.Suite}_InRelease").Any())
                problems.Add($"apt's lists hold no InRelease of {request.Suite}: the repository's signature was not the one apt used");

            var modulesDir = Path.Combine(root, "usr", "lib", "modules", request.Kernel);
            installed = Directory.Exists(modulesDir)
                ? Directory.GetFiles(modulesDir, request.Module + ".ko*", SearchOption.AllDirectories).Where(f => !f.Contains("/kernel/", StringComparison.Ordinal)).Order(StringComparer.Ordinal).FirstOrDefault()
                : null;
            if (installed is null)
                throw new StageException($"{request.Package} installed no {request.Module}.ko under /usr/lib/modules/{request.Kernel}/ (its files: dpkg-deb -c {deb})");
            var kernelImage = new[] { Path.Combine(root, "boot", $"vmlinuz-{request.Kernel}"), Path.Combine(modulesDir, "vmlinuz") }.FirstOrDefault(File.Exists)
                ?? throw new StageException($"the rootfs has no kernel image for {request.Kernel} (/boot/vmlinuz-{request.Kernel}); {imagePackage} did not install one");
            File.Copy(kernelImage, kernelCopy, overwrite: true);
            var shipped = Path.Combine(root, certificatePath.TrimStart('/'));
            if (File.Exists(shipped)) certificate = await File.ReadAllBytesAsync(shipped, cancellation).ConfigureAwait(false);
            else problems.Add($"{request.Package} ships no signing certificate at {certificatePath}");

            var agent = await tools.AgentAsync(cancellation: cancellation).ConfigureAwait(false);
            var entries = RootfsEntries(root, request.Kernel, depends);
            if (entries.Any(e => e.Path is GuestManifest.AgentPath or "kff"))
                throw new StageException($"the rootfs already has /{GuestManifest.AgentPath} or /kff; the install check cannot put its agent there");
            entries.Add(new CpioEntry(GuestManifest.AgentPath, CpioEntryKind.File, 0x1ED, SourceFile: agent));
            entries.AddRange(await ModuleCopiesAsync(installed, request.SecureBoot, Path.Combine(work, "copies"), cancellation).ConfigureAwait(false));
            if (request.SecureBoot && certificate is not null)
                entries.Add(new CpioEntry(SecureBootFirmware.MokListGuestPath, CpioEntryKind.File, 0x1A4, Bytes: SecureBootFirmware.MokListRtWrite(certificate)));
            await using (var output = new FileStream(baseImage, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                Cpio.Write(entries, output);
            imageBytes = new FileInfo(baseImage).Length;
        }
        finally
        {
            // Only the image is kept while it boots: the rootfs is hundreds of MB (and useless when half made).
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
        var expectedPath = "/" + Path.GetRelativePath(root, installed).Replace('\\', '/');

        // The image is the whole root: give the guest room for it twice (archive + unpacked) and the run; through UEFI
        // two more copies (a 150 MiB image failed in the EFI stub with EFI_OUT_OF_RESOURCES at 681 MiB, booted at 1024).
        var imageMiB = imageBytes / (1024 * 1024);
        var memory = request.SecureBoot ? SecureBootFirmware.MemoryMiB(imageBytes, 1024) : (int)Math.Max(512, imageMiB * 2 + 384);
        var shape = new VmShape(request.Accelerator, memory);
        SecureBootEvidence? secureBoot = null;
        BootResult boot;
        try
        {
            if (!request.SecureBoot)
            {
                log?.Invoke($"install check: booting {request.Kernel} with the installed rootfs ({imageBytes / (1024 * 1024)} MiB image, {memory} MiB guest)");
                boot = await BootAsync(baseImage, $"install-{request.Kernel}", id => Manifest(id, request.Kernel, request.Module, TamperedPath), kernelCopy, null, shape, request, Path.Combine(work, "boot"), cancellation).ConfigureAwait(false);
            }
            else if (certificate is null)
                return Result(request, problems, version, imageVersion, expectedPath, imageBytes, rootfsTime, null, null);
            else
            {
                var firmware = new SecureBootFirmware(tools.Cache, runner);
                var kernel = await firmware.SignedKernelAsync(kernelCopy, cancellation).ConfigureAwait(false);
                CommandRecord? before = null;
                var (vars, enrolledNow) = await firmware.EnrolledVarsAsync(certificate, async fw =>
                {
                    log?.Invoke($"install check: enrolment boot of {request.Kernel} under Secure Boot (writes MokListRT; cached per certificate; {imageBytes / (1024 * 1024)} MiB image, {memory} MiB guest)");
                    var enrol = await BootAsync(baseImage, $"enrol-{request.Kernel}", id => EnrolmentManifest(id, request.Kernel, request.Package), kernel, fw, shape, request, Path.Combine(work, "enrol"), cancellation).ConfigureAwait(false);
                    before = enrol.Records.OfType<CommandRecord>().FirstOrDefault(c => c.Name == "postinst-before-enrolment");
                    SecureBootFirmware.RequireEnrolled(enrol, request.Kernel);
                }).ConfigureAwait(false);
                log?.Invoke($"install check: booting {request.Kernel} under Secure Boot with the certificate enrolled ({imageBytes / (1024 * 1024)} MiB image, {memory} MiB guest)");
                var bootDir = Path.Combine(work, "boot");
                boot = await BootAsync(baseImage, $"install-sb-{request.Kernel}", id => SecureBootManifest(id, request.Kernel, request.Module, request.Package), kernel,
                    SecureBootFirmware.Copy(vars, Path.Combine(bootDir, "firmware")), shape, request, bootDir, cancellation).ConfigureAwait(false);
                var commandsSeen = boot.Records.OfType<CommandRecord>().ToList();
                secureBoot = new SecureBootEvidence(certificatePath, enrolledNow, FirmwareLines(boot.Request.ConsoleLog), before,
                    commandsSeen.FirstOrDefault(c => c.Name == "postinst-enrolled"), commandsSeen.FirstOrDefault(c => c.Name == "postinst-not-enrolled"));
            }
        }
        finally
        {
            File.Delete(baseImage);
        }
        return Result(request, problems, version, imageVersion, expectedPath, imageBytes, rootfsTime, boot, secureBoot);
    }

    /// <summary>Boots the image with one manifest: the base image, then a second cpio archive holding only the manifest (the kernel unpacks both, in order).</summary>
    private async Task<BootResult> BootAsync(string baseImage, string bootId, Func<string, string> manifest, string kernel, UefiFirmware? firmware, VmShape shape,
        InstallCheckRequest request, string directory, CancellationToken cancellation)
    {
        Directory.CreateDirectory(directory);
        var image = Path.Combine(directory, "initramfs.cpio");
        File.Copy(baseImage, image, overwrite: true);
        await using (var output = new FileStream(image, FileMode.Append, FileAccess.Write, FileShare.None, 1 << 16))
            Cpio.Write([new CpioEntry(GuestManifest.ManifestPath, CpioEntryKind.File, 0x1A4, Bytes: Encoding.UTF8.GetBytes(manifest(bootId)))], output);
        try
        {
            return await vms.RunAsync(new BootRequest(bootId, kernel, image, shape, request.BootTimeout, directory) { Firmware = firmware }, cancellation: cancellation).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(image);
        }
    }

    /// <summary>The kernel's own lines about Secure Boot, lockdown and the certificates it loaded (from the console log).</summary>
    public static IReadOnlyList<string> FirmwareLines(string consoleLog) =>
        File.Exists(consoleLog)
            ? File.ReadLines(consoleLog)
                .Select(l => ConsoleTimestamp().Replace(l.Trim(), ""))
                .Where(l => l.Contains("Secure Boot", StringComparison.OrdinalIgnoreCase) || l.Contains("locked down", StringComparison.Ordinal)
                    || l.Contains("MokListRT", StringComparison.Ordinal) || l.Contains("X.509 cert", StringComparison.Ordinal))
                .Distinct(StringComparer.Ordinal).ToList()
            : [];

    [System.Text.RegularExpressions.GeneratedRegex(@"^\[\s*[0-9]+\.[0-9]+\]\s*")]
    private static partial System.Text.RegularExpressions.Regex ConsoleTimestamp();

    /// <summary>
    /// The copies the guest loads besides the installed module: one byte flipped (always); under Secure Boot also the
    /// module re-signed by a key made for this run only (and deleted at once), and the module without its signature.
    /// </summary>
    private async Task<List<CpioEntry>> ModuleCopiesAsync(string installed, bool secureBoot, string work, CancellationToken cancellation)
    {
        // A compressed module (.ko.xz) is signed before compression: its copies are made from the decompressed bytes.
        var signed = await ModuleCompression.ReadPlainAsync(runner, installed, cancellation).ConfigureAwait(false);
        var tampered = (byte[])signed.Clone();
        tampered[TamperOffset(signed, installed)] ^= 0x01;
        var copies = new List<CpioEntry> { new(TamperedPath, CpioEntryKind.File, 0x1A4, Bytes: tampered) };
        if (!secureBoot) return copies;

        var unsigned = signed[..ModuleSignatureTrailer.ContentLength(signed)];
        copies.Add(new CpioEntry(UnsignedPath, CpioEntryKind.File, 0x1A4, Bytes: unsigned));
        Directory.CreateDirectory(work);
        var keyDir = Path.Combine(work, "foreign-key");
        try
        {
            var unsignedFile = Path.Combine(work, "unsigned.ko");
            await File.WriteAllBytesAsync(unsignedFile, unsigned, cancellation).ConfigureAwait(false);
            var files = DevelopmentKey.Ensure(keyDir, null, rsaBits: 2048);
            using var key = SigningKey.Load(files.KeyPath, files.CertificateDerPath);
            var foreign = Path.Combine(work, "foreign.ko");
            await new ModuleSigner(new KeySignatureSource(key, ModuleHash.Sha256)).SignAsync(unsignedFile, foreign, cancellation).ConfigureAwait(false);
            copies.Add(new CpioEntry(ForeignPath, CpioEntryKind.File, 0x1A4, Bytes: await File.ReadAllBytesAsync(foreign, cancellation).ConfigureAwait(false)));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
        return copies;
    }

    /// <summary>Judges what the guest reported: the install (depmod, modinfo, modprobe) and what the kernel did with each copy.</summary>
    private static InstallCheckResult Result(InstallCheckRequest request, List<string> problems, string version, string? imageVersion, string expectedPath,
        long imageBytes, TimeSpan rootfsTime, BootResult? boot, SecureBootEvidence? secureBoot)
    {
        var imagePackage = $"linux-image-{request.Kernel} {imageVersion}";
        if (boot is null)
            return new InstallCheckResult(request, false, problems, version, imagePackage, expectedPath, imageBytes, rootfsTime, null, [], null, null, null, null);
        var commands = boot.Records.OfType<CommandRecord>().ToList();
        var loads = boot.Records.OfType<ModuleRecord>().ToList();
        CommandRecord? Command(string name) => commands.FirstOrDefault(c => c.Name == name);
        string Taint(string name) => Command(name) is { Succeeded: true } t ? t.Output.Trim() : "";
        GuestLoad? Load(string kind, string what, string taint = "") =>
            loads.FirstOrDefault(l => l.Kind == kind) is { } r ? new GuestLoad(what, r.Ok, r.Error, taint.Length > 0 ? Taint(taint) : "", r.KernelLog) : null;

        if (boot.Outcome != BootOutcome.Completed) problems.Add($"the boot did not complete: {boot.Outcome}: {boot.Detail}");
        if (boot.Hello?.Kernel != request.Kernel) problems.Add($"the guest runs kernel '{boot.Hello?.Kernel}', not {request.Kernel}");
        foreach (var name in new[] { "depmod", "modinfo", "modprobe" })
        {
            var c = Command(name);
            if (c is not { Succeeded: true })
                problems.Add($"{name} failed in the guest: {(c is null ? "never ran" : $"exit {c.Code}, errno {c.Errno}: {c.Output.Trim()}")}");
        }
        if (Command("modinfo") is { Succeeded: true } mi && !mi.Output.Trim().EndsWith(expectedPath.Replace("/usr/lib/", "/lib/", StringComparison.Ordinal), StringComparison.Ordinal)
            && !mi.Output.Trim().EndsWith(expectedPath, StringComparison.Ordinal))
            problems.Add($"depmod indexed {request.Module} at '{mi.Output.Trim()}', not at the installed {expectedPath}");
        var listed = Command("lsmod")?.Output.Split('\n').Any(l => l.StartsWith(request.Module + " ", StringComparison.Ordinal)) == true;
        if (!listed) problems.Add($"{request.Module} is not in the guest's /proc/modules after modprobe");

        var signedLoad = Command("modprobe") is { } mp ? new GuestLoad("signed module (modprobe)", mp.Succeeded, mp.Output.Trim(), Taint("taint"), mp.KernelLog) : null;
        var tamperedLoad = Load("tampered", "tampered copy (finit_module)", request.SecureBoot ? "" : "taint-tampered");
        var enforcedSigned = Command("modprobe-enforced") is { } me ? new GuestLoad("signed module, sig_enforce=1 (modprobe)", me.Succeeded, me.Output.Trim(), "", me.KernelLog) : null;
        var enforcedTampered = Load("tampered-enforced", "tampered copy, sig_enforce=1 (finit_module)");
        var foreign = Load("foreign", "copy signed by another key (finit_module)");
        var unsigned = Load("unsigned", "copy without a signature (finit_module)");
        if (tamperedLoad is null) problems.Add("the tampered copy was never tried");
        else if (tamperedLoad.Loaded && tamperedLoad.Taint.Length == 0)
            problems.Add("the kernel loaded the tampered copy without refusing or flagging it");
        if (enforcedTampered is { Loaded: true }) problems.Add("with sig_enforce=1 the kernel still loaded the tampered copy");

        if (secureBoot is not null)
        {
            // The enrolled key must make the kernel trust exactly our signature: ours loads clean, the rest are refused.
            if (!secureBoot.KernelLines.Any(l => l.Contains("UEFI:MokListRT", StringComparison.Ordinal)))
                problems.Add("the kernel never loaded a certificate from MokListRT (no 'UEFI:MokListRT' line on the console)");
            if (signedLoad is { Loaded: true } && (signedLoad.Taint.Contains('E') || signedLoad.KernelLog.Any(l => l.Contains("module verification failed", StringComparison.Ordinal))))
                problems.Add($"the signed module loaded but its signature was not verified (taint '{signedLoad.Taint}')");
            foreach (var (load, what) in new[] { (tamperedLoad, "tampered copy"), (foreign, "copy signed by another key"), (unsigned, "unsigned copy") })
                if (load is null) problems.Add($"the {what} was never tried");
                else if (load.Loaded) problems.Add($"under Secure Boot with our key enrolled the kernel loaded the {what}");
            var path = ShippedCertificate.PathFor(request.Module, request.Kernel);
            // Only when the enrolment boot ran now (the store may come from the cache).
            if (secureBoot.PostinstBeforeEnrolment is { } before && (!before.Succeeded || !before.Output.Contains($"mokutil --import {path}", StringComparison.Ordinal)))
                problems.Add($"before enrolment, with Secure Boot on, the postinst did not exit 0 telling how to enroll {path}: {Describe(before)}");
            if (secureBoot.PostinstEnrolled is not { Succeeded: true } pe || !pe.Output.Contains("is enrolled", StringComparison.Ordinal))
                problems.Add($"with the key enrolled, the postinst did not exit 0 saying so: {Describe(secureBoot.PostinstEnrolled)}");
            if (secureBoot.PostinstNotEnrolled is not { Succeeded: true } pn || !pn.Output.Contains($"mokutil --import {path}", StringComparison.Ordinal))
                problems.Add($"without the key in MokListRT, the postinst did not exit 0 telling how to enroll {path}: {Describe(secureBoot.PostinstNotEnrolled)}");
        }
        return new InstallCheckResult(request, problems.Count == 0, problems, version, imagePackage, expectedPath, imageBytes, rootfsTime, boot,
            commands, signedLoad, tamperedLoad, enforcedSigned, enforcedTampered)
        {
            Foreign = foreign,
            Unsigned = unsigned,
            SecureBoot = secureBoot,
        };
    }

    private static string Describe(CommandRecord? c) => c is null ? "never ran" : $"exit {c.Code}, errno {c.Errno}: {c.Output.Trim()}";

    /// <summary>The module's depends= from the package's payload (dpkg-deb), before anything is installed.</summary>
    private async Task<IReadOnlyList<string>> ModuleDependsAsync(string deb, string module, string work, CancellationToken cancellation)
    {
        var extract = Path.Combine(work, "payload");
        await runner.CheckedAsync(new ProcessSpec("dpkg-deb", ["-x", deb, extract]) { Timeout = TimeSpan.FromMinutes(2) }, cancellation).ConfigureAwait(false);
        var ko = Directory.GetFiles(extract, module + ".ko*", SearchOption.AllDirectories).FirstOrDefault(f => ModuleCompression.SuffixOf(Path.GetFileName(f)) is not null)
            ?? throw new InputException(new Problem(deb, 0, 0, "", $"holds no {module}.ko"));
        var depends = ElfFile.Parse(await ModuleCompression.ReadPlainAsync(runner, ko, cancellation).ConfigureAwait(false), ko).ModInfo()["depends"].SelectMany(d => d.Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Directory.Delete(extract, recursive: true);
        return depends;
    }

    /// <summary>Installed packages and their versions, from the rootfs's dpkg status.</summary>
    public static IReadOnlyDictionary<string, string> DpkgStatus(string root)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var text = File.ReadAllText(Path.Combine(root, "var", "lib", "dpkg", "status"));
        foreach (var paragraph in text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string? name = null, version = null, state = null;
            foreach (var line in paragraph.Split('\n'))
                if (line.StartsWith("Package: ", StringComparison.Ordinal)) name = line[9..].Trim();
                else if (line.StartsWith("Version: ", StringComparison.Ordinal)) version = line[9..].Trim();
                else if (line.StartsWith("Status: ", StringComparison.Ordinal)) state = line[8..].Trim();
            if (name is not null && version is not null && state == "install ok installed") result[name] = version;
        }
        return result;
    }

    /// <summary>The rootfs as initramfs entries, without what a module load never reads (see the class summary).</summary>
    public static List<CpioEntry> RootfsEntries(string root, string kernel, IReadOnlyList<string> depends)
    {
        var entries = new List<CpioEntry>();
        var modules = $"usr/lib/modules/{kernel}";
        var needed = NeededInTree(root, kernel, depends);
        void Walk(DirectoryInfo dir)
        {
            foreach (var entry in dir.EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                var rel = Path.GetRelativePath(root, entry.FullName).Replace('\\', '/');
                var mode = (int)entry.UnixFileMode & 0xFFF;
                if (ExcludedTrees.Contains(rel)) { entries.Add(new CpioEntry(rel, CpioEntryKind.Directory, mode)); continue; }
                if (entry.LinkTarget is { } target) { entries.Add(new CpioEntry(rel, CpioEntryKind.Symlink, 0x1FF, LinkTarget: target)); continue; }
                if (entry is DirectoryInfo sub)
                {
                    entries.Add(new CpioEntry(rel, CpioEntryKind.Directory, mode));
                    Walk(sub);
                    continue;
                }
                if (!IsRegularFile(entry.FullName)) continue; // device nodes, fifos, sockets: devtmpfs provides /dev
                if (rel.StartsWith(modules + "/", StringComparison.Ordinal))
                {
                    var inModules = rel[(modules.Length + 1)..];
                    if (DepmodOutputs.Contains(inModules)) continue;
                    if (inModules.StartsWith("kernel/", StringComparison.Ordinal) && !needed.Contains(inModules)) continue;
                }
                entries.Add(new CpioEntry(rel, CpioEntryKind.File, mode, SourceFile: entry.FullName));
            }
        }
        Walk(new DirectoryInfo(root));
        return entries;
    }

    private static bool IsRegularFile(string path)
    {
        // Special files have no length worth reading; a regular file opens as a seekable stream.
        try
        {
            using var s = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Options = FileOptions.None, BufferSize = 0 });
            return s.CanSeek;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The in-tree modules the module needs, by the rootfs's own modules.dep (written by the packages' depmod).</summary>
    private static HashSet<string> NeededInTree(string root, string kernel, IReadOnlyList<string> depends)
    {
        var needed = new HashSet<string>(StringComparer.Ordinal);
        if (depends.Count == 0) return needed;
        var dep = Path.Combine(root, "usr", "lib", "modules", kernel, "modules.dep");
        if (!File.Exists(dep)) return needed;
        var byName = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(dep))
        {
            var colon = line.IndexOf(':');
            if (colon <= 0) continue;
            var file = line[..colon];
            var name = Path.GetFileName(file).Split('.')[0].Replace('-', '_');
            byName[name] = [file, .. line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        }
        foreach (var d in depends)
            if (byName.TryGetValue(d.Replace('-', '_'), out var files)) needed.UnionWith(files);
        return needed;
    }
}
