using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Processes;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Kernels;

public sealed class VmlinuxExtractorTests
{
    [Fact]
    public void Finds_every_compressor_magic_in_file_order()
    {
        byte[] image = [0, 1, 0x28, 0xB5, 0x2F, 0xFD, 9, 0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 7, 0x1F, 0x8B, 0x08];
        Assert.Equal(
            [new PayloadCandidate(2, Compression.Zstd), new PayloadCandidate(7, Compression.Xz), new PayloadCandidate(14, Compression.Gzip)],
            VmlinuxExtractor.FindPayloads(image));
        Assert.Empty(VmlinuxExtractor.FindPayloads(new byte[64]));
    }

    [Fact]
    public void The_decompressor_reads_the_image_from_the_payload_offset()
    {
        var spec = VmlinuxExtractor.DecompressCommand("/k/vmlinuz", new PayloadCandidate(21196, Compression.Xz), "/k/vmlinux");
        Assert.Equal(("xz", "/k/vmlinuz", 21196L, "/k/vmlinux"), (spec.FileName, spec.StdinFile, spec.StdinOffset, spec.StdoutFile));
        Assert.Contains("--single-stream", spec.Arguments); // the bytes after the payload are not xz
    }

    /// <summary>A fake bzImage: setup bytes, then a compressed ELF with .BTF, then trailing bytes, like the real thing.</summary>
    [Theory]
    [InlineData("xz", Compression.Xz)]
    [InlineData("zstd", Compression.Zstd)]
    public async Task Extracts_an_elf_with_btf_from_a_compressed_payload(string tool, Compression expected)
    {
        using var t = new TempDir();
        var elf = new ElfBuilder { Type = 2 }.Section(".BTF", BtfReaderTests.SampleBtf(out _)).Build();
        var raw = t.Combine("vmlinux.raw");
        File.WriteAllBytes(raw, elf);
        var compressed = t.Combine("payload");
        (await ProcessRunner.Instance.RunAsync(new ProcessSpec(tool, ["--compress", "--stdout"]) { StdinFile = raw, StdoutFile = compressed })).EnsureSuccess();
        var setup = new byte[5000];
        new Random(1).NextBytes(setup);
        var image = t.Combine("vmlinuz");
        File.WriteAllBytes(image, [.. setup.Select(b => (byte)(b & 0x7f)), .. File.ReadAllBytes(compressed), 1, 2, 3, 4]);

        var output = t.Combine("vmlinux");
        var used = await new VmlinuxExtractor(ProcessRunner.Instance).ExtractAsync(image, output);
        Assert.Equal(expected, used);
        Assert.Equal(elf, File.ReadAllBytes(output));
    }

    [Fact]
    public async Task An_image_without_btf_is_a_clear_failure()
    {
        using var t = new TempDir();
        var elf = new ElfBuilder { Type = 2 }.Section(".text", new byte[64]).Build();
        var raw = t.Combine("vmlinux.raw");
        File.WriteAllBytes(raw, elf);
        var image = t.Combine("vmlinuz");
        (await ProcessRunner.Instance.RunAsync(new ProcessSpec("xz", ["--compress", "--stdout"]) { StdinFile = raw, StdoutFile = image })).EnsureSuccess();
        var e = await Assert.ThrowsAsync<StageException>(() => new VmlinuxExtractor(ProcessRunner.Instance).ExtractAsync(image, t.Combine("vmlinux")));
        Assert.Contains("without a .BTF section", e.Message);
        Assert.False(File.Exists(t.Combine("vmlinux")));
    }
}
