namespace KfuncForge.Signing;

/// <summary>
/// Where every module package puts the public certificate of the key that signed its module (DER, as
/// `mokutil --import` takes it): one file per package, so packages of the same module for different
/// kernels never own the same path. The rendered maintainer scripts and the packager both take the path
/// from here. docs/signing.md, "Secure Boot".
/// </summary>
public static class ShippedCertificate
{
    public const string Directory = "/usr/share/kfuncforge/certs";

    public static string PathFor(string module, string kernelRelease) => $"{Directory}/{module}-{kernelRelease}.der";
}
