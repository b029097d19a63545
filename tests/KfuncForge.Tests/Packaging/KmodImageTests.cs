using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KfuncForge.Caching;
using KfuncForge.Containers;
using KfuncForge.Diagnostics;
using KfuncForge.Packaging;
using KfuncForge.Processes;
using KfuncForge.Signing;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace KfuncForge.Tests.Packaging;

/// <summary>
/// A real signed module (gcc, with a .modinfo section; signed as the kernel's sign-file does), plain and xz-compressed,
/// shared by the kmod image tests.
/// </summary>
public sealed class KmodModuleFixture : IAsyncLifetime
{
    public const string Module = "kfunc_demo";
    public static readonly DateTimeOffset SourceDate = DateTimeOffset.FromUnixTimeSeconds(1700000000);

    public Infrastructure.TempDir Temp { get; } = TestTree.Temp();
    public string Signed => Temp.Combine("signed", Module + ".ko");
    public string SignedXz => Signed + ".xz";

    public async Task InitializeAsync()
    {
        var source = Temp.Combine(Module + ".c");
        File.WriteAllText(source, """
            #define MODINFO(id, text) static const char id[] __attribute__((used, section(".modinfo"), aligned(1))) = text
            MODINFO(kff_name, "name=kfunc_demo");
            MODINFO(kff_license, "license=GPL");
            MODINFO(kff_vermagic, "vermagic=6.1.0-57-amd64 SMP preempt mod_unload modversions ");
            int kfunc_demo_strlen(const char *s) { int n = 0; while (s[n]) n++; return n; }
            """);
        var unsigned = Temp.Combine(Module + ".ko");
        HostTools.Checked("gcc", "-c", "-O2", "-o", unsigned, source);
        var key = Temp.Combine("key.pem");
        var cert = Temp.Combine("cert.pem");
        HostTools.Checked("openssl", "req", "-new", "-x509", "-nodes", "-utf8", "-sha256", "-days", "36500", "-batch", "-subj", "/CN=KfuncForge kmod image test key",
            "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=digitalSignature", "-addext", "extendedKeyUsage=codeSigning",
            "-newkey", "rsa:2048", "-keyout", key, "-out", cert);
        Directory.CreateDirectory(Path.GetDirectoryName(Signed)!);
        using (var signingKey = SigningKey.Load(key, cert))
            await new ModuleSigner(new KeySignatureSource(signingKey, ModuleHash.Sha256)).SignAsync(unsigned, Signed);
        await ProcessRunner.Instance.CheckedAsync(ModuleCompression.Command(".xz", Signed, SignedXz));
    }

    public Task DisposeAsync()
    {
        Temp.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>
/// KMM kmod images written as oci-archives without a registry: the same inputs give the same bytes, the OCI layout's
/// JSON is well formed with every digest and size matching its blob, the module and depmod's index sit in
/// /opt/lib/modules/&lt;kernel&gt;/ (what KMM's preflight looks for), and the Module manifest names each image.
/// The fast tests use a tiny base layer made here; the podman test uses the real one (mmdebstrap, cached).
/// </summary>
public sealed class KmodImageTests(KmodModuleFixture f) : IClassFixture<KmodModuleFixture>
{
    private const string Repository = "registry.example.com:5000/kfuncforge/kfunc-demo";
    private const string Bookworm = "6.1.0-57-amd64";
    private const string Trixie = "6.12.48+deb13-amd64";

    /// <summary>A small root with a /dev that the layer must drop (device nodes belong to the runtime), as a layer blob.</summary>
    private static KmodBaseLayer TinyBase(string dir)
    {
        Directory.CreateDirectory(dir);
        var tar = Path.Combine(dir, "rootfs.tar");
        using (var output = File.Create(tar))
        using (var writer = new TarWriter(output, TarEntryFormat.Gnu))
        {
            var time = DateTimeOffset.UnixEpoch;
            writer.WriteEntry(new GnuTarEntry(TarEntryType.Directory, "./") { ModificationTime = time, AccessTime = time, ChangeTime = time });
            writer.WriteEntry(new GnuTarEntry(TarEntryType.Directory, "./dev/") { ModificationTime = time, AccessTime = time, ChangeTime = time });
            writer.WriteEntry(new GnuTarEntry(TarEntryType.CharacterDevice, "./dev/null") { DeviceMajor = 1, DeviceMinor = 3, ModificationTime = time, AccessTime = time, ChangeTime = time });
            writer.WriteEntry(new GnuTarEntry(TarEntryType.Directory, "./etc/") { ModificationTime = time, AccessTime = time, ChangeTime = time });
            writer.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, "./etc/os-release") { DataStream = new MemoryStream("ID=test\n"u8.ToArray()), ModificationTime = time, AccessTime = time, ChangeTime = time });
        }
        return KmodBaseLayer.FromRootfsTar(tar, Path.Combine(dir, "layer.tar.gz"), "test base");
    }

