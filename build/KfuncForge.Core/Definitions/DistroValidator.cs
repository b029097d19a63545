using KfuncForge.Diagnostics;
using KfuncForge.Model;

namespace KfuncForge.Definitions;

/// <summary>Semantic checks of distros/&lt;id&gt;.yaml and distros/kernel-packaging/&lt;name&gt;.yaml.</summary>
public static class DistroValidator
{
    /// <summary>Placeholders kernel package patterns may use; their values come from the kernel release (see KernelRelease).</summary>
    public static readonly string[] KernelPlaceholders = ["release", "abi", "line", "version", "flavour"];

    /// <summary>Placeholders the emitted package's name and install dir may use.</summary>
    public static readonly string[] PackagePlaceholders = ["module", "module_dashed", "release"];
    public static readonly string[] MetaPlaceholders = ["module", "module_dashed", "line", "flavour"];
    public static readonly string[] ImagePlaceholders = ["module", "module_dashed"];

    public static readonly string[] KnownHashes = ["sha1", "sha224", "sha256", "sha384", "sha512", "from-kernel-config"];

    public static KernelPackaging? ValidatePackaging(ReadDocument<KernelPackagingDocument> doc, string fileStem, List<Problem> problems)
    {
        var before = problems.Count;
        var d = doc.Value;
        if (d.Name != fileStem) problems.Add(doc.At("name", $"name '{d.Name}' differs from the file name '{fileStem}.yaml'; make them match"));
        for (var i = 0; i < d.Headers!.Count; i++)
        {
            CheckPattern(doc, $"headers[{i}]", d.Headers[i], KernelPlaceholders, problems);
            CheckGrammar(doc, $"headers[{i}]", d.Headers[i], Grammar.PackagePattern, problems);
        }
        CheckPattern(doc, "modules_dir", d.ModulesDir!, KernelPlaceholders, problems);
        CheckPattern(doc, "headers_dir", d.HeadersDir!, KernelPlaceholders, problems);
        CheckGrammar(doc, "modules_dir", d.ModulesDir!, Grammar.AbsolutePath, problems);
        CheckGrammar(doc, "headers_dir", d.HeadersDir!, Grammar.AbsolutePath, problems);
        var rules = new List<KernelImageRule>();
        for (var i = 0; i < d.Image!.Count; i++)
        {
            var r = d.Image[i];
            CheckPattern(doc, $"image[{i}].package", r.Package!, KernelPlaceholders, problems);
            CheckPattern(doc, $"image[{i}].path", r.Path!, KernelPlaceholders, problems);
            CheckGrammar(doc, $"image[{i}].package", r.Package!, Grammar.PackagePattern, problems);
            CheckGrammar(doc, $"image[{i}].path", r.Path!, Grammar.AbsolutePath, problems);
            if (r.Unsigned is not null)
            {
                CheckPattern(doc, $"image[{i}].unsigned", r.Unsigned, KernelPlaceholders, problems);
                CheckGrammar(doc, $"image[{i}].unsigned", r.Unsigned, Grammar.PackagePattern, problems);
            }
            var range = ModuleValidator.RangeOf(doc, $"image[{i}].kernels", r.Kernels, problems);
            if (range is null) continue;
            foreach (var (earlier, j) in rules.Select((x, j) => (x, j)))
                if (earlier.Kernels.Overlaps(range))
                    problems.Add(doc.At($"image[{i}].kernels", $"kernel range {range} overlaps image[{j}] ({earlier.Kernels}); each kernel must match one rule"));
            rules.Add(new KernelImageRule(range, r.Package!, r.Path!, r.Unsigned));
        }
        if (d.Image.Count == 0) problems.Add(doc.At("image", "list at least one rule saying which package carries the kernel image"));
        if (problems.Count > before) return null;
        var packaging = new KernelPackaging(d.Name!, d.Headers, rules, d.ModulesDir!, d.HeadersDir!);
        if (d.KmodRequires is not null)
        {
            CheckPattern(doc, "kmod_requires", d.KmodRequires, KernelPlaceholders, problems);
            CheckGrammar(doc, "kmod_requires", d.KmodRequires, v => System.Text.RegularExpressions.Regex.IsMatch(v, @"^[A-Za-z0-9_.+-]+( (=|>=|<=) [A-Za-z0-9_.+{}~-]+)?\z") ? null
                : "must be an RPM dependency: a name, optionally ' = ', ' >= ' or ' <= ' and a version", problems);
            if (problems.Count > before) return null;
            packaging = packaging with { KmodRequires = d.KmodRequires };
        }
        return packaging;
    }

