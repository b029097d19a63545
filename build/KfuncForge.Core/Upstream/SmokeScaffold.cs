using System.Text;
using KfuncForge.Definitions;
using KfuncForge.Model;

namespace KfuncForge.Upstream;

/// <summary>
/// The smoke programs import writes for a new kfunc (docs/add-a-kfunc.md), so the first SmokeTest runs before
/// any BPF is written by hand: the kfunc's <c>__ksym __weak</c> extern, a positive program of a type upstream
/// registers it for (a syscall program when it may: it may sleep and needs no packet) that calls it with
/// arguments the verifier accepts and returns 0, and the obvious negative case (a program type upstream does
/// not register it for, or a non-sleepable program for a sleepable kfunc). Arguments are made from the
/// prototype alone: scalars are 0; a pointer sized by the next argument (__sz, __szk) gets a 16-byte stack
/// buffer; a __str argument a constant string; a char pointer (or an __ign void pointer) a stack string.
/// Anything else (a pointer to a kernel object) needs a real object: no positive program is written, and
/// the file and import's output say which argument to fill in.
/// </summary>
public static class SmokeScaffold
{
    /// <summary>What import writes: the BPF file (relative to the module), its text, the smoke: entries, and what is left to do by hand.</summary>
    public sealed record Result(string File, string Source, IReadOnlyList<string> Entries, IReadOnlyList<string> Todo);

    public const string NotAllowed = "calling kernel function {0} is not allowed";
    public const string MustSleep = "program must be sleepable to call sleepable kfunc {0}";

    /// <summary>Program types for a negative test: section, context parameter; the first the kfunc is not registered for is used.</summary>
    private static readonly (string Type, string Section, string Context)[] Negatives =
    [
        ("sched_cls", "tc", "struct __sk_buff *skb"),
        ("xdp", "xdp", "struct xdp_md *ctx"),
        ("socket_filter", "socket", "struct __sk_buff *skb"),
    ];

    /// <summary>Positive program types, in order of preference: (registered type, section, context).</summary>
    private static readonly (string Type, string Section, string Context)[] Positives =
    [
        ("syscall", "syscall", "void *ctx"),
        ("sched_cls", "tc", "struct __sk_buff *skb"),
        ("xdp", "xdp", "struct xdp_md *ctx"),
    ];

    public static string FileOf(string kfunc) => $"bpf/smoke_{kfunc}.bpf.c";

