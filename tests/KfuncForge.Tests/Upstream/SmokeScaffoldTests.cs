using KfuncForge.Upstream;

namespace KfuncForge.Tests.Upstream;

/// <summary>What import's smoke scaffolding writes for kfunc shapes other than the two the QEMU test runs (ImportScaffoldSmokeTests).</summary>
public sealed class SmokeScaffoldTests
{
    private static ImportedKfunc Kfunc(string prototype, string[] types, params string[] flags) =>
        new(KfuncForge.Definitions.CPrototype.Parse(prototype).Name ?? "invalid", prototype, flags, types, "6.16", "0123456789ab", "kernel/bpf/helpers.c", "v6.16", "00", [], []);

    [Fact]
    public void A_kernel_object_argument_gets_no_positive_program_and_the_todo_names_it()
    {
        var s = SmokeScaffold.Make(Kfunc("int bpf_sock_thing(struct sock_common *sock)", ["tracing"], "KF_TRUSTED_ARGS"));

        Assert.Equal(["write a positive smoke program for bpf_sock_thing in bpf/smoke_bpf_sock_thing.bpf.c: upstream registers bpf_sock_thing for tracing only: no syscall, tc or xdp program can call it"], s.Todo);
        var negative = Assert.Single(s.Entries);
        Assert.Contains("section: tc, program_type: sched_cls", negative);
        Assert.DoesNotContain("_runs(", s.Source);

        var objectArg = SmokeScaffold.Make(Kfunc("int bpf_task_thing(struct task_struct *task, u64 flags)", ["syscall"]));
        Assert.Equal(["write a positive smoke program for bpf_task_thing in bpf/smoke_bpf_task_thing.bpf.c: argument 1 'task' (struct task_struct *) needs a real object; the scaffold only makes scalars, sized buffers and strings"], objectArg.Todo);
    }

    [Fact]
    public void Arguments_are_made_from_the_prototype_and_a_void_kfunc_is_called_as_a_statement()
    {
        var s = SmokeScaffold.Make(Kfunc("void bpf_str_thing(const char *name__str, const char *s, void *buf, u32 buf__szk, int n)", ["syscall", "sched_cls"]));

        Assert.Empty(s.Todo);
        Assert.Contains("const char bpf_str_thing_arg1[] = \"kfuncforge\";", s.Source);
        Assert.Contains("\tbpf_str_thing(bpf_str_thing_arg1, arg2, arg3, sizeof(arg3), 0);\n\treturn 0;", s.Source);
        Assert.DoesNotContain("_result", s.Source);
        Assert.Contains("section: syscall", s.Entries[0]);
        Assert.Contains("bpf_str_thing_refused_in_xdp", s.Entries[1]);
    }

    [Fact]
    public void Acquired_pointers_and_kfuncs_for_every_type_that_do_not_sleep()
    {
        var acquire = SmokeScaffold.Make(Kfunc("struct bpf_cpumask *bpf_cpumask_create(void)", ["unspec"], "KF_ACQUIRE", "KF_RET_NULL"));
        Assert.Equal("bpf/smoke_bpf_cpumask_create.bpf.c", acquire.File);
        Assert.Contains("returns a pointer the program must release", Assert.Single(acquire.Todo));
        Assert.Empty(acquire.Entries);
        Assert.Contains("No negative program: upstream registers bpf_cpumask_create for every program type and it does not sleep.", acquire.Source);

        // Registered for some types: the negative calls it as a statement (returning a pointer from an int program would not compile).
        var task = SmokeScaffold.Make(Kfunc("struct task_struct *bpf_task_acquire(struct task_struct *p)", ["tracing", "struct_ops"], "KF_ACQUIRE", "KF_RET_NULL"));
        Assert.Contains("int bpf_task_acquire_refused_in_tc(struct __sk_buff *skb)\n{\n\tbpf_task_acquire(0);\n\treturn 0;\n}\n", task.Source);
    }

    [Fact]
    public void A_prototype_the_grammar_refuses_gets_no_programs()
    {
        var s = SmokeScaffold.Make(Kfunc("int bpf_arr(u8 b[16])", ["syscall"]) with { Name = "bpf_arr" });
        Assert.Empty(s.Entries);
        Assert.StartsWith("write the smoke programs for bpf_arr in bpf/smoke_bpf_arr.bpf.c by hand: the prototype has '[' at column", Assert.Single(s.Todo));
        Assert.DoesNotContain("extern", s.Source);
    }
}
