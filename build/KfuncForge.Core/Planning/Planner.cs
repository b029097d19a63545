using KfuncForge.Definitions;
using KfuncForge.Model;

namespace KfuncForge.Planning;

/// <summary>Decides native / backport / infeasible for every (module, kfunc, kernel), reading only the kernel's facts.</summary>
public static class Planner
{
    /// <summary>register_btf_kfunc_id_set() accepted kfunc sets from modules (with their own BTF) from Linux 5.18.</summary>
    public static readonly KernelVersion ModuleKfuncsSince = new(5, 18, 0);

    public const string ModuleBtfOption = "CONFIG_DEBUG_INFO_BTF_MODULES";

    /// <summary>The kernel function modules call to register kfunc sets; its presence is the real test (distros backport it).</summary>
    public const string RegistrationSymbol = "register_btf_kfunc_id_set";

    public static Plan Make(DistroProfile distro, IReadOnlyList<KernelFacts> kernels, IReadOnlyList<KfuncModule> modules)
    {
        var cells = new List<BuildCell>();
        foreach (var kernel in kernels)
            foreach (var module in modules)
                cells.Add(new BuildCell(distro, module, kernel, module.Kfuncs.Select(k => Decide(module, k, kernel)).ToList()));
        return new Plan(distro, kernels, cells);
    }

    public static PlanEntry Decide(KfuncModule module, Kfunc kfunc, KernelFacts kernel)
    {
        PlanEntry Entry(Verdict v, string code, string reason, KfuncVariant? variant = null) => new(module.Name, kfunc.Name, kernel.Release, v, variant, reason) { Code = code };

        if (kernel.NativeKfuncs is { } native)
        {
            if (native.Contains(kfunc.Name)) return Entry(Verdict.Native, "in-btf", $"the kernel's BTF already has {kfunc.Name}");
        }
        else if (kernel.Effective >= kfunc.Upstream.Release)
        {
            return Entry(Verdict.Native, "by-version", $"upstream has had {kfunc.Name} since {kfunc.Upstream.Release} (by version{Level(kernel)}; the kernel's BTF has not been read yet)");
        }

        var assumed = "";
        if (kernel.Symbols is { } known)
        {
            if (!known.Contains(RegistrationSymbol))
                return Entry(Verdict.Infeasible, "no-registration", $"the kernel does not have {RegistrationSymbol}: it cannot register kfuncs from a module");
        }
        else if (kernel.Effective < ModuleKfuncsSince)
        {
            return Entry(Verdict.Infeasible, "too-old", $"kernel {kernel.Version}{Level(kernel)} cannot register kfuncs from a module (needs {ModuleKfuncsSince} or later)");
        }
        else if (kernel.Effective != kernel.Version)
        {
            assumed = $"; assumed from the distro's BPF level {kernel.Effective} until the kernel is fetched";
        }
        if (kernel.Config is not null && kernel.ConfigValue(ModuleBtfOption) != "y")
            return Entry(Verdict.Infeasible, "no-module-btf", $"{ModuleBtfOption} is not set in the kernel's config: modules get no BTF, so their kfuncs cannot register");

        var misses = new List<string>();
        var matches = new List<KfuncVariant>();
        foreach (var v in kfunc.Variants)
        {
            var miss = Mismatch(kfunc, v, kernel);
            if (miss is null) matches.Add(v);
            else misses.Add($"'{v.Id}' {miss}");
        }
        if (matches.Count == 0)
            return Entry(Verdict.Infeasible, kfunc.Variants.Count == 0 ? "no-variant" : "no-fit", kfunc.Variants.Count == 0
                ? "no implementation variant is defined"
                : $"no variant fits: {string.Join("; ", misses)}");

        var chosen = matches[0];
        var why = $"variant '{chosen.Id}' ({chosen.Kernels}{Requirements(chosen)}){assumed}{UnknownSuffixes(module, kfunc, kernel)}";
        if (!kernel.IsResolved && (chosen.RequiresConfig.Count > 0 || chosen.RequiresSymbols.Count > 0))
            why += "; its config and symbol requirements are checked once the kernel is fetched";
        if (matches.Count > 1)
            why += $"; also possible until the kernel's config is known: {string.Join(", ", matches.Skip(1).Select(m => m.Id))}";
        return Entry(Verdict.Backport, $"variant:{chosen.Id}", why, chosen);
    }

    /// <summary>Why the variant does not fit this kernel, or null when it does (unknown facts do not disqualify).</summary>
    private static string? Mismatch(Kfunc kfunc, KfuncVariant v, KernelFacts kernel)
    {
        if (!v.Kernels.Contains(kernel.Effective)) return $"covers {v.Kernels}, not {kernel.Effective}";
        if (kernel.Verifier is { } verifier && Unacceptable(kfunc, v, verifier) is { } rule) return rule;
        if (kernel.Config is not null)
            foreach (var (option, state) in v.RequiresConfig)
            {
                var value = kernel.ConfigValue(option);
                var ok = state switch
                {
                    ConfigState.Builtin => value == "y",
                    ConfigState.Module => value == "m",
                    ConfigState.Enabled => value is "y" or "m",
                    _ => value is null or "n",
                };
                if (!ok) return $"needs {option}={Describe(state)}, kernel has {value ?? "unset"}";
            }
        if (kernel.Symbols is { } symbols)
        {
            var missing = v.RequiresSymbols.Where(s => !symbols.Contains(s)).ToList();
            if (missing.Count > 0) return $"needs symbols the kernel lacks: {string.Join(", ", missing)}";
        }
        return null;
    }

