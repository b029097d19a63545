// The signing and packaging tests run Linux tools (sign-file, dpkg-deb, rpmbuild, gpg): the suite is Linux-only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