    private IReadOnlyList<KmodImageInput> Inputs() =>
    [
        new(Bookworm, f.Signed, KmodModuleFixture.Module + ".ko"),
        new(Trixie, f.SignedXz, KmodModuleFixture.Module + ".ko.xz"),
    ];

    private static Dictionary<string, byte[]> ReadTar(Stream stream)
    {
        var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using var reader = new TarReader(stream);
        while (reader.GetNextEntry() is { } e)
        {
            using var data = new MemoryStream();
            e.DataStream?.CopyTo(data);
            entries.Add(e.EntryType == TarEntryType.Directory ? e.Name + (e.Name.EndsWith('/') ? "" : "/") : e.Name, data.ToArray());
            Assert.Equal(0, e.Uid);
            Assert.Equal(0, e.Gid);
        }
        return entries;
    }

    private static byte[] Gunzip(byte[] gz)
    {
        using var input = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return output.ToArray();
    }

    private static string Sha(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    [Fact]
    public async Task The_same_inputs_give_the_same_archives_and_module_manifest_byte_for_byte()
    {
        using var temp = TestTree.Temp();
        var first = await new KmodImages(ProcessRunner.Instance, TinyBase(temp.Combine("base1"))).WriteAsync(temp.Combine("one"), KmodModuleFixture.Module, Repository, Inputs(), KmodModuleFixture.SourceDate);
        await Task.Delay(1100); // a wall-clock second later: no time but the source date may leak in
        var second = await new KmodImages(ProcessRunner.Instance, TinyBase(temp.Combine("base2"))).WriteAsync(temp.Combine("two"), KmodModuleFixture.Module, Repository, Inputs(), KmodModuleFixture.SourceDate);

        Assert.Equal(2, first.Count);
        foreach (var (a, b) in first.Zip(second))
        {
            Assert.Equal(File.ReadAllBytes(a.Archive), File.ReadAllBytes(b.Archive));
            Assert.Equal(a.ManifestDigest, b.ManifestDigest);
        }
        Assert.Equal(File.ReadAllBytes(temp.Combine("one", "kmm-module-kfunc-demo.yaml")), File.ReadAllBytes(temp.Combine("two", "kmm-module-kfunc-demo.yaml")));
        // Nothing half-written is left beside them.
        Assert.Equal(["kfunc-demo-6.1.0-57-amd64.oci.tar", "kfunc-demo-6.12.48+deb13-amd64.oci.tar", "kmm-module-kfunc-demo.yaml"],
            Directory.GetFiles(temp.Combine("one")).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        // Another source date is another image.
        var later = await new KmodImages(ProcessRunner.Instance, TinyBase(temp.Combine("base3"))).WriteAsync(temp.Combine("three"), KmodModuleFixture.Module, Repository, Inputs(), KmodModuleFixture.SourceDate.AddDays(1));
        Assert.NotEqual(first[0].ManifestDigest, later[0].ManifestDigest);
    }

    [Fact]
    public async Task The_oci_layout_is_well_formed_and_every_digest_and_size_matches_its_blob()
    {
        using var temp = TestTree.Temp();
        var baseLayer = TinyBase(temp.Combine("base"));
        var results = await new KmodImages(ProcessRunner.Instance, baseLayer).WriteAsync(temp.Combine("out"), KmodModuleFixture.Module, Repository, Inputs(), KmodModuleFixture.SourceDate);

        foreach (var (result, input) in results.Zip(Inputs()))
        {
            var tag = input.Kernel.Replace('+', '_');
            Assert.Equal($"{Repository}:{tag}", result.ImageReference);
            Assert.Equal(temp.Combine("out", $"kfunc-demo-{input.Kernel}.oci.tar"), result.Archive);

            Dictionary<string, byte[]> archive;
            using (var stream = File.OpenRead(result.Archive)) archive = ReadTar(stream);
            Assert.Equal(["blobs/", "blobs/sha256/", .. archive.Keys.Where(k => k.StartsWith("blobs/sha256/", StringComparison.Ordinal) && k.Length > 13), "index.json", "oci-layout"], archive.Keys);
            foreach (var (name, bytes) in archive.Where(e => e.Key.StartsWith("blobs/sha256/", StringComparison.Ordinal) && e.Key.Length > 13))
                Assert.Equal("sha256:" + name["blobs/sha256/".Length..], Sha(bytes));
            Assert.Equal("1.0.0", JsonDocument.Parse(archive["oci-layout"]).RootElement.GetProperty("imageLayoutVersion").GetString());
            byte[] Blob(JsonElement descriptor)
            {
                var blob = archive["blobs/sha256/" + descriptor.GetProperty("digest").GetString()!["sha256:".Length..]];
                Assert.Equal(blob.Length, descriptor.GetProperty("size").GetInt64());
                return blob;
            }

            var index = JsonDocument.Parse(archive["index.json"]).RootElement;
            Assert.Equal(2, index.GetProperty("schemaVersion").GetInt32());
            Assert.Equal("application/vnd.oci.image.index.v1+json", index.GetProperty("mediaType").GetString());
            var descriptor = Assert.Single(index.GetProperty("manifests").EnumerateArray());
            Assert.Equal("application/vnd.oci.image.manifest.v1+json", descriptor.GetProperty("mediaType").GetString());
            Assert.Equal(tag, descriptor.GetProperty("annotations").GetProperty("org.opencontainers.image.ref.name").GetString());
            Assert.Equal(result.ImageReference, descriptor.GetProperty("annotations").GetProperty("io.containerd.image.name").GetString());
            Assert.Contains("\"application/vnd.oci.image.manifest.v1+json\"", Encoding.UTF8.GetString(archive["index.json"]));
            Assert.Equal(result.ManifestDigest, descriptor.GetProperty("digest").GetString());

            var manifest = JsonDocument.Parse(Blob(descriptor)).RootElement;
            Assert.Equal(2, manifest.GetProperty("schemaVersion").GetInt32());
            Assert.Equal("application/vnd.oci.image.manifest.v1+json", manifest.GetProperty("mediaType").GetString());
            Assert.Equal("application/vnd.oci.image.config.v1+json", manifest.GetProperty("config").GetProperty("mediaType").GetString());
            var layers = manifest.GetProperty("layers").EnumerateArray().ToList();
            Assert.Equal(2, layers.Count);
            Assert.All(layers, l => Assert.Equal("application/vnd.oci.image.layer.v1.tar+gzip", l.GetProperty("mediaType").GetString()));
            Assert.Equal(baseLayer.Digest, layers[0].GetProperty("digest").GetString());

            var config = JsonDocument.Parse(Blob(manifest.GetProperty("config"))).RootElement;
            Assert.Equal("amd64", config.GetProperty("architecture").GetString());
            Assert.Equal("linux", config.GetProperty("os").GetString());
            Assert.Equal("2023-11-14T22:13:20Z", config.GetProperty("created").GetString());
            Assert.Equal(input.Kernel, config.GetProperty("config").GetProperty("Labels").GetProperty("kfuncforge.kernel").GetString());
            Assert.Equal(KmodModuleFixture.Module, config.GetProperty("config").GetProperty("Labels").GetProperty("kfuncforge.module").GetString());
            Assert.Equal("layers", config.GetProperty("rootfs").GetProperty("type").GetString());
            var plainLayers = layers.Select(l => Gunzip(Blob(l))).ToList();
            Assert.Equal(plainLayers.Select(Sha), config.GetProperty("rootfs").GetProperty("diff_ids").EnumerateArray().Select(d => d.GetString()));
            Assert.Equal(2, config.GetProperty("history").GetArrayLength());

            // The base: /dev itself, no device nodes.
            var baseFiles = ReadTar(new MemoryStream(plainLayers[0]));
            Assert.Equal(["./", "./dev/", "./etc/", "./etc/os-release"], baseFiles.Keys);

            // The module layer: names without "./" (what KMM's preflight matches), the signed module as given, depmod's index.
            var dir = $"opt/lib/modules/{input.Kernel}";
            var files = ReadTar(new MemoryStream(plainLayers[1]));
            Assert.Equal(["opt/", "opt/lib/", "opt/lib/modules/", dir + "/"], files.Keys.Take(4));
            Assert.Equal(File.ReadAllBytes(input.ModulePath), files[$"{dir}/{input.InstallName}"]);
            Assert.Contains(input.InstallName + ":", Encoding.UTF8.GetString(files[$"{dir}/modules.dep"]).Split('\n'));
            foreach (var index_ in new[] { "modules.dep.bin", "modules.alias", "modules.symbols" }) Assert.Contains($"{dir}/{index_}", files.Keys);
            Assert.Equal(files.Keys.Skip(4).Select(k => "/" + k), result.Files);
        }
    }

    [Fact]
    public async Task The_Module_manifest_maps_each_kernel_literally_to_its_image_on_amd64_nodes()
    {
        using var temp = TestTree.Temp();
        var results = await new KmodImages(ProcessRunner.Instance, TinyBase(temp.Combine("base"))).WriteAsync(temp.Combine("out"), KmodModuleFixture.Module, Repository, Inputs(), KmodModuleFixture.SourceDate);

        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(temp.Combine("out", "kmm-module-kfunc-demo.yaml"))));
        var root = (YamlMappingNode)Assert.Single(yaml.Documents).RootNode;
        string Scalar(YamlNode node, params string[] path) => ((YamlScalarNode)path.Aggregate(node, (n, key) => ((YamlMappingNode)n)[key])).Value!;
        Assert.Equal("kmm.sigs.x-k8s.io/v1beta1", Scalar(root, "apiVersion"));
        Assert.Equal("Module", Scalar(root, "kind"));
        Assert.Equal("kfunc-demo", Scalar(root, "metadata", "name"));
        Assert.Equal(["moduleLoader", "selector"], ((YamlMappingNode)root["spec"]).Children.Keys.Select(k => ((YamlScalarNode)k).Value));
        var container = ((YamlMappingNode)root["spec"])["moduleLoader"]["container"];
        Assert.Equal("kfunc_demo", Scalar(container, "modprobe", "moduleName"));
        Assert.Equal("/opt", Scalar(container, "modprobe", "dirName"));
        var mappings = ((YamlSequenceNode)container["kernelMappings"]).Children.Select(m => (Scalar(m, "literal"), Scalar(m, "containerImage"))).ToList();
        Assert.Equal(results.Select(r => (r.Kernel, r.ImageReference)), mappings);
        Assert.Equal($"{Repository}:6.12.48_deb13-amd64", mappings[1].Item2);
        Assert.Equal("amd64", Scalar(root, "spec", "selector", "kubernetes.io/arch"));
    }

