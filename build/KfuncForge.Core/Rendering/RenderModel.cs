using System.Globalization;
using KfuncForge.Definitions;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Signing;
using Scriban.Runtime;

namespace KfuncForge.Rendering;

/// <summary>
/// The data templates see for one build cell, built explicitly (snake_case keys, plain values) so
/// that what a template can reach is exactly what is listed here. See docs/templates.md.
/// </summary>
public static class RenderModel
{
    public const string Generator = "KfuncForge";

    public static ScriptObject For(BuildCell cell, DateTimeOffset sourceDate)
    {
        var module = cell.Module;
        var distro = cell.Distro;
        var kernel = cell.Kernel;
        var backports = cell.Backports;
        var values = KernelValues(kernel);
        var packageValues = PackageValues(cell);

        var kfuncs = backports.Select(e => module.Kfuncs.Single(k => k.Name == e.Kfunc)).ToList();
        var variants = backports.Select(e => e.Variant!).ToList();
        var sources = variants.Select(v => v.File).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

        // One BTF set per distinct registration (program types + attach restriction), so no kfunc
        // becomes callable from more program types than upstream allows.
        var registrations = kfuncs.Select((k, i) => new Registration(k, variants[i].ProgramTypes ?? k.ProgramTypes, variants[i].Flags ?? k.Flags)).ToList();
        var sets = registrations
            .GroupBy(RegistrationKey)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select((g, i) => Obj(
                ("name", $"{module.Name}_set{i}"),
                ("kfuncs", List(g.Select(r => Obj(("name", r.Kfunc.Name), ("flags", r.Flags.Count == 0 ? "0" : string.Join(" | ", r.Flags)))))),
                ("program_types", List(g.First().ProgramTypes.Select(t => Obj(("name", t.Name), ("kernel_enum", t.KernelEnum))))),
                ("restriction", g.First().Kfunc.AttachRestriction is { } r
                    ? Obj(("program_type", r.ProgramType.KernelEnum),
                          ("attach_functions", List(r.AttachTo.Select(AttachFunction))),
                          ("attach_to", string.Join(", ", r.AttachTo)),
                          ("reason", r.Reason))
                    : null)))
            .ToList();

        var imagePackage = ImageRule(distro.KernelPackaging, kernel.Version);
        var packageName = PackageName(cell);
        var fleet = Fleet(cell);

        return Obj(
            ("generator", Generator),
            ("module", Obj(
                ("name", module.Name),
                ("dashed", module.Name.Replace('_', '-')),
                ("description", module.Description),
                ("license", module.License),
                ("version", module.Version),
                ("sources", List(sources)),
                ("objects", List(sources.Select(s => Path.ChangeExtension(s, ".o")))),
                ("init_hooks", List(variants.Select(v => v.Hooks.Init).OfType<string>().Distinct().Order(StringComparer.Ordinal))),
                ("exit_hooks", List(variants.Select(v => v.Hooks.Exit).OfType<string>().Distinct().Order(StringComparer.Ordinal))))),
            ("kfuncs", List(kfuncs.Select((k, i) => Obj(
                ("name", k.Name),
                ("prototype", k.Prototype),
                ("upstream_release", k.Upstream.Release.ToString()),
                ("upstream_commit", k.Upstream.Commit),
                ("variant", variants[i].Id),
                ("reason", backports[i].Reason))))),
            ("sets", List(sets)),
            ("structs", List(StructsIn(kfuncs))),
            ("kernel", Obj(
                ("release", kernel.Release),
                ("version", kernel.Version.ToString()),
                ("major", kernel.Version.Major),
                ("minor", kernel.Version.Minor),
                ("flavour", kernel.Flavour ?? ""),
                ("resolved", kernel.IsResolved),
                ("modules_dir", Names.Expand(distro.KernelPackaging.ModulesDir, values)),
                ("headers_dir", kernel.TreeDir ?? Names.Expand(distro.KernelPackaging.HeadersDir, values)),
                ("image_package", imagePackage is null ? "" : Names.Expand(imagePackage.Package, values)),
                ("module_suffix", Packaging.ModuleCompression.Suffix(kernel.Config)),
                ("kmod_requires", Names.Expand(distro.KernelPackaging.KmodRequires, values)))),
            ("distro", Obj(("id", distro.Id), ("name", distro.Name), ("family", distro.Family.ToString().ToLowerInvariant()))),
            ("sysext", Obj(
                ("id", distro.Sysext?.Id ?? ""),
                ("version_id", distro.Sysext?.VersionId ?? ""),
                ("level", distro.Sysext?.Level ?? ""),
                ("architecture", distro.Sysext?.Architecture ?? ""))),
            ("package", Obj(
                ("name", packageName),
                ("version", $"{module.Version}"),
                ("maintainer", distro.Packaging.Maintainer),
                ("vendor", distro.Packaging.Vendor),
                ("install_dir", Names.Expand(distro.Packaging.InstallDir, packageValues)),
                ("certificate", ShippedCertificate.PathFor(module.Name, kernel.Release)))),
            ("fleet", fleet is null ? null : Obj(
                ("name", fleet.Name),
                ("version", fleet.Version),
                ("rpm_release", fleet.RpmRelease),
                ("line", fleet.Line),
                ("flavour", kernel.Flavour ?? ""),
                ("package_parts", List(ReleaseParts(distro.Packaging.Name, cell))),
                ("install_dir_parts", List(ReleaseParts(distro.Packaging.InstallDir, cell))))),
            ("date", Obj(
                ("epoch", sourceDate.ToUnixTimeSeconds()),
                ("rfc2822", sourceDate.ToString("ddd, dd MMM yyyy HH:mm:ss +0000", CultureInfo.InvariantCulture)),
                ("rpm", sourceDate.ToString("ddd MMM dd yyyy", CultureInfo.InvariantCulture)))));
    }

