using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using KfuncForge.Caching;
using KfuncForge.Containers;
using KfuncForge.Diagnostics;
using KfuncForge.Processes;

namespace KfuncForge.Packaging;

// What Kubernetes' Kernel Module Management (KMM) asks of a kmod image and of a Module, as its documentation and
// code say (kubernetes-sigs/kernel-module-management, read 2026-12):
// - docs/mkdocs/documentation/kmod_image.md (https://kmm.sigs.k8s.io/documentation/kmod_image/): a kmod image is a
//   standard OCI image with the .ko files under <prefix>/lib/modules/<kernel version>/, prefix /opt by default (the
//   Module's spec.moduleLoader.container.modprobe.dirName); depmod -b /opt <kernel version> is recommended at the end
//   of the build (modprobe needs modules.dep); and the image must hold a `cp` binary, because the worker Pod copies
//   the files out of it (pull request kubernetes-sigs/kernel-module-management#1119, 2025, for KMM 2.4; the OpenShift
//   docs say the same: openshift/openshift-docs#95119). No other binary is needed: the worker's own image runs
//   modprobe (-d <dirName>) on the copy. Older KMM (the ModuleLoader DaemonSet) ran modprobe and sleep from the
//   image itself, which a Debian base with kmod also has.
// - KMM's preflight check (internal/preflight, registry.VerifyModuleExists) looks for the file
//   <dirName>/lib/modules/<kernel>/<moduleName>.ko in a layer, its tar name without a leading '/' or "./": so the
//   module sits directly in that folder (not under updates/), and only an uncompressed <module>.ko passes preflight
//   (a .ko.xz or .ko.zst still loads through modprobe where the worker's kmod reads that compression).
// - docs/mkdocs/documentation/deploy_kmod.md and api/v1beta1/module_types.go: apiVersion kmm.sigs.x-k8s.io/v1beta1,
//   kind Module; spec.moduleLoader.container.modprobe.moduleName (and dirName, default /opt);
//   spec.moduleLoader.container.kernelMappings (at least one) of literal or regexp with containerImage;
//   spec.selector (required, a node label map); spec.imageRepoSecret optional (a pull secret's name, left to the
//   user). metadata.name is a Kubernetes object name (DNS subdomain: lower case, digits, '-', '.').

/// <summary>One kernel's image input: the signed module file (.ko, .ko.xz or .ko.zst) and its file name in the image.</summary>
public sealed record KmodImageInput(string Kernel, string ModulePath, string InstallName);

/// <summary>One written image: its oci-archive, the reference the Module names, the manifest's digest and the files under /opt.</summary>
public sealed record KmodImageResult(string Kernel, string Archive, string ImageReference, string ManifestDigest, IReadOnlyList<string> Files);

/// <summary>The image's first layer (the userland: kmod's depmod and modprobe, cp, sh), gzip'd, with its digests.</summary>
/// <param name="Path">The layer blob (a gzip'd tar).</param>
/// <param name="Digest">sha256:… of the blob (the compressed bytes).</param>
/// <param name="DiffId">sha256:… of the uncompressed tar (the config's rootfs.diff_ids).</param>
/// <param name="CreatedBy">What made it, for the image's history.</param>
public sealed record KmodBaseLayer(string Path, string Digest, string DiffId, long Size, string CreatedBy)
{
    /// <summary>
    /// Turns a root filesystem tar into a layer blob at <paramref name="layerPath"/>: the entries in their order, minus
    /// what is under /dev (device nodes belong to the runtime, and a rootless engine cannot create them), gzip'd
    /// without a name or timestamp. Written beside and renamed into place.
    /// </summary>
    public static KmodBaseLayer FromRootfsTar(string rootfsTar, string layerPath, string createdBy)
    {
        var temp = layerPath + $".tmp-{Guid.NewGuid():N}";
        try
        {
            string diffId, digest;
            using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            using (var compressedHash = new HashingStream(output))
            {
                using (var gzip = new GZipStream(compressedHash, CompressionLevel.SmallestSize, leaveOpen: true))
                using (var plainHash = new HashingStream(gzip))
                {
                    using (var input = File.OpenRead(rootfsTar))
                    using (var reader = new TarReader(input))
                    using (var writer = new TarWriter(plainHash, TarEntryFormat.Gnu, leaveOpen: true))
                        while (reader.GetNextEntry() is { } entry)
                            if (!UnderDev(entry.Name)) writer.WriteEntry(entry);
                    diffId = plainHash.Digest();
                }
                digest = compressedHash.Digest();
            }
            File.Move(temp, layerPath, overwrite: true);
            return new KmodBaseLayer(layerPath, digest, diffId, new FileInfo(layerPath).Length, createdBy);
        }
        finally
        {
            CacheDirectory.DeleteQuietly(temp);
        }
    }

