using System.Buffers.Binary;

namespace KfuncForge.Kernels;

public enum BtfKind
{
    Unknown = 0, Int = 1, Ptr = 2, Array = 3, Struct = 4, Union = 5, Enum = 6, Fwd = 7, Typedef = 8, Volatile = 9, Const = 10,
    Restrict = 11, Func = 12, FuncProto = 13, Var = 14, Datasec = 15, Float = 16, DeclTag = 17, TypeTag = 18, Enum64 = 19,
}

/// <summary>One BTF type: its id, kind, name, and the type it refers to (for DECL_TAG: the tagged type).</summary>
public sealed record BtfType(int Id, BtfKind Kind, string Name, int Vlen, uint SizeOrType);

/// <summary>
/// Reads a .BTF blob (the kernel's type information): header, string table and the type records,
/// walking each kind's trailing data. Split BTF (a module's) numbers its types after the base's and
/// its strings after the base's strings; pass the base to resolve them.
/// </summary>
public sealed class BtfReader
{
    public const ushort Magic = 0xEB9F;

    private readonly byte[] _types;
    private readonly byte[] _strings;
    private readonly byte[] _baseStrings;
    private readonly IReadOnlyList<int> _data;

    private BtfReader(IReadOnlyList<BtfType> types, int firstId, IReadOnlyList<int> data, byte[] typeBytes, byte[] strings, byte[] baseStrings)
    {
        Types = types; FirstId = firstId; _data = data; _types = typeBytes; _strings = strings; _baseStrings = baseStrings;
    }

    /// <summary>Types in id order; Types[i] has id FirstId + i (ids start at 1 for base BTF).</summary>
    public IReadOnlyList<BtfType> Types { get; }

    public int FirstId { get; }

    public int LastId => FirstId + Types.Count - 1;

    public BtfType? this[int id] => id >= FirstId && id <= LastId ? Types[id - FirstId] : null;

    public static BtfReader Parse(ReadOnlySpan<byte> blob, BtfReader? baseBtf = null, ReadOnlySpan<byte> baseStrings = default)
    {
        if (blob.Length < 24 || BinaryPrimitives.ReadUInt16LittleEndian(blob) != Magic)
            throw new InvalidDataException("not a BTF blob (bad magic)");
        var hdrLen = BinaryPrimitives.ReadUInt32LittleEndian(blob[4..]);
        var typeOff = BinaryPrimitives.ReadUInt32LittleEndian(blob[8..]);
        var typeLen = BinaryPrimitives.ReadUInt32LittleEndian(blob[12..]);
        var strOff = BinaryPrimitives.ReadUInt32LittleEndian(blob[16..]);
        var strLen = BinaryPrimitives.ReadUInt32LittleEndian(blob[20..]);
        if (hdrLen + (long)typeOff + typeLen > blob.Length || hdrLen + (long)strOff + strLen > blob.Length)
            throw new InvalidDataException("BTF header points outside the blob (truncated?)");
        var types = blob.Slice((int)(hdrLen + typeOff), (int)typeLen);
        var strings = blob.Slice((int)(hdrLen + strOff), (int)strLen);

        var firstId = baseBtf is null ? 1 : baseBtf.LastId + 1;
        var list = new List<BtfType>();
        var data = new List<int>();
        var pos = 0;
        while (pos + 12 <= types.Length)
        {
            var nameOff = BinaryPrimitives.ReadUInt32LittleEndian(types[pos..]);
            var info = BinaryPrimitives.ReadUInt32LittleEndian(types[(pos + 4)..]);
            var sizeOrType = BinaryPrimitives.ReadUInt32LittleEndian(types[(pos + 8)..]);
            var kind = (BtfKind)((info >> 24) & 0x1f);
            var vlen = (int)(info & 0xffff);
            pos += 12;
            data.Add(pos);
            pos += kind switch
            {
                BtfKind.Int => 4,
                BtfKind.Array => 12,
                BtfKind.Struct or BtfKind.Union => 12 * vlen,
                BtfKind.Enum => 8 * vlen,
                BtfKind.FuncProto => 8 * vlen,
                BtfKind.Var => 4,
                BtfKind.Datasec => 12 * vlen,
                BtfKind.DeclTag => 4,
                BtfKind.Enum64 => 12 * vlen,
                BtfKind.Ptr or BtfKind.Fwd or BtfKind.Typedef or BtfKind.Volatile or BtfKind.Const or BtfKind.Restrict
                    or BtfKind.Func or BtfKind.Float or BtfKind.TypeTag => 0,
                _ => throw new InvalidDataException($"unknown BTF kind {(int)kind} at type {firstId + list.Count}"),
            };
            var name = Name(nameOff, strings, baseStrings);
            list.Add(new BtfType(firstId + list.Count, kind, name, vlen, sizeOrType));
        }
        if (pos != types.Length) throw new InvalidDataException("BTF type section ends inside a type record (truncated?)");
        return new BtfReader(list, firstId, data, types.ToArray(), strings.ToArray(), baseStrings.ToArray());
    }

