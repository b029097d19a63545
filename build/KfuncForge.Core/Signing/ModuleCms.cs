using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KfuncForge.Signing;

public enum SigningKeyKind { Rsa, Ecdsa }

/// <summary>
/// The CMS SignedData the kernel checks on a module (RFC 5652), in the exact shape sign-file emits:
/// detached (no eContent), no certificates, no signed attributes, one SignerInfo identified by the
/// certificate's issuer and serial number, digest algorithms without parameters, rsaEncryption (with
/// NULL parameters) or ecdsa-with-SHA* as the signature algorithm. DER throughout.
/// </summary>
public static class ModuleCms
{
    public const string SignedDataOid = "1.2.840.113549.1.7.2";
    public const string DataOid = "1.2.840.113549.1.7.1";
    public const string RsaEncryptionOid = "1.2.840.113549.1.1.1";
    private const string ContentTypeAttributeOid = "1.2.840.113549.1.9.3";
    private const string MessageDigestAttributeOid = "1.2.840.113549.1.9.4";

    private static readonly Dictionary<string, string> EcdsaOids = new()
    {
        ["sha1"] = "1.2.840.10045.4.1",
        ["sha224"] = "1.2.840.10045.4.3.1",
        ["sha256"] = "1.2.840.10045.4.3.2",
        ["sha384"] = "1.2.840.10045.4.3.3",
        ["sha512"] = "1.2.840.10045.4.3.4",
        ["sha3-256"] = "2.16.840.1.101.3.4.3.10",
        ["sha3-384"] = "2.16.840.1.101.3.4.3.11",
        ["sha3-512"] = "2.16.840.1.101.3.4.3.12",
    };

    private static readonly Dictionary<string, string> RsaWithHashOids = new()
    {
        ["1.2.840.113549.1.1.5"] = "sha1",
        ["1.2.840.113549.1.1.14"] = "sha224",
        ["1.2.840.113549.1.1.11"] = "sha256",
        ["1.2.840.113549.1.1.12"] = "sha384",
        ["1.2.840.113549.1.1.13"] = "sha512",
        ["2.16.840.1.101.3.4.3.14"] = "sha3-256",
        ["2.16.840.1.101.3.4.3.15"] = "sha3-384",
        ["2.16.840.1.101.3.4.3.16"] = "sha3-512",
    };

