namespace KfuncForge.Kernels;

/// <summary>Debian version ordering (epoch:upstream-revision, '~' sorts before everything), as dpkg compares.</summary>
public sealed class DebVersion : IComparer<string>
{
    public static readonly DebVersion Comparer = new();

    public int Compare(string? a, string? b)
    {
        if (ReferenceEquals(a, b)) return 0;
        if (a is null) return -1;
        if (b is null) return 1;
        var (ea, ua, ra) = Split(a);
        var (eb, ub, rb) = Split(b);
        if (ea != eb) return ea.CompareTo(eb);
        var c = ComparePart(ua, ub);
        return c != 0 ? c : ComparePart(ra, rb);
    }

    private static (long Epoch, string Upstream, string Revision) Split(string v)
    {
        long epoch = 0;
        var colon = v.IndexOf(':');
        if (colon > 0 && long.TryParse(v[..colon], out var e)) { epoch = e; v = v[(colon + 1)..]; }
        var dash = v.LastIndexOf('-');
        return dash >= 0 ? (epoch, v[..dash], v[(dash + 1)..]) : (epoch, v, "");
    }

    private static int Order(char c) =>
        c == '~' ? -1 : char.IsAsciiDigit(c) ? 0 : char.IsAsciiLetter(c) ? c : c + 256;

    private static int ComparePart(string a, string b)
    {
        int i = 0, j = 0;
        while (i < a.Length || j < b.Length)
        {
            var first = 0;
            while (i < a.Length && !char.IsAsciiDigit(a[i]) || j < b.Length && !char.IsAsciiDigit(b[j]))
            {
                var ac = i < a.Length ? Order(a[i]) : 0;
                var bc = j < b.Length ? Order(b[j]) : 0;
                if (ac != bc) return ac - bc;
                i++; j++;
            }
            while (i < a.Length && a[i] == '0') i++;
            while (j < b.Length && b[j] == '0') j++;
            while (i < a.Length && char.IsAsciiDigit(a[i]) && j < b.Length && char.IsAsciiDigit(b[j]))
            {
                if (first == 0) first = a[i] - b[j];
                i++; j++;
            }
            if (i < a.Length && char.IsAsciiDigit(a[i])) return 1;
            if (j < b.Length && char.IsAsciiDigit(b[j])) return -1;
            if (first != 0) return first;
        }
        return 0;
    }
}
