using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Signing;

/// <summary>Keys made by openssl (as the kernel's build makes its own), an unsigned module, in one temp folder shared by a test class.</summary>
public sealed class TestKeys : IDisposable
{
    private readonly TempDir _temp = TestTree.Temp();

    public TestKeys()
    {
        Module = HostTools.CompileModule(_temp.Combine("module"));
        RsaKey = _temp.Combine("rsa.key.pem");
        RsaCert = _temp.Combine("rsa.cert.pem");
        Req(RsaKey, RsaCert, "/CN=KfuncForge test RSA signing key", "-newkey", "rsa:2048");
        EcKey = _temp.Combine("ec.key.pem");
        EcCert = _temp.Combine("ec.cert.pem");
        Req(EcKey, EcCert, "/CN=KfuncForge test ECDSA signing key", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1");
        Ec384Key = _temp.Combine("ec384.key.pem");
        Ec384Cert = _temp.Combine("ec384.cert.pem");
        Req(Ec384Key, Ec384Cert, "/CN=KfuncForge test ECDSA P-384 signing key", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1");
        OtherKey = _temp.Combine("other.key.pem");
        OtherCert = _temp.Combine("other.cert.pem");
        Req(OtherKey, OtherCert, "/CN=KfuncForge test RSA signing key", "-newkey", "rsa:2048");
    }

    public string Module { get; }
    public string RsaKey { get; }
    public string RsaCert { get; }
    public string EcKey { get; }
    public string EcCert { get; }
    public string Ec384Key { get; }
    public string Ec384Cert { get; }

    /// <summary>Another RSA key whose certificate has the same subject as RsaCert's (a different serial).</summary>
    public string OtherKey { get; }
    public string OtherCert { get; }

    public string Combine(params string[] parts) => _temp.Combine(parts);

    private static void Req(string key, string cert, string subject, params string[] keyArgs) =>
        HostTools.Checked("openssl", ["req", "-new", "-x509", "-nodes", "-utf8", "-sha256", "-days", "36500", "-batch", "-subj", subject,
            "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=digitalSignature", "-addext", "extendedKeyUsage=codeSigning",
            .. keyArgs, "-keyout", key, "-out", cert]);

    public void Dispose() => _temp.Dispose();
}
