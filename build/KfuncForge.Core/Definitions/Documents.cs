namespace KfuncForge.Definitions;

// The YAML shapes, one class per section, snake_case keys (UnderscoredNamingConvention).
// They are plain carriers for YamlDotNet; Validator turns them into the immutable Model records.
// Field meanings: docs/definitions.md.

public sealed class ModuleDocument
{
    [Required] public string? Name { get; set; }
    [Required] public string? Description { get; set; }
    [Required] public string? License { get; set; }
    [Required] public string? Version { get; set; }
    [Required] public List<KfuncDocument>? Kfuncs { get; set; }
    public List<SmokeDocument>? Smoke { get; set; }
    public List<LoadDocument>? Load { get; set; }
    public FidelityDocument? Fidelity { get; set; }
}

public sealed class FidelityDocument
{
    [Required] public string? Source { get; set; }
    [Required] public List<FidelityCaseDocument>? Cases { get; set; }
    public List<LoadDocument>? Load { get; set; }
    public BaselineDocument? Baseline { get; set; }
}

public sealed class BaselineDocument
{
    [Required] public string? Program { get; set; }
    public string? Entry { get; set; }
    [Required] public long? Repeat { get; set; }
}

public sealed class FidelityCaseDocument
{
    [Required] public string? Name { get; set; }
    [Required] public string? Kfunc { get; set; }
    [Required] public ExpectDocument? Expect { get; set; }
    public List<DifferenceDocument>? Differs { get; set; }
    public SocketsDocument? Sockets { get; set; }
}

public sealed class DifferenceDocument
{
    [Required] public KernelRangeDocument? Kernels { get; set; }
    [Required] public ExpectDocument? Expect { get; set; }
    [Required] public string? Reason { get; set; }
}

public sealed class SocketsDocument
{
    [Required] public string? Family { get; set; }
    [Required] public string? State { get; set; }
}

public sealed class KfuncDocument
{
    [Required] public string? Name { get; set; }
    [Required] public string? Prototype { get; set; }
    [Required] public UpstreamDocument? Upstream { get; set; }
    public List<string>? Flags { get; set; }
    [Required] public List<string>? ProgramTypes { get; set; }
    public AttachRestrictionDocument? AttachRestriction { get; set; }
    [Required] public List<VariantDocument>? Variants { get; set; }
}

public sealed class UpstreamDocument
{
    [Required] public string? Release { get; set; }
    [Required] public string? Commit { get; set; }
    public string? Path { get; set; }
    // What `kfuncforge import` read, so `kfuncforge drift` can compare a newer ref with it (docs/upstream.md).
    public string? Ref { get; set; }
    public string? BodySha256 { get; set; }
    public List<string>? BtfSets { get; set; }
    public List<string>? Filters { get; set; }
}

public sealed class AttachRestrictionDocument
{
    [Required] public string? ProgramType { get; set; }
    [Required] public List<string>? AttachTo { get; set; }
    [Required] public string? Reason { get; set; }
}

public sealed class VariantDocument
{
    [Required] public string? Id { get; set; }
    [Required] public string? File { get; set; }
    public KernelRangeDocument? Kernels { get; set; }
    public Dictionary<string, string>? RequiresConfig { get; set; }
    public List<string>? RequiresSymbols { get; set; }
    public List<string>? ProgramTypes { get; set; }
    public List<string>? Flags { get; set; }
    public string? Init { get; set; }
    public string? Exit { get; set; }
    public string? Notes { get; set; }
}

public sealed class KernelRangeDocument
{
    public string? From { get; set; }
    public string? Before { get; set; }
}

public sealed class SmokeDocument
{
    [Required] public string? Name { get; set; }
    [Required] public string? Source { get; set; }
    [Required] public string? Program { get; set; }
    [Required] public string? Section { get; set; }
    [Required] public string? ProgramType { get; set; }
    [Required] public List<string>? Calls { get; set; }
    public KernelRangeDocument? Kernels { get; set; }
    [Required] public ExpectDocument? Expect { get; set; }
}

public sealed class ExpectDocument
{
    public long? Retval { get; set; }
    public string? VerifierRejects { get; set; }
}

public sealed class LoadDocument
{
    [Required] public string? Name { get; set; }
    [Required] public string? Kfunc { get; set; }
    [Required] public string? Program { get; set; }
    [Required] public string? Driver { get; set; }
    public long? Repeat { get; set; }
    public long? Sockets { get; set; }
    public string? Entry { get; set; }
}

public sealed class DistroDocument
{
    [Required] public string? Id { get; set; }
    [Required] public string? Name { get; set; }
    [Required] public string? Family { get; set; }
    [Required] public string? PackageManager { get; set; }
    [Required] public string? ContainerImage { get; set; }
    public string? BpfBackports { get; set; }
    public RootfsDocument? Rootfs { get; set; }
    [Required] public List<string>? Toolchain { get; set; }
    [Required] public string? KernelPackaging { get; set; }
    [Required] public List<KernelTargetDocument>? Kernels { get; set; }
    [Required] public PackagingDocument? Packaging { get; set; }
    [Required] public SigningDocument? Signing { get; set; }
    public SysextDocument? Sysext { get; set; }
    public List<string>? KernelRepositories { get; set; }
    public List<ProfileFactDocument>? Facts { get; set; }
}

public sealed class ProfileFactDocument
{
    [Required] public string? Fact { get; set; }
    [Required] public string? Source { get; set; }
    [Required] public string? Date { get; set; }
}

public sealed class SysextDocument
{
    [Required] public string? Id { get; set; }
    public string? VersionId { get; set; }
    public string? Level { get; set; }
    public string? Architecture { get; set; }
}

public sealed class RootfsDocument
{
    [Required] public string? Tool { get; set; }
    [Required] public string? Suite { get; set; }
    public List<string>? ExtraSuites { get; set; }
    public List<string>? Components { get; set; }
    public List<string>? Packages { get; set; }
}

public sealed class KernelTargetDocument
{
    public string? Release { get; set; }
    public int? Newest { get; set; }
    public string? Flavour { get; set; }
    public string? Suite { get; set; }
    public string? Line { get; set; }
    public string? Tree { get; set; }
}

public sealed class PackagingDocument
{
    [Required] public string? Name { get; set; }
    [Required] public string? Maintainer { get; set; }
    [Required] public string? Vendor { get; set; }
    [Required] public string? InstallDir { get; set; }
    public string? Meta { get; set; }
    public int? Retain { get; set; }
    public string? KmodImage { get; set; }
}

public sealed class SigningDocument
{
    public string? ModuleKey { get; set; }
    public string? ModuleCertificate { get; set; }
    public string? PackageKeyId { get; set; }
    [Required] public string? ModuleHash { get; set; }
}

public sealed class KernelPackagingDocument
{
    [Required] public string? Name { get; set; }
    [Required] public List<string>? Headers { get; set; }
    [Required] public List<ImageRuleDocument>? Image { get; set; }
    [Required] public string? ModulesDir { get; set; }
    [Required] public string? HeadersDir { get; set; }
    public string? KmodRequires { get; set; }
}

public sealed class ImageRuleDocument
{
    public KernelRangeDocument? Kernels { get; set; }
    [Required] public string? Package { get; set; }
    public string? Unsigned { get; set; }
    [Required] public string? Path { get; set; }
}