    public static DistroProfile? ValidateDistro(ReadDocument<DistroDocument> doc, string fileStem,
        IReadOnlyDictionary<string, KernelPackaging> packagings, List<Problem> problems)
    {
        var before = problems.Count;
        var d = doc.Value;
        if (d.Id != fileStem) problems.Add(doc.At("id", $"id '{d.Id}' differs from the file name '{fileStem}.yaml'; make them match"));
        else if (!Names.SimpleId().IsMatch(d.Id)) problems.Add(doc.At("id", $"id '{d.Id}' must be lower-case letters, digits and '-'"));

        CheckGrammar(doc, "name", d.Name!, v => Grammar.Text(v, 100), problems);
        CheckGrammar(doc, "container_image", d.ContainerImage!, Grammar.ImageReference, problems);
        for (var i = 0; i < d.Toolchain!.Count; i++) CheckGrammar(doc, $"toolchain[{i}]", d.Toolchain[i], Grammar.PackageName, problems);
        if (d.Rootfs is { } recipe)
        {
            CheckGrammar(doc, "rootfs.suite", recipe.Suite!, Grammar.ArchiveName, problems);
            for (var i = 0; i < (recipe.ExtraSuites?.Count ?? 0); i++) CheckGrammar(doc, $"rootfs.extra_suites[{i}]", recipe.ExtraSuites![i], Grammar.ArchiveName, problems);
            for (var i = 0; i < (recipe.Components?.Count ?? 0); i++) CheckGrammar(doc, $"rootfs.components[{i}]", recipe.Components![i], Grammar.ArchiveName, problems);
            for (var i = 0; i < (recipe.Packages?.Count ?? 0); i++) CheckGrammar(doc, $"rootfs.packages[{i}]", recipe.Packages![i], Grammar.PackageName, problems);
        }

        PackageFamily? family = d.Family switch { "deb" => PackageFamily.Deb, "rpm" => PackageFamily.Rpm, "sysext" => PackageFamily.Sysext, _ => null };
        if (family is null) problems.Add(doc.At("family", $"unknown package family '{d.Family}'; use deb, rpm or sysext"));
        var expectedManager = family switch { PackageFamily.Deb => new[] { "apt" }, PackageFamily.Rpm => ["dnf", "yum"], PackageFamily.Sysext => ["systemd-sysext"], _ => [] };
        if (family is not null && !expectedManager.Contains(d.PackageManager))
            problems.Add(doc.At("package_manager", $"'{d.PackageManager}' does not manage {d.Family} packages; use {string.Join(" or ", expectedManager)}"));

        RootfsRecipe? rootfs = null;
        if (d.Rootfs is { } r)
        {
            if (r.Tool != "mmdebstrap") problems.Add(doc.At("rootfs.tool", $"unknown rootfs tool '{r.Tool}'; the rootless sandbox builds its root with mmdebstrap"));
            // An RPM profile with a (Debian) rootfs builds in that environment: only for a kernel Debian's compilers built
            // (a stand-in, as the RPM fetch test uses); real RPM-family kernels build in their own container image.
            rootfs = new RootfsRecipe(r.Tool!, r.Suite!, r.ExtraSuites ?? [], r.Components ?? ["main"], r.Packages ?? []);
        }

        if (!packagings.TryGetValue(d.KernelPackaging!, out var packaging))
            problems.Add(doc.At("kernel_packaging", $"no kernel packaging named '{d.KernelPackaging}'; known: {string.Join(", ", packagings.Keys.Order(StringComparer.Ordinal))} (distros/kernel-packaging/)"));

        var targets = new List<KernelTarget>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < d.Kernels!.Count; i++)
        {
            var t = ValidateTarget(doc, d.Kernels[i], $"kernels[{i}]", problems);
            if (t is null) continue;
            if (!keys.Add(t.Key)) problems.Add(doc.At($"kernels[{i}]", $"kernel target '{t}' is listed twice"));
            targets.Add(t);
        }
        if (d.Kernels.Count == 0) problems.Add(doc.At("kernels", "list at least one kernel target"));

