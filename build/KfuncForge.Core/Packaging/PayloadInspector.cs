using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KfuncForge.Diagnostics;
using KfuncForge.Processes;
using KfuncForge.Signing;

namespace KfuncForge.Packaging;

/// <summary>A kernel module found inside a built package, with its verified signature.</summary>
public sealed record PackagedModule(string InstallPath, string Sha256, VerifiedSignature Signature);

/// <summary>
/// Reads the payload of a finished .deb (dpkg-deb --fsys-tarfile) or .rpm (rpm2archive) and checks the
/// signature of every .ko in it against the certificate: what is checked is what ships. A package
/// with an unsigned or mis-signed module, or with no module at all, fails the stage.
/// </summary>
public sealed class PayloadInspector(IProcessRunner runner)
{
    public async Task<IReadOnlyList<PackagedModule>> VerifyModulesAsync(string package, X509Certificate2 certificate, ModuleHash? hash, CancellationToken cancellation = default)
    {
        if (package.EndsWith(SysextImage.Extension, StringComparison.Ordinal)) return await VerifyImageAsync(package, certificate, hash, cancellation).ConfigureAwait(false);
        var tar = package + $".payload-{Guid.NewGuid():N}.tar";
        try
        {
            ProcessSpec spec = package.EndsWith(".rpm", StringComparison.Ordinal)
                ? new("rpm2archive", ["-"]) { StdinFile = package, StdoutFile = tar }
                : new("dpkg-deb", ["--fsys-tarfile", package]) { StdoutFile = tar };
            var result = await runner.RunAsync(spec with { Timeout = TimeSpan.FromMinutes(5) }, cancellation).ConfigureAwait(false);
            if (!result.Succeeded) throw new StageException($"cannot read the payload of {Path.GetFileName(package)}: {new ProcessFailedException(result).Message}");

            var modules = new List<PackagedModule>();
            var problems = new List<string>();
            await using (var file = File.OpenRead(tar))
            {
                Stream stream = file;
                if (package.EndsWith(".rpm", StringComparison.Ordinal)) stream = new GZipStream(file, CompressionMode.Decompress);
                using var reader = new TarReader(stream);
                while (await reader.GetNextEntryAsync(copyData: false, cancellation).ConfigureAwait(false) is { } entry)
                {
                    if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null
                        || ModuleCompression.SuffixOf(Path.GetFileName(entry.Name)) is null || !Path.GetFileName(entry.Name).Contains(".ko", StringComparison.Ordinal))
                        continue;
                    using var buffer = new MemoryStream();
                    await entry.DataStream.CopyToAsync(buffer, cancellation).ConfigureAwait(false);
                    var bytes = buffer.ToArray();
                    if (ModuleCompression.SuffixOf(Path.GetFileName(entry.Name)) is { Length: > 0 } suffix)
                    {
                        // Checked as the kernel checks it: the signature covers the decompressed module.
                        var compressed = tar + ".module.ko" + suffix;
                        await File.WriteAllBytesAsync(compressed, bytes, cancellation).ConfigureAwait(false);
                        try { bytes = await ModuleCompression.ReadPlainAsync(runner, compressed, cancellation).ConfigureAwait(false); }
                        finally { File.Delete(compressed); }
                    }
                    var installPath = "/" + entry.Name.TrimStart('.', '/');
                    try
                    {
                        var verified = ModuleSignatureVerifier.Verify(bytes, certificate, hash);
                        modules.Add(new PackagedModule(installPath, Convert.ToHexStringLower(SHA256.HashData(bytes)), verified));
                    }
                    catch (ModuleSignatureException e)
                    {
                        problems.Add($"{installPath}: {e.Message}");
                    }
                }
            }
            return Checked(package, certificate, modules, problems);
        }
        finally
        {
            File.Delete(tar);
        }
    }

    private static IReadOnlyList<PackagedModule> Checked(string package, X509Certificate2 certificate, List<PackagedModule> modules, List<string> problems)
    {
        if (problems.Count > 0)
            throw new StageException($"{Path.GetFileName(package)} carries a module whose signature does not verify against '{certificate.Subject}': {string.Join("; ", problems)}");
        if (modules.Count == 0)
            throw new StageException($"{Path.GetFileName(package)} carries no kernel module (.ko)");
        return modules;
    }

    /// <summary>A system extension image: unpacked with unsquashfs, each module decompressed as the kernel would, then verified.</summary>
    private async Task<IReadOnlyList<PackagedModule>> VerifyImageAsync(string image, X509Certificate2 certificate, ModuleHash? hash, CancellationToken cancellation)
    {
        var dir = image + $".payload-{Guid.NewGuid():N}";
        try
        {
            var result = await runner.RunAsync(new ProcessSpec("unsquashfs", ["-no-progress", "-no-xattrs", "-d", dir, image]) { Timeout = TimeSpan.FromMinutes(5) }, cancellation).ConfigureAwait(false);
            if (!result.Succeeded) throw new StageException($"cannot read the image {Path.GetFileName(image)}: {new ProcessFailedException(result).Message}");
            var modules = new List<PackagedModule>();
            var problems = new List<string>();
            foreach (var file in Directory.EnumerateFiles(dir, "*.ko*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList())
            {
                if (ModuleCompression.SuffixOf(Path.GetFileName(file)) is null) continue;
                byte[] bytes;
                try
                {
                    bytes = await ModuleCompression.ReadPlainAsync(runner, file, cancellation).ConfigureAwait(false);
                }
                catch (ProcessFailedException)
                {
                    problems.Add($"/{Path.GetRelativePath(dir, file)}: does not decompress");
                    continue;
                }
                var installPath = "/" + Path.GetRelativePath(dir, file);
                try
                {
                    modules.Add(new PackagedModule(installPath, Convert.ToHexStringLower(SHA256.HashData(bytes)), ModuleSignatureVerifier.Verify(bytes, certificate, hash)));
                }
                catch (ModuleSignatureException e)
                {
                    problems.Add($"{installPath}: {e.Message}");
                }
            }
            return Checked(image, certificate, modules, problems);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