    public static Result Make(ImportedKfunc k)
    {
        var file = FileOf(k.Name);
        var sleepable = k.Flags.Contains("KF_SLEEPABLE");
        var everywhere = k.ProgramTypes.Contains("unspec");
        var todo = new List<string>();
        var entries = new List<string>();
        var body = new StringBuilder();

        var prototype = k.Prototype.TrimEnd().TrimEnd(';');
        if (CPrototype.Parse(prototype).Problem is { } unreadable)
        {
            var reason = $"the prototype {unreadable}, so no call to {k.Name} could be written";
            return new Result(file, $"// SPDX-License-Identifier: GPL-2.0\n/* Smoke programs for {k.Name}: none written by `kfuncforge import`: {reason}. */\n", [],
                [$"write the smoke programs for {k.Name} in {file} by hand: {reason}"]);
        }
        var head = prototype[..prototype.IndexOf('(')];
        var returnsPointer = head.Contains('*');
        var returnsVoid = !returnsPointer && head.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [.., "void", _];

        var positive = Positives.FirstOrDefault(p => (everywhere || k.ProgramTypes.Contains(p.Type)) && !(sleepable && p.Type != "syscall"));
        var (globals, locals, args, unsupported) = Arguments(k);
        string? why = positive.Type is null
            ? $"upstream registers {k.Name} for {string.Join(", ", k.ProgramTypes)} only{(sleepable ? " and it may sleep" : "")}: no syscall, tc or xdp program can call it"
            : k.Flags.Contains("KF_ACQUIRE") || returnsPointer
                ? $"{k.Name} returns a pointer{(k.Flags.Contains("KF_ACQUIRE") ? " the program must release" : "")}"
                : unsupported;
        if (why is null)
        {
            var program = $"{k.Name}_runs";
            body.Append($"/* Positive: calls {k.Name} in a {positive.Type} program and returns 0 once it has run (expect: retval 0).\n");
            body.Append(" * Replace the arguments with real cases and return the kfunc's result once you know what upstream returns. */\n");
            foreach (var g in globals) body.Append(g).Append('\n');
            if (!returnsVoid) body.Append($"long {k.Name}_result;\n");
            body.Append($"\nSEC(\"{positive.Section}\")\nint {program}({positive.Context})\n{{\n");
            foreach (var l in locals) body.Append('\t').Append(l).Append('\n');
            if (locals.Count > 0) body.Append('\n');
            body.Append('\t').Append(returnsVoid ? "" : $"{k.Name}_result = ").Append($"{k.Name}({string.Join(", ", args)});\n");
            body.Append("\treturn 0;\n}\n\n");
            entries.Add(Entry(program, file, positive.Section, positive.Type!, k.Name, "retval: 0", null));
        }
        else
        {
            body.Append($"/* No positive program was written: {why}. Write one by hand and list it under smoke:. */\n\n");
            todo.Add($"write a positive smoke program for {k.Name} in {file}: {why}");
        }

        var negative = Negatives.FirstOrDefault(n => !everywhere && !k.ProgramTypes.Contains(n.Type));
        void Refused(string program, (string Type, string Section, string Context) at, string why, string message, string? kernels)
        {
            var zeros = string.Join(", ", CPrototype.Parameters(prototype).Select(_ => "0"));
            body.Append($"/* Negative: {why} */\n");
            body.Append($"SEC(\"{at.Section}\")\nint {program}({at.Context})\n{{\n\t{k.Name}({zeros});\n\treturn 0;\n}}\n");
            entries.Add(Entry(program, file, at.Section, at.Type, k.Name, $"verifier_rejects: {YamlTextEditor.Quoted(message)}", kernels));
        }
        if (negative.Type is not null)
            Refused($"{k.Name}_refused_in_{negative.Section}", negative,
                $"upstream does not register {k.Name} for {negative.Type} programs, so the verifier refuses the call.", string.Format(NotAllowed, k.Name), null);
        else if (sleepable)
            Refused($"{k.Name}_refused_not_sleepable", Negatives[0],
                $"{k.Name} may sleep and a tc program may not. 6.1's verifier has no such check (the entry covers 6.2 and later).", string.Format(MustSleep, k.Name), "{ from: \"6.2\" }");
        else
            body.Append($"/* No negative program: upstream registers {k.Name} for every program type and it does not sleep. */\n");

        var source = new StringBuilder();
        source.Append("// SPDX-License-Identifier: GPL-2.0\n");
        source.Append("/*\n");
        source.Append($" * Smoke programs for {k.Name}, written by `kfuncforge import` (docs/add-a-kfunc.md);\n");
        source.Append(" * import never overwrites this file: edit it freely, and keep module.yaml's smoke: entries in step.\n");
        source.Append(" * vmlinux.h is each booted kernel's own BTF (bpftool btf dump), so every type of the prototype is there.\n");
        source.Append($" * The extern is __weak: on a kernel without {k.Name} only the programs that call it fail to load,\n");
        source.Append(" * not every program of this object.\n");
        source.Append(" */\n");
        source.Append("#include \"vmlinux.h\"\n#include <bpf/bpf_helpers.h>\n\n");
        source.Append("#ifndef __user\n#define __user\n#endif\n\n");
        source.Append($"extern {prototype} __ksym __weak;\n\n");
        source.Append("char LICENSE[] SEC(\"license\") = \"GPL\";\n\n");
        source.Append(body);
        return new Result(file, source.ToString(), entries, todo);
    }

    private static string Entry(string program, string file, string section, string type, string kfunc, string expect, string? kernels) =>
        $"{{ name: {YamlTextEditor.Scalar(program)}, source: {YamlTextEditor.Scalar(file)}, program: {YamlTextEditor.Scalar(program)}, section: {section}, program_type: {type}, calls: [{YamlTextEditor.Scalar(kfunc)}], " +
        (kernels is null ? "" : $"kernels: {kernels}, ") + $"expect: {{ {expect} }} }}";

    /// <summary>Globals, locals and argument expressions for a positive call, or why the prototype needs a hand-written argument.</summary>
    private static (List<string> Globals, List<string> Locals, List<string> Args, string? Unsupported) Arguments(ImportedKfunc k)
    {
        var parameters = CPrototype.Parameters(k.Prototype);
        var globals = new List<string>();
        var locals = new List<string>();
        var args = new List<string>();
        for (var i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            var local = $"arg{i + 1}";
            var suffix = p.Name is null ? null : ArgSuffix.Of(p.Name);
            var sizedByNext = i + 1 < parameters.Count && parameters[i + 1].Name is { } next && ArgSuffix.Of(next) is { } s && ArgSuffix.Size.Contains(s);
            if (p.Pointers == 0) args.Add("0");
            else if (p.Pointers == 1 && sizedByNext)
            {
                locals.Add($"char {local}[16] = {{}};");
                args.Add(local);
                args.Add($"sizeof({local})");
                i++;
            }
            else if (p.Pointers == 1 && suffix == "__str")
            {
                globals.Add($"const char {k.Name}_{local}[] = \"kfuncforge\";");
                args.Add($"{k.Name}_{local}");
            }
            else if (p.Pointers == 1 && (p.Specifiers.Any(w => w is "char" or "u8" or "__u8") || (p.IsVoidPointer && suffix == "__ign")))
            {
                locals.Add($"char {local}[] = \"kfuncforge\";");
                args.Add(local);
            }
            else
            {
                var type = string.Join(" ", p.Specifiers) + " " + new string('*', p.Pointers);
                return ([], [], [], $"argument {i + 1} '{p.Name}' ({type}) needs a real object; the scaffold only makes scalars, sized buffers and strings");
            }
        }
        return (globals, locals, args, null);
    }
}