        var p = d.Packaging!;
        CheckPattern(doc, "packaging.name", p.Name!, PackagePlaceholders, problems);
        CheckPattern(doc, "packaging.install_dir", p.InstallDir!, PackagePlaceholders, problems);
        CheckGrammar(doc, "packaging.name", p.Name!, Grammar.PackagePattern, problems);
        CheckGrammar(doc, "packaging.maintainer", p.Maintainer!, Grammar.Maintainer, problems);
        CheckGrammar(doc, "packaging.vendor", p.Vendor!, v => Grammar.Text(v, 100), problems);
        CheckGrammar(doc, "packaging.install_dir", p.InstallDir!, Grammar.AbsolutePath, problems);
        if (family is not null && Names.UnknownPlaceholders(p.Name!, PackagePlaceholders).Count == 0)
        {
            var sample = Names.Expand(p.Name!, new Dictionary<string, string> { ["module"] = "kfunc_x", ["module_dashed"] = "kfunc-x", ["release"] = "6.1.0-1-amd64" });
            var valid = family == PackageFamily.Rpm ? Names.RpmPackage().IsMatch(sample) : Names.DebianPackage().IsMatch(sample);
            if (!valid)
                problems.Add(doc.At("packaging.name", family != PackageFamily.Rpm
                    ? $"'{p.Name}' gives names like '{sample}', which Debian rejects: lower-case letters, digits, '+', '-', '.' only (use {{module_dashed}}, not {{module}})"
                    : $"'{p.Name}' gives names like '{sample}', which is not a valid RPM name"));
        }
        if (p.Name!.Contains("{release}", StringComparison.Ordinal) is false)
            problems.Add(doc.At("packaging.name", $"'{Grammar.Clip(p.Name)}' has no {{release}}: each kernel needs its own module package, and the meta package and the kernel guard find it by the kernel's release"));
        var meta = p.Meta ?? (family is { } fam ? PackageNaming.DefaultMeta(fam) : null);
        if (p.Meta is not null && family == PackageFamily.Sysext)
            problems.Add(doc.At("packaging.meta", "a system extension profile has no meta package: the image is per kernel, and systemd-sysext merges only the one matching the running kernel"));
        else if (meta is not null)
        {
            CheckPattern(doc, "packaging.meta", meta, MetaPlaceholders, problems);
            CheckGrammar(doc, "packaging.meta", meta, Grammar.PackagePattern, problems);
            var sample = Names.Expand(meta, new Dictionary<string, string> { ["module"] = "kfunc_x", ["module_dashed"] = "kfunc-x", ["line"] = "6.1", ["flavour"] = "amd64" });
            if (Names.UnknownPlaceholders(meta, MetaPlaceholders).Count == 0 && Grammar.PackagePattern(meta) is null
                && !(family == PackageFamily.Rpm ? Names.RpmPackage() : Names.DebianPackage()).IsMatch(sample))
                problems.Add(doc.At("packaging.meta", $"'{meta}' gives names like '{sample}', which {(family == PackageFamily.Rpm ? "is not a valid RPM name" : "Debian rejects: lower-case letters, digits, '+', '-', '.' only (use {module_dashed})")}"));
            if (Names.UnknownPlaceholders(meta, MetaPlaceholders).Count == 0 && Names.Expand(meta, new Dictionary<string, string> { ["module"] = "m", ["module_dashed"] = "m", ["line"] = "L", ["flavour"] = "F" })
                    == Names.Expand(p.Name, new Dictionary<string, string> { ["module"] = "m", ["module_dashed"] = "m", ["release"] = "L" }))
                problems.Add(doc.At("packaging.meta", $"'{meta}' can name the same package as packaging.name '{p.Name}'; give the meta package a name of its own"));
        }
        if (p.Retain is { } retain && retain is < 1 or > 50)
            problems.Add(doc.At("packaging.retain", $"{retain} is not a number of kernels to keep serving per line: use 1 to 50 (default {PackageNaming.DefaultRetain})"));
        if (p.KmodImage is { } image)
        {
            CheckPattern(doc, "packaging.kmod_image", image, ImagePlaceholders, problems);
            if (Grammar.ImageRepository(Names.Expand(image, new Dictionary<string, string> { ["module"] = "kfunc_x", ["module_dashed"] = "kfunc-x" })) is { } bad)
                problems.Add(doc.At("packaging.kmod_image", $"'{Grammar.Clip(image)}' {bad}"));
        }

        var s = d.Signing!;
        if (!KnownHashes.Contains(s.ModuleHash)) problems.Add(doc.At("signing.module_hash", $"unknown hash '{s.ModuleHash}'; use one of {string.Join(", ", KnownHashes)}"));
        if ((s.ModuleKey is null) != (s.ModuleCertificate is null))
            problems.Add(doc.At(s.ModuleKey is null ? "signing.module_certificate" : "signing.module_key", "give both module_key and module_certificate, or neither (a development key is then generated)"));