    [Fact]
    public async Task Bad_input_is_refused_with_every_problem_and_nothing_is_written()
    {
        using var temp = TestTree.Temp();
        var images = new KmodImages(ProcessRunner.Instance, TinyBase(temp.Combine("base")));
        var notElf = temp.Combine("not-elf.ko");
        File.WriteAllText(notElf, "#!/bin/sh\n");
        var e = await Assert.ThrowsAsync<InputException>(() => images.WriteAsync(temp.Combine("out"), KmodModuleFixture.Module, "Registry.example.com/x:latest",
        [
            new("6.1.0-57-amd64\"\n", f.Signed, "kfunc_demo.ko"),
            new("6.1.0-58-amd64", f.Signed, "other.ko"),
            new("6.1.0-59-amd64", notElf, "kfunc_demo.ko"),
            new("6.1.0-60-amd64", f.Signed, "kfunc_demo.ko.xz"),
            new("6.1.0-61+x", f.Signed, "kfunc_demo.ko"),
            new("6.1.0-61_x", f.Signed, "kfunc_demo.ko"),
            new("6.1.0-62-amd64", f.SignedXz, "kfunc_demo.ko.gz"),
        ], KmodModuleFixture.SourceDate));
        Assert.Equal(["imageRepository", "kernels[0].kernel", "kernels[1]", "kernels[2]", "kernels[3]", "kernels[5].kernel", "kernels[6]"], e.Problems.Select(p => p.Key));
        Assert.Contains("not an ELF object", e.Problems[3].Message);
        Assert.Contains("not xz-compressed", e.Problems[4].Message);
        Assert.Contains("same image tag '6.1.0-61_x'", e.Problems[5].Message);
        Assert.False(Directory.Exists(temp.Combine("out")));

        var module = await Assert.ThrowsAsync<InputException>(() => images.WriteAsync(temp.Combine("out"), "kfunc-demo", Repository, [new(Bookworm, f.Signed, "kfunc-demo.ko")], KmodModuleFixture.SourceDate));
        Assert.Equal("module", module.Problems[0].Key);
    }

