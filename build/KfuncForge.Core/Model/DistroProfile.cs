namespace KfuncForge.Model;

/// <summary>How a profile's modules reach hosts: .deb in an apt repository, .rpm in a yum repository, or systemd-sysext images (Flatcar).</summary>
public enum PackageFamily { Deb, Rpm, Sysext }

/// <summary>One target distribution, read from distros/&lt;id&gt;.yaml.</summary>
public sealed record DistroProfile(
    string Id,
    string Name,
    PackageFamily Family,
    string PackageManager,
    string ContainerImage,
    RootfsRecipe? Rootfs,
    IReadOnlyList<string> Toolchain,
    KernelPackaging KernelPackaging,
    IReadOnlyList<KernelTarget> Kernels,
    PackageNaming Packaging,
    SigningSettings Signing,
    KernelVersion? BpfLevel,
    SysextSettings? Sysext = null)
{
    /// <summary>RPM profiles: the repositories (base URLs) dnf fetches kernel-devel and kernel-core from; --kernel-repo replaces them.</summary>
    public IReadOnlyList<string> KernelRepositories { get; init; } = [];

    /// <summary>What was verified about the distro's kernels and where, for kernels not fetched here (Plan prints them).</summary>
    public IReadOnlyList<ProfileFact> Facts { get; init; } = [];

    /// <summary>Only profiles with a rootfs recipe can be built in the rootless sandbox; the rest need docker or podman.</summary>
    public bool NeedsContainerEngine => Rootfs is null;
}

/// <summary>How the rootless sandbox's root filesystem is made (mmdebstrap), for distros whose packages this machine can reach.</summary>
public sealed record RootfsRecipe(string Tool, string Suite, IReadOnlyList<string> ExtraSuites, IReadOnlyList<string> Components, IReadOnlyList<string> Packages);

/// <summary>
/// A kernel to build for: an explicit release, the newest N of a flavour in a suite (resolved against the live index),
/// or a kernel build tree on this machine (Tree: a directory, relative to the repository root; docs/kernel-trees.md).
/// </summary>
public sealed record KernelTarget(string? Release, int? Newest, string? Flavour, string? Suite, KernelVersion Line, string? Tree = null)
{
    public bool IsExplicit => Release is not null;

    /// <summary>Stable name of this target in output paths and plans.</summary>
    public string Key => Release ?? (Tree is not null ? $"{Line}-tree" : $"{Line}-{Flavour}-newest{Newest}");

    public override string ToString() => Release ?? (Tree is not null ? $"the {Line}.x kernel build tree {Tree}" : $"newest {Newest} of {Flavour} {Line}.x in {Suite}");
}

/// <summary>The distro's naming of kernel packages (shared by a family of profiles: distros/kernel-packaging/&lt;name&gt;.yaml).</summary>
public sealed record KernelPackaging(
    string Name,
    IReadOnlyList<string> Headers,
    IReadOnlyList<KernelImageRule> Image,
    string ModulesDir,
    string HeadersDir)
{
    /// <summary>RPM: what a kmod package requires of its kernel (RHEL: the kernel-uname-r the kernel provides).</summary>
    public string KmodRequires { get; init; } = "kernel-uname-r = {release}";
}

/// <summary>
/// Which package carries the bootable image, and where, for a range of kernel versions. Unsigned names the
/// package that carries the same kernel without the EFI signature (Debian publishes it first): used only for
/// a release pinned by name whose signed image is not published (docs/kernels.md, "Incomplete releases").
/// </summary>
public sealed record KernelImageRule(KernelRange Kernels, string Package, string Path, string? Unsigned = null);

/// <summary>Names and install locations of the packages this project emits.</summary>
public sealed record PackageNaming(string Name, string Maintainer, string Vendor, string InstallDir)
{
    /// <summary>
    /// The package a host installs once and keeps (docs/packaging.md, "Rolling out to a fleet"): per module and kernel
    /// line/flavour, it depends on the module package of the newest kernel published, so the ordinary upgrade brings the
    /// module package of each new kernel. Placeholders {module}, {module_dashed}, {line}, {flavour}. Null for sysext profiles.
    /// </summary>
    public string? Meta { get; init; }

    /// <summary>How many kernels of each line the repository keeps serving (the newest N): hosts not yet rebooted or held back stay installable.</summary>
    public int Retain { get; init; } = DefaultRetain;

    public const int DefaultRetain = 3;

    /// <summary>The image repository of the KMM kmod images (placeholders {module}, {module_dashed}); each kernel's image is tagged by its release.</summary>
    public string KmodImage { get; init; } = DefaultKmodImage;

    public const string DefaultKmodImage = "kfuncforge/{module_dashed}-kmod";

    /// <summary>The meta package name when the profile gives none: Debian's &lt;module&gt;-modules-&lt;flavour&gt;-&lt;line&gt;, RPM's kmod-&lt;module&gt;.</summary>
    public static string? DefaultMeta(PackageFamily family) => family switch
    {
        PackageFamily.Deb => "{module_dashed}-modules-{flavour}-{line}",
        PackageFamily.Rpm => "kmod-{module}",
        _ => null,
    };
}

/// <summary>
/// What a system extension image's extension-release says (systemd-sysext matches it against the host's os-release):
/// the OS ID, and either the exact VERSION_ID of the OS release the image is for or a SYSEXT_LEVEL; the architecture
/// in systemd's spelling (x86-64).
/// </summary>
public sealed record SysextSettings(string Id, string? VersionId, string? Level, string Architecture);

/// <summary>One verified fact about a profile's kernels, with its source and the day it was read.</summary>
public sealed record ProfileFact(string Fact, string Source, string Date);

/// <summary>Where signing keys come from; never the keys themselves.</summary>
public sealed record SigningSettings(string? ModuleKey, string? ModuleCertificate, string? PackageKeyId, string ModuleHash);