        KernelVersion? bpfLevel = null;
        if (d.BpfBackports is not null)
        {
            if (Grammar.KernelLine(d.BpfBackports) is null && KernelVersion.TryParse(d.BpfBackports, out var level)) bpfLevel = level;
            else problems.Add(doc.At("bpf_backports", $"'{d.BpfBackports}' is not a kernel version: give the upstream BPF level the distro's kernels carry (e.g. 6.8)"));
        }

        SysextSettings? sysext = null;
        if (family == PackageFamily.Sysext && d.Sysext is null)
            problems.Add(doc.At("family", "a sysext profile needs a 'sysext' section: the extension-release's id and version_id (or level)"));
        if (family is not null and not PackageFamily.Sysext && d.Sysext is not null)
            problems.Add(doc.At("sysext", $"only a sysext profile has a 'sysext' section; this one makes {d.Family} packages"));
        if (family == PackageFamily.Sysext && d.Sysext is { } x)
        {
            CheckGrammar(doc, "sysext.id", x.Id!, Grammar.OsReleaseId, problems);
            if ((x.VersionId is null) == (x.Level is null))
                problems.Add(doc.At("sysext", "give exactly one of version_id (the OS release the images are for, e.g. 4593.2.5) and level (a SYSEXT_LEVEL the OS declares)"));
            if (x.VersionId is not null) CheckGrammar(doc, "sysext.version_id", x.VersionId, Grammar.OsReleaseVersion, problems);
            if (x.Level is not null) CheckGrammar(doc, "sysext.level", x.Level, Grammar.OsReleaseVersion, problems);
            if (x.Architecture is not null && x.Architecture != "x86-64")
                problems.Add(doc.At("sysext.architecture", $"'{Grammar.Clip(x.Architecture)}' is not built here; KfuncForge builds x86-64 modules only"));
            sysext = new SysextSettings(x.Id!, x.VersionId, x.Level, x.Architecture ?? "x86-64");
        }

        var facts = new List<ProfileFact>();
        for (var i = 0; i < (d.Facts?.Count ?? 0); i++)
        {
            var f = d.Facts![i];
            CheckGrammar(doc, $"facts[{i}].fact", f.Fact!, v => Grammar.Text(v, 600), problems);
            CheckGrammar(doc, $"facts[{i}].source", f.Source!, v => Grammar.Text(v, 200), problems);
            if (!DateOnly.TryParseExact(f.Date!, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _))
                problems.Add(doc.At($"facts[{i}].date", $"'{Grammar.Clip(f.Date!)}' is not a date (YYYY-MM-DD): the day the fact was read"));
            facts.Add(new ProfileFact(f.Fact!, f.Source!, f.Date!));
        }
        var repositories = d.KernelRepositories ?? [];
        for (var i = 0; i < repositories.Count; i++)
            CheckGrammar(doc, $"kernel_repositories[{i}]", repositories[i], Grammar.RepositoryUrl, problems);
        if (repositories.Count > 0 && family != PackageFamily.Rpm)
            problems.Add(doc.At("kernel_repositories", "only an RPM profile fetches its kernels from RPM repositories; apt profiles use their rootfs's suites"));

