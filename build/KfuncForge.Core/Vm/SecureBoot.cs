using KfuncForge.Diagnostics;
using KfuncForge.Processes;

namespace KfuncForge.Vm;

/// <summary>UEFI firmware for a boot: the code as read-only pflash unit 0, a private copy of the variable store as unit 1.</summary>
public sealed record UefiFirmware(string Code, string Vars);

/// <summary>
/// Secure Boot in QEMU with Debian's OVMF test firmware (package ovmf): its "snakeoil" build has Secure
/// Boot on and a test key in PK, KEK and db, and the key pair ships beside it. A kernel image re-signed
/// with that key boots with Secure Boot on (the kernel then locks itself down and enforces module
/// signatures); a certificate written into the firmware variable MokListRT is loaded by the kernel at the
/// next boot into its platform keyring, which Debian's kernel trusts for module signatures, exactly as on a
/// host where shim exposes the enrolled MOKs. The firmware keys are public test keys: this proves what the kernel
/// does with a module under Secure Boot, not that any production firmware trusts anything.
///
/// Everything is made here and cached by content: the re-signed kernel (per kernel image) and the
/// enrolled variable store (per certificate; the enrolment boot itself is the caller's, see
/// Packaging/InstallCheck).
/// </summary>
public sealed class SecureBootFirmware(ContentCache cache, IProcessRunner runner)
{
    public const string CodeFile = "/usr/share/OVMF/OVMF_CODE_4M.snakeoil.fd";
    public const string VarsFile = "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd";
    public const string KeyFile = "/usr/share/ovmf/PkKek-1-snakeoil.key";
    public const string CertificateFile = "/usr/share/ovmf/PkKek-1-snakeoil.pem";

    /// <summary>The passphrase Debian publishes with its test key (ovmf's README): not a secret.</summary>
    private const string TestKeyPassphrase = "snakeoil";

    /// <summary>shim's vendor GUID: the namespace of MokListRT (and the owner mokutil gives enrolled keys).</summary>
    public static readonly Guid ShimLockGuid = new("605dab50-e046-4300-abb6-3dd810dd8b23");

    /// <summary>EFI_CERT_X509_GUID: the type of a signature list holding X.509 certificates.</summary>
    public static readonly Guid CertX509Guid = new("a5c059a1-94e4-4aa7-87b5-ab155c2bf072");

    public const string EfivarsDirectory = "/sys/firmware/efi/efivars";

    /// <summary>What a Secure Boot boot here shows and what it does not; every report of one says it.</summary>
    public const string Caveat =
        "firmware keys are Debian's public OVMF test keys (snakeoil) and the kernel image was re-signed with them: this shows what " +
        "the real Debian kernel does with our modules under Secure Boot lockdown once our certificate is a MOK; it does not show that " +
        "any production firmware or shim trusts this kernel or our key (on a fleet, shim and MokManager do the enrolment; docs/signing.md)";

    public static string MokListRtPath => $"{EfivarsDirectory}/MokListRT-{ShimLockGuid}";

    /// <summary>EFI_VARIABLE_NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS, as efivarfs wants it before the data.</summary>
    private const uint VariableAttributes = 0x7;

    private static readonly TimeSpan ToolTimeout = TimeSpan.FromMinutes(2);

    /// <summary>What this host lacks for a Secure Boot boot (firmware files and tools), with the package to install.</summary>
    public static IReadOnlyList<string> Missing()
    {
        var missing = new List<string>();
        foreach (var f in new[] { CodeFile, VarsFile, KeyFile, CertificateFile })
            if (!File.Exists(f)) missing.Add($"{f} (package ovmf)");
        foreach (var tool in new[] { "sbsign", "sbattach", "sbverify" })
            if (!HostRequirements.OnPath(tool)) missing.Add($"{tool} (package sbsigntool)");
        if (!HostRequirements.OnPath("openssl")) missing.Add("openssl (package openssl)");
        return missing;
    }

