using System.Buffers.Binary;
using System.Text;

namespace KfuncForge.Kernels;

/// <summary>One section of an ELF file.</summary>
public sealed record ElfSection(int Index, string Name, uint Type, long Offset, long Size, long Address, ulong Flags);

/// <summary>
/// One symbol of an ELF symbol table (st_value is the offset inside its section for relocatable objects;
/// Kind is STT_*: 1 object, 2 function).
/// </summary>
public sealed record ElfSymbol(string Name, long Value, long Size, int SectionIndex, int Kind);

/// <summary>
/// A minimal reader of 64-bit little-endian ELF files (vmlinux, .ko, BPF objects): section headers,
/// section bytes, the symbol table, a module's .modinfo and the few queries the stages make (a BPF
/// object's programs, a kernel's PVH entry). Not a general ELF library.
/// </summary>
public sealed class ElfFile
{
    private const uint SHT_SYMTAB = 2;
    private const uint SHT_REL = 9;
    private const uint SHT_NOTE = 7;
    private const uint SHT_NOBITS = 8;
    private const ulong SHF_EXECINSTR = 0x4;
    private const int STT_FUNC = 2;
    private readonly byte[] _data;

    private ElfFile(byte[] data, ushort type, IReadOnlyList<ElfSection> sections)
    {
        _data = data;
        Type = type;
        Sections = sections;
    }

    /// <summary>ET_REL (1) for .ko files, ET_EXEC (2) for vmlinux.</summary>
    public ushort Type { get; }

    public IReadOnlyList<ElfSection> Sections { get; }

    public static bool HasElfMagic(ReadOnlySpan<byte> data) => data.Length >= 4 && data[0] == 0x7f && data[1] == (byte)'E' && data[2] == (byte)'L' && data[3] == (byte)'F';

    public static ElfFile Load(string path) => Parse(File.ReadAllBytes(path), path);