    private static bool UnderDev(string name)
    {
        var n = name.StartsWith("./", StringComparison.Ordinal) ? name[2..] : name.TrimStart('/');
        return n.StartsWith("dev/", StringComparison.Ordinal) && n.Length > "dev/".Length;
    }

    /// <summary>A write-through stream that hashes (SHA-256) what passes it.</summary>
    private sealed class HashingStream(Stream inner) : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public string Digest() => "sha256:" + Convert.ToHexStringLower(_hash.GetCurrentHash());

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _hash.AppendData(buffer);
            inner.Write(buffer);
        }

        public override void Flush() => inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) _hash.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>
/// The base layer of every kmod image: a minimal Debian root made by mmdebstrap (the Essential:yes set plus kmod,
/// merged /usr, no docs, man pages or locales; about 60 MB unpacked, 22 MB gzip'd for bookworm), from the host's
/// mirrors (<see cref="AptMirrors"/>), with SOURCE_DATE_EPOCH=0 so it is reproducible for the same archive content.
/// Built once per recipe under &lt;cache&gt;/kmod-base/&lt;suite&gt;-&lt;hash&gt;/ (under a lock, in a staging folder renamed
/// into place), so every image of every kernel and module shares the same base layer digest: pushed and pulled once.
/// The essential set (rather than only kmod's libraries) keeps dpkg's status, so image scanners see the packages.
/// </summary>
public sealed class KmodBaseBuilder(IProcessRunner runner, CacheDirectory cache, AptMirrors mirrors)
{
    /// <summary>Bump when the way the base is made changes, so an old one is not reused.</summary>
    public const int RecipeVersion = 1;

    public const string DefaultSuite = "bookworm";
    public const string Architecture = "amd64";

    /// <summary>mmdebstrap's own hooks that set up merged /usr (and install usr-is-merged rather than usrmerge, which pulls in perl).</summary>
    public const string MergedUsrHooks = "/usr/share/mmdebstrap/hooks/merged-usr";

    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(30);

    private static readonly string[] Excluded = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*"];

    public string Root => Path.Combine(cache.Root, "kmod-base");

    /// <summary>Everything that decides the base's content, as canonical text; its hash names the cache entry.</summary>
    public string RecipeText(string suite)
    {
        CheckSuite(suite);
        var sb = new StringBuilder();
        sb.Append("recipe-version: ").Append(RecipeVersion).Append('\n');
        foreach (var arg in MmdebstrapCommand(suite, "TARGET").Arguments) sb.Append("arg: ").Append(arg).Append('\n');
        sb.Append("SOURCE_DATE_EPOCH: 0\n");
        return sb.ToString();
    }

    public string EntryDir(string suite) => Path.Combine(Root, $"{suite}-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(RecipeText(suite))))[..16]}");

