using System.Buffers.Binary;
using System.Text;
using KfuncForge.Kernels;

namespace KfuncForge.Compilation;

/// <summary>One check of a built .ko: what was checked, whether it passed, and what was seen.</summary>
public sealed record ModuleCheck(string Name, bool Passed, string Detail);

/// <summary>
/// Reads a built .ko in C# and checks what makes its kfuncs register on the target kernel: a non-empty
/// .BTF section (module BTF, split against the kernel's base BTF), a .BTF_ids section whose ids were all
/// resolved by resolve_btfids (non-zero), the kfuncs present as FUNC in the module's BTF, and a vermagic
/// that starts with the target release. A module that fails any of these is a failed build, never a warning.
/// </summary>
public static class ModuleInspector
{
    public static IReadOnlyList<ModuleCheck> Inspect(string koPath, string release, IReadOnlyCollection<string> kfuncs, byte[]? baseBtfBlob = null)
    {
        var checks = new List<ModuleCheck>();
        ElfFile elf;
        try
        {
            elf = ElfFile.Load(koPath);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return [new ModuleCheck("elf", false, e.Message)];
        }

        var btf = elf.Section(".BTF");
        checks.Add(btf is { Size: > 0 }
            ? new ModuleCheck("btf", true, $".BTF is {btf.Size} bytes")
            : new ModuleCheck("btf", false, btf is null
                ? "no .BTF section: kbuild skipped module BTF (vmlinux or pahole missing), so the kfuncs could never register"
                : "the .BTF section is empty"));

        var ids = elf.Section(".BTF_ids");
        if (ids is null)
            checks.Add(new ModuleCheck("btf_ids", false, "no .BTF_ids section: the module registers no kfunc set"));
        else
        {
            var data = elf.Bytes(ids).ToArray();
            var slots = elf.Symbols().Where(s => s.SectionIndex == ids.Index && s.Name.StartsWith("__BTF_ID__", StringComparison.Ordinal)
                                                 && !s.Name.StartsWith("__BTF_ID__set", StringComparison.Ordinal)).ToList();
            var unresolved = slots.Where(s => s.Value + 4 > data.Length || BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)s.Value)) == 0)
                .Select(s => s.Name).ToList();
            checks.Add(slots.Count == 0
                ? new ModuleCheck("btf_ids", false, ".BTF_ids has no id symbols")
                : unresolved.Count == 0
                    ? new ModuleCheck("btf_ids", true, $"{slots.Count} ids resolved")
                    : new ModuleCheck("btf_ids", false, $"{unresolved.Count} of {slots.Count} ids are 0 (resolve_btfids did not run): {string.Join(", ", unresolved.Take(5))}"));
        }

        // Newer pahole (trixie's, for 6.12+) splits module BTF against a distilled base kept in .BTF.base,
        // which the kernel relocates onto vmlinux at load time; then that is the base to read against.
        var distilled = elf.Section(".BTF.base") is { Size: > 0 } d ? elf.Bytes(d).ToArray() : null;
        var baseBlob = distilled ?? baseBtfBlob;
        if (btf is { Size: > 0 } && baseBlob is not null && kfuncs.Count > 0)
        {
            try
            {
                var baseBtf = BtfReader.Parse(baseBlob);
                var module = BtfReader.Parse(elf.Bytes(btf), baseBtf, BtfReader.StringSection(baseBlob));
                var funcs = module.Functions.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
                var missing = kfuncs.Where(k => !funcs.Contains(k)).ToList();
                checks.Add(missing.Count == 0
                    ? new ModuleCheck("kfuncs", true, $"module BTF has FUNC {string.Join(", ", kfuncs)} (split BTF from type {module.FirstId}{(distilled is null ? "" : ", against the distilled base in .BTF.base")})")
                    : new ModuleCheck("kfuncs", false, $"module BTF lacks FUNC {string.Join(", ", missing)}"));
            }
            catch (InvalidDataException e)
            {
                checks.Add(new ModuleCheck("kfuncs", false, $"module BTF does not read against the kernel's base BTF: {e.Message}"));
            }
        }

        var vermagic = elf.ModInfo()["vermagic"].FirstOrDefault();
        checks.Add(vermagic is null
            ? new ModuleCheck("vermagic", false, "no vermagic in .modinfo")
            : vermagic.StartsWith(release + " ", StringComparison.Ordinal) || vermagic == release
                ? new ModuleCheck("vermagic", true, vermagic)
                : new ModuleCheck("vermagic", false, $"'{vermagic}' does not start with {release}: built against the wrong kernel"));
        return checks;
    }
}
