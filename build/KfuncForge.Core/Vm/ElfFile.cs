using System.Buffers.Binary;
using System.Text;

namespace KfuncForge.Vm;

/// <summary>
/// The little of ELF64 (little-endian) the VM stage reads: section names and contents, and function
/// symbols. Enough to list a BPF object's programs (function symbols in executable sections) and to read
/// a kernel module's .modinfo (its "depends=" entry) without running any tool.
/// </summary>
public sealed class ElfFile
{
    public sealed record Section(int Index, string Name, ulong Flags, long Offset, long Size, uint Type);

    public sealed record Symbol(string Name, int SectionIndex, int Type);

    private const ulong ShfExecInstr = 0x4;
    private const uint ShtSymTab = 2;
    private const uint ShtNoBits = 8;
    private const int SttFunc = 2;

    private readonly byte[] _data;

    public IReadOnlyList<Section> Sections { get; }
    public IReadOnlyList<Symbol> Symbols { get; }

    private ElfFile(byte[] data)
    {
        _data = data;
        if (data.Length < 64 || !data.AsSpan(0, 4).SequenceEqual("\u007fELF"u8)) throw new InvalidDataException("not an ELF file");
        if (data[4] != 2 || data[5] != 1) throw new InvalidDataException("not a little-endian 64-bit ELF file");
        var shoff = (long)U64(0x28);
        var shentsize = U16(0x3A);
        var shnum = U16(0x3C);
        var shstrndx = U16(0x3E);
        var raw = new List<(uint Name, uint Type, ulong Flags, long Offset, long Size, uint Link)>();
        for (var i = 0; i < shnum; i++)
        {
            var b = shoff + (long)i * shentsize;
            raw.Add((U32(b), U32(b + 4), U64(b + 8), (long)U64(b + 0x18), (long)U64(b + 0x20), U32(b + 0x28)));
        }
        var strtab = shstrndx < raw.Count ? raw[shstrndx] : default;
        Sections = raw.Select((s, i) => new Section(i, CString(strtab.Offset + s.Name), s.Flags, s.Offset, s.Type == ShtNoBits ? 0 : s.Size, s.Type)).ToList();

        var symbols = new List<Symbol>();
        foreach (var (s, i) in raw.Select((s, i) => (s, i)).Where(x => x.s.Type == ShtSymTab))
        {
            var names = raw[(int)s.Link];
            for (var off = s.Offset + 24; off + 24 <= s.Offset + s.Size; off += 24)
            {
                var info = _data[off + 4];
                symbols.Add(new Symbol(CString(names.Offset + U32(off)), U16(off + 6), info & 0xF));
            }
        }
        Symbols = symbols;
    }

    public static ElfFile Read(string path) => new(File.ReadAllBytes(path));

    public ReadOnlySpan<byte> Contents(Section s) => _data.AsSpan((int)s.Offset, (int)s.Size);

    /// <summary>BPF programs: (function name, section name) of every function symbol in an executable section, in file order.</summary>
    public IReadOnlyList<(string Program, string Section)> BpfPrograms() =>
        Symbols.Where(s => s.Type == SttFunc && s.SectionIndex > 0 && s.SectionIndex < Sections.Count
                && (Sections[s.SectionIndex].Flags & ShfExecInstr) != 0 && Sections[s.SectionIndex].Name != ".text")
            .Select(s => (s.Name, Sections[s.SectionIndex].Name)).ToList();

    /// <summary>A kernel module's .modinfo entries ("license", "depends", "vermagic", ...); repeated keys keep every value.</summary>
    public ILookup<string, string> ModInfo()
    {
        var section = Sections.FirstOrDefault(s => s.Name == ".modinfo");
        if (section is null) return Array.Empty<(string, string)>().ToLookup(x => x.Item1, x => x.Item2);
        var text = Encoding.UTF8.GetString(Contents(section));
        return text.Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Split('=', 2))
            .Where(kv => kv.Length == 2)
            .ToLookup(kv => kv[0], kv => kv[1], StringComparer.Ordinal);
    }

    /// <summary>
    /// Whether the kernel has a PVH entry point (ELF note "Xen", type XEN_ELFNOTE_PHYS32_ENTRY = 18):
    /// QEMU can then boot this ELF directly, skipping the firmware's real-mode path and the bzImage's
    /// self-decompression, which are slow under TCG.
    /// </summary>
    public bool HasPvhEntry()
    {
        const uint ShtNote = 7;
        foreach (var section in Sections.Where(s => s.Type == ShtNote))
        {
            var data = Contents(section);
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

    private ushort U16(long o) => BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan((int)o, 2));
    private uint U32(long o) => BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan((int)o, 4));
    private ulong U64(long o) => BinaryPrimitives.ReadUInt64LittleEndian(_data.AsSpan((int)o, 8));

    private string CString(long o)
    {
        if (o < 0 || o >= _data.Length) return "";
        var end = Array.IndexOf(_data, (byte)0, (int)o);
        return Encoding.UTF8.GetString(_data, (int)o, (end < 0 ? _data.Length : end) - (int)o);
    }
}
