using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using KfuncForge.Diagnostics;

namespace KfuncForge.Signing;

/// <summary>
/// A private key and the certificate that names it, loaded from files. The key lives only in this
/// object: it has no property that returns its bytes, its ToString names the certificate only, and
/// every error message about it names files, never contents.
/// </summary>
public sealed class SigningKey : IDisposable
{
    private readonly AsymmetricAlgorithm _key;

    private SigningKey(AsymmetricAlgorithm key, SigningKeyKind kind, X509Certificate2 certificate)
    {
        _key = key;
        Kind = kind;
        Certificate = certificate;
    }

    public SigningKeyKind Kind { get; }

    /// <summary>The public certificate (no private key attached).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Signs a digest the way CMS SignerInfo needs it: PKCS#1 v1.5 for RSA, a DER ECDSA-Sig-Value for ECDSA.</summary>
    public byte[] SignDigest(ReadOnlySpan<byte> digest, ModuleHash hash) => _key switch
    {
        RSA rsa => rsa.SignHash(digest.ToArray(), hash.Algorithm, RSASignaturePadding.Pkcs1),
        ECDsa ec => ec.SignHash(digest.ToArray(), DSASignatureFormat.Rfc3279DerSequence),
        _ => throw new InvalidOperationException("unsupported key"),
    };

    public override string ToString() => $"{Kind} key for {Certificate.Subject}";

    public void Dispose()
    {
        _key.Dispose();
        Certificate.Dispose();
    }

    /// <summary>
    /// Loads a private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC; or DER PKCS#8/PKCS#1/SEC1) and a certificate
    /// (PEM or DER; may be the same file as the key, as the kernel's own signing_key.pem is). Every
    /// problem is bad input with a message that says what to do.
    /// </summary>
    public static SigningKey Load(string keyPath, string certificatePath)
    {
        var keyBytes = ReadFile(keyPath, "module signing key");
        try
        {
            var certificate = LoadCertificate(certificatePath, keyPath == certificatePath ? keyBytes : null);
            AsymmetricAlgorithm key;
            try
            {
                key = ImportPrivateKey(keyBytes, keyPath);
            }
            catch
            {
                certificate.Dispose();
                throw;
            }
            var kind = key is RSA ? SigningKeyKind.Rsa : SigningKeyKind.Ecdsa;
            if (!SamePublicKey(key, certificate))
            {
                var described = Describe(certificate);
                key.Dispose();
                certificate.Dispose();
                throw Bad(certificatePath, $"the certificate ({described}) does not belong to the key '{keyPath}': their public keys differ. Give the certificate that was issued for this key");
            }
            return new SigningKey(key, kind, certificate);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(keyBytes);
        }
    }

    public static X509Certificate2 LoadCertificate(string path) => LoadCertificate(path, null);

    private static X509Certificate2 LoadCertificate(string path, byte[]? alreadyRead)
    {
        var bytes = alreadyRead ?? ReadFile(path, "module signing certificate");
        byte[]? der = null;
        if (LooksLikePem(bytes))
        {
            var chars = Encoding.ASCII.GetChars(bytes);
            try
            {
                foreach (var (label, data) in PemBlocks(chars))
                    if (label == "CERTIFICATE") { der = data; break; }
            }
            finally
            {
                Array.Clear(chars);
            }
            if (der is null)
                throw Bad(path, "is a PEM file without a CERTIFICATE block; give the X.509 certificate (PEM or DER) that matches the key");
        }
        else der = bytes;
        try
        {
            var cert = X509CertificateLoader.LoadCertificate(der);
            if (cert.HasPrivateKey) throw new InvalidOperationException("unexpected private key");
            return cert;
        }
        catch (CryptographicException)
        {
            throw Bad(path, "is not an X.509 certificate (neither PEM nor DER); give the certificate that matches the key");
        }
    }

