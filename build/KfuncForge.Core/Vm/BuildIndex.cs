using System.Text.Json;
using System.Text.Json.Serialization;
using KfuncForge.Compilation;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Model;

namespace KfuncForge.Vm;

/// <summary>One fetched kernel: what the VM stage boots and compiles BPF against.</summary>
public sealed record IndexedKernel
{
    /// <summary>The exact release (uname -r), e.g. 6.1.0-56-amd64.</summary>
    public required string Release { get; init; }

    /// <summary>The bootable image (vmlinuz).</summary>
    public required string Image { get; init; }

    /// <summary>ELF vmlinux carrying the kernel's .BTF (optional: extracted from Image when absent).</summary>
    public string? Btf { get; init; }

    /// <summary>The kernel's /lib/modules/&lt;release&gt; tree (optional: needed only when a built module depends on in-tree modules).</summary>
    public string? ModulesDir { get; init; }

    /// <summary>Which distro kernel target this release resolves (its line, e.g. "6.1"); matched with the plan's kernels.</summary>
    public string? Line { get; init; }

    /// <summary>The kernel's cache entry (with facts.json), when the build stage fetched it: the smoke stage then plans with the kernel's real facts.</summary>
    public string? Entry { get; init; }
}

/// <summary>One built module for one kernel.</summary>
public sealed record IndexedModule
{
    public required string Kernel { get; init; }
    public required string Module { get; init; }

    /// <summary>The built (and, once signing lands, signed) .ko.</summary>
    public required string Ko { get; init; }
}

/// <summary>
/// What the build stage hands to the VM stage: build-index.json in &lt;artifacts&gt;/build/&lt;distro&gt;/.
/// Relative paths are relative to the index file. This file is the whole interface between the stages.
/// </summary>
public sealed record BuildIndex
{
    public int Version { get; init; } = 1;
    public required IReadOnlyList<IndexedKernel> Kernels { get; init; }
    public IReadOnlyList<IndexedModule> Modules { get; init; } = [];

    /// <summary>Target kernels the build could not use (not published completely, not fetchable): later stages report their cells as unavailable.</summary>
    public IReadOnlyList<UnavailableKernel> Unavailable { get; init; } = [];

    /// <summary>What kernel resolution skipped and why (an incomplete newer release), for the later stages' reports.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string DefaultPath(string artifactsDir, string distro) => new Pipeline.ArtifactsLayout(artifactsDir).BuildIndex(distro);

    /// <summary>What a build run hands on: its fetched kernels (image, base BTF, cache entry) and every module it built.</summary>
    public static BuildIndex FromBuild(IEnumerable<KernelEntry> kernels, IEnumerable<CellResult> results, FetchedKernels? fetched = null) => new()
    {
        Unavailable = fetched?.Unavailable ?? [],
        Notes = fetched?.Notes ?? [],
        Kernels = kernels.Select(k => new IndexedKernel
        {
            Release = k.Release,
            Image = k.Vmlinuz,
            Btf = File.Exists(k.Vmlinux) ? k.Vmlinux : null,
            Line = KernelVersion.TryParse(k.Facts.UpstreamVersion, out var v) ? $"{v.Major}.{v.Minor}" : null,
            Entry = k.Dir,
        }).ToList(),
        Modules = results.Where(r => r.Outcome == CellOutcome.Built && r.Ko is not null)
            .Select(r => new IndexedModule { Kernel = r.Kernel, Module = r.Module, Ko = r.Ko! }).ToList(),
    };

    /// <summary>Reads and checks the index: every problem (unknown key, missing file) reported together.</summary>
    public static BuildIndex Load(string path)
    {
        if (!File.Exists(path))
            throw new InputException(new Problem(path, 0, 0, "", "no build index: run the Build stage first (it writes this file), or pass --index=<file> listing kernels and built modules (format in docs/smoke.md)"));
        BuildIndex index;
        try
        {
            index = JsonSerializer.Deserialize<BuildIndex>(File.ReadAllText(path), Json) ?? throw new JsonException("empty document");
        }
        catch (JsonException e)
        {
            throw new InputException(new Problem(path, (int)(e.LineNumber ?? 0) + 1, (int)(e.BytePositionInLine ?? 0) + 1, e.Path ?? "", e.Message));
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string Abs(string p) => Path.GetFullPath(Path.Combine(dir, p));
        index = index with
        {
            Kernels = index.Kernels.Select(k => k with
            {
                Image = Abs(k.Image), Btf = k.Btf is null ? null : Abs(k.Btf), ModulesDir = k.ModulesDir is null ? null : Abs(k.ModulesDir),
                Entry = k.Entry is null ? null : Abs(k.Entry),
            }).ToList(),
            Modules = index.Modules.Select(m => m with { Ko = Abs(m.Ko) }).ToList(),
        };
        var problems = new List<Problem>();
        if (index.Version != 1) problems.Add(new Problem(path, 0, 0, "version", $"version {index.Version} is not supported (1 is)"));
        for (var i = 0; i < index.Kernels.Count; i++)
        {
            var k = index.Kernels[i];
            if (!File.Exists(k.Image)) problems.Add(new Problem(path, 0, 0, $"kernels[{i}].image", $"{k.Image} does not exist"));
            if (k.Btf is not null && !File.Exists(k.Btf)) problems.Add(new Problem(path, 0, 0, $"kernels[{i}].btf", $"{k.Btf} does not exist"));
            if (k.ModulesDir is not null && !Directory.Exists(k.ModulesDir)) problems.Add(new Problem(path, 0, 0, $"kernels[{i}].modules_dir", $"{k.ModulesDir} does not exist"));
            if (k.Entry is not null && KernelEntry.Inspect(k.Entry) is { Entry: null } bad)
                problems.Add(new Problem(path, 0, 0, $"kernels[{i}].entry", $"{k.Entry} is not a whole fetched kernel ({bad.Damage ?? "it does not exist"}); run the Build stage again (it fetches the kernel again)"));
        }
        for (var i = 0; i < index.Modules.Count; i++)
        {
            var m = index.Modules[i];
            if (!File.Exists(m.Ko)) problems.Add(new Problem(path, 0, 0, $"modules[{i}].ko", $"{m.Ko} does not exist"));
            if (index.Kernels.All(k => k.Release != m.Kernel)) problems.Add(new Problem(path, 0, 0, $"modules[{i}].kernel", $"'{m.Kernel}' is not one of the index's kernels"));
        }
        if (problems.Count > 0) throw new InputException(problems);
        return index;
    }

    /// <summary>
    /// The cells this build made, as folders under &lt;artifacts&gt;/build/&lt;distro&gt;/: a folder left by an earlier
    /// build (a kernel no longer targeted or unavailable now, a module no longer built) is never among them.
    /// </summary>
    public IReadOnlyList<BuiltCell> BuiltCells(string artifactsDir, string distro) =>
        BuiltCell.Find(artifactsDir, distro).Where(c => Modules.Any(m => m.Kernel == c.Release && m.Module == c.Module)).ToList();

    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");
    }
}
