using System.Buffers.Binary;
using System.Text;

namespace KfuncForge.Tests.Support;

/// <summary>Writes small 64-bit little-endian ELF files by hand: named sections and an optional symbol table.</summary>
public sealed class ElfBuilder
{
    private readonly List<(string Name, uint Type, byte[] Data)> _sections = [];
    private readonly List<(string Name, string Section, ulong Value)> _symbols = [];

    public ushort Type { get; init; } = 1; // ET_REL

    public ElfBuilder Section(string name, byte[] data, uint type = 1)
    {
        _sections.Add((name, type, data));
        return this;
    }

    public ElfBuilder Symbol(string name, string section, ulong value)
    {
        _symbols.Add((name, section, value));
        return this;
    }

    public byte[] Build()
    {
        var sections = new List<(string Name, uint Type, byte[] Data, uint Link)>();
        sections.AddRange(_sections.Select(s => (s.Name, s.Type, s.Data, 0u)));
        if (_symbols.Count > 0)
        {
            var strtab = new List<byte> { 0 };
            var symtab = new byte[24 * (_symbols.Count + 1)];
            for (var i = 0; i < _symbols.Count; i++)
            {
                var (name, section, value) = _symbols[i];
                var e = symtab.AsSpan(24 * (i + 1));
                BinaryPrimitives.WriteUInt32LittleEndian(e, (uint)strtab.Count);
                strtab.AddRange(Encoding.UTF8.GetBytes(name));
                strtab.Add(0);
                BinaryPrimitives.WriteUInt16LittleEndian(e[6..], (ushort)(1 + _sections.FindIndex(s => s.Name == section)));
                BinaryPrimitives.WriteUInt64LittleEndian(e[8..], value);
            }
            sections.Add((".symtab", 2, symtab, (uint)(sections.Count + 2)));
            sections.Add((".strtab", 3, strtab.ToArray(), 0));
        }
        var shstr = new List<byte> { 0 };
        var nameOffsets = new List<uint>();
        foreach (var s in sections.Select(s => s.Name).Append(".shstrtab"))
        {
            nameOffsets.Add((uint)shstr.Count);
            shstr.AddRange(Encoding.UTF8.GetBytes(s));
            shstr.Add(0);
        }
        sections.Add((".shstrtab", 3, shstr.ToArray(), 0));

        var body = new List<byte>(new byte[64]);
        var offsets = new List<long>();
        foreach (var s in sections)
        {
            while (body.Count % 8 != 0) body.Add(0);
            offsets.Add(body.Count);
            body.AddRange(s.Data);
        }
        while (body.Count % 8 != 0) body.Add(0);
        var shoff = body.Count;
        var headers = new byte[64 * (sections.Count + 1)];
        for (var i = 0; i < sections.Count; i++)
        {
            var h = headers.AsSpan(64 * (i + 1));
            BinaryPrimitives.WriteUInt32LittleEndian(h, nameOffsets[i]);
            BinaryPrimitives.WriteUInt32LittleEndian(h[4..], sections[i].Type);
            BinaryPrimitives.WriteUInt64LittleEndian(h[24..], (ulong)offsets[i]);
            BinaryPrimitives.WriteUInt64LittleEndian(h[32..], (ulong)sections[i].Data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h[40..], sections[i].Link);
        }
        body.AddRange(headers);
        var bytes = body.ToArray();
        var span = bytes.AsSpan();
        new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1 }.CopyTo(span);
        BinaryPrimitives.WriteUInt16LittleEndian(span[16..], Type);
        BinaryPrimitives.WriteUInt16LittleEndian(span[18..], 62);
        BinaryPrimitives.WriteUInt32LittleEndian(span[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(span[40..], (ulong)shoff);
        BinaryPrimitives.WriteUInt16LittleEndian(span[52..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(span[58..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(span[60..], (ushort)(sections.Count + 1));
        BinaryPrimitives.WriteUInt16LittleEndian(span[62..], (ushort)sections.Count);
        return bytes;
    }
}

/// <summary>Writes tiny BTF blobs by hand: ints, function prototypes, functions and decl tags.</summary>
public sealed class BtfBuilder
{
    private readonly List<byte> _types = [];
    private readonly List<byte> _strings = [0];
    private int _count;

    /// <summary>For split BTF: the base's string section length, which the module's string offsets start after.</summary>
    public int StringBase { get; init; }

    private uint Str(string s)
    {
        if (s.Length == 0) return 0;
        var off = (uint)(StringBase + _strings.Count);
        _strings.AddRange(Encoding.UTF8.GetBytes(s));
        _strings.Add(0);
        return off;
    }

    private void U32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        _types.AddRange(b);
    }

    private int Type(string name, int kind, int vlen, uint sizeOrType)
    {
        U32(Str(name));
        U32(((uint)kind << 24) | (uint)vlen);
        U32(sizeOrType);
        return ++_count;
    }

    public int Int(string name)
    {
        var id = Type(name, 1, 0, 4);
        U32(32);
        return id;
    }

    public int FuncProto(int returns, params (string Name, int Type)[] args)
    {
        var id = Type("", 13, args.Length, (uint)returns);
        foreach (var (n, t) in args) { U32(Str(n)); U32((uint)t); }
        return id;
    }

    public int Func(string name, int proto) => Type(name, 12, 0, (uint)proto);

    public int DeclTag(string tag, int target)
    {
        var id = Type(tag, 17, 0, (uint)target);
        U32(uint.MaxValue);
        return id;
    }

    public byte[] Build()
    {
        var header = new byte[24];
        var h = header.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(h, 0xEB9F);
        h[2] = 1;
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], 24);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], (uint)_types.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], (uint)_types.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], (uint)_strings.Count);
        return [.. header, .. _types, .. _strings];
    }
}
