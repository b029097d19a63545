using KfuncForge.Kernels;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Kernels;

public sealed class BtfReaderTests
{
    internal static byte[] SampleBtf(out int addId)
    {
        var b = new BtfBuilder();
        var u64 = b.Int("u64");
        var proto = b.FuncProto(u64, ("a", u64), ("b", u64));
        addId = b.Func("bpf_demo_add", proto);
        var helper = b.Func("bpf_strtol", proto);
        b.DeclTag("bpf_kfunc", addId);
        _ = helper;
        return b.Build();
    }

    [Fact]
    public void Reads_types_names_and_kfunc_tags_from_a_hand_made_blob()
    {
        var btf = BtfReader.Parse(SampleBtf(out var addId));
        Assert.Equal(5, btf.Types.Count);
        Assert.Equal([BtfKind.Int, BtfKind.FuncProto, BtfKind.Func, BtfKind.Func, BtfKind.DeclTag], btf.Types.Select(t => t.Kind));
        Assert.Equal(["bpf_demo_add", "bpf_strtol"], btf.Functions.Select(f => f.Name));
        Assert.Equal("bpf_demo_add", btf[addId]!.Name);
        Assert.Equal(["bpf_demo_add"], btf.FunctionsTagged("bpf_kfunc"));
    }

    [Fact]
    public void Split_btf_continues_the_base_ids_and_strings()
    {
        var baseBlob = SampleBtf(out _);
        var baseBtf = BtfReader.Parse(baseBlob);
        var split = new BtfBuilder { StringBase = BtfReader.StringSection(baseBlob).Length };
        split.Func("bpf_module_fn", 2); // its prototype is the base's type 2
        var module = BtfReader.Parse(split.Build(), baseBtf, BtfReader.StringSection(baseBlob));
        Assert.Equal(baseBtf.LastId + 1, module.FirstId);
        var f = Assert.Single(module.Functions);
        Assert.Equal(("bpf_module_fn", baseBtf.LastId + 1, 2u), (f.Name, f.Id, f.SizeOrType));
    }

    [Fact]
    public void A_bad_or_truncated_blob_is_rejected()
    {
        Assert.Throws<InvalidDataException>(() => BtfReader.Parse(new byte[30]));
        var blob = SampleBtf(out _);
        blob[12] -= 2; // type_len now ends inside a record
        Assert.Throws<InvalidDataException>(() => BtfReader.Parse(blob));
    }

    [Fact]
    public void Native_kfuncs_are_tagged_functions_or_functions_listed_in_btf_ids()
    {
        var b = new BtfBuilder();
        var i = b.Int("int");
        var p = b.FuncProto(i);
        var tagged = b.Func("bpf_tagged", p);
        var listed = b.Func("bpf_listed", p);
        b.Func("bpf_strtol", p); // the old helper: a FUNC, but no kfunc
        b.DeclTag("bpf_kfunc", tagged);
        var ids = new byte[16];
        BitConverter.GetBytes(1u).CopyTo(ids, 0); // a set count
        BitConverter.GetBytes((uint)listed).CopyTo(ids, 8);
        var elf = ElfFile.Parse(new ElfBuilder { Type = 2 }.Section(".BTF", b.Build()).Section(".BTF_ids", ids).Build(), "vmlinux");
        var native = NativeKfuncs.Read(elf, BtfReader.Parse(elf.Bytes(elf.Section(".BTF")!)));
        Assert.Equal(["bpf_listed", "bpf_tagged"], native.Order(StringComparer.Ordinal));
    }
}

public sealed class ElfFileTests
{
    [Fact]
    public void Reads_sections_and_symbols_of_a_hand_made_file()
    {
        var bytes = new ElfBuilder().Section(".text", [0x90]).Section(".BTF_ids", new byte[8]).Symbol("__BTF_ID__func__x__1", ".BTF_ids", 4).Build();
        var elf = ElfFile.Parse(bytes, "t.ko");
        Assert.Equal(1, elf.Type);
        Assert.Equal(8, elf.Section(".BTF_ids")!.Size);
        var sym = Assert.Single(elf.Symbols(), s => s.Name.Length > 0);
        Assert.Equal(("__BTF_ID__func__x__1", 4L, elf.Section(".BTF_ids")!.Index), (sym.Name, sym.Value, sym.SectionIndex));
    }

    [Fact]
    public void Non_elf_and_truncated_files_are_rejected()
    {
        Assert.Throws<InvalidDataException>(() => ElfFile.Parse("not elf at all"u8.ToArray(), "x"));
        var bytes = new ElfBuilder().Section(".BTF", new byte[100]).Build();
        Assert.Throws<InvalidDataException>(() => ElfFile.Parse(bytes[..80], "x"));
    }
}

public sealed class KernelFilesTests
{
    [Fact]
    public void Config_keeps_set_options_and_leaves_unset_ones_out()
    {
        var config = KernelFiles.ParseConfig(
        [
            "# Automatically generated file; DO NOT EDIT.",
            "CONFIG_DEBUG_INFO_BTF_MODULES=y",
            "CONFIG_MODULE_SIG_HASH=\"sha256\"",
            "CONFIG_INET_DIAG=m",
            "# CONFIG_MODULE_SIG_FORCE is not set",
            "CONFIG_NR_CPUS=8192",
        ]);
        Assert.Equal("y", config["CONFIG_DEBUG_INFO_BTF_MODULES"]);
        Assert.Equal("sha256", config["CONFIG_MODULE_SIG_HASH"]);
        Assert.Equal("m", config["CONFIG_INET_DIAG"]);
        Assert.False(config.ContainsKey("CONFIG_MODULE_SIG_FORCE"));
        Assert.Equal(4, config.Count);
    }

    [Fact]
    public void System_map_lines_give_symbol_names()
    {
        var symbols = KernelFiles.ParseSystemMap(["ffffffff81000000 T _text", "ffffffff81234560 T register_btf_kfunc_id_set", "garbage"]);
        Assert.Equal(["_text", "register_btf_kfunc_id_set"], symbols.Order(StringComparer.Ordinal));
    }
}