    /// <summary>
    /// The meta package a cell's kernel contributes to (docs/packaging.md, "Rolling out to a fleet"): its name (packaging.meta
    /// with the kernel's line and flavour), and a version that grows with the kernel, so that the meta package rendered for a
    /// newer kernel of the line replaces the older one at an ordinary upgrade. Debian: &lt;module version&gt;+&lt;kernel ABI&gt;
    /// (6.1.0-57 sorts before 6.1.0-58, and 6.1 before 6.12); RPM: the module version, and the kernel release as the Release
    /// ('-' becomes '_', which rpm does not allow there). Null when the profile has no meta package (system extensions).
    /// </summary>
    public static FleetPackage? Fleet(BuildCell cell)
    {
        if (cell.Distro.Packaging.Meta is not { } pattern) return null;
        var values = KernelValues(cell.Kernel);
        var name = Names.Expand(pattern, new Dictionary<string, string>
        {
            ["module"] = cell.Module.Name,
            ["module_dashed"] = cell.Module.Name.Replace('_', '-'),
            ["line"] = values["line"],
            ["flavour"] = values["flavour"],
        });
        return new FleetPackage(name, $"{cell.Module.Version}+{values["abi"]}", values["abi"].Replace('-', '_'), values["line"]);
    }

    /// <summary>A packaging pattern expanded for this cell, split where the kernel release goes: the kernel guard puts any release there.</summary>
    private static IEnumerable<string> ReleaseParts(string pattern, BuildCell cell) =>
        Names.Expand(pattern, new Dictionary<string, string>(PackageValues(cell)) { ["release"] = "\0" }).Split("\0");

    /// <summary>The emitted package's name for this cell, from the profile's packaging.name pattern.</summary>
    public static string PackageName(BuildCell cell) => Names.Expand(cell.Distro.Packaging.Name, PackageValues(cell));

    private static Dictionary<string, string> PackageValues(BuildCell cell) => new()
    {
        ["module"] = cell.Module.Name,
        ["module_dashed"] = cell.Module.Name.Replace('_', '-'),
        ["release"] = cell.Kernel.Release,
    };

    /// <summary>Values for the kernel placeholders: {release} 6.1.0-56-amd64, {abi} 6.1.0-56, {line} 6.1, {version} 6.1.0, {flavour} amd64.</summary>
    public static Dictionary<string, string> KernelValues(KernelFacts kernel)
    {
        var release = kernel.Release;
        var flavour = kernel.Flavour ?? "";
        var abi = flavour.Length > 0 && release.EndsWith("-" + flavour, StringComparison.Ordinal) ? release[..^(flavour.Length + 1)] : release;
        return new Dictionary<string, string>
        {
            ["release"] = release,
            ["abi"] = abi,
            ["line"] = $"{kernel.Version.Major}.{kernel.Version.Minor}",
            ["version"] = $"{kernel.Version.Major}.{kernel.Version.Minor}.{kernel.Version.Patch}",
            ["flavour"] = flavour,
        };
    }

    public static KernelImageRule? ImageRule(KernelPackaging packaging, KernelVersion version) =>
        packaging.Image.FirstOrDefault(r => r.Kernels.Contains(version));

    /// <summary>libbpf's "iter/tcp" attaches to the kernel's bpf_iter_tcp target; other forms are used as given.</summary>
    private static string AttachFunction(string attachTo) =>
        attachTo.StartsWith("iter/", StringComparison.Ordinal) ? "bpf_iter_" + attachTo["iter/".Length..] : attachTo;

    /// <summary>A cell's meta package: name, Debian version, RPM release, and the kernel line it follows.</summary>
    public sealed record FleetPackage(string Name, string Version, string RpmRelease, string Line);

    private sealed record Registration(Kfunc Kfunc, IReadOnlyList<ProgramType> ProgramTypes, IReadOnlyList<string> Flags);

    private static string RegistrationKey(Registration r) =>
        string.Join(",", r.ProgramTypes.Select(t => t.Name)) + "|" + (r.Kfunc.AttachRestriction is { } a ? $"{a.ProgramType.Name}:{string.Join(",", a.AttachTo)}" : "");

    /// <summary>Structs named in prototypes, declared before the prototypes so headers need not define them.</summary>
    private static IEnumerable<string> StructsIn(IEnumerable<Kfunc> kfuncs) =>
        kfuncs.SelectMany(k => System.Text.RegularExpressions.Regex.Matches(k.Prototype, @"\bstruct\s+([A-Za-z_]\w*)").Select(m => m.Groups[1].Value))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);

    private static ScriptObject Obj(params (string Key, object? Value)[] pairs)
    {
        var o = new ScriptObject();
        foreach (var (k, v) in pairs) o.Add(k, v);
        return o;
    }

    private static ScriptArray List<T>(IEnumerable<T> items) => new(items.Cast<object?>());
}