    private static AsymmetricAlgorithm ImportPrivateKey(byte[] bytes, string path)
    {
        if (LooksLikePem(bytes))
        {
            var chars = Encoding.ASCII.GetChars(bytes);
            try
            {
                var text = chars.AsSpan();
                if (text.IndexOf("Proc-Type: 4,ENCRYPTED".AsSpan()) >= 0) throw Passphrase(path);
                var labels = new List<string>();
                foreach (var (label, der) in PemBlocks(chars))
                {
                    labels.Add(label);
                    try
                    {
                        switch (label)
                        {
                            case "ENCRYPTED PRIVATE KEY": throw Passphrase(path);
                            case "PRIVATE KEY": return ImportPkcs8(der, path);
                            case "RSA PRIVATE KEY": return ImportRsa(der, path);
                            case "EC PRIVATE KEY": return CheckCurve(ImportEc(der, path), path);
                            case "DSA PRIVATE KEY": throw Bad(path, "is a DSA key; the kernel checks module signatures made with RSA or ECDSA (NIST P-256/P-384) keys only");
                            case "OPENSSH PRIVATE KEY": throw Bad(path, "is an OpenSSH private key; convert it to PEM PKCS#8 (ssh-keygen -p -m PKCS8) or use an RSA/ECDSA key made for module signing");
                        }
                    }
                    finally
                    {
                        CryptographicOperations.ZeroMemory(der);
                    }
                }
                throw Bad(path, labels.Count == 0
                    ? "is not a private key: no PEM block in it; give an RSA or ECDSA private key (PEM or DER)"
                    : $"holds no private key (found {string.Join(", ", labels.Select(l => $"'{l}'"))}); give an RSA or ECDSA private key (PEM or DER)");
            }
            finally
            {
                Array.Clear(chars);
            }
        }
        // DER: PKCS#8 first (the usual form), then the bare RSA and EC forms.
        if (IsEncryptedPkcs8(bytes)) throw Passphrase(path);
        if (IsCertificate(bytes)) throw Bad(path, "holds a certificate, not a private key; give the private key as the key and the certificate as the certificate");
        try { return ImportPkcs8(bytes, path); } catch (InputException) { throw; } catch (CryptographicException) { }
        try { var r = RSA.Create(); r.ImportRSAPrivateKey(bytes, out _); return r; } catch (CryptographicException) { }
        try { var e = ECDsa.Create(); e.ImportECPrivateKey(bytes, out _); return CheckCurve(e, path); } catch (CryptographicException) { }
        throw Bad(path, "is not a private key (neither a PEM file nor DER PKCS#8/PKCS#1/SEC1); give an RSA or ECDSA private key");
    }

    private static AsymmetricAlgorithm ImportPkcs8(byte[] der, string path)
    {
        string algorithm;
        try
        {
            var info = new AsnReader(der, AsnEncodingRules.BER).ReadSequence();
            info.ReadInteger();
            algorithm = info.ReadSequence().ReadObjectIdentifier();
        }
        catch (AsnContentException)
        {
            throw new CryptographicException("not PKCS#8");
        }
        switch (algorithm)
        {
            case ModuleCms.RsaEncryptionOid:
            {
                var rsa = RSA.Create();
                try { rsa.ImportPkcs8PrivateKey(der, out _); } catch (CryptographicException) { rsa.Dispose(); throw Bad(path, "is a damaged RSA PKCS#8 key"); }
                return rsa;
            }
            case "1.2.840.10045.2.1":
            {
                var ec = ECDsa.Create();
                try { ec.ImportPkcs8PrivateKey(der, out _); } catch (CryptographicException) { ec.Dispose(); throw Bad(path, "is a damaged or unsupported EC PKCS#8 key"); }
                return CheckCurve(ec, path);
            }
            case "1.3.101.112": throw Bad(path, "is an Ed25519 key; the kernel checks module signatures made with RSA or ECDSA (NIST P-256/P-384) keys only");
            case "1.3.101.113": throw Bad(path, "is an Ed448 key; the kernel checks module signatures made with RSA or ECDSA (NIST P-256/P-384) keys only");
            case "1.2.840.10040.4.1": throw Bad(path, "is a DSA key; the kernel checks module signatures made with RSA or ECDSA (NIST P-256/P-384) keys only");
            case "1.2.840.113549.1.1.10": throw Bad(path, "is an RSA-PSS key; the kernel's module signatures use PKCS#1 v1.5: give a plain RSA key");
            default: throw Bad(path, $"is a private key of a kind the kernel cannot check (algorithm {algorithm}); use RSA or ECDSA (NIST P-256/P-384)");
        }
    }

