using KfuncForge.Definitions;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Processes;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Vm.Infrastructure;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Vm;

/// <summary>The repository's own module definitions, planned into boots for the test kernel (no VM): every program compiles against that kernel's BTF.</summary>
public sealed class SmokePlannerTests
{
    [VmFact]
    public async Task The_repositorys_modules_become_one_boot_with_every_program_compiled_for_the_kernel()
    {
        var kernel = await TestKernel.GetAsync();
        var catalog = Catalog.Load(new SourceTree(TestTree.RepoRoot));
        var distro = catalog.Distro("debian12");
        var plan = Planner.Make(distro, KernelSelection.Select(distro, "6.12"), catalog.Modules);
        using var temp = TestTree.Temp();
        // The modules need not be built for planning: a placeholder .ko per backport module is enough.
        var ko = temp.Combine("placeholder.ko");
        // Built here (or taken from the fixture cache): never another test's leftovers.
        File.Copy(await VmFixtures.BuildAsync(kernel, new FixtureModule("kff_good")), ko);
        var index = VmFixtures.WriteIndex(temp.Combine("build-index.json"), kernel,
            plan.Cells.Where(c => c.NeedsModule).Select(c => (c.Module.Name, ko)));

        var boot = (await new SmokePlanner(new GuestTools(new ContentCache(TestKernel.CacheRoot), ProcessRunner.Instance)).MakeAsync(plan, BuildIndex.Load(index))).Single();

        Assert.Equal(kernel.Release, boot.Kernel.Release);
        Assert.True(boot.Kernel.IsPvh, "Debian's kernels have a PVH entry; the harness boots the ELF directly");
        Assert.DoesNotContain(boot.NotRun, n => n.Failure is not null);
        foreach (var module in catalog.Modules)
        {
            var cases = boot.Kfuncs.Where(k => k.Module == module.Name).ToList();
            Assert.Equal(module.Kfuncs.Select(k => k.Name), cases.Select(c => c.Kfunc));
            var version = KernelVersion.Parse(kernel.Release);
            Assert.Equal(module.Smoke.Count(s => s.Kernels.Contains(version)), boot.Smoke.Count(s => s.Module == module.Name));
            Assert.All(boot.Smoke.Where(s => s.Module == module.Name), s => Assert.True(File.Exists(s.Object)));
        }
        // Socket-iterator load files become one measurement per iterator program they hold.
        Assert.All(boot.Loads.Where(l => l.Driver == LoadDriver.SocketIterator), l => Assert.NotNull(l.Program));
        Assert.All(boot.Loads.Where(l => l.Driver == LoadDriver.TestRun), l => Assert.NotNull(l.Program));
    }
}
