using KfuncForge.Processes;

namespace KfuncForge.Vm;

/// <summary>
/// Host-side tools of the VM stage: the guest agent (static C, compiled here), vmlinux.h from a kernel's
/// BTF, BPF objects (clang -target bpf) and an ELF vmlinux from a compressed image. All cached by content.
/// </summary>
public sealed class GuestTools(ContentCache cache, IProcessRunner runner)
{
    public const string AgentSourceFile = "kff-agent.c";

    private static readonly TimeSpan ToolTimeout = TimeSpan.FromMinutes(5);

    public ContentCache Cache { get; } = cache;

    /// <summary>The agent's C source as shipped inside the engine (build/guest-agent/kff-agent.c at build time).</summary>
    public static string EmbeddedAgentSource()
    {
        using var stream = typeof(GuestTools).Assembly.GetManifestResourceStream("KfuncForge.Vm." + AgentSourceFile)
            ?? throw new InvalidOperationException("the engine was built without the guest agent's source");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Compiles the guest agent statically against libbpf, libelf and zlib: the engine's embedded source,
    /// or kff-agent.c in <paramref name="sourceDir"/> when given (for agent development). The key covers the
    /// source, the compiler's version and the static libraries, so an update of any of them rebuilds it.
    /// </summary>
    public async Task<string> AgentAsync(string? sourceDir = null, CancellationToken cancellation = default)
    {
        string text;
        if (sourceDir is null) text = EmbeddedAgentSource();
        else
        {
            var file = Path.Combine(sourceDir, AgentSourceFile);
            if (!File.Exists(file)) throw new FileNotFoundException($"the guest agent's source is missing: {file}", file);
            text = await File.ReadAllTextAsync(file, cancellation).ConfigureAwait(false);
        }
        var gcc = await runner.CheckedAsync(new ProcessSpec("gcc", ["-dumpfullversion"]) { Timeout = ToolTimeout }, cancellation).ConfigureAwait(false);
        var libs = StaticLibraries.Select(l => File.Exists(l) ? Hashing.File(l) : "missing:" + l);
        var key = Hashing.Combine([Hashing.Text(text), gcc.Stdout.Trim(), .. libs, .. AgentFlags]);
        var dir = await Cache.GetOrCreateAsync("agent", key, async temp =>
        {
            var missing = StaticLibraries.Where(l => !File.Exists(l)).ToList();
            if (missing.Count > 0)
                throw new FileNotFoundException($"static libraries for the guest agent are missing: {string.Join(", ", missing)} (install libbpf-dev, libelf-dev, zlib1g-dev)");
            var source = Path.Combine(temp, AgentSourceFile);
            await File.WriteAllTextAsync(source, text, cancellation).ConfigureAwait(false);
            var output = Path.Combine(temp, "kff-agent");
            await runner.CheckedAsync(new ProcessSpec("gcc", [.. AgentFlags, "-o", output, source, "-lbpf", "-lelf", "-lz"]) { Timeout = ToolTimeout }, cancellation).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return Path.Combine(dir, "kff-agent");
    }

    private static readonly string[] AgentFlags = ["-O2", "-Wall", "-Wextra", "-Werror", "-static"];

    private static readonly string[] StaticLibraries =
    [
        "/usr/lib/x86_64-linux-gnu/libbpf.a",
        "/usr/lib/x86_64-linux-gnu/libelf.a",
        "/usr/lib/x86_64-linux-gnu/libz.a",
    ];

    /// <summary>An ELF vmlinux (with the kernel's .BTF) decompressed from a bzImage (xz, zstd or gzip payload).</summary>
    public async Task<string> VmlinuxAsync(string image, CancellationToken cancellation = default)
    {
        var key = Hashing.File(image);
        var dir = await Cache.GetOrCreateAsync("vmlinux", key, async temp =>
        {
            var bytes = await File.ReadAllBytesAsync(image, cancellation).ConfigureAwait(false);
            var output = Path.Combine(temp, "vmlinux");
            var tried = new List<string>();
            foreach (var (name, magic, argv) in Payloads)
            {
                for (var offset = bytes.AsSpan().IndexOf(magic); offset >= 0;)
                {
                    var spec = new ProcessSpec(argv[0], argv[1..]) { StdinFile = image, StdinOffset = offset, StdoutFile = output, Timeout = ToolTimeout };
                    var result = await runner.RunAsync(spec, cancellation).ConfigureAwait(false);
                    // Decompressors complain about the bytes after the payload; what counts is an ELF came out.
                    if (IsElf(output)) return;
                    tried.Add($"{name} at {offset}: {CommandLine.Tail(result.Stderr, 2)}");
                    var next = bytes.AsSpan(offset + 1).IndexOf(magic);
                    offset = next < 0 ? -1 : offset + 1 + next;
                    if (tried.Count > 8) break;
                }
            }
            throw new InvalidDataException($"no compressed ELF vmlinux found in {image} (tried: {(tried.Count == 0 ? "no xz, zstd or gzip payload" : string.Join("; ", tried))})");
        }).ConfigureAwait(false);
        return Path.Combine(dir, "vmlinux");
    }

    private static readonly (string Name, byte[] Magic, string[] Argv)[] Payloads =
    [
        ("zstd", [0x28, 0xB5, 0x2F, 0xFD], ["zstd", "-dcq"]),
        ("xz", [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], ["xz", "-dcq", "--single-stream"]),
        ("gzip", [0x1F, 0x8B, 0x08], ["gzip", "-dcq"]),
    ];

    private static bool IsElf(string path)
    {
        if (!File.Exists(path) || new FileInfo(path).Length < 1 << 20) return false;
        Span<byte> head = stackalloc byte[4];
        using var f = File.OpenRead(path);
        return f.Read(head) == 4 && head.SequenceEqual("\u007fELF"u8);
    }

    /// <summary>A folder holding vmlinux.h generated from the kernel's BTF (bpftool btf dump ... format c).</summary>
    public async Task<string> VmlinuxHeaderAsync(string btfFile, CancellationToken cancellation = default)
    {
        var key = Hashing.File(btfFile);
        return await Cache.GetOrCreateAsync("vmlinux-h", key, async temp =>
        {
            var spec = new ProcessSpec("bpftool", ["btf", "dump", "file", btfFile, "format", "c"]) { StdoutFile = Path.Combine(temp, "vmlinux.h"), Timeout = ToolTimeout };
            await runner.CheckedAsync(spec, cancellation).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Compiles one BPF C file with clang -target bpf. Include folders: the source's own folder, the
    /// given ones (vmlinux.h's folder first), then the multiarch system headers. The key covers the
    /// source, every header in those folders (except the system's), the defines and clang's version.
    /// </summary>
    public async Task<string> CompileBpfAsync(string source, IReadOnlyList<string> includeDirs, IReadOnlyDictionary<string, string>? defines = null, CancellationToken cancellation = default)
    {
        var clang = await ClangVersionAsync(cancellation).ConfigureAwait(false);
        var dirs = new[] { Path.GetDirectoryName(Path.GetFullPath(source))! }.Concat(includeDirs.Select(Path.GetFullPath)).Distinct(StringComparer.Ordinal).ToList();
        var defineArgs = (defines ?? new Dictionary<string, string>()).OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"-D{d.Key}={d.Value}").ToList();
        var headers = dirs.SelectMany(d => Directory.Exists(d) ? Directory.GetFiles(d, "*.h") : []).Order(StringComparer.Ordinal).Select(h => h + "=" + Hashing.File(h));
        var key = Hashing.Combine([Hashing.File(source), clang, .. defineArgs, .. headers, .. dirs]);
        var name = Path.GetFileNameWithoutExtension(source).Replace(".bpf", "", StringComparison.Ordinal) + ".bpf.o";
        var dir = await Cache.GetOrCreateAsync("bpf", key, async temp =>
        {
            var args = new List<string> { "-O2", "-g", "-Wall", "-target", "bpf", "-D__TARGET_ARCH_x86" };
            args.AddRange(defineArgs);
            foreach (var d in dirs) args.AddRange(["-I", d]);
            args.AddRange(["-I", "/usr/include/x86_64-linux-gnu", "-c", source, "-o", Path.Combine(temp, name)]);
            await runner.CheckedAsync(new ProcessSpec("clang", args) { Timeout = ToolTimeout }, cancellation).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return Path.Combine(dir, name);
    }

    /// <summary>A kernel module as the guest loads it: .ko.xz / .ko.zst / .ko.gz decompressed here (cached by content); a .ko as is.</summary>
    public async Task<string> ModuleFileAsync(string ko, CancellationToken cancellation = default)
    {
        string[]? tool = Path.GetExtension(ko) switch
        {
            ".xz" => ["xz", "-dc"],
            ".zst" => ["zstd", "-dcq"],
            ".gz" => ["gzip", "-dc"],
            _ => null,
        };
        if (tool is null) return ko;
        var key = Hashing.Combine([tool[0], Hashing.File(ko)]);
        var dir = await Cache.GetOrCreateAsync("modules", key, async temp =>
        {
            var spec = new ProcessSpec(tool[0], [tool[1], ko]) { StdoutFile = Path.Combine(temp, "module.ko"), Timeout = ToolTimeout };
            await runner.CheckedAsync(spec, cancellation).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return Path.Combine(dir, "module.ko");
    }

    private string? _clangVersion;

    private async Task<string> ClangVersionAsync(CancellationToken cancellation)
    {
        if (_clangVersion is not null) return _clangVersion;
        var r = await runner.CheckedAsync(new ProcessSpec("clang", ["--version"]) { Timeout = ToolTimeout }, cancellation).ConfigureAwait(false);
        return _clangVersion = r.Stdout.Split('\n')[0].Trim();
    }
}
