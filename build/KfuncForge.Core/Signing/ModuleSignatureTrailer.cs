using System.Buffers.Binary;
using System.Text;

namespace KfuncForge.Signing;

/// <summary>
/// The kernel's appended module signature: module bytes, then the signature blob, then
/// <c>struct module_signature</c> (12 bytes: algo, hash, id_type, signer_len, key_id_len, 3 bytes of
/// padding, big-endian sig_len), then the magic string. For PKCS#7/CMS signatures (the only kind
/// kernels since 4.3 accept) every field but id_type and sig_len is zero.
/// </summary>
public static class ModuleSignatureTrailer
{
    public static readonly byte[] Magic = Encoding.ASCII.GetBytes("~Module signature appended~\n");

    public const int StructSize = 12;

    /// <summary>id_type for a PKCS#7/CMS signature (PKEY_ID_PKCS7 in the kernel's module_signature.h).</summary>
    public const byte PkeyIdPkcs7 = 2;

    public static int TrailerSize => StructSize + Magic.Length;

    public static bool HasSignature(ReadOnlySpan<byte> module) =>
        module.Length >= Magic.Length && module[^Magic.Length..].SequenceEqual(Magic);

    /// <summary>module ‖ cms ‖ struct module_signature ‖ magic, as sign-file writes it.</summary>
    public static byte[] Append(ReadOnlySpan<byte> module, ReadOnlySpan<byte> cms)
    {
        var result = new byte[module.Length + cms.Length + TrailerSize];
        module.CopyTo(result);
        cms.CopyTo(result.AsSpan(module.Length));
        var info = result.AsSpan(module.Length + cms.Length, StructSize);
        info[2] = PkeyIdPkcs7;
        BinaryPrimitives.WriteUInt32BigEndian(info[8..], checked((uint)cms.Length));
        Magic.CopyTo(result.AsSpan(result.Length - Magic.Length));
        return result;
    }

    /// <summary>The module's own bytes: all of it when it carries no well-formed signature, else what precedes the signature.</summary>
    public static int ContentLength(ReadOnlySpan<byte> module)
    {
        if (!HasSignature(module)) return module.Length;
        try
        {
            return Parse(module).ContentLength;
        }
        catch (ModuleSignatureException)
        {
            return module.Length;
        }
    }

    /// <summary>Whether the file at <paramref name="signed"/> carries a signature and, before it, exactly the module at <paramref name="built"/>.</summary>
    public static bool IsSignedCopyOf(string signed, string built)
    {
        var bytes = File.ReadAllBytes(signed);
        var length = ContentLength(bytes);
        return length < bytes.Length && bytes.AsSpan(0, length).SequenceEqual(File.ReadAllBytes(built));
    }

    /// <summary>Splits a signed module the way the kernel's mod_check_sig does; errors say what the kernel would reject.</summary>
    public static AppendedSignature Parse(ReadOnlySpan<byte> module)
    {
        if (!HasSignature(module))
            throw new ModuleSignatureException(SignatureFailure.Unsigned, "the module carries no appended signature (no \"~Module signature appended~\" trailer)");
        if (module.Length < TrailerSize)
            throw new ModuleSignatureException(SignatureFailure.Malformed, "the module is shorter than a signature trailer");
        var info = module.Slice(module.Length - TrailerSize, StructSize);
        var sigLength = BinaryPrimitives.ReadUInt32BigEndian(info[8..]);
        if (info[2] != PkeyIdPkcs7)
            throw new ModuleSignatureException(SignatureFailure.Malformed, $"module_signature.id_type is {info[2]}, not PKEY_ID_PKCS7 ({PkeyIdPkcs7}): the kernel refuses it");
        if (info[0] != 0 || info[1] != 0 || info[3] != 0 || info[4] != 0 || info[5] != 0 || info[6] != 0 || info[7] != 0)
            throw new ModuleSignatureException(SignatureFailure.Malformed, "module_signature has non-zero algo/hash/signer_len/key_id_len fields: the kernel refuses a PKCS#7 signature with them");
        if (sigLength == 0 || sigLength > module.Length - TrailerSize)
            throw new ModuleSignatureException(SignatureFailure.Malformed, $"module_signature.sig_len {sigLength} does not fit in the module ({module.Length} bytes)");
        var contentLength = module.Length - TrailerSize - (int)sigLength;
        return new AppendedSignature(contentLength, module.Slice(contentLength, (int)sigLength).ToArray());
    }
}

/// <summary>Where a signed module's content ends, and its CMS blob.</summary>
public sealed record AppendedSignature(int ContentLength, byte[] Cms);

public enum SignatureFailure { Unsigned, Malformed, WrongSigner, WrongHash, BadSignature }

/// <summary>A module whose signature would not pass the kernel's check (or ours, which is stricter about the signer and hash).</summary>
public sealed class ModuleSignatureException(SignatureFailure failure, string message) : Exception(message)
{
    public SignatureFailure Failure { get; } = failure;
}