    /// <summary>The mmdebstrap argv (pure): essential + kmod, merged /usr, amd64, a tar with the host-specific files removed.</summary>
    public ProcessSpec MmdebstrapCommand(string suite, string targetTar)
    {
        CheckSuite(suite);
        var args = new List<string>
        {
            "--variant=essential",
            "--include=kmod",
            "--architectures=" + Architecture,
            "--format=tar",
            "--hook-dir=" + MergedUsrHooks,
            "--aptopt=Acquire::Retries \"3\"",
        };
        args.AddRange(Excluded.Select(p => "--dpkgopt=path-exclude=" + p));
        // mmdebstrap copies the host's resolv.conf and hostname in (its manual: remove them for reproducible output);
        // a container runtime provides both anyway. A fixed command, not built from input.
        args.Add("--customize-hook=rm -f \"$1/etc/resolv.conf\" \"$1/etc/hostname\"");
        args.Add(suite);
        args.Add(targetTar);
        args.AddRange(mirrors.SourceLines(suite, [suite + "-updates", suite + "-security"], ["main"]));
        return new ProcessSpec("mmdebstrap", args)
        {
            Timeout = Timeout,
            Environment = new Dictionary<string, string?> { ["SOURCE_DATE_EPOCH"] = "0" },
        };
    }

    /// <summary>The cached base layer of a suite, made first when missing (about 30 s with a near mirror; then instant).</summary>
    public async Task<KmodBaseLayer> EnsureAsync(string suite = DefaultSuite, Action<string>? log = null, CancellationToken cancellation = default)
    {
        var entry = EntryDir(suite);
        if (Read(entry) is { } ready) return ready;
        cache.EnsureWritable();
        using var held = FileLock.Acquire(cache.LockFile("kmod-base-" + Path.GetFileName(entry)), Timeout, $"building the {suite} kmod image base", log);
        if (Read(entry) is { } built) return built;
        if (!Directory.Exists(MergedUsrHooks))
            throw new StageException($"mmdebstrap's merged-/usr hooks are missing ({MergedUsrHooks}); install the 'mmdebstrap' package (1.0 or later)");
        CacheDirectory.SweepStaging(Root, TimeSpan.FromHours(2));
        var staging = CacheDirectory.NewStaging(Root, Path.GetFileName(entry));
        try
        {
            log?.Invoke($"building the kmod image base ({suite}: essential + kmod) with mmdebstrap (once per recipe; cached in {entry})");
            var rootfs = Path.Combine(staging, "rootfs.tar");
            var result = await runner.RunAsync(MmdebstrapCommand(suite, rootfs), cancellation).ConfigureAwait(false);
            File.WriteAllText(Path.Combine(staging, "mmdebstrap.log"), result.LogText());
            if (!result.Succeeded)
                throw new StageException($"mmdebstrap could not build the kmod image base ({suite}):\n{CommandLine.Tail(result.Stderr, 15)}");
            var layer = KmodBaseLayer.FromRootfsTar(rootfs, Path.Combine(staging, LayerFile), $"mmdebstrap --variant=essential --include=kmod {suite} (KfuncForge kmod base, recipe {RecipeVersion})");
            File.Delete(rootfs);
            File.WriteAllText(Path.Combine(staging, "layer.json"), JsonSerializer.Serialize(new LayerRecord(layer.Digest, layer.DiffId, layer.Size, layer.CreatedBy)));
            File.WriteAllText(Path.Combine(staging, "recipe.txt"), RecipeText(suite));
            CacheDirectory.Publish(staging, entry);
            return Read(entry) ?? throw new StageException($"the kmod image base in {entry} is incomplete after it was built");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CacheErrors.Describe(e, cache.Root, "building the kmod image base") ?? new StageException($"building the kmod image base failed: {e.Message}");
        }
        finally
        {
            CacheDirectory.DeleteQuietly(staging);
        }
    }

    private const string LayerFile = "layer.tar.gz";

    private sealed record LayerRecord(string Digest, string DiffId, long Size, string CreatedBy);

    private static KmodBaseLayer? Read(string entry)
    {
        var record = Path.Combine(entry, "layer.json");
        var layer = Path.Combine(entry, LayerFile);
        if (!File.Exists(Path.Combine(entry, "recipe.txt")) || !File.Exists(record) || !File.Exists(layer)) return null;
        var r = JsonSerializer.Deserialize<LayerRecord>(File.ReadAllText(record));
        return r is null || new FileInfo(layer).Length != r.Size ? null : new KmodBaseLayer(layer, r.Digest, r.DiffId, r.Size, r.CreatedBy);
    }