    private static string Name(uint offset, ReadOnlySpan<byte> strings, ReadOnlySpan<byte> baseStrings) =>
        offset < baseStrings.Length ? ElfFile.CString(baseStrings, offset) : ElfFile.CString(strings, offset - (uint)baseStrings.Length);

    /// <summary>
    /// The enumerator names of the named enum (e.g. btf_kfunc_hook: BTF_KFUNC_HOOK_XDP, ...), in declaration
    /// order; null when the BTF has no enum of that name.
    /// </summary>
    public IReadOnlyList<string>? Enumerators(string enumName)
    {
        var index = 0;
        // A forward declaration (no members) is not the enum: look on for the one that has them.
        while (index < Types.Count && !(Types[index].Kind is BtfKind.Enum or BtfKind.Enum64 && Types[index].Name == enumName && Types[index].Vlen > 0)) index++;
        if (index == Types.Count) return null;
        var type = Types[index];
        var stride = type.Kind == BtfKind.Enum ? 8 : 12;
        var names = new List<string>(type.Vlen);
        for (var i = 0; i < type.Vlen; i++)
            names.Add(Name(BinaryPrimitives.ReadUInt32LittleEndian(_types.AsSpan(_data[index] + i * stride)), _strings, _baseStrings));
        return names;
    }

    /// <summary>The string section of a blob (needed to read split BTF against this base).</summary>
    public static ReadOnlySpan<byte> StringSection(ReadOnlySpan<byte> blob)
    {
        var hdrLen = BinaryPrimitives.ReadUInt32LittleEndian(blob[4..]);
        var strOff = BinaryPrimitives.ReadUInt32LittleEndian(blob[16..]);
        var strLen = BinaryPrimitives.ReadUInt32LittleEndian(blob[20..]);
        return blob.Slice((int)(hdrLen + strOff), (int)strLen);
    }

    public IEnumerable<BtfType> Functions => Types.Where(t => t.Kind == BtfKind.Func);

    /// <summary>
    /// Every DECL_TAG as (tag text, tagged type, component index: -1 for the declaration itself, else the
    /// parameter or member it sits on), in type order. BPF objects carry their test annotations this way.
    /// </summary>
    public IEnumerable<(string Tag, BtfType Target, int Component)> DeclTags()
    {
        for (var i = 0; i < Types.Count; i++)
            if (Types[i].Kind == BtfKind.DeclTag && this[(int)Types[i].SizeOrType] is { } target)
                yield return (Types[i].Name, target, BinaryPrimitives.ReadInt32LittleEndian(_types.AsSpan(_data[i])));
    }

    /// <summary>Functions carrying a decl tag (e.g. "bpf_kfunc", which pahole emits for __bpf_kfunc functions on newer kernels).</summary>
    public IReadOnlySet<string> FunctionsTagged(string tag) =>
        Types.Where(t => t.Kind == BtfKind.DeclTag && t.Name == tag)
            .Select(t => this[(int)t.SizeOrType]).Where(t => t is { Kind: BtfKind.Func }).Select(t => t!.Name)
            .ToHashSet(StringComparer.Ordinal);
}
