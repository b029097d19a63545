using System.Security.Cryptography;
using KfuncForge.Diagnostics;

namespace KfuncForge.Signing;

/// <summary>A signed module on disk and what its signature says.</summary>
public sealed record SignedModule(string Path, string Sha256, VerifiedSignature Signature);

/// <summary>
/// Appends a kernel module signature, byte-identical to scripts/sign-file for the same key,
/// certificate, digest and module (RSA; ECDSA signatures are randomised by nature). Every signature,
/// also one from an external signer, is verified against the certificate before the output is
/// written, and the output appears atomically (written beside, then renamed).
/// </summary>
public sealed class ModuleSigner(ISignatureSource source)
{
    public async Task<SignedModule> SignAsync(string modulePath, string outputPath, CancellationToken cancellation = default)
    {
        if (!File.Exists(modulePath)) throw new InputException(new Problem(modulePath, 0, 0, "", "the module to sign does not exist"));
        var content = await File.ReadAllBytesAsync(modulePath, cancellation).ConfigureAwait(false);
        if (ModuleSignatureTrailer.HasSignature(content))
            throw new InputException(new Problem(modulePath, 0, 0, "", "the module already carries a signature; sign the unsigned module that the build produced"));
        if (content.Length < 4 || content[0] != 0x7f || content[1] != (byte)'E' || content[2] != (byte)'L' || content[3] != (byte)'F')
            throw new InputException(new Problem(modulePath, 0, 0, "", "is not an ELF file; a kernel module (.ko) is an ELF relocatable object"));

        var fullOutput = Path.GetFullPath(outputPath);
        var dir = Path.GetDirectoryName(fullOutput)!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(fullOutput)}.{Guid.NewGuid():N}.tmp");
        try
        {
            await File.WriteAllBytesAsync(temp, content, cancellation).ConfigureAwait(false);
            var cms = await source.SignAsync(content, temp, cancellation).ConfigureAwait(false);
            VerifiedSignature verified;
            try
            {
                verified = ModuleSignatureVerifier.VerifyDetached(content, cms, source.Certificate, source.Hash);
            }
            catch (ModuleSignatureException e)
            {
                throw new StageException($"the signature made for {modulePath} does not verify against '{source.Certificate.Subject}': {e.Message}; nothing was written");
            }
            var signed = ModuleSignatureTrailer.Append(content, cms);
            await File.WriteAllBytesAsync(temp, signed, cancellation).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            File.Move(temp, fullOutput, overwrite: true);
            return new SignedModule(fullOutput, Convert.ToHexStringLower(SHA256.HashData(signed)), verified);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
