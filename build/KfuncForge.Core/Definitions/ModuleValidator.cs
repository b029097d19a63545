using System.Text.RegularExpressions;
using KfuncForge.Diagnostics;
using KfuncForge.Model;

namespace KfuncForge.Definitions;

/// <summary>Semantic checks of a module.yaml after the structural pass; collects every problem, then builds the model.</summary>
public static partial class ModuleValidator
{
    [GeneratedRegex(@"^\s*(?<ret>[A-Za-z_][\w\s\*]*?[\s\*])(?<name>[A-Za-z_]\w*)\s*\((?<args>[^()]*)\)\s*;?\s*$")]
    internal static partial Regex Prototype();

    public static KfuncModule? Validate(ReadDocument<ModuleDocument> doc, string moduleDir, string folderName, List<Problem> problems)
    {
        var before = problems.Count;
        var d = doc.Value;
        var name = d.Name!;

        if (Names.ModuleNameProblem(name) is { } nameProblem) problems.Add(doc.At("name", nameProblem));
        else if (name != folderName) problems.Add(doc.At("name", $"module name '{name}' differs from its folder '{folderName}'; rename one so they match"));

        // Text that reaches generated files (control, spec, C, dkms.conf) has a grammar: docs/definitions.md.
        if (Grammar.Text(d.Description!) is { } description) problems.Add(doc.At("description", $"description {description}"));
        if (Grammar.License(d.License!) is { } license) problems.Add(doc.At("license", license));
        if (Grammar.PackageVersion(d.Version!) is { } version) problems.Add(doc.At("version", $"version '{Grammar.Clip(d.Version!)}' {version}"));

        var kfuncs = new List<Kfunc>();
        var kfuncNames = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < d.Kfuncs!.Count; i++)
        {
            var k = ValidateKfunc(doc, d.Kfuncs[i], $"kfuncs[{i}]", moduleDir, problems);
            if (k is null) continue;
            if (!kfuncNames.Add(k.Name)) problems.Add(doc.At($"kfuncs[{i}].name", $"kfunc '{k.Name}' is defined twice in this module"));
            kfuncs.Add(k);
        }
        if (d.Kfuncs.Count == 0) problems.Add(doc.At("kfuncs", "a module must define at least one kfunc"));