    /// <summary>
    /// The kernel image with Debian's signature replaced by one made with the firmware's test key (sbattach
    /// --remove, then sbsign). Cached per image and key (sbsign puts its signing time into the signature, so two caches hold different bytes; the image is a test artifact, never shipped).
    /// </summary>
    public async Task<string> SignedKernelAsync(string vmlinuz, CancellationToken cancellation = default)
    {
        var key = Hashing.Combine(["secure-boot-kernel-1", Hashing.File(vmlinuz), Hashing.File(KeyFile), Hashing.File(CertificateFile)]);
        var dir = await cache.GetOrCreateAsync("secure-boot-kernel", key, async temp =>
        {
            var unsigned = Path.Combine(temp, "vmlinuz.unsigned");
            File.Copy(vmlinuz, unsigned);
            var remove = await runner.RunAsync(new ProcessSpec("sbattach", ["--remove", unsigned]) { Timeout = ToolTimeout }, cancellation).ConfigureAwait(false);
            // An image nobody signed has nothing to remove; anything else is a real failure.
            if (!remove.Succeeded && !remove.Stderr.Contains("No signature table present", StringComparison.Ordinal))
                throw new StageException($"sbattach could not remove the signature of {vmlinuz}: {CommandLine.Tail(remove.Stderr, 4)}");
            // sbsign reads no passphrase from its arguments: the test key is decrypted into the staging folder (it is public) and deleted.
            var plainKey = Path.Combine(temp, "test-key.pem");
            try
            {
                await runner.CheckedAsync(new ProcessSpec("openssl", ["pkey", "-in", KeyFile, "-passin", "pass:" + TestKeyPassphrase, "-out", plainKey]) { Timeout = ToolTimeout }, cancellation).ConfigureAwait(false);
                await runner.CheckedAsync(new ProcessSpec("sbsign", ["--key", plainKey, "--cert", CertificateFile, "--output", Path.Combine(temp, "vmlinuz"), unsigned]) { Timeout = ToolTimeout }, cancellation).ConfigureAwait(false);
            }
            finally
            {
                File.Delete(plainKey);
                File.Delete(unsigned);
            }
            await runner.CheckedAsync(new ProcessSpec("sbverify", ["--cert", CertificateFile, Path.Combine(temp, "vmlinuz")]) { Timeout = ToolTimeout }, cancellation).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return Path.Combine(dir, "vmlinuz");
    }

    /// <summary>
    /// The variable store with <paramref name="certificateDer"/> enrolled in MokListRT: cached per certificate
    /// and firmware; when missing, <paramref name="enrol"/> boots once on a copy of the firmware's own store
    /// (given as its argument) and must leave the variable written, or throw.
    /// </summary>
    public async Task<(string Vars, bool Made)> EnrolledVarsAsync(byte[] certificateDer, Func<UefiFirmware, Task> enrol)
    {
        var key = Hashing.Combine(["mok-enrolled-vars-1", Hashing.File(CodeFile), Hashing.File(VarsFile), Hashing.Bytes(certificateDer)]);
        var made = !cache.Contains("secure-boot-vars", key);
        var dir = await cache.GetOrCreateAsync("secure-boot-vars", key, async temp =>
        {
            var vars = Path.Combine(temp, "vars.fd");
            File.Copy(VarsFile, vars);
            await enrol(new UefiFirmware(CodeFile, vars)).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return (Path.Combine(dir, "vars.fd"), made);
    }

    /// <summary>Where an enrolment guest finds the bytes of <see cref="MokListRtWrite"/>.</summary>
    public const string MokListGuestPath = "kff/mok/MokListRT";

    /// <summary>The agent's manifest line that mounts efivarfs (its module loaded, or built in).</summary>
    public static readonly string[] MountEfivarfs = ["mount", "mount-efivarfs", "efivarfs", EfivarsDirectory];

    /// <summary>
    /// The agent's manifest line of an enrolment, efivarfs mounted: MokListRT written with <paramref name="dd"/> (the
    /// guest's dd, as argv: "dd", or busybox and "dd") in one write (efivarfs takes a variable in exactly one write).
    /// </summary>
    public static string[] EnrolStep(params string[] dd) =>
        ["run", "enrol", .. dd, $"if=/{MokListGuestPath}", $"of={MokListRtPath}", "bs=1048576", "conv=notrunc"];

    /// <summary>Throws, with what the guest said, unless the enrolment boot wrote MokListRT.</summary>
    public static void RequireEnrolled(BootResult boot, string kernel)
    {
        var commands = boot.Records.OfType<CommandRecord>().ToList();
        if (commands.FirstOrDefault(c => c.Name == "enrol") is { Succeeded: true }) return;
        throw new StageException($"the enrolment boot of {kernel} did not write MokListRT ({boot.Outcome}: {boot.Detail}; " +
            string.Join("; ", commands.Where(c => !c.Succeeded).Select(c => $"{c.Name}: exit {c.Code}, errno {c.Errno} {c.Error} {c.Output.Trim()}")) +
            $"); console: {boot.Request.ConsoleLog}");
    }

    /// <summary>Guest memory for a boot through UEFI: the firmware and the EFI stub each hold a copy of the initramfs before the kernel unpacks it.</summary>
    public static int MemoryMiB(long imageBytes, int atLeast) => (int)Math.Max(Math.Max(atLeast, 1024), imageBytes / (1024 * 1024) * 4 + 384);

    /// <summary>A private, writable copy of a variable store for one boot (the firmware writes to it).</summary>
    public static UefiFirmware Copy(string vars, string directory)
    {
        Directory.CreateDirectory(directory);
        var copy = Path.Combine(directory, "vars.fd");
        File.Copy(vars, copy, overwrite: true);
        return new UefiFirmware(CodeFile, copy);
    }

    /// <summary>
    /// An EFI_SIGNATURE_LIST of one X.509 certificate (UEFI 2.10, 32.4.1): type EFI_CERT_X509_GUID, list size,
    /// header size 0, signature size, then one EFI_SIGNATURE_DATA (owner GUID and the DER certificate).
    /// The same bytes as efitools' cert-to-efi-sig-list -g &lt;owner&gt;.
    /// </summary>
    public static byte[] SignatureList(byte[] certificateDer, Guid owner)
    {
        var signatureSize = 16 + certificateDer.Length;
        var listSize = 16 + 4 + 4 + 4 + signatureSize;
        var list = new byte[listSize];
        CertX509Guid.TryWriteBytes(list.AsSpan(0, 16));
        BitConverter.TryWriteBytes(list.AsSpan(16, 4), (uint)listSize);
        BitConverter.TryWriteBytes(list.AsSpan(20, 4), 0u);
        BitConverter.TryWriteBytes(list.AsSpan(24, 4), (uint)signatureSize);
        owner.TryWriteBytes(list.AsSpan(28, 16));
        certificateDer.CopyTo(list, 44);
        return list;
    }

    /// <summary>What one write() to efivarfs's MokListRT file must carry: the attributes, then the signature list.</summary>
    public static byte[] MokListRtWrite(byte[] certificateDer)
    {
        var list = SignatureList(certificateDer, ShimLockGuid);
        var bytes = new byte[4 + list.Length];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 4), VariableAttributes);
        list.CopyTo(bytes, 4);
        return bytes;
    }
}
