using System.Globalization;
using System.Text;

namespace KfuncForge.Vm;

/// <summary>What one archive entry is.</summary>
public enum CpioEntryKind { Directory, File, Symlink }

/// <summary>
/// One entry of an initramfs. A file's content comes from a host file or from bytes; a symlink's from its target.
/// Paths are relative ("kff/agent"), never absolute.
/// </summary>
public sealed record CpioEntry(string Path, CpioEntryKind Kind, int Mode, string? SourceFile = null, byte[]? Bytes = null, string? LinkTarget = null)
{
    public long Size => Kind switch
    {
        CpioEntryKind.File => Bytes?.LongLength ?? new FileInfo(SourceFile!).Length,
        CpioEntryKind.Symlink => Encoding.UTF8.GetByteCount(LinkTarget!),
        _ => 0,
    };
}

/// <summary>
/// Writes the kernel's initramfs format (cpio "newc") deterministically: entries sorted by path, parent
/// folders first, inode numbers assigned in order, owner root, mtime 0. The same inputs give the same bytes.
/// </summary>
public static class Cpio
{
    private const string Magic = "070701";
    private const string Trailer = "TRAILER!!!";

    /// <summary>Adds the parent folders the entries need and orders everything by path (ordinal).</summary>
    public static IReadOnlyList<CpioEntry> Normalise(IEnumerable<CpioEntry> entries)
    {
        var byPath = new SortedDictionary<string, CpioEntry>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            var path = Clean(e.Path);
            if (byPath.TryGetValue(path, out var existing) && !(existing.Kind == CpioEntryKind.Directory && e.Kind == CpioEntryKind.Directory))
                throw new ArgumentException($"initramfs path '{path}' is given twice");
            byPath[path] = e with { Path = path };
        }
        foreach (var path in byPath.Keys.ToList())
            for (var parent = ParentOf(path); parent is not null; parent = ParentOf(parent))
                if (!byPath.ContainsKey(parent))
                    byPath[parent] = new CpioEntry(parent, CpioEntryKind.Directory, 0x1ED);
                else if (byPath[parent].Kind != CpioEntryKind.Directory)
                    throw new ArgumentException($"initramfs path '{parent}' is a file but '{path}' needs it as a folder");
        return byPath.Values.ToList();
    }

    public static void Write(IEnumerable<CpioEntry> entries, Stream output)
    {
        var ino = 1;
        foreach (var e in Normalise(entries))
        {
            var type = e.Kind switch { CpioEntryKind.Directory => 0x4000, CpioEntryKind.Symlink => 0xA000, _ => 0x8000 };
            var size = e.Size;
            if (size > uint.MaxValue) throw new ArgumentException($"initramfs file '{e.Path}' is larger than 4 GiB");
            WriteHeader(output, e.Path, ino++, type | (e.Mode & 0xFFF), e.Kind == CpioEntryKind.Directory ? 2 : 1, (uint)size);
            switch (e.Kind)
            {
                case CpioEntryKind.File when e.Bytes is not null:
                    output.Write(e.Bytes);
                    break;
                case CpioEntryKind.File:
                    using (var source = File.OpenRead(e.SourceFile!))
                    {
                        source.CopyTo(output);
                        if (source.Length != size) throw new IOException($"'{e.SourceFile}' changed while the initramfs was written");
                    }
                    break;
                case CpioEntryKind.Symlink:
                    output.Write(Encoding.UTF8.GetBytes(e.LinkTarget!));
                    break;
            }
            Pad(output, size);
        }
        WriteHeader(output, Trailer, 0, 0, 1, 0);
    }

    private static void WriteHeader(Stream output, string name, int ino, int mode, int nlink, uint size)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var sb = new StringBuilder(110);
        sb.Append(Magic);
        foreach (var field in new uint[] { (uint)ino, (uint)mode, 0, 0, (uint)nlink, 0, size, 0, 0, 0, 0, (uint)nameBytes.Length + 1, 0 })
            sb.Append(field.ToString("x8", CultureInfo.InvariantCulture));
        output.Write(Encoding.ASCII.GetBytes(sb.ToString()));
        output.Write(nameBytes);
        output.WriteByte(0);
        Pad(output, 110 + nameBytes.Length + 1);
    }

    private static void Pad(Stream output, long written)
    {
        var pad = (int)((4 - written % 4) % 4);
        for (var i = 0; i < pad; i++) output.WriteByte(0);
    }

    private static string Clean(string path)
    {
        var p = path.Replace('\\', '/').Trim('/');
        if (p.Length == 0 || p.Split('/').Any(s => s is "" or "." or ".."))
            throw new ArgumentException($"'{path}' is not a valid initramfs path (relative, no empty, '.' or '..' parts)");
        return p;
    }

    private static string? ParentOf(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash < 0 ? null : path[..slash];
    }
}
