using System.Buffers.Binary;
using System.IO.Compression;

namespace KfuncForge.Tests.Matrix;

/// <summary>Just enough of PNG to read a browser's screenshot: 8-bit RGB or RGBA, non-interlaced, all five filters.</summary>
public sealed class PngImage
{
    public int Width { get; private init; }
    public int Height { get; private init; }
    private byte[] _pixels = [];
    private int _channels;

    public (byte R, byte G, byte B) Pixel(int x, int y)
    {
        var i = (y * Width + x) * _channels;
        return (_pixels[i], _pixels[i + 1], _pixels[i + 2]);
    }

    public static PngImage Read(string path)
    {
        var data = File.ReadAllBytes(path);
        if (!data.AsSpan(0, 8).SequenceEqual(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 })) throw new InvalidDataException($"{path} is not a PNG file");
        int width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        for (var pos = 8; pos < data.Length;)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(pos));
            var type = System.Text.Encoding.ASCII.GetString(data, pos + 4, 4);
            var body = data.AsSpan(pos + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(body);
                height = BinaryPrimitives.ReadInt32BigEndian(body[4..]);
                if (body[8] != 8 || body[12] != 0) throw new InvalidDataException($"unsupported PNG: bit depth {body[8]}, interlace {body[12]}");
                channels = body[9] switch { 2 => 3, 6 => 4, var t => throw new InvalidDataException($"unsupported PNG colour type {t}") };
            }
            else if (type == "IDAT") idat.Write(body);
            else if (type == "IEND") break;
            pos += 12 + length;
        }
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        var stride = width * channels;
        var pixels = new byte[stride * height];
        for (var y = 0; y < height; y++)
        {
            var filter = bytes[y * (stride + 1)];
            var src = y * (stride + 1) + 1;
            for (var x = 0; x < stride; x++)
            {
                int a = x >= channels ? pixels[y * stride + x - channels] : 0;
                int b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
                int c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
                int v = bytes[src + x];
                pixels[y * stride + x] = (byte)(filter switch
                {
                    0 => v,
                    1 => v + a,
                    2 => v + b,
                    3 => v + (a + b) / 2,
                    4 => v + Paeth(a, b, c),
                    _ => throw new InvalidDataException($"bad PNG filter {filter}"),
                });
            }
        }
        return new PngImage { Width = width, Height = height, _pixels = pixels, _channels = channels };
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