    /// <summary>Builds the SignedData around a signature the key already made over the module's digest.</summary>
    public static byte[] Encode(X509Certificate2 certificate, ModuleHash hash, SigningKeyKind kind, ReadOnlySpan<byte> signature)
    {
        var (issuer, serial) = IssuerAndSerial(certificate);
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            w.WriteObjectIdentifier(SignedDataOid);
            using (w.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true)))
            using (w.PushSequence())
            {
                w.WriteInteger(1);
                using (w.PushSetOf())
                using (w.PushSequence())
                    w.WriteObjectIdentifier(hash.Oid);
                using (w.PushSequence())
                    w.WriteObjectIdentifier(DataOid);
                using (w.PushSetOf())
                using (w.PushSequence())
                {
                    w.WriteInteger(1);
                    using (w.PushSequence())
                    {
                        w.WriteEncodedValue(issuer);
                        w.WriteEncodedValue(serial);
                    }
                    using (w.PushSequence())
                        w.WriteObjectIdentifier(hash.Oid);
                    using (w.PushSequence())
                    {
                        if (kind == SigningKeyKind.Rsa)
                        {
                            w.WriteObjectIdentifier(RsaEncryptionOid);
                            w.WriteNull();
                        }
                        else w.WriteObjectIdentifier(EcdsaOids[hash.Name]);
                    }
                    w.WriteOctetString(signature);
                }
            }
        }
        return w.Encode();
    }

    /// <summary>The issuer Name and serialNumber exactly as the certificate encodes them.</summary>
    public static (byte[] Issuer, byte[] Serial) IssuerAndSerial(X509Certificate2 certificate)
    {
        var cert = new AsnReader(certificate.RawData, AsnEncodingRules.DER).ReadSequence();
        var tbs = cert.ReadSequence();
        if (tbs.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0))) tbs.ReadEncodedValue();
        var serial = tbs.ReadEncodedValue().ToArray();
        tbs.ReadEncodedValue(); // signature algorithm
        var issuer = tbs.ReadEncodedValue().ToArray();
        return (issuer, serial);
    }

    /// <summary>Reads the parts of a module's SignedData the kernel uses. Throws ModuleSignatureException on anything the kernel would not parse.</summary>
    public static ParsedModuleCms Decode(byte[] cms)
    {
        try
        {
            var outer = new AsnReader(cms, AsnEncodingRules.BER);
            var contentInfo = outer.ReadSequence();
            if (outer.HasData) throw Malformed("trailing bytes after the CMS ContentInfo");
            if (contentInfo.ReadObjectIdentifier() != SignedDataOid) throw Malformed("the CMS content is not SignedData");
            var signedData = contentInfo.ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 0)).ReadSequence();
            signedData.ReadInteger();
            var digestAlgorithms = new List<string>();
            var digestSet = signedData.ReadSetOf();
            while (digestSet.HasData) digestAlgorithms.Add(digestSet.ReadSequence().ReadObjectIdentifier());
            var encap = signedData.ReadSequence();
            if (encap.ReadObjectIdentifier() != DataOid) throw Malformed("the signed content type is not id-data");
            if (encap.HasData) throw Malformed("the CMS carries the content itself; a module signature is detached");
            var certificates = new List<byte[]>();
            if (signedData.HasData && signedData.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0)))
            {
                var certSet = signedData.ReadSetOf(new Asn1Tag(TagClass.ContextSpecific, 0));
                while (certSet.HasData) certificates.Add(certSet.ReadEncodedValue().ToArray());
            }
            if (signedData.HasData && signedData.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 1)))
                signedData.ReadEncodedValue();
            var signers = new List<ParsedSigner>();
            var signerSet = signedData.ReadSetOf();
            while (signerSet.HasData) signers.Add(ReadSigner(signerSet.ReadSequence()));
            if (signers.Count == 0) throw Malformed("the CMS has no SignerInfo");
            return new ParsedModuleCms(digestAlgorithms, certificates, signers);
        }
        catch (AsnContentException e)
        {
            throw Malformed($"the signature is not valid DER/BER CMS: {e.Message}");
        }
        catch (CryptographicException e)
        {
            throw Malformed($"the signature is not valid CMS: {e.Message}");
        }
    }

    private static ParsedSigner ReadSigner(AsnReader s)
    {
        s.ReadInteger();
        byte[]? issuer = null, serial = null, subjectKeyId = null;
        if (s.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0)))
            subjectKeyId = s.ReadOctetString(new Asn1Tag(TagClass.ContextSpecific, 0));
        else
        {
            var ias = s.ReadSequence();
            issuer = ias.ReadEncodedValue().ToArray();
            serial = ias.ReadEncodedValue().ToArray();
        }
        var digestOid = s.ReadSequence().ReadObjectIdentifier();
        byte[]? signedAttributes = null;
        byte[]? messageDigest = null;
        if (s.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0)))
        {
            var raw = s.ReadEncodedValue().ToArray();
            // The signature covers the attributes re-tagged as a SET OF (RFC 5652 §5.4).
            signedAttributes = (byte[])raw.Clone();
            signedAttributes[0] = 0x31;
            var attrs = new AsnReader(raw, AsnEncodingRules.BER).ReadSetOf(new Asn1Tag(TagClass.ContextSpecific, 0));
            while (attrs.HasData)
            {
                var attr = attrs.ReadSequence();
                var oid = attr.ReadObjectIdentifier();
                var values = attr.ReadSetOf();
                if (oid == MessageDigestAttributeOid) messageDigest = values.ReadOctetString();
                else if (oid == ContentTypeAttributeOid && values.ReadObjectIdentifier() != DataOid)
                    throw Malformed("the signed content-type attribute is not id-data");
            }
            if (messageDigest is null) throw Malformed("the signed attributes have no message-digest attribute");
        }
        var sigAlg = s.ReadSequence();
        var sigOid = sigAlg.ReadObjectIdentifier();
        var signature = s.ReadOctetString();
        return new ParsedSigner(issuer, serial, subjectKeyId, digestOid, sigOid, signedAttributes, messageDigest, signature);
    }

    /// <summary>The key kind and (where the OID names one) the digest a signatureAlgorithm OID stands for.</summary>
    public static (SigningKeyKind Kind, string? Hash)? DescribeSignatureAlgorithm(string oid)
    {
        if (oid == RsaEncryptionOid) return (SigningKeyKind.Rsa, null);
        if (RsaWithHashOids.TryGetValue(oid, out var rsaHash)) return (SigningKeyKind.Rsa, rsaHash);
        foreach (var (name, ecOid) in EcdsaOids)
            if (ecOid == oid) return (SigningKeyKind.Ecdsa, name);
        if (oid == "1.2.840.10045.2.1") return (SigningKeyKind.Ecdsa, null);
        return null;
    }

    private static ModuleSignatureException Malformed(string message) => new(SignatureFailure.Malformed, message);
}

public sealed record ParsedModuleCms(IReadOnlyList<string> DigestAlgorithms, IReadOnlyList<byte[]> Certificates, IReadOnlyList<ParsedSigner> Signers);

public sealed record ParsedSigner(
    byte[]? Issuer, byte[]? Serial, byte[]? SubjectKeyIdentifier,
    string DigestOid, string SignatureOid, byte[]? SignedAttributes, byte[]? MessageDigest, byte[] Signature);