    /// <summary>
    /// The feasibility rules read from the kernel itself (docs/kernels.md): a program type the kernel has no kfunc
    /// hook for, a KF_ flag its headers do not define, a void pointer its verifier would refuse on every call, a
    /// function the variant calls that the kernel does not export.
    /// </summary>
    private static string? Unacceptable(Kfunc kfunc, KfuncVariant v, VerifierFacts verifier)
    {
        if (verifier.KfuncHooks is { } hooks)
            foreach (var type in v.ProgramTypes ?? kfunc.ProgramTypes)
                if (!type.Hooks.Any(hooks.Contains))
                    return $"registers for {type.Name} programs, but the kernel has no {ProgramType.HookPrefix}{type.Hooks[0]} kfunc hook " +
                        $"(its hooks: {string.Join(", ", hooks.Order(StringComparer.Ordinal))}): register_btf_kfunc_id_set would fail with -EINVAL and the module would not load; " +
                        "register for program types the kernel has (variants[].program_types)";
        if (verifier.KfFlags is { } defined)
        {
            var unknown = (v.Flags ?? kfunc.Flags).Where(f => !defined.Contains(f)).ToList();
            if (unknown.Count > 0)
                return $"registers with {string.Join(", ", unknown)}, which the kernel's include/linux/btf.h does not define: the module would not build (variants[].flags)";
        }
        if (verifier.ArgSuffixes is { } known)
        {
            var parameters = CPrototype.Parameters(kfunc.Prototype);
            for (var i = 0; i < parameters.Count; i++)
            {
                var p = parameters[i];
                if (!p.IsVoidPointer) continue;
                var own = p.Name is null ? null : ArgSuffix.Of(p.Name);
                if (own is not null && known.Contains(own)) continue;
                var size = i + 1 < parameters.Count && parameters[i + 1].Name is { } next ? ArgSuffix.Of(next) : null;
                if (size is not null && ArgSuffix.Size.Contains(size) && known.Contains(size)) continue;
                var why = own is null ? "it has no suffix" : $"the verifier does not know the {own} suffix";
                return $"argument {i + 1} '{p.Name}' is a void pointer and {why}, and no {ArgSuffix.Size[0]} size argument follows it: " +
                    "the kernel's verifier checks it as memory of unknown size and refuses every call ('must point to scalar, or struct with scalar')";
            }
        }
        if (verifier.Unexported is { } unexported && v.Calls.Where(unexported.Contains).ToList() is { Count: > 0 } unreachable)
            return $"{v.File} calls {string.Join(", ", unreachable)}, which the kernel has but does not export to modules (not in Module.symvers, not defined in its headers): " +
                "the module would not load; replace the call (docs/add-a-kfunc.md)";
        return null;
    }

    /// <summary>
    /// Pointer arguments whose suffix this kernel's verifier does not know: they load, but are checked as plain
    /// memory, not as upstream means. Said only while the module declares no fidelity difference for the kfunc there.
    /// </summary>
    private static string UnknownSuffixes(KfuncModule module, Kfunc kfunc, KernelFacts kernel)
    {
        if (kernel.Verifier?.ArgSuffixes is not { } known) return "";
        if (module.Fidelity?.Cases.Any(c => c.Kfunc == kfunc.Name && c.DifferenceOn(kernel.Effective) is not null) == true) return "";
        var unknown = CPrototype.Parameters(kfunc.Prototype)
            .Where(p => p.Pointers > 0 && p.Name is { } n && ArgSuffix.Of(n) is { } s && !known.Contains(s))
            .Select(p => p.Name!).ToList();
        if (unknown.Count == 0) return "";
        var suffixes = unknown.Select(n => ArgSuffix.Of(n)!).Distinct();
        return $"; the verifier does not know {string.Join(", ", suffixes)}: it checks {string.Join(", ", unknown)} as plain pointers to memory, not as upstream does (declare the difference under fidelity)";
    }

    private static string Level(KernelFacts k) => k.Effective != k.Version ? $" with BPF backported to {k.Effective}" : "";

    private static string Requirements(KfuncVariant v)
    {
        var parts = v.RequiresConfig.Select(kv => $"{kv.Key}={Describe(kv.Value)}").Concat(v.RequiresSymbols).ToList();
        return parts.Count == 0 ? "" : $"; requires {string.Join(", ", parts)}";
    }

    private static string Describe(ConfigState s) => s switch
    {
        ConfigState.Builtin => "y",
        ConfigState.Module => "m",
        ConfigState.Enabled => "y or m",
        _ => "n",
    };
}