        var smoke = new List<SmokeProgram>();
        var smokeNames = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < (d.Smoke?.Count ?? 0); i++)
        {
            var s = d.Smoke![i];
            var path = $"smoke[{i}]";
            if (!smokeNames.Add(s.Name!)) problems.Add(doc.At($"{path}.name", $"smoke program '{s.Name}' is listed twice"));
            CheckFile(doc, $"{path}.source", s.Source!, moduleDir, problems);
            if (!Names.CIdentifier().IsMatch(s.Program!)) problems.Add(doc.At($"{path}.program", $"'{s.Program}' is not a C identifier (the BPF program's function name)"));
            var type = ProgramTypeOf(doc, $"{path}.program_type", s.ProgramType!, problems);
            foreach (var (call, j) in s.Calls!.Select((c, j) => (c, j)))
                if (!kfuncNames.Contains(call)) problems.Add(doc.At($"{path}.calls[{j}]", $"'{call}' is not a kfunc of this module; known: {string.Join(", ", kfuncNames)}"));
            var e = s.Expect!;
            if ((e.Retval is null) == (e.VerifierRejects is null))
                problems.Add(doc.At($"{path}.expect", "give exactly one of 'retval' (the program's expected return value) or 'verifier_rejects' (text the verifier log must contain)"));
            var kernels = RangeOf(doc, $"{path}.kernels", s.Kernels, problems);
            if (type is not null && kernels is not null)
                smoke.Add(new SmokeProgram(s.Name!, s.Source!, type, s.Section!, s.Calls!, kernels, new SmokeExpectation(e.Retval, e.VerifierRejects)) { Program = s.Program! });
        }

        var steps = new List<LoadStep>();
        for (var i = 0; i < (d.Load?.Count ?? 0); i++)
            if (LoadStepOf(doc, d.Load![i], $"load[{i}]", kfuncNames, moduleDir, problems) is { } step) steps.Add(step);

        var fidelity = d.Fidelity is null ? null : ValidateFidelity(doc, d.Fidelity, kfuncs, moduleDir, problems);
        // A fidelity run measures both lists together: a step name must say which step it is.
        var stepNames = (d.Load ?? []).Select(l => l.Name!).ToHashSet(StringComparer.Ordinal);
        if (d.Fidelity?.Baseline is not null) stepNames.Add(FidelitySuite.BaselineStep);
        for (var i = 0; i < (d.Fidelity?.Load?.Count ?? 0); i++)
            if (!stepNames.Add(d.Fidelity!.Load![i].Name!))
                problems.Add(doc.At($"fidelity.load[{i}].name", $"load step '{d.Fidelity.Load[i].Name}' is already defined (load or fidelity.load); give it its own name"));

        if (problems.Count > before) return null;
        return new KfuncModule(name, d.Description!, d.License!, d.Version!, moduleDir, kfuncs, smoke, new LoadProfile(steps)) { Fidelity = fidelity };
    }

    private static LoadStep? LoadStepOf(ReadDocument<ModuleDocument> doc, LoadDocument l, string path, IReadOnlySet<string> kfuncNames, string moduleDir, List<Problem> problems)
    {
        var before = problems.Count;
        if (!kfuncNames.Contains(l.Kfunc!)) problems.Add(doc.At($"{path}.kfunc", $"'{l.Kfunc}' is not a kfunc of this module"));
        CheckFile(doc, $"{path}.program", l.Program!, moduleDir, problems);
        LoadDriver? driver = l.Driver switch { "test_run" => LoadDriver.TestRun, "socket_iterator" => LoadDriver.SocketIterator, _ => null };
        if (driver is null) { problems.Add(doc.At($"{path}.driver", $"unknown driver '{l.Driver}'; use test_run or socket_iterator")); return null; }
        if (driver == LoadDriver.TestRun && (l.Repeat is null or <= 0)) problems.Add(doc.At($"{path}.repeat", "test_run needs 'repeat', a positive number of runs"));
        if (driver == LoadDriver.SocketIterator && (l.Sockets is null or <= 0)) problems.Add(doc.At($"{path}.sockets", "socket_iterator needs 'sockets', a positive number of sockets"));
        if (l.Entry is not null && !Names.CIdentifier().IsMatch(l.Entry)) problems.Add(doc.At($"{path}.entry", $"'{l.Entry}' is not a C identifier (the BPF program's function name)"));
        return problems.Count > before ? null : new LoadStep(l.Name!, l.Kfunc!, l.Program!, driver.Value, l.Repeat ?? 0, l.Sockets ?? 0) { Entry = l.Entry };
    }

    /// <summary>
    /// The fidelity section: one BPF source, cases named like their programs, each with upstream's
    /// expectation and the differences declared in advance. A difference must name the kernels it covers
    /// and lie wholly below the kfunc's upstream release (native kernels are the oracle: they must give
    /// upstream's result), must expect something else than upstream, and say why.
    /// </summary>
    private static FidelitySuite? ValidateFidelity(ReadDocument<ModuleDocument> doc, FidelityDocument f, IReadOnlyList<Kfunc> kfuncs, string moduleDir, List<Problem> problems)
    {
        var before = problems.Count;
        CheckFile(doc, "fidelity.source", f.Source!, moduleDir, problems);
        var byName = kfuncs.ToDictionary(k => k.Name, StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var cases = new List<FidelityCase>();
        if (f.Cases!.Count == 0) problems.Add(doc.At("fidelity.cases", "list at least one case"));
        for (var i = 0; i < f.Cases.Count; i++)
        {
            var c = f.Cases[i];
            var path = $"fidelity.cases[{i}]";
            var caseBefore = problems.Count;
            if (!Names.CIdentifier().IsMatch(c.Name!)) problems.Add(doc.At($"{path}.name", $"'{c.Name}' is not a C identifier; a case is named like its BPF program"));
            else if (!names.Add(c.Name!)) problems.Add(doc.At($"{path}.name", $"case '{c.Name}' is listed twice"));
            byName.TryGetValue(c.Kfunc!, out var kfunc);
            if (kfunc is null) problems.Add(doc.At($"{path}.kfunc", $"'{c.Kfunc}' is not a kfunc of this module; known: {string.Join(", ", byName.Keys)}"));
            var expect = ExpectationOf(doc, $"{path}.expect", c.Expect!, problems);
            var differs = new List<DeclaredDifference>();
            for (var j = 0; j < (c.Differs?.Count ?? 0); j++)
            {
                var dd = c.Differs![j];
                var dpath = $"{path}.differs[{j}]";
                var range = RangeOf(doc, $"{dpath}.kernels", dd.Kernels, problems);
                var alt = ExpectationOf(doc, $"{dpath}.expect", dd.Expect!, problems);
                if (string.IsNullOrWhiteSpace(dd.Reason)) problems.Add(doc.At($"{dpath}.reason", "say why this kernel range differs from upstream"));
                if (range is null || alt is null) continue;
                if (range.Before is null)
                    problems.Add(doc.At($"{dpath}.kernels", "a declared difference needs 'before': it covers backports only, and native kernels give upstream's result"));
                else if (kfunc is not null && range.Before.Value > kfunc.Upstream.Release)
                    problems.Add(doc.At($"{dpath}.kernels.before", $"{c.Kfunc} is native from {kfunc.Upstream.Release}; a declared difference must end at or below that release (native kernels are the oracle)"));
                if (expect is not null && alt == expect)
                    problems.Add(doc.At($"{dpath}.expect", "the declared alternative equals upstream's expectation; remove the difference or correct it"));
                var clash = differs.FirstOrDefault(o => o.Kernels.Overlaps(range));
                if (clash is not null)
                    problems.Add(doc.At($"{dpath}.kernels", $"overlaps another declared difference ({clash.Kernels}); a kernel may have one alternative per case"));
                differs.Add(new DeclaredDifference(range, alt, dd.Reason!.Trim()));
            }
            SocketScenario? sockets = null;
            if (c.Sockets is { } so)
            {
                SocketFamily? family = so.Family switch { "ipv4" => SocketFamily.Ipv4, "ipv6" => SocketFamily.Ipv6, _ => null };
                SocketState? state = so.State switch { "established" => SocketState.Established, "listening" => SocketState.Listening, "closing" => SocketState.Closing, _ => null };
                if (family is null) problems.Add(doc.At($"{path}.sockets.family", $"unknown family '{so.Family}'; use ipv4 or ipv6"));
                if (state is null) problems.Add(doc.At($"{path}.sockets.state", $"unknown state '{so.State}'; use established, listening or closing"));
                if (family is not null && state is not null) sockets = new SocketScenario(family.Value, state.Value);
            }
            if (problems.Count == caseBefore) cases.Add(new FidelityCase(c.Name!, c.Kfunc!, expect!, differs, sockets));
        }
        var load = new List<LoadStep>();
        for (var i = 0; i < (f.Load?.Count ?? 0); i++)
            if (LoadStepOf(doc, f.Load![i], $"fidelity.load[{i}]", byName.Keys.ToHashSet(StringComparer.Ordinal), moduleDir, problems) is { } step) load.Add(step);
        LoadStep? baseline = null;
        if (f.Baseline is { } b)
        {
            CheckFile(doc, "fidelity.baseline.program", b.Program!, moduleDir, problems);
            if (b.Entry is not null && !Names.CIdentifier().IsMatch(b.Entry)) problems.Add(doc.At("fidelity.baseline.entry", $"'{b.Entry}' is not a C identifier (the BPF program's function name)"));
            if (b.Repeat is null or <= 0) problems.Add(doc.At("fidelity.baseline.repeat", "give a positive number of runs"));
            baseline = new LoadStep(FidelitySuite.BaselineStep, "", b.Program!, LoadDriver.TestRun, b.Repeat ?? 0, 0) { Entry = b.Entry };
        }
        return problems.Count > before ? null : new FidelitySuite(Normalise(moduleDir, f.Source!), cases, load) { Baseline = baseline };
    }

    private static SmokeExpectation? ExpectationOf(ReadDocument<ModuleDocument> doc, string path, ExpectDocument e, List<Problem> problems)
    {
        if ((e.Retval is null) == (e.VerifierRejects is null))
        {
            problems.Add(doc.At(path, "give exactly one of 'retval' (the program's expected return value) or 'verifier_rejects' (text the verifier log must contain)"));
            return null;
        }
        if (e.VerifierRejects is { } text && string.IsNullOrWhiteSpace(text))
        {
            problems.Add(doc.At($"{path}.verifier_rejects", "give the text the verifier log must contain"));
            return null;
        }
        return new SmokeExpectation(e.Retval, e.VerifierRejects);
    }

    private static Kfunc? ValidateKfunc(ReadDocument<ModuleDocument> doc, KfuncDocument k, string path, string moduleDir, List<Problem> problems)
    {
        var before = problems.Count;
        var name = k.Name!;
        if (!Names.CIdentifier().IsMatch(name))
            problems.Add(doc.At($"{path}.name", $"kfunc name '{name}' is not a C identifier (letters, digits, '_', not starting with a digit)"));

        var (declared, prototypeProblem) = CPrototype.Parse(k.Prototype!.Trim());
        if (prototypeProblem is not null)
            problems.Add(doc.At($"{path}.prototype", $"'{Grammar.Clip(k.Prototype)}' {prototypeProblem}; write one C function declaration like 'int {name}(const char *s__ign)'"));
        else if (declared != name)
            problems.Add(doc.At($"{path}.prototype", $"prototype declares '{declared}' but the kfunc is named '{name}'"));

        var up = k.Upstream!;
        var release = default(KernelVersion);
        if (Grammar.KernelVersion(up.Release!) is not null || !KernelVersion.TryParse(up.Release, out release))
            problems.Add(doc.At($"{path}.upstream.release", $"'{up.Release}' is not a kernel version (e.g. 6.17)"));
        if (!Names.CommitId().IsMatch(up.Commit!))
            problems.Add(doc.At($"{path}.upstream.commit", $"'{up.Commit}' is not a git commit id (7 to 40 lower-case hex digits)"));
        if (up.BodySha256 is not null && !Names.Sha256().IsMatch(up.BodySha256))
            problems.Add(doc.At($"{path}.upstream.body_sha256", $"'{up.BodySha256}' is not a SHA-256 (64 lower-case hex digits); let `kfuncforge import` write it"));
        foreach (var (list, key) in new[] { (up.BtfSets, "btf_sets"), (up.Filters, "filters") })
            for (var i = 0; i < (list?.Count ?? 0); i++)
                if (!Names.CIdentifier().IsMatch(list![i]))
                    problems.Add(doc.At($"{path}.upstream.{key}[{i}]", $"'{list[i]}' is not a C identifier"));

        var flags = k.Flags ?? [];
        for (var i = 0; i < flags.Count; i++)
            if (!KfuncFlags.Known.Contains(flags[i]))
                problems.Add(doc.At($"{path}.flags[{i}]", $"unknown kfunc flag '{flags[i]}'; known: {string.Join(", ", KfuncFlags.Known.Order(StringComparer.Ordinal))}"));

        var types = new List<ProgramType>();
        for (var i = 0; i < k.ProgramTypes!.Count; i++)
            if (ProgramTypeOf(doc, $"{path}.program_types[{i}]", k.ProgramTypes[i], problems) is { } t) types.Add(t);
        if (k.ProgramTypes.Count == 0) problems.Add(doc.At($"{path}.program_types", "list at least one program type the kfunc is registered for"));

        AttachRestriction? restriction = null;
        if (k.AttachRestriction is { } r)
        {
            for (var i = 0; i < r.AttachTo!.Count; i++)
                if (Grammar.AttachTarget(r.AttachTo[i]) is { } target) problems.Add(doc.At($"{path}.attach_restriction.attach_to[{i}]", $"'{Grammar.Clip(r.AttachTo[i])}' {target}"));
            if (Grammar.Text(r.Reason!, 300) is { } reason) problems.Add(doc.At($"{path}.attach_restriction.reason", $"reason {reason}"));
            if (ProgramTypeOf(doc, $"{path}.attach_restriction.program_type", r.ProgramType!, problems) is { } rt)
                restriction = new AttachRestriction(rt, r.AttachTo!, r.Reason!);
        }

        var variants = new List<KfuncVariant>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < k.Variants!.Count; i++)
        {
            var v = ValidateVariant(doc, k.Variants[i], $"{path}.variants[{i}]", moduleDir, problems);
            if (v is null) continue;
            if (!ids.Add(v.Id)) problems.Add(doc.At($"{path}.variants[{i}].id", $"variant id '{v.Id}' is used twice for kfunc '{name}'"));
            variants.Add(v);
        }
        for (var a = 0; a < variants.Count; a++)
            for (var b = a + 1; b < variants.Count; b++)
                if (Overlap(variants[a], variants[b]))
                    problems.Add(doc.At($"{path}.variants[{k.Variants.FindIndex(x => x.Id == variants[b].Id)}]",
                        $"variants '{variants[a].Id}' ({variants[a].Kernels}) and '{variants[b].Id}' ({variants[b].Kernels}) of kfunc '{name}' can both match the same kernel; make their kernel ranges disjoint or give them contradicting requires_config"));

        if (problems.Count > before) return null;
        return new Kfunc(name, k.Prototype!.Trim().TrimEnd(';'), new UpstreamOrigin(release, up.Commit!, up.Path, up.Ref, up.BodySha256, up.BtfSets ?? [], up.Filters ?? []), flags, types, restriction, variants);
    }

    private static KfuncVariant? ValidateVariant(ReadDocument<ModuleDocument> doc, VariantDocument v, string path, string moduleDir, List<Problem> problems)
    {
        var before = problems.Count;
        if (!Names.SimpleId().IsMatch(v.Id!)) problems.Add(doc.At($"{path}.id", $"variant id '{v.Id}' must be lower-case letters, digits and '-'"));
        if (Grammar.RelativePath(v.File!) is { } file) problems.Add(doc.At($"{path}.file", $"'{Grammar.Clip(v.File!)}' {file}"));
        else if (!v.File!.EndsWith(".c", StringComparison.Ordinal)) problems.Add(doc.At($"{path}.file", $"'{v.File}' is not a C source file (.c); a variant is compiled into the module"));
        else
        {
            var before2 = problems.Count;
            CheckFile(doc, $"{path}.file", v.File!, moduleDir, problems);
            if (problems.Count == before2) CheckHeadersBeside(doc, $"{path}.file", v.File!, moduleDir, problems);
        }
        var range = RangeOf(doc, $"{path}.kernels", v.Kernels, problems);

        var config = new SortedDictionary<string, ConfigState>(StringComparer.Ordinal);
        foreach (var (option, value) in v.RequiresConfig ?? [])
        {
            if (!Names.ConfigOption().IsMatch(option)) problems.Add(doc.At($"{path}.requires_config.{option}", $"'{option}' is not a kernel config option (CONFIG_ followed by upper-case letters, digits, '_')"));
            ConfigState? state = value switch { "y" => ConfigState.Builtin, "m" => ConfigState.Module, "ym" or "enabled" => ConfigState.Enabled, "n" => ConfigState.Disabled, _ => null };
            if (state is null) problems.Add(doc.At($"{path}.requires_config.{option}", $"'{value}' is not a config state; use y, m, ym (either) or n"));
            else config[option] = state.Value;
        }
        var symbols = v.RequiresSymbols ?? [];
        for (var i = 0; i < symbols.Count; i++)
            if (!Names.CIdentifier().IsMatch(symbols[i])) problems.Add(doc.At($"{path}.requires_symbols[{i}]", $"'{symbols[i]}' is not a kernel symbol name"));

        List<ProgramType>? types = null;
        if (v.ProgramTypes is { } names)
        {
            types = [];
            for (var i = 0; i < names.Count; i++)
                if (ProgramTypeOf(doc, $"{path}.program_types[{i}]", names[i], problems) is { } t) types.Add(t);
        }
        for (var i = 0; i < (v.Flags?.Count ?? 0); i++)
            if (!KfuncFlags.Known.Contains(v.Flags![i]))
                problems.Add(doc.At($"{path}.flags[{i}]", $"unknown kfunc flag '{v.Flags[i]}'; known: {string.Join(", ", KfuncFlags.Known.Order(StringComparer.Ordinal))}"));
        foreach (var (hook, key) in new[] { (v.Init, "init"), (v.Exit, "exit") })
            if (hook is not null && !Names.CIdentifier().IsMatch(hook))
                problems.Add(doc.At($"{path}.{key}", $"'{hook}' is not a C function name"));

        if (problems.Count > before || range is null) return null;
        var source = Path.Combine(moduleDir, v.File!);
        return new KfuncVariant(v.Id!, Normalise(moduleDir, v.File!), range, config, symbols, new VariantHooks(v.Init, v.Exit), v.Notes)
        {
            ProgramTypes = types,
            Flags = v.Flags,
            Calls = File.Exists(source) ? CCalls.Of(File.ReadAllText(source)) : new HashSet<string>(),
        };
    }

    /// <summary>Parses a kernels: {from, before} range, rejecting unparsable, empty and inverted ranges.</summary>
    public static KernelRange? RangeOf<T>(ReadDocument<T> doc, string path, KernelRangeDocument? r, List<Problem> problems)
    {
        if (r is null) return KernelRange.Any;
        KernelVersion? from = null, until = null;
        if (r.From is not null)
        {
            if (Grammar.KernelVersion(r.From) is null && KernelVersion.TryParse(r.From, out var f)) from = f;
            else { problems.Add(doc.At($"{path}.from", $"'{r.From}' is not a kernel version (e.g. 6.1 or 6.12.117)")); return null; }
        }
        if (r.Before is not null)
        {
            if (Grammar.KernelVersion(r.Before) is null && KernelVersion.TryParse(r.Before, out var b)) until = b;
            else { problems.Add(doc.At($"{path}.before", $"'{r.Before}' is not a kernel version (e.g. 6.17)")); return null; }
        }
        var range = new KernelRange(from, until);
        if (from is not null && until is not null)
        {
            if (from.Value == until.Value) { problems.Add(doc.At(path, $"kernel range from {from} before {until} is empty; 'before' is exclusive, so it must be above 'from'")); return null; }
            if (from.Value > until.Value) { problems.Add(doc.At(path, $"kernel range is inverted: from {from} is above before {until}; swap them")); return null; }
        }
        return range;
    }

    /// <summary>Two variants overlap when some kernel lies in both ranges and no config option is required in contradicting states.</summary>
    public static bool Overlap(KfuncVariant a, KfuncVariant b)
    {
        if (!a.Kernels.Overlaps(b.Kernels)) return false;
        foreach (var (option, state) in a.RequiresConfig)
            if (b.RequiresConfig.TryGetValue(option, out var other) && Contradict(state, other)) return false;
        return true;
    }

    private static bool Contradict(ConfigState x, ConfigState y) =>
        (x, y) switch
        {
            (ConfigState.Disabled, ConfigState.Disabled) => false,
            (ConfigState.Disabled, _) or (_, ConfigState.Disabled) => true,
            (ConfigState.Builtin, ConfigState.Module) or (ConfigState.Module, ConfigState.Builtin) => true,
            _ => false,
        };

    private static ProgramType? ProgramTypeOf<T>(ReadDocument<T> doc, string path, string name, List<Problem> problems)
    {
        if (ProgramType.Known.TryGetValue(name, out var t)) return t;
        problems.Add(doc.At(path, $"unknown program type '{name}'; known: {string.Join(", ", ProgramType.Known.Keys)}"));
        return null;
    }

    /// <summary>A file named in a definition must be relative, stay inside the module folder and exist.</summary>
    public static void CheckFile<T>(ReadDocument<T> doc, string path, string file, string moduleDir, List<Problem> problems)
    {
        if (Path.IsPathRooted(file))
        {
            problems.Add(doc.At(path, $"'{file}' is an absolute path; name files relative to the module folder"));
            return;
        }
        var root = Path.GetFullPath(moduleDir) + Path.DirectorySeparatorChar;
        var full = Path.GetFullPath(Path.Combine(moduleDir, file));
        if (!full.StartsWith(root, StringComparison.Ordinal))
        {
            problems.Add(doc.At(path, $"'{file}' escapes the module folder; keep sources inside kfunc-modules/<module>/"));
            return;
        }
        if (!File.Exists(full) && new FileInfo(full).LinkTarget is null)
        {
            problems.Add(doc.At(path, $"'{file}' does not exist in the module folder"));
            return;
        }
        if (TreeFiles.Problem(full, moduleDir) is { } problem)
            problems.Add(doc.At(path, $"'{file}' {problem}"));
    }

    /// <summary>The headers beside a variant are copied into the rendered sources: each must be a regular file inside the module folder, with a plain name.</summary>
    private static void CheckHeadersBeside<T>(ReadDocument<T> doc, string path, string file, string moduleDir, List<Problem> problems)
    {
        var dir = Path.GetDirectoryName(Path.Combine(moduleDir, file))!;
        foreach (var header in Directory.GetFiles(dir, "*.h").Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(moduleDir, header).Replace('\\', '/');
            if (Grammar.RelativePath(relative) is { } name) problems.Add(doc.At(path, $"the header '{Grammar.Clip(relative)}' beside it {name}"));
            else if (TreeFiles.Problem(header, moduleDir) is { } problem) problems.Add(doc.At(path, $"the header '{relative}' beside it {problem}"));
        }
    }

    private static string Normalise(string moduleDir, string file) =>
        Path.GetRelativePath(Path.GetFullPath(moduleDir), Path.GetFullPath(Path.Combine(moduleDir, file))).Replace('\\', '/');
}
