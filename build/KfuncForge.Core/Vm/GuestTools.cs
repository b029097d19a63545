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

    /// <summary>An ELF vmlinux (with the kernel's .BTF) decompressed from a bzImage, by the same extractor the build stage uses.</summary>
    public async Task<string> VmlinuxAsync(string image, CancellationToken cancellation = default)
    {
        var key = Hashing.File(image);
        var dir = await Cache.GetOrCreateAsync("vmlinux", key, async temp =>
        {
            try
            {
                await new Kernels.VmlinuxExtractor(runner).ExtractAsync(image, Path.Combine(temp, "vmlinux"), cancellation).ConfigureAwait(false);
            }
            catch (Diagnostics.StageException e)
            {
                throw new InvalidDataException(e.Message);
            }
        }).ConfigureAwait(false);
        return Path.Combine(dir, "vmlinux");
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
    /// source, every header in those folders (except the system's), the defines, a forced include (clang -include,
    /// read before the source) and clang's version.
    /// </summary>
    public async Task<string> CompileBpfAsync(string source, IReadOnlyList<string> includeDirs, IReadOnlyDictionary<string, string>? defines = null, CancellationToken cancellation = default,
        string? forcedInclude = null)
    {
        var clang = await ClangVersionAsync(cancellation).ConfigureAwait(false);
        var dirs = new[] { Path.GetDirectoryName(Path.GetFullPath(source))! }.Concat(includeDirs.Select(Path.GetFullPath)).Distinct(StringComparer.Ordinal).ToList();
        var defineArgs = (defines ?? new Dictionary<string, string>()).OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"-D{d.Key}={d.Value}").ToList();
        var headers = dirs.SelectMany(d => Directory.Exists(d) ? Directory.GetFiles(d, "*.h") : []).Order(StringComparer.Ordinal).Select(h => h + "=" + Hashing.File(h));
        var forced = forcedInclude is null ? [] : new[] { "-include", Path.GetFullPath(forcedInclude) };
        var key = Hashing.Combine([Hashing.File(source), clang, .. defineArgs, .. headers, .. dirs, .. forced, .. forcedInclude is null ? [] : new[] { Hashing.File(forcedInclude) }]);
        var name = Path.GetFileNameWithoutExtension(source).Replace(".bpf", "", StringComparison.Ordinal) + ".bpf.o";
        var dir = await Cache.GetOrCreateAsync("bpf", key, async temp =>
        {
            var args = new List<string> { "-O2", "-g", "-Wall", "-target", "bpf", "-D__TARGET_ARCH_x86" };
            args.AddRange(defineArgs);
            foreach (var d in dirs) args.AddRange(["-I", d]);
            args.AddRange(forced);
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
