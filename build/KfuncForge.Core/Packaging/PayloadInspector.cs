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
                    if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || !entry.Name.EndsWith(".ko", StringComparison.Ordinal) || entry.DataStream is null)
                        continue;
                    using var buffer = new MemoryStream();
                    await entry.DataStream.CopyToAsync(buffer, cancellation).ConfigureAwait(false);
                    var bytes = buffer.ToArray();
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
            if (problems.Count > 0)
                throw new StageException($"{Path.GetFileName(package)} carries a module whose signature does not verify against '{certificate.Subject}': {string.Join("; ", problems)}");
            if (modules.Count == 0)
                throw new StageException($"{Path.GetFileName(package)} carries no kernel module (.ko)");
            return modules;
        }
        finally
        {
            File.Delete(tar);
        }
    }
}