    private static void CheckSuite(string suite)
    {
        if (!Definitions.Names.SimpleId().IsMatch(suite))
            throw new InputException(new Problem("kmod image", 0, 0, "suite", $"'{suite}' is not a Debian suite name (lower-case letters, digits and '-')"));
    }
}

/// <summary>
/// Kubernetes KMM kmod images, one per kernel, written as oci-archives (an OCI image layout in a tar) without any
/// registry or container engine, and the KMM Module that maps each kernel to its image. Each image is the shared
/// base layer (<see cref="KmodBaseBuilder"/>) plus one layer with /opt/lib/modules/&lt;kernel&gt;/&lt;module file&gt; and
/// the index the host's depmod writes for it (depmod -b &lt;staging&gt;/opt &lt;kernel&gt;). Every tar entry is owned by
/// root with the source date as its time, entries sorted, gzip without name or time, JSON written in one fixed
/// order: the same inputs give the same bytes, hence the same digests. Push one with
/// `skopeo copy oci-archive:&lt;file&gt; docker://&lt;repository&gt;:&lt;tag&gt;`.
/// </summary>
public sealed partial class KmodImages(IProcessRunner runner, KmodBaseLayer baseLayer)
{
    public const string Prefix = "/opt";
    public const string Architecture = "amd64";
    public const string ManifestMediaType = "application/vnd.oci.image.manifest.v1+json";
    public const string IndexMediaType = "application/vnd.oci.image.index.v1+json";
    public const string ConfigMediaType = "application/vnd.oci.image.config.v1+json";
    public const string LayerMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    /// <summary>containerd's (and buildkit's) annotation for the full name: `ctr images import` and `podman load` name the image by it.</summary>
    public const string ContainerdNameAnnotation = "io.containerd.image.name";
    public const string ImagePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>The UTS release field holds 64 characters.</summary>
    public const int MaxKernelRelease = 64;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._+-]*$")]
    private static partial Regex KernelShape();

    /// <summary>An OCI tag (distribution spec): [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.</summary>
    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex TagShape();

    /// <summary>A repository as distribution/reference's grammar has it: an optional host[:port]/, then lower-case path components.</summary>
    [GeneratedRegex(@"^(?:(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryShape();

    /// <summary>A Kubernetes object name (RFC 1123 subdomain).</summary>
    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex ObjectName();

    private const string Where = "kmod image";

    /// <summary>The image tag of a kernel release: the release itself, '+' (not allowed in a tag) turned into '_'.</summary>
    public static string Tag(string kernel)
    {
        CheckKernel(kernel, "kernel");
        var tag = kernel.Replace('+', '_');
        return TagShape().IsMatch(tag) ? tag
            : throw new InputException(new Problem(Where, 0, 0, "kernel", $"'{kernel}' gives the tag '{tag}', which is not an OCI tag ([A-Za-z0-9_][A-Za-z0-9._-], at most 128)"));
    }

    /// <summary>The Module's name and the files' stem: the module name with '_' turned into '-' (Kubernetes names take no '_').</summary>
    public static string Dashed(string module) => module.Replace('_', '-');

    public static string ArchiveName(string module, string kernel) => $"{Dashed(module)}-{kernel}.oci.tar";

    public static string ModuleManifestName(string module) => $"kmm-module-{Dashed(module)}.yaml";

    /// <summary>Writes one oci-archive per kernel and the KMM Module for them all; refuses bad input before writing anything.</summary>
    public async Task<IReadOnlyList<KmodImageResult>> WriteAsync(string outDir, string module, string imageRepository, IReadOnlyList<KmodImageInput> kernels,
        DateTimeOffset sourceDate, CancellationToken cancellation = default)
    {
        Check(module, imageRepository, kernels, sourceDate);
        Directory.CreateDirectory(outDir);
        var results = new List<KmodImageResult>();
        foreach (var input in kernels)
            results.Add(await WriteOneAsync(outDir, module, imageRepository, input, sourceDate, cancellation).ConfigureAwait(false));
        WriteAtomically(Path.Combine(outDir, ModuleManifestName(module)), Encoding.UTF8.GetBytes(ModuleManifest(module, results.Select(r => (r.Kernel, r.ImageReference)).ToList())));
        return results;
    }

    /// <summary>The KMM Module (YAML, every value a double-quoted scalar): one literal kernel mapping per image, amd64 nodes.</summary>
    public static string ModuleManifest(string module, IReadOnlyList<(string Kernel, string Image)> mappings)
    {
        var sb = new StringBuilder();
        sb.Append("# KMM Module written by KfuncForge: one kmod image per kernel (docs: https://kmm.sigs.k8s.io/documentation/deploy_kmod/).\n");
        sb.Append("# Push each image first: skopeo copy oci-archive:<module>-<kernel>.oci.tar docker://<containerImage>\n");
        sb.Append("apiVersion: kmm.sigs.x-k8s.io/v1beta1\n");
        sb.Append("kind: Module\n");
        sb.Append("metadata:\n");
        sb.Append("  name: ").Append(Quote(Dashed(module))).Append('\n');
        sb.Append("spec:\n");
        sb.Append("  moduleLoader:\n");
        sb.Append("    container:\n");
        sb.Append("      modprobe:\n");
        sb.Append("        moduleName: ").Append(Quote(module)).Append('\n');
        sb.Append("        dirName: ").Append(Quote(Prefix)).Append('\n');
        sb.Append("      kernelMappings:\n");
        foreach (var (kernel, image) in mappings)
        {
            sb.Append("        - literal: ").Append(Quote(kernel)).Append('\n');
            sb.Append("          containerImage: ").Append(Quote(image)).Append('\n');
        }
        sb.Append("  selector:\n");
        sb.Append("    kubernetes.io/arch: ").Append(Quote(Architecture)).Append('\n');
        return sb.ToString();
    }

    /// <summary>A YAML double-quoted scalar: backslash, quote and every control or line-breaking character escaped.</summary>
    public static string Quote(string value)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in value)
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '"': sb.Append("\\\""); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\r': sb.Append("\\r"); break;
                case < ' ' or '\u007f' or '\u0085' or '\u2028' or '\u2029' or '\ufeff':
                    sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
                default:
                    if (char.IsSurrogate(c) || (c >= '\u0080' && c <= '\u009f')) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        return sb.Append('"').ToString();
    }

    private static void CheckKernel(string kernel, string key)
    {
        if (kernel.Length == 0 || kernel.Length > MaxKernelRelease || !KernelShape().IsMatch(kernel))
            throw new InputException(new Problem(Where, 0, 0, key, $"'{Clip(kernel)}' is not a kernel release (letters, digits, '.', '_', '+', '-'; at most {MaxKernelRelease})"));
    }

    private static void Check(string module, string imageRepository, IReadOnlyList<KmodImageInput> kernels, DateTimeOffset sourceDate)
    {
        var problems = new List<Problem>();
        if (Definitions.Names.ModuleNameProblem(module) is { } bad) problems.Add(new Problem(Where, 0, 0, "module", bad));
        else if (!ObjectName().IsMatch(Dashed(module))) problems.Add(new Problem(Where, 0, 0, "module", $"'{Dashed(module)}' is not a Kubernetes object name"));
        if (imageRepository.Length > 255 || !RepositoryShape().IsMatch(imageRepository))
            problems.Add(new Problem(Where, 0, 0, "imageRepository", $"'{Clip(imageRepository)}' is not an image repository ([host[:port]/]lower-case path components, no tag)"));
        if (sourceDate < DateTimeOffset.UnixEpoch) problems.Add(new Problem(Where, 0, 0, "sourceDate", "is before 1970"));
        if (kernels.Count == 0) problems.Add(new Problem(Where, 0, 0, "kernels", "no kernel to make an image for"));
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < kernels.Count; i++)
        {
            var k = kernels[i];
            var key = $"kernels[{i}]";
            string tag;
            try
            {
                tag = Tag(k.Kernel);
            }
            catch (InputException e)
            {
                problems.AddRange(e.Problems.Select(p => p with { Key = key + ".kernel" }));
                continue;
            }
            if (tags.TryGetValue(tag, out var other))
                problems.Add(new Problem(Where, 0, 0, key + ".kernel", $"'{k.Kernel}' gives the same image tag '{tag}' as '{other}'"));
            else tags[tag] = k.Kernel;
            if (ModuleFileProblem(module, k) is { } why) problems.Add(new Problem(Where, 0, 0, key, why));
        }
        if (problems.Count > 0) throw new InputException(problems);
    }

    /// <summary>The install name must be &lt;module&gt;.ko[.xz|.zst] (what modprobe &lt;module&gt; finds), and the file's bytes what the name says.</summary>
    private static string? ModuleFileProblem(string module, KmodImageInput k)
    {
        var suffix = k.InstallName.StartsWith(module + ".ko", StringComparison.Ordinal) ? k.InstallName[(module.Length + 3)..] : null;
        if (suffix is not ("" or ".xz" or ".zst"))
            return $"install name '{Clip(k.InstallName)}' must be {module}.ko, {module}.ko.xz or {module}.ko.zst (modprobe {module} looks for that file; Debian's kmod reads xz and zstd, not gzip)";
        if (!File.Exists(k.ModulePath)) return $"module file {k.ModulePath} does not exist";
        Span<byte> head = stackalloc byte[6];
        int read;
        using (var f = File.OpenRead(k.ModulePath)) read = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        ReadOnlySpan<byte> magic = suffix switch
        {
            ".xz" => [0xFD, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0x00],
            ".zst" => [0x28, 0xB5, 0x2F, 0xFD],
            _ => [0x7F, (byte)'E', (byte)'L', (byte)'F'],
        };
        return read >= magic.Length && head[..magic.Length].SequenceEqual(magic) ? null
            : $"module file {k.ModulePath} is not {(suffix.Length == 0 ? "an ELF object" : suffix[1..] + "-compressed")}, as the install name {k.InstallName} says";
    }

    private async Task<KmodImageResult> WriteOneAsync(string outDir, string module, string imageRepository, KmodImageInput input, DateTimeOffset sourceDate, CancellationToken cancellation)
    {
        var tag = Tag(input.Kernel);
        var modulesDir = $"{Prefix.TrimStart('/')}/lib/modules/{input.Kernel}";
        var stage = Directory.CreateTempSubdirectory("kfuncforge-kmod-").FullName;
        try
        {
            var opt = Path.Combine(stage, Prefix.TrimStart('/'));
            var dir = Path.Combine(opt, "lib", "modules", input.Kernel);
            Directory.CreateDirectory(dir);
            File.Copy(input.ModulePath, Path.Combine(dir, input.InstallName));
            var depmod = await runner.CheckedAsync(new ProcessSpec("depmod", ["-b", opt, input.Kernel]) { Timeout = TimeSpan.FromMinutes(2) }, cancellation).ConfigureAwait(false);
            var dep = Path.Combine(dir, "modules.dep");
            if (!File.Exists(dep) || !File.ReadLines(dep).Any(l => l.StartsWith(input.InstallName + ":", StringComparison.Ordinal)))
                throw new StageException($"depmod -b {opt} {input.Kernel} did not index {input.InstallName} (modules.dep {(File.Exists(dep) ? "lacks it" : "is missing")}):\n{CommandLine.Tail(depmod.Stderr, 8)}");

            var files = Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            var layerTar = LayerTar(modulesDir, files.Select(f => (f!, File.ReadAllBytes(Path.Combine(dir, f!)))).ToList(), sourceDate);
            var layer = StagedTree.Gzip(layerTar);
            var config = Config(module, input.Kernel, [baseLayer.DiffId, Sha256(layerTar)],
                [baseLayer.CreatedBy, $"KfuncForge: {input.InstallName} for {input.Kernel} in {Prefix}/lib/modules/{input.Kernel}/, then depmod -b {Prefix} {input.Kernel}"], sourceDate);
            var manifest = Manifest(Descriptor(ConfigMediaType, config), [(LayerMediaType, baseLayer.Digest, baseLayer.Size), Descriptor(LayerMediaType, layer)]);
            var manifestDigest = Sha256(manifest);
            var reference = $"{imageRepository}:{tag}";
            var index = Index(manifestDigest, manifest.Length, tag, reference);

            var archive = Path.Combine(outDir, ArchiveName(module, input.Kernel));
            var blobs = new SortedDictionary<string, Func<Stream>>(StringComparer.Ordinal)
            {
                [Blob(baseLayer.Digest)] = () => File.OpenRead(baseLayer.Path),
                [Blob(Sha256(layer))] = () => new MemoryStream(layer),
                [Blob(Sha256(config))] = () => new MemoryStream(config),
                [Blob(manifestDigest)] = () => new MemoryStream(manifest),
            };
            WriteArchive(archive, blobs, Encoding.UTF8.GetBytes(index), sourceDate);
            return new KmodImageResult(input.Kernel, archive, reference, manifestDigest, files.Select(f => $"/{modulesDir}/{f}").ToList());
        }
        finally
        {
            CacheDirectory.DeleteQuietly(stage);
        }
    }

    private static string Blob(string digest) => "blobs/sha256/" + digest["sha256:".Length..];

    /// <summary>The module layer: /opt, /opt/lib, /opt/lib/modules, the kernel's folder and its files; names without "./" (what KMM's preflight matches).</summary>
    private static byte[] LayerTar(string modulesDir, IReadOnlyList<(string Name, byte[] Content)> files, DateTimeOffset sourceDate)
    {
        using var output = new MemoryStream();
        using (var writer = new TarWriter(output, TarEntryFormat.Gnu, leaveOpen: true))
        {
            var parts = modulesDir.Split('/');
            for (var i = 1; i <= parts.Length; i++) writer.WriteEntry(Entry(TarEntryType.Directory, string.Join('/', parts[..i]) + "/", sourceDate, null));
            foreach (var (name, content) in files) writer.WriteEntry(Entry(TarEntryType.RegularFile, $"{modulesDir}/{name}", sourceDate, content));
        }
        return output.ToArray();
    }

    private static GnuTarEntry Entry(TarEntryType type, string name, DateTimeOffset time, byte[]? content)
    {
        var entry = new GnuTarEntry(type, name)
        {
            Mode = type == TarEntryType.Directory ? StagedTree.ExecutableMode : StagedTree.FileMode,
            Uid = 0,
            Gid = 0,
            UserName = "root",
            GroupName = "root",
            ModificationTime = time,
            AccessTime = time,
            ChangeTime = time,
        };
        if (content is not null) entry.DataStream = new MemoryStream(content);
        return entry;
    }

    /// <summary>The oci-archive: oci-layout, index.json and the blobs, sorted, written beside and renamed into place.</summary>
    private static void WriteArchive(string archive, SortedDictionary<string, Func<Stream>> blobs, byte[] index, DateTimeOffset sourceDate)
    {
        var entries = new SortedDictionary<string, Func<Stream>?>(StringComparer.Ordinal)
        {
            ["blobs/"] = null,
            ["blobs/sha256/"] = null,
            ["index.json"] = () => new MemoryStream(index),
            ["oci-layout"] = () => new MemoryStream("{\"imageLayoutVersion\":\"1.0.0\"}"u8.ToArray()),
        };
        foreach (var (name, open) in blobs) entries[name] = open;
        var temp = Path.Combine(Path.GetDirectoryName(archive)!, $".{Path.GetFileName(archive)}.tmp-{Guid.NewGuid():N}");
        try
        {
            using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            using (var writer = new TarWriter(output, TarEntryFormat.Gnu, leaveOpen: true))
                foreach (var (name, open) in entries)
                {
                    if (open is null)
                    {
                        writer.WriteEntry(Entry(TarEntryType.Directory, name, sourceDate, null));
                        continue;
                    }
                    using var data = open();
                    var entry = Entry(TarEntryType.RegularFile, name, sourceDate, null);
                    entry.DataStream = data;
                    writer.WriteEntry(entry);
                }
            File.Move(temp, archive, overwrite: true);
        }
        finally
        {
            CacheDirectory.DeleteQuietly(temp);
        }
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        var temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.tmp-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            CacheDirectory.DeleteQuietly(temp);
        }
    }

    private static (string MediaType, string Digest, long Size) Descriptor(string mediaType, byte[] blob) => (mediaType, Sha256(blob), blob.Length);

    public static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var output = new MemoryStream();
        // Relaxed: "+json" stays '+' rather than \u002B (both parse the same; this reads as the specs write it).
        using (var w = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping })) write(w);
        return output.ToArray();
    }

    private static void WriteDescriptor(Utf8JsonWriter w, (string MediaType, string Digest, long Size) d)
    {
        w.WriteStartObject();
        w.WriteString("mediaType", d.MediaType);
        w.WriteString("digest", d.Digest);
        w.WriteNumber("size", d.Size);
        w.WriteEndObject();
    }

    /// <summary>The image config: amd64/linux, PATH, labels naming kernel and module, one diff_id and history entry per layer.</summary>
    private static byte[] Config(string module, string kernel, IReadOnlyList<string> diffIds, IReadOnlyList<string> history, DateTimeOffset sourceDate)
    {
        var created = sourceDate.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        return Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("created", created);
            w.WriteString("architecture", Architecture);
            w.WriteString("os", "linux");
            w.WriteStartObject("config");
            w.WriteStartArray("Env");
            w.WriteStringValue(ImagePath);
            w.WriteEndArray();
            w.WriteStartObject("Labels");
            w.WriteString("kfuncforge.kernel", kernel);
            w.WriteString("kfuncforge.module", module);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteStartObject("rootfs");
            w.WriteString("type", "layers");
            w.WriteStartArray("diff_ids");
            foreach (var d in diffIds) w.WriteStringValue(d);
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteStartArray("history");
            foreach (var h in history)
            {
                w.WriteStartObject();
                w.WriteString("created", created);
                w.WriteString("created_by", h);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static byte[] Manifest((string, string, long) config, IReadOnlyList<(string, string, long)> layers) => Json(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("schemaVersion", 2);
        w.WriteString("mediaType", ManifestMediaType);
        w.WritePropertyName("config");
        WriteDescriptor(w, config);
        w.WriteStartArray("layers");
        foreach (var l in layers) WriteDescriptor(w, l);
        w.WriteEndArray();
        w.WriteEndObject();
    });

    /// <summary>
    /// index.json: the one manifest, its ref.name the tag (the image layout's convention, as buildkit writes it) and
    /// io.containerd.image.name the full reference (without it, podman load names the image localhost/&lt;tag&gt;:latest).
    /// </summary>
    private static string Index(string manifestDigest, long manifestSize, string tag, string reference) => Encoding.UTF8.GetString(Json(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("schemaVersion", 2);
        w.WriteString("mediaType", IndexMediaType);
        w.WriteStartArray("manifests");
        w.WriteStartObject();
        w.WriteString("mediaType", ManifestMediaType);
        w.WriteString("digest", manifestDigest);
        w.WriteNumber("size", manifestSize);
        w.WriteStartObject("annotations");
        w.WriteString(ContainerdNameAnnotation, reference);
        w.WriteString(RefNameAnnotation, tag);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
    }));

    private static string Clip(string s) => s.Length <= 80 ? s : s[..80] + "…";
}
