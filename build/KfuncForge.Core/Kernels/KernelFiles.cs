namespace KfuncForge.Kernels;

/// <summary>Parsers of the plain-text files a kernel package ships: its .config and System.map.</summary>
public static class KernelFiles
{
    /// <summary>CONFIG_X=value lines (quotes kept off strings); "# CONFIG_X is not set" lines are left out, so unset reads as null.</summary>
    public static IReadOnlyDictionary<string, string> ParseConfig(IEnumerable<string> lines)
    {
        var config = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (!line.StartsWith("CONFIG_", StringComparison.Ordinal)) continue;
            var eq = line.IndexOf('=');
            if (eq <= 0) continue;
            var value = line[(eq + 1)..];
            if (value.Length >= 2 && value[0] == '"' && value[^1] == '"') value = value[1..^1].Replace("\\\"", "\"").Replace("\\\\", "\\");
            config[line[..eq]] = value;
        }
        return config;
    }

    /// <summary>Symbol names from System.map ("address type name" lines).</summary>
    public static IReadOnlySet<string> ParseSystemMap(IEnumerable<string> lines)
    {
        var symbols = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            var parts = line.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 3) symbols.Add(parts[2].Trim());
        }
        return symbols;
    }
}

/// <summary>The kfuncs a kernel already has, read from its vmlinux.</summary>
public static class NativeKfuncs
{
    public const string KfuncTag = "bpf_kfunc";

    /// <summary>
    /// A function counts as a kfunc when its BTF carries the bpf_kfunc decl tag (newer kernels), or when
    /// its BTF id appears in .BTF_ids, where the kernel keeps its kfunc id sets. A bare FUNC is not
    /// enough: 6.1 has a function called bpf_strtol (the old helper), which is not the kfunc.
    /// </summary>
    public static IReadOnlySet<string> Read(ElfFile vmlinux, BtfReader btf)
    {
        var names = new HashSet<string>(btf.FunctionsTagged(KfuncTag), StringComparer.Ordinal);
        if (vmlinux.Section(".BTF_ids") is { } ids)
        {
            var data = vmlinux.Bytes(ids);
            for (var off = 0; off + 4 <= data.Length; off += 4)
            {
                var id = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(data[off..]);
                if (btf[id] is { Kind: BtfKind.Func } f) names.Add(f.Name);
            }
        }
        return names;
    }
}
