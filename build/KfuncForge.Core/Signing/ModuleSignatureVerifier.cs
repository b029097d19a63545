using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KfuncForge.Signing;

/// <summary>What a verified signature says: who signed, with which digest, over how many bytes.</summary>
public sealed record VerifiedSignature(int ContentLength, int SignatureLength, ModuleHash Hash, SigningKeyKind KeyKind, string Signer);

/// <summary>
/// Checks a module's appended signature against one certificate, as the kernel will: the trailer, the
/// CMS structure, that the signer is this certificate, the digest of the module's content, and the
/// signature with the certificate's public key. Stricter than the kernel in one way: when a hash is
/// expected, a signature made with another digest is refused.
/// </summary>
public static class ModuleSignatureVerifier
{
    public static VerifiedSignature Verify(ReadOnlySpan<byte> module, X509Certificate2 certificate, ModuleHash? expectedHash = null)
    {
        var appended = ModuleSignatureTrailer.Parse(module);
        return VerifyDetached(module[..appended.ContentLength], appended.Cms, certificate, expectedHash);
    }

    /// <summary>Checks a detached CMS over content (what an external signer returns, before it is appended).</summary>
    public static VerifiedSignature VerifyDetached(ReadOnlySpan<byte> content, byte[] cms, X509Certificate2 certificate, ModuleHash? expectedHash = null)
    {
        var parsed = ModuleCms.Decode(cms);
        if (parsed.Signers.Count != 1)
            throw new ModuleSignatureException(SignatureFailure.Malformed, $"the signature has {parsed.Signers.Count} signers; a module signature has exactly one");
        var signer = parsed.Signers[0];

        if (signer.Issuer is not null)
        {
            var (issuer, serial) = ModuleCms.IssuerAndSerial(certificate);
            if (!issuer.AsSpan().SequenceEqual(signer.Issuer) || !serial.AsSpan().SequenceEqual(signer.Serial))
                throw new ModuleSignatureException(SignatureFailure.WrongSigner,
                    $"the module was signed by another certificate than '{certificate.Subject}' (serial {certificate.SerialNumber}): issuer or serial number differ");
        }
        else
        {
            var ski = certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault()?.SubjectKeyIdentifierBytes.ToArray();
            if (ski is null || !ski.AsSpan().SequenceEqual(signer.SubjectKeyIdentifier))
                throw new ModuleSignatureException(SignatureFailure.WrongSigner,
                    $"the module was signed by another key than the one of '{certificate.Subject}': subject key identifiers differ");
        }

        var hash = ModuleHash.FromOid(signer.DigestOid)
            ?? throw new ModuleSignatureException(SignatureFailure.WrongHash, $"the signature uses digest {signer.DigestOid}, which the kernel does not accept for modules");
        if (expectedHash is not null && hash != expectedHash)
            throw new ModuleSignatureException(SignatureFailure.WrongHash, $"the signature uses {hash.Name}, but this kernel's modules are to be signed with {expectedHash.Name}");
        if (!hash.InProcess)
            throw new ModuleSignatureException(SignatureFailure.WrongHash, $"a {hash.Name} signature cannot be checked here (.NET has no {hash.Name})");

        var described = ModuleCms.DescribeSignatureAlgorithm(signer.SignatureOid)
            ?? throw new ModuleSignatureException(SignatureFailure.Malformed, $"unknown signature algorithm {signer.SignatureOid}");
        if (described.Hash is not null && described.Hash != hash.Name)
            throw new ModuleSignatureException(SignatureFailure.Malformed, $"the signature algorithm names {described.Hash} but the digest algorithm is {hash.Name}");

        var digest = hash.Digest(content);
        byte[] signedDigest;
        if (signer.SignedAttributes is not null)
        {
            if (!CryptographicOperations.FixedTimeEquals(digest, signer.MessageDigest))
                throw new ModuleSignatureException(SignatureFailure.BadSignature, "the module's content does not match the signed message digest (the module was changed after signing)");
            signedDigest = hash.Digest(signer.SignedAttributes);
        }
        else signedDigest = digest;

        bool ok;
        switch (described.Kind)
        {
            case SigningKeyKind.Rsa:
                using (var rsa = certificate.GetRSAPublicKey())
                {
                    if (rsa is null) throw new ModuleSignatureException(SignatureFailure.WrongSigner, $"the signature is RSA but the certificate '{certificate.Subject}' holds no RSA key");
                    ok = rsa.VerifyHash(signedDigest, signer.Signature, hash.Algorithm, RSASignaturePadding.Pkcs1);
                }
                break;
            default:
                using (var ec = certificate.GetECDsaPublicKey())
                {
                    if (ec is null) throw new ModuleSignatureException(SignatureFailure.WrongSigner, $"the signature is ECDSA but the certificate '{certificate.Subject}' holds no EC key");
                    ok = ec.VerifyHash(signedDigest, signer.Signature, DSASignatureFormat.Rfc3279DerSequence);
                }
                break;
        }
        if (!ok)
            throw new ModuleSignatureException(SignatureFailure.BadSignature,
                signer.SignedAttributes is null
                    ? $"the signature does not match the module's content and the key of '{certificate.Subject}' (the module was changed after signing, or signed by another key)"
                    : $"the signed attributes' signature does not verify with the key of '{certificate.Subject}'");
        return new VerifiedSignature(content.Length, cms.Length, hash, described.Kind, certificate.Subject);
    }
}