        if (problems.Count > before || family is null || packaging is null) return null;
        return new DistroProfile(d.Id!, d.Name!, family.Value, d.PackageManager!, d.ContainerImage!, rootfs, d.Toolchain!, packaging, targets,
            new PackageNaming(p.Name!, p.Maintainer!, p.Vendor!, p.InstallDir!)
            {
                Meta = meta,
                Retain = p.Retain ?? PackageNaming.DefaultRetain,
                KmodImage = p.KmodImage ?? PackageNaming.DefaultKmodImage,
            },
            new SigningSettings(s.ModuleKey, s.ModuleCertificate, s.PackageKeyId, s.ModuleHash!),
            bpfLevel, sysext) { KernelRepositories = repositories, Facts = facts };
    }

    private static KernelTarget? ValidateTarget(ReadDocument<DistroDocument> doc, KernelTargetDocument t, string path, List<Problem> problems)
    {
        if (t.Tree is not null)
        {
            if (t.Release is not null || t.Newest is not null || t.Suite is not null)
            {
                problems.Add(doc.At(path, "a kernel build tree target gives 'tree' and 'line' (and optionally 'flavour'), not 'release', 'newest' or 'suite'"));
                return null;
            }
            if (Grammar.FilePath(t.Tree) is { } badPath)
            {
                problems.Add(doc.At($"{path}.tree", $"'{Grammar.Clip(t.Tree)}' {badPath}"));
                return null;
            }
            if (t.Line is null || Grammar.KernelLine(t.Line) is not null || !KernelVersion.TryParse(t.Line, out var treeLine))
            {
                problems.Add(doc.At($"{path}.line", $"a kernel build tree target needs 'line', the kernel line the tree is expected to be (e.g. 6.12), not '{Grammar.Clip(t.Line ?? "")}'"));
                return null;
            }
            if (t.Flavour is not null && Grammar.ArchiveName(t.Flavour) is { } badFlavour)
            {
                problems.Add(doc.At($"{path}.flavour", $"'{Grammar.Clip(t.Flavour)}' {badFlavour}"));
                return null;
            }
            return new KernelTarget(null, null, t.Flavour, null, new KernelVersion(treeLine.Major, treeLine.Minor, 0), t.Tree);
        }
        if (t.Release is not null)
        {
            if (t.Newest is not null || t.Suite is not null || t.Flavour is not null)
            {
                problems.Add(doc.At(path, "a kernel target gives either 'release' or 'newest' with 'flavour', 'suite' and 'line', not both"));
                return null;
            }
            if (Grammar.KernelRelease(t.Release) is { } bad || !KernelVersion.TryParse(t.Release, out var v))
            {
                problems.Add(doc.At($"{path}.release", $"'{Grammar.Clip(t.Release)}' is not a kernel release (e.g. 6.1.0-56-amd64): digits 'major.minor[.patch]', then '-', '+', '.', '_' or '~' followed by letters and digits, nothing else"));
                return null;
            }
            if (t.Line is not null && (Grammar.KernelLine(t.Line) is not null || !KernelVersion.TryParse(t.Line, out var l) || l.Major != v.Major || l.Minor != v.Minor))
            {
                problems.Add(doc.At($"{path}.line", $"line '{t.Line}' does not match release '{t.Release}'; drop 'line' for explicit releases"));
                return null;
            }
            return new KernelTarget(t.Release, null, null, null, new KernelVersion(v.Major, v.Minor, 0));
        }
        var missing = new[] { ("newest", t.Newest is null), ("flavour", t.Flavour is null), ("suite", t.Suite is null), ("line", t.Line is null) }
            .Where(x => x.Item2).Select(x => x.Item1).ToList();
        if (missing.Count > 0)
        {
            problems.Add(doc.At(path, $"a kernel target needs 'release', or 'newest' with 'flavour', 'suite' and 'line'; missing: {string.Join(", ", missing)}"));
            return null;
        }
        if (t.Newest <= 0)
        {
            problems.Add(doc.At($"{path}.newest", $"'newest' must be a positive number of kernels, not {t.Newest}"));
            return null;
        }
        if (Grammar.KernelLine(t.Line!) is not null || !KernelVersion.TryParse(t.Line, out var line))
        {
            problems.Add(doc.At($"{path}.line", $"'{Grammar.Clip(t.Line!)}' is not a kernel line (e.g. 6.1): two numbers joined by '.', nothing else"));
            return null;
        }
        var archive = new[] { ("flavour", t.Flavour!), ("suite", t.Suite!) }.Select(x => (x.Item1, x.Item2, Problem: Grammar.ArchiveName(x.Item2))).FirstOrDefault(x => x.Problem is not null);
        if (archive.Problem is not null)
        {
            problems.Add(doc.At($"{path}.{archive.Item1}", $"'{Grammar.Clip(archive.Item2)}' {archive.Problem}"));
            return null;
        }
        return new KernelTarget(null, t.Newest, t.Flavour, t.Suite, new KernelVersion(line.Major, line.Minor, 0));
    }

    private static void CheckGrammar<T>(ReadDocument<T> doc, string path, string value, Func<string, string?> grammar, List<Problem> problems)
    {
        if (grammar(value) is { } problem) problems.Add(doc.At(path, $"'{Grammar.Clip(value)}' {problem}"));
    }

    private static void CheckPattern<T>(ReadDocument<T> doc, string path, string pattern, string[] allowed, List<Problem> problems)
    {
        foreach (var unknown in Names.UnknownPlaceholders(pattern, allowed))
            problems.Add(doc.At(path, $"unknown placeholder '{{{unknown}}}'; available: {string.Join(", ", allowed.Select(a => $"{{{a}}}"))}"));
    }
}
