using KfuncForge.Containers;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Containers;

public sealed class MountUnionTests
{
    private static string Show(MountOp op, string root) => op switch
    {
        BindOp b => $"bind {Path.GetRelativePath(root, b.Source)} {b.Target}",
        DirOp d => $"dir {d.Target}",
        SymlinkOp s => $"link {s.LinkTarget} {s.Target}",
        _ => "?",
    };

    [Fact]
    public void A_single_layer_is_one_bind_of_the_root()
    {
        using var t = new TempDir();
        t.Dir("rootfs/usr/bin");
        var ops = MountUnion.Plan([t.Combine("rootfs")]);
        Assert.Equal(["bind rootfs /"], ops.Select(o => Show(o, t.Path)));
    }

    [Fact]
    public void A_kernel_tree_over_a_rootfs_splits_only_the_shared_folders()
    {
        using var t = new TempDir();
        t.Dir("rootfs/etc");
        t.Dir("rootfs/usr/bin");
        t.Dir("rootfs/usr/lib/gcc");
        t.Dir("rootfs/usr/src");
        File.CreateSymbolicLink(t.Combine("rootfs/bin"), "usr/bin");
        t.Write("tree/usr/src/linux-headers-R/Makefile", "include x");
        File.CreateSymbolicLink(t.Combine("tree/usr/src/linux-headers-R/scripts"), "../../lib/linux-kbuild-6.1/scripts");
        t.Dir("tree/usr/lib/linux-kbuild-6.1/scripts");
        t.Write("extras/usr/src/linux-headers-R/vmlinux", "ELF");

        var ops = MountUnion.Plan([t.Combine("rootfs"), t.Combine("tree"), t.Combine("extras")]).Select(o => Show(o, t.Path)).ToList();
        Assert.Equal(
        [
            "link usr/bin /bin",
            "bind rootfs/etc /etc",
            "dir /usr",
            "bind rootfs/usr/bin /usr/bin",
            "dir /usr/lib",
            "bind rootfs/usr/lib/gcc /usr/lib/gcc",
            "bind tree/usr/lib/linux-kbuild-6.1 /usr/lib/linux-kbuild-6.1",
            "dir /usr/src",
            "dir /usr/src/linux-headers-R",
            "bind tree/usr/src/linux-headers-R/Makefile /usr/src/linux-headers-R/Makefile",
            "link ../../lib/linux-kbuild-6.1/scripts /usr/src/linux-headers-R/scripts",
            "bind extras/usr/src/linux-headers-R/vmlinux /usr/src/linux-headers-R/vmlinux",
        ], ops);
    }

    [Fact]
    public void An_upper_file_hides_a_lower_one_and_missing_layers_are_ignored()
    {
        using var t = new TempDir();
        t.Write("rootfs/etc/resolv.conf", "lower");
        t.Write("rootfs/etc/hostname", "h");
        t.Write("net/etc/resolv.conf", "upper");
        var ops = MountUnion.Plan([t.Combine("rootfs"), t.Combine("net"), t.Combine("absent")]).Select(o => Show(o, t.Path)).ToList();
        Assert.Equal(["dir /etc", "bind rootfs/etc/hostname /etc/hostname", "bind net/etc/resolv.conf /etc/resolv.conf"], ops);
    }
}