    public static ElfFile Parse(byte[] data, string what)
    {
        if (!HasElfMagic(data)) throw new InvalidDataException($"{what} is not an ELF file");
        if (data.Length < 64 || data[4] != 2 || data[5] != 1) throw new InvalidDataException($"{what} is not a 64-bit little-endian ELF file");
        var span = data.AsSpan();
        var type = BinaryPrimitives.ReadUInt16LittleEndian(span[16..]);
        var shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(span[40..]);
        var shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[58..]);
        var shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[60..]);
        var shstrndx = BinaryPrimitives.ReadUInt16LittleEndian(span[62..]);
        if (shoff <= 0 || shoff + (long)shnum * shentsize > data.Length) throw new InvalidDataException($"{what}: section headers lie outside the file (truncated?)");
        var raw = new List<(uint Name, uint Type, ulong Flags, long Addr, long Off, long Size)>();
        for (var i = 0; i < shnum; i++)
        {
            var h = span.Slice((int)(shoff + (long)i * shentsize), shentsize);
            raw.Add((BinaryPrimitives.ReadUInt32LittleEndian(h), BinaryPrimitives.ReadUInt32LittleEndian(h[4..]),
                BinaryPrimitives.ReadUInt64LittleEndian(h[8..]), (long)BinaryPrimitives.ReadUInt64LittleEndian(h[16..]), (long)BinaryPrimitives.ReadUInt64LittleEndian(h[24..]),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(h[32..])));
        }
        var strtab = shstrndx < raw.Count ? raw[shstrndx] : default;
        var sections = new List<ElfSection>();
        for (var i = 0; i < raw.Count; i++)
            sections.Add(new ElfSection(i, CString(span, strtab.Off + raw[i].Name), raw[i].Type, raw[i].Off, raw[i].Size, raw[i].Addr, raw[i].Flags));
        return new ElfFile(data, type, sections);
    }

    public ElfSection? Section(string name) => Sections.FirstOrDefault(s => s.Name == name);

    public ReadOnlySpan<byte> Bytes(ElfSection s)
    {
        if (s.Type == SHT_NOBITS) return ReadOnlySpan<byte>.Empty;
        if (s.Offset < 0 || s.Offset + s.Size > _data.Length) throw new InvalidDataException($"section {s.Name} lies outside the file (truncated?)");
        return _data.AsSpan((int)s.Offset, (int)s.Size);
    }

    public IReadOnlyList<ElfSymbol> Symbols()
    {
        var symtab = Sections.FirstOrDefault(s => s.Type == SHT_SYMTAB);
        if (symtab is null) return [];
        var strtab = Sections[(int)BinaryPrimitives.ReadUInt32LittleEndian(SectionHeaderLink(symtab))];
        var bytes = Bytes(symtab);
        var strings = Bytes(strtab);
        var result = new List<ElfSymbol>();
        for (var off = 24; off + 24 <= bytes.Length; off += 24)
        {
            var e = bytes.Slice(off, 24);
            var name = CString(strings, BinaryPrimitives.ReadUInt32LittleEndian(e));
            result.Add(new ElfSymbol(name, (long)BinaryPrimitives.ReadUInt64LittleEndian(e[8..]), (long)BinaryPrimitives.ReadUInt64LittleEndian(e[16..]), BinaryPrimitives.ReadUInt16LittleEndian(e[6..]), e[4] & 0xF));
        }
        return result;
    }

    /// <summary>A kernel module's .modinfo entries ("license", "depends", "vermagic", ...); repeated keys keep every value, in order.</summary>
    public ILookup<string, string> ModInfo()
    {
        var text = Section(".modinfo") is { } s ? Encoding.UTF8.GetString(Bytes(s)) : "";
        return text.Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Split('=', 2))
            .Where(kv => kv.Length == 2 && kv[0].Length > 0)
            .ToLookup(kv => kv[0], kv => kv[1], StringComparer.Ordinal);
    }

    /// <summary>A BPF object's programs: (function name, section name) of every function symbol in an executable section other than .text, in file order.</summary>
    public IReadOnlyList<(string Program, string Section)> BpfPrograms() =>
        Symbols().Where(s => s.Kind == STT_FUNC && s.SectionIndex > 0 && s.SectionIndex < Sections.Count
                && (Sections[s.SectionIndex].Flags & SHF_EXECINSTR) != 0 && Sections[s.SectionIndex].Name != ".text")
            .Select(s => (s.Name, Sections[s.SectionIndex].Name)).ToList();

    /// <summary>
    /// The functions each BPF program of this object calls through a relocation (kfuncs and other externs, by
    /// symbol name): every REL entry of the program's section whose offset lies inside the program's symbol.
    /// Calls made from subprograms in .text are not attributed.
    /// </summary>
    public ILookup<string, string> BpfProgramCalls()
    {
        var symbols = Symbols();
        var programs = symbols.Where(s => s.Kind == STT_FUNC && s.SectionIndex > 0 && s.SectionIndex < Sections.Count && (Sections[s.SectionIndex].Flags & SHF_EXECINSTR) != 0).ToList();
        var calls = new List<(string Program, string Callee)>();
        var span = _data.AsSpan();
        var shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(span[40..]);
        var shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[58..]);
        foreach (var rel in Sections.Where(s => s.Type == SHT_REL))
        {
            var target = (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(shoff + (long)rel.Index * shentsize + 44)..]);
            var bytes = Bytes(rel);
            for (var off = 0; off + 16 <= bytes.Length; off += 16)
            {
                var at = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes[off..]);
                var symbol = (int)(BinaryPrimitives.ReadUInt64LittleEndian(bytes[(off + 8)..]) >> 32);
                if (symbol < 1 || symbol > symbols.Count) continue;
                var callee = symbols[symbol - 1];
                if (callee.SectionIndex != 0 || callee.Name.Length == 0) continue; // only externs
                var program = programs.FirstOrDefault(p => p.SectionIndex == target && at >= p.Value && at < p.Value + p.Size);
                if (program is not null) calls.Add((program.Name, callee.Name));
            }
        }
        return calls.Distinct().ToLookup(c => c.Program, c => c.Callee, StringComparer.Ordinal);
    }

    /// <summary>
    /// Whether a kernel has a PVH entry point (ELF note "Xen", type XEN_ELFNOTE_PHYS32_ENTRY = 18): QEMU can
    /// then boot the ELF vmlinux directly, skipping the firmware's real-mode path and the bzImage's
    /// self-decompression, which are slow under TCG.
    /// </summary>
    public bool HasPvhEntry()
    {
        foreach (var section in Sections.Where(s => s.Type == SHT_NOTE))
        {
            var data = Bytes(section);
            for (var o = 0; o + 12 <= data.Length;)
            {
                var nameSize = BinaryPrimitives.ReadInt32LittleEndian(data[o..]);
                var descSize = BinaryPrimitives.ReadInt32LittleEndian(data[(o + 4)..]);
                var type = BinaryPrimitives.ReadUInt32LittleEndian(data[(o + 8)..]);
                if (nameSize < 0 || descSize < 0) break;
                var name = data.Slice(o + 12, Math.Min(nameSize, data.Length - o - 12));
                if (type == 18 && name.SequenceEqual("Xen\0"u8)) return true;
                o += 12 + Align4(nameSize) + Align4(descSize);
            }
        }
        return false;
    }

    private static int Align4(int n) => (n + 3) & ~3;

    private ReadOnlySpan<byte> SectionHeaderLink(ElfSection s)
    {
        var span = _data.AsSpan();
        var shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(span[40..]);
        var shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[58..]);
        return span.Slice((int)(shoff + (long)s.Index * shentsize + 40), 4);
    }

    internal static string CString(ReadOnlySpan<byte> data, long offset)
    {
        if (offset < 0 || offset >= data.Length) return "";
        var rest = data[(int)offset..];
        var end = rest.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
    }
}
