using KfuncForge.Model;
using KfuncForge.Packaging;
using KfuncForge.Processes;
using KfuncForge.Signing;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Signing;

namespace KfuncForge.Tests.Packaging;

/// <summary>
/// Shared by the packaging tests: a module signing key (openssl), a signed module (a real ELF object),
/// a project keyring with a development OpenPGP key, and the golden render cells as packaging input.
/// </summary>
public sealed class PackagingFixture : IAsyncLifetime
{
    public const long SourceDateEpoch = 1700000000;
    public static readonly DateTimeOffset SourceDate = DateTimeOffset.FromUnixTimeSeconds(SourceDateEpoch);

    public TestKeys Keys { get; } = new();
    public TempDir Temp { get; } = TestTree.Temp();
    public GpgKeyring Keyring { get; private set; } = null!;
    public GpgKey PackageKey { get; private set; } = null!;
    public string SignedModule { get; private set; } = null!;
    public string UnsignedModule => Keys.Module;

    public static string DebCell => Path.Combine(TestTree.Golden, "two-sets", "expected", "debian12", "6.1-amd64", "kfunc_demo");
    public static string RpmCell => Path.Combine(TestTree.Golden, "two-sets", "expected", "rhel9", "5.14.0-570.12.1.el9_6.x86_64", "kfunc_demo");

    public static ProvenanceInputs Provenance { get; } = new(
        new SourceRevision("0123456789abcdef0123456789abcdef01234567", false, [], null),
        [new ArtifactDigest("linux-image-6.1.0-56-amd64", new string('a', 64), "pkg:deb/debian/linux-image-6.1.0-56-amd64@6.1.158-1?arch=amd64")],
        [new ArtifactDigest("kfunc-modules/kfunc_demo/module.yaml", new string('b', 64)), new ArtifactDigest("distros/debian12.yaml", new string('c', 64))],
        [new ArtifactDigest("templates/deb/control.sbn", new string('d', 64))],
        new Dictionary<string, string> { ["kfuncforge"] = "test", ["gcc"] = "gcc-12 (Debian 12.2.0-14) 12.2.0" },
        new Dictionary<string, string> { ["KBUILD_BUILD_TIMESTAMP"] = "Tue Nov 14 22:13:20 UTC 2023", ["KBUILD_BUILD_USER"] = "kfuncforge", ["KBUILD_BUILD_HOST"] = "kfuncforge" });

    public async Task InitializeAsync()
    {
        Keyring = new GpgKeyring(ProcessRunner.Instance, Temp.Combine("gnupg"));
        PackageKey = (await Keyring.EnsureDevelopmentKeyAsync()).Key;
        using var key = SigningKey.Load(Keys.RsaKey, Keys.RsaCert);
        SignedModule = Temp.Combine("signed", "kfunc_demo.ko");
        await new ModuleSigner(new KeySignatureSource(key, ModuleHash.Sha256)).SignAsync(Keys.Module, SignedModule);
    }

    public PackagingSettings Settings(string repository, PackageFamily family, string distro = "debian12")
    {
        var cert = SigningKey.LoadCertificate(Keys.RsaCert);
        return new PackagingSettings(repository, family, "amd64", SourceDate, cert, ModuleHash.Sha256, Keyring, PackageKey, Provenance, distro);
    }

    /// <param name="run">Another run of the same package: a later SOURCE_DATE_EPOCH by that many days, so its inputs differ and it publishes.</param>
    public async Task<PackagingResult> PackageAsync(string repository, PackageFamily family, string? module = null, IProcessRunner? runner = null, int run = 0)
    {
        var cell = RenderedCellFiles.Load(family == PackageFamily.Deb ? DebCell : RpmCell);
        return await new Packager(runner ?? ProcessRunner.Instance).RunAsync([new PackageInput(cell, module ?? SignedModule)],
            Settings(repository, family, family == PackageFamily.Deb ? "debian12" : "rhel9") with { SourceDate = SourceDate.AddDays(run) });
    }

    public async Task DisposeAsync()
    {
        await Keyring.StopAgentAsync();
        Temp.Dispose();
        Keys.Dispose();
    }
}