    [Fact]
    public void YAML_scalars_are_double_quoted_with_every_special_character_escaped()
    {
        Assert.Equal("\"6.1.0-57-amd64\"", KmodImages.Quote("6.1.0-57-amd64"));
        Assert.Equal("\"a\\\"b\\\\c\\nd\\u0000e\\u2028: #f\"", KmodImages.Quote("a\"b\\c\nd\0e\u2028: #f"));
        var yaml = new YamlStream();
        yaml.Load(new StringReader("v: " + KmodImages.Quote("x\"y\\z\n\t\u0085: - [q]")));
        Assert.Equal("x\"y\\z\n\t\u0085: - [q]", ((YamlScalarNode)((YamlMappingNode)yaml.Documents[0].RootNode)["v"]).Value);
        Assert.Equal("6.12.48_deb13-amd64", KmodImages.Tag("6.12.48+deb13-amd64"));
    }

    /// <summary>
    /// The real thing: the base made by mmdebstrap (essential + kmod, cached), the archive loaded into podman (no
    /// registry), its files listed, depmod run inside it, modprobe resolving the module from /opt as KMM's worker
    /// does (-d /opt), cp present; then the image is removed.
    /// </summary>
    [IntegrationFactNeeding("podman", "mmdebstrap", "depmod")]
    public async Task Podman_loads_the_image_lists_the_module_runs_depmod_and_resolves_it_with_modprobe()
    {
        var engine = EngineRunner.Podman(ProcessRunner.Instance);
        var probe = await engine.ProbeAsync();
        Assert.True(probe.Available, probe.Reason);
        var cacheRoot = Environment.GetEnvironmentVariable("KFUNCFORGE_TEST_CACHE") is { Length: > 0 } c ? c : CacheDirectory.DefaultRoot();
        var log = new List<string>();
        var baseLayer = await new KmodBaseBuilder(ProcessRunner.Instance, new CacheDirectory(cacheRoot), AptMirrors.FromHost()).EnsureAsync(log: log.Add);

        using var temp = TestTree.Temp();
        var result = Assert.Single(await new KmodImages(ProcessRunner.Instance, baseLayer).WriteAsync(temp.Path, KmodModuleFixture.Module, Repository,
            [new(Trixie, f.SignedXz, "kfunc_demo.ko.xz")], KmodModuleFixture.SourceDate));
        string configDigest;
        using (var archive = File.OpenRead(result.Archive))
        {
            var entries = ReadTar(archive);
            var manifest = JsonDocument.Parse(entries["blobs/sha256/" + result.ManifestDigest["sha256:".Length..]]).RootElement;
            configDigest = manifest.GetProperty("config").GetProperty("digest").GetString()!;
        }
        // podman names an image by its config's digest.
        var image = configDigest["sha256:".Length..];

        ProcessResult Podman(params string[] args) => HostTools.Run(new ProcessSpec("podman", [.. engine.GlobalFlags, .. args]) { Timeout = TimeSpan.FromMinutes(5) });
        ProcessResult Run(params string[] argv) => Podman(["run", "--rm", "--network=none", .. engine.RunFlags, image, .. argv]);
        try
        {
            var load = Podman("load", "-i", result.Archive);
            Assert.True(load.Succeeded, load.Stdout + load.Stderr);
            Assert.True(Podman("image", "exists", image).Succeeded, $"podman load did not give image {image}: {load.Stdout}{load.Stderr}");
            // Named by the index's io.containerd.image.name, as the Module refers to it.
            Assert.Contains(result.ImageReference, load.Stdout + load.Stderr);

            var dir = $"/opt/lib/modules/{Trixie}";
            var ls = Run("ls", "-R", dir);
            Assert.True(ls.Succeeded, ls.Stderr);
            var listed = ls.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var file in result.Files) Assert.Contains(Path.GetFileName(file), listed);
            Assert.Contains("modules.dep", listed);

            var depmod = Run("depmod", "-b", "/opt", Trixie);
            Assert.True(depmod.Succeeded, $"depmod in the image: exit {depmod.ExitCode}: {depmod.Stderr}");

            // What KMM's worker runs (modprobe -d <dirName> <moduleName>), without loading anything.
            var modprobe = Run("modprobe", "--show-depends", "-d", "/opt", "-S", Trixie, KmodModuleFixture.Module);
            Assert.True(modprobe.Succeeded, modprobe.Stderr);
            Assert.Contains($"insmod {dir}/kfunc_demo.ko.xz", modprobe.Stdout);

            // KMM copies the files out of the image with the image's own cp.
            var cp = Run("cp", "-R", dir, "/tmp/copy");
            Assert.True(cp.Succeeded, cp.Stderr);
        }
        finally
        {
            Podman("rmi", "--force", image);
        }
    }
}
