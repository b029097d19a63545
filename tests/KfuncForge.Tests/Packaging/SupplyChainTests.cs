using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using KfuncForge.Model;
using KfuncForge.Packaging;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Packaging;

/// <summary>SBOM and provenance in and beside every package; no private key material anywhere in what a run publishes.</summary>
public sealed class SupplyChainTests(PackagingFixture f) : IClassFixture<PackagingFixture>
{
    private const string Package = "kfunc-demo-modules-6.1-amd64";

    [Fact]
    public async Task The_deb_carries_a_CycloneDX_SBOM_and_an_in_toto_SLSA_statement_about_its_files()
    {
        var result = await f.PackageAsync(f.Temp.Combine("sbom", "apt"), PackageFamily.Deb);
        var deb = result.Packages.Single(p => p.Name == Package);
        using var temp = TestTree.Temp();
        HostTools.Checked("dpkg-deb", "-x", Path.Combine(result.Repository, "pool", "main", Package, deb.FileName), temp.Path);
        var doc = temp.Combine("usr", "share", "doc", Package, "kfuncforge");
        var moduleSha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f.SignedModule)));
        const string ko = "/lib/modules/6.1-amd64/updates/kfuncforge/kfunc_demo.ko";

        var sbom = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(doc, SupplyChain.SbomFileName))).RootElement;
        Assert.Equal("CycloneDX", sbom.GetProperty("bomFormat").GetString());
        Assert.Equal("1.6", sbom.GetProperty("specVersion").GetString());
        Assert.Equal("2023-11-14T22:13:20Z", sbom.GetProperty("metadata").GetProperty("timestamp").GetString());
        Assert.Equal(Package, sbom.GetProperty("metadata").GetProperty("component").GetProperty("name").GetString());
        Assert.Equal("pkg:deb/kfuncforge/kfunc-demo-modules-6.1-amd64@1.2.3?arch=amd64&distro=debian12", sbom.GetProperty("metadata").GetProperty("component").GetProperty("purl").GetString());
        var components = sbom.GetProperty("components").EnumerateArray().ToList();
        var module = components.Single(c => c.GetProperty("name").GetString() == ko);
        Assert.Equal(moduleSha, module.GetProperty("hashes")[0].GetProperty("content").GetString());
        Assert.Contains(components, c => c.GetProperty("name").GetString() == "src/demo.c");
        Assert.Contains(components, c => c.GetProperty("name").GetString() == "linux-image-6.1.0-56-amd64" && c.GetProperty("type").GetString() == "operating-system");

        var statement = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(doc, SupplyChain.ProvenanceFileName))).RootElement;
        Assert.Equal("https://in-toto.io/Statement/v1", statement.GetProperty("_type").GetString());
        Assert.Equal("https://slsa.dev/provenance/v1", statement.GetProperty("predicateType").GetString());
        Assert.Contains(statement.GetProperty("subject").EnumerateArray(), s => s.GetProperty("name").GetString() == ko && s.GetProperty("digest").GetProperty("sha256").GetString() == moduleSha);
        var build = statement.GetProperty("predicate").GetProperty("buildDefinition");
        var deps = build.GetProperty("resolvedDependencies").EnumerateArray().ToList();
        var source = deps.Single(d => d.GetProperty("name").GetString() == "kfuncforge-source");
        Assert.Equal(PackagingFixture.Provenance.Source.Commit, source.GetProperty("digest").GetProperty("gitCommit").GetString());
        Assert.False(source.GetProperty("annotations").GetProperty("dirty").GetBoolean());
        Assert.Contains(deps, d => d.GetProperty("name").GetString() == "kernel-package:linux-image-6.1.0-56-amd64" && d.GetProperty("digest").GetProperty("sha256").GetString() == new string('a', 64));
        Assert.Contains(deps, d => d.GetProperty("name").GetString() == "template:templates/deb/control.sbn");
        Assert.Contains(deps, d => d.GetProperty("name").GetString() == "definition:kfunc-modules/kfunc_demo/module.yaml");
        Assert.Contains(deps, d => d.GetProperty("name").GetString() == "rendered:debian/control");
        Assert.Equal(PackagingFixture.SourceDateEpoch, build.GetProperty("internalParameters").GetProperty("source_date_epoch").GetInt64());
        Assert.Equal("kfuncforge", build.GetProperty("internalParameters").GetProperty("build_environment").GetProperty("KBUILD_BUILD_HOST").GetString());
        Assert.Equal("gcc-12 (Debian 12.2.0-14) 12.2.0", statement.GetProperty("predicate").GetProperty("runDetails").GetProperty("builder").GetProperty("version").GetProperty("gcc").GetString());

        // Beside the package: a statement whose subject is the .deb itself.
        var beside = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(result.Repository, "pool", "main", Package, deb.FileName + ".intoto.json"))).RootElement;
        var subject = Assert.Single(beside.GetProperty("subject").EnumerateArray().ToList());
        Assert.Equal(deb.FileName, subject.GetProperty("name").GetString());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(result.Repository, "pool", "main", Package, deb.FileName)))), subject.GetProperty("digest").GetProperty("sha256").GetString());
    }

    [Fact]
    public async Task The_commit_that_rendered_the_cell_is_the_one_recorded()
    {
        using var temp = TestTree.Temp();
        var cell = temp.Combine("cell");
        TestTree.CopyDirectory(PackagingFixture.DebCell, cell);
        File.WriteAllText(Path.Combine(cell, KfuncForge.Rendering.Renderer.ProvenanceFile),
            "{\"commit\":\"fedcba9876543210fedcba9876543210fedcba98\",\"dirty\":true,\"dirty_paths\":[\"templates/deb/control.sbn\"],\"reason\":null}\n");
        var result = await new Packager(KfuncForge.Processes.ProcessRunner.Instance).RunAsync(
            [new PackageInput(RenderedCellFiles.Load(cell), f.SignedModule)], f.Settings(temp.Combine("apt"), PackageFamily.Deb));
        var beside = File.ReadAllText(Path.Combine(result.Repository, "pool", "main", Package, result.Packages.Single(p => p.Name == Package).FileName + ".intoto.json"));
        var source = JsonDocument.Parse(beside).RootElement.GetProperty("predicate").GetProperty("buildDefinition").GetProperty("resolvedDependencies")
            .EnumerateArray().Single(d => d.GetProperty("name").GetString() == "kfuncforge-source");
        Assert.Equal("fedcba9876543210fedcba9876543210fedcba98", source.GetProperty("digest").GetProperty("gitCommit").GetString());
        Assert.True(source.GetProperty("annotations").GetProperty("dirty").GetBoolean());
        Assert.Equal("templates/deb/control.sbn", source.GetProperty("annotations").GetProperty("dirty_paths")[0].GetString());
    }

    [Fact]
    public async Task The_signed_rpm_has_SBOM_and_provenance_beside_it_naming_the_signed_bytes()
    {
        var result = await f.PackageAsync(f.Temp.Combine("sbom-rpm", "yum"), PackageFamily.Rpm);
        var rpm = Path.Combine(result.Repository, "Packages", result.Packages.Single(p => p.Name != "kmod-kfunc_demo").FileName);
        var beside = JsonDocument.Parse(File.ReadAllBytes(rpm + ".intoto.json")).RootElement;
        var subject = Assert.Single(beside.GetProperty("subject").EnumerateArray().ToList());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(rpm))), subject.GetProperty("digest").GetProperty("sha256").GetString());
        var sbom = JsonDocument.Parse(File.ReadAllBytes(rpm + ".cdx.json")).RootElement;
        Assert.StartsWith("pkg:rpm/kfuncforge/kmod-kfunc_demo-5.14.0-570.12.1.el9_6.x86_64@1.2.3-1?arch=x86_64", sbom.GetProperty("metadata").GetProperty("component").GetProperty("purl").GetString());
    }

    [Fact]
    public async Task No_private_key_material_appears_in_any_published_file_or_package_payload()
    {
        var deb = await f.PackageAsync(f.Temp.Combine("secrets", "apt"), PackageFamily.Deb);
        var rpm = await f.PackageAsync(f.Temp.Combine("secrets", "yum"), PackageFamily.Rpm);
        var needles = SecretNeedles(f);
        Assert.True(needles.Count >= 4);

        using var temp = TestTree.Temp();
        var scanned = 0;
        foreach (var repo in new[] { deb.Repository, rpm.Repository })
            foreach (var file in Directory.GetFiles(repo, "*", SearchOption.AllDirectories))
                foreach (var (name, bytes) in Expand(file, temp))
                {
                    scanned++;
                    foreach (var (what, needle) in needles)
                        Assert.False(bytes.AsSpan().IndexOf(needle) >= 0, $"{what} found in {name}");
                }
        Assert.True(scanned > 20, $"only {scanned} files scanned");
    }

    /// <summary>Byte strings that only the private keys contain: PEM lines and DER of the module key, its private exponent, the secret part of the OpenPGP key.</summary>
    internal static List<(string What, byte[] Needle)> SecretNeedles(PackagingFixture f)
    {
        var needles = new List<(string, byte[])>();
        var pem = File.ReadAllText(f.Keys.RsaKey);
        foreach (var line in pem.Split('\n').Where(l => l.Length >= 48 && !l.StartsWith("-----", StringComparison.Ordinal)).Take(3))
            needles.Add(("module key PEM line", System.Text.Encoding.ASCII.GetBytes(line)));
        using var rsa = RSA.Create();
        rsa.ImportFromPem(pem);
        var p = rsa.ExportParameters(true);
        needles.Add(("module key private exponent", p.D![..32]));
        needles.Add(("module key prime", p.P![..32]));

        var secretExport = f.Temp.Combine("secret-export.gpg");
        var publicExport = f.Temp.Combine("public-export.gpg");
        HostTools.Checked("gpg", "--homedir", f.Keyring.Home, "--batch", "--yes", "--output", secretExport, "--export-secret-keys", f.PackageKey.Fingerprint);
        HostTools.Checked("gpg", "--homedir", f.Keyring.Home, "--batch", "--yes", "--output", publicExport, "--export", f.PackageKey.Fingerprint);
        var secretBody = FirstPacketBody(File.ReadAllBytes(secretExport));
        var publicBody = FirstPacketBody(File.ReadAllBytes(publicExport));
        Assert.True(secretBody.AsSpan(0, publicBody.Length).SequenceEqual(publicBody));
        // After the public part: the S2K usage octet (0: not protected), then the secret MPIs (2-byte length each).
        needles.Add(("OpenPGP secret key material", secretBody[(publicBody.Length + 3)..(publicBody.Length + 35)]));
        File.Delete(secretExport);
        return needles;
    }

    private static byte[] FirstPacketBody(byte[] data)
    {
        var tag = data[0];
        int length, offset;
        if ((tag & 0x40) == 0)
        {
            var lengthType = tag & 3;
            (length, offset) = lengthType switch
            {
                0 => (data[1], 2),
                1 => ((data[1] << 8) | data[2], 3),
                2 => ((data[1] << 24) | (data[2] << 16) | (data[3] << 8) | data[4], 5),
                _ => throw new InvalidDataException("indeterminate length"),
            };
        }
        else
        {
            var first = data[1];
            (length, offset) = first < 192 ? (first, 2) : first < 224 ? (((first - 192) << 8) + data[2] + 192, 3) : ((data[2] << 24) | (data[3] << 16) | (data[4] << 8) | data[5], 6);
        }
        return data[offset..(offset + length)];
    }

    /// <summary>A file's bytes and, for packages and compressed files, the bytes of what is inside.</summary>
    private static IEnumerable<(string Name, byte[] Bytes)> Expand(string file, TempDir temp)
    {
        var bytes = File.ReadAllBytes(file);
        yield return (file, bytes);
        if (file.EndsWith(".gz", StringComparison.Ordinal))
        {
            using var gz = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var plain = new MemoryStream();
            gz.CopyTo(plain);
            yield return (file + "!", plain.ToArray());
        }
        else if (file.EndsWith(".deb", StringComparison.Ordinal) || file.EndsWith(".rpm", StringComparison.Ordinal))
        {
            var dir = temp.Combine(Guid.NewGuid().ToString("N"));
            if (file.EndsWith(".deb", StringComparison.Ordinal))
            {
                HostTools.Checked("dpkg-deb", "-x", file, dir);
                HostTools.Checked("dpkg-deb", "-e", file, Path.Combine(dir, "DEBIAN"));
            }
            else
            {
                var tgz = dir + ".tgz";
                HostTools.Run(new KfuncForge.Processes.ProcessSpec("rpm2archive", ["-"]) { StdinFile = file, StdoutFile = tgz }).EnsureSuccess();
                using var gz = new GZipStream(File.OpenRead(tgz), CompressionMode.Decompress);
                Directory.CreateDirectory(dir);
                TarFile.ExtractToDirectory(gz, dir, overwriteFiles: true);
            }
            foreach (var inner in Directory.GetFiles(dir, "*", SearchOption.AllDirectories))
                yield return (file + "!" + Path.GetRelativePath(dir, inner), File.ReadAllBytes(inner));
        }
    }
}