    private static RSA ImportRsa(byte[] der, string path)
    {
        var rsa = RSA.Create();
        try { rsa.ImportRSAPrivateKey(der, out _); return rsa; }
        catch (CryptographicException) { rsa.Dispose(); throw Bad(path, "is a damaged RSA private key"); }
    }

    private static ECDsa ImportEc(byte[] der, string path)
    {
        var ec = ECDsa.Create();
        try { ec.ImportECPrivateKey(der, out _); return ec; }
        catch (CryptographicException) { ec.Dispose(); throw Bad(path, "is a damaged or unsupported EC private key"); }
    }

    private static ECDsa CheckCurve(ECDsa ec, string path)
    {
        var oid = ec.ExportParameters(false).Curve.Oid;
        if (oid.Value is "1.2.840.10045.3.1.7" or "1.3.132.0.34") return ec;
        ec.Dispose();
        throw Bad(path, $"is an ECDSA key on curve {oid.FriendlyName ?? oid.Value ?? "(explicit parameters)"}; the kernel checks module signatures on NIST P-256 and P-384 only");
    }

    private static bool SamePublicKey(AsymmetricAlgorithm key, X509Certificate2 certificate)
    {
        using var pub = (AsymmetricAlgorithm?)certificate.GetRSAPublicKey() ?? certificate.GetECDsaPublicKey();
        if (pub is null) return false;
        return key.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(pub.ExportSubjectPublicKeyInfo());
    }

    private static bool IsEncryptedPkcs8(byte[] der)
    {
        try
        {
            var seq = new AsnReader(der, AsnEncodingRules.BER).ReadSequence();
            var alg = seq.ReadSequence().ReadObjectIdentifier();
            return alg is "1.2.840.113549.1.5.13" or "1.2.840.113549.1.5.3" or "1.2.840.113549.1.12.1.3";
        }
        catch (AsnContentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    private static bool IsCertificate(byte[] der)
    {
        try { X509CertificateLoader.LoadCertificate(der).Dispose(); return true; }
        catch (CryptographicException) { return false; }
    }

    private static bool LooksLikePem(byte[] bytes) => bytes.AsSpan().IndexOf("-----BEGIN "u8) >= 0;

    private static IEnumerable<(string Label, byte[] Der)> PemBlocks(char[] text)
    {
        var offset = 0;
        while (offset < text.Length && PemEncoding.TryFind(text.AsSpan(offset), out var fields))
        {
            var label = new string(text.AsSpan(offset)[fields.Label]);
            var der = new byte[fields.DecodedDataLength];
            Convert.TryFromBase64Chars(text.AsSpan(offset)[fields.Base64Data], der, out _);
            offset += fields.Location.End.Value;
            yield return (label, der);
        }
    }

    private static byte[] ReadFile(string path, string what)
    {
        const string fix = "give the file with --key/--cert or signing.module_key/module_certificate in the profile, or set neither to sign with the development key";
        if (Directory.Exists(path)) throw Bad(path, $"the {what} is a directory, not a file; {fix}");
        if (!File.Exists(path)) throw Bad(path, $"the {what} does not exist; {fix}");
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Bad(path, $"the {what} cannot be read ({e.Message}); make it readable by this user");
        }
    }

    private static string Describe(X509Certificate2 cert) => $"subject '{cert.Subject}', serial {cert.SerialNumber}";

    private static InputException Passphrase(string path) => Bad(path,
        "is protected by a passphrase; KfuncForge takes no passphrases. Use an unencrypted key readable only by the signing user, or keep the key in a token and sign through the external signer hook (signing.module_signer / --signer-command)");

    private static InputException Bad(string path, string message) => new(new Problem(path, 0, 0, "", message));
}
