using System.Diagnostics;
using KfuncForge.Tests.Caching;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Definitions;

/// <summary>
/// Hostile files and documents that fixtures in git cannot hold (links, FIFOs, mounts, huge expansions):
/// each exits 2 with the message, never reads or prints a file outside the tree, never hangs, and writes nothing.
/// </summary>
public sealed class HostileFileTests
{
    private static string BaseTree => Path.Combine(TestTree.Fixtures, "invalid", "_base");
    private const string Module = "kfunc-modules/kfunc_base";

    private sealed class Case : IDisposable
    {
        public Infrastructure.TempDir Temp { get; } = TestTree.Temp();
        public string Source => Temp.Combine("src");
        public string Out => Temp.Combine("out");
        public string Outside => Temp.Combine("outside");

        public Case()
        {
            TestTree.CopyDirectory(BaseTree, Source);
            Directory.CreateDirectory(Outside);
            File.WriteAllText(Path.Combine(Outside, "secret.txt"), "root:x:0:0:SECRET-CONTENT\n");
        }

        public string InTree(string relative) => Path.Combine(Source, relative);

        /// <summary>Runs the engine as its own process (a hang is a failure after a timeout, not a stuck test run).</summary>
        public CliResult Run(params string[] args)
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "kfuncforge.dll"));
            foreach (var a in args.Concat(["--root", Source, "--templates", TestTree.Templates, $"--out={Out}"])) info.ArgumentList.Add(a);
            using var p = Process.Start(info)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                p.Kill(entireProcessTree: true);
                Assert.Fail("the engine hung on hostile input (killed after 60 s)");
            }
            return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
        }

        public void AssertRefused(CliResult r, string message)
        {
            Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
            Assert.Contains(message, r.Stderr);
            Assert.DoesNotContain("SECRET-CONTENT", r.Stdout + r.Stderr);
            Assert.DoesNotContain("internal error", r.Stderr);
            Assert.DoesNotContain("   at ", r.Stderr);
            Assert.False(Directory.Exists(Out) && Directory.EnumerateFileSystemEntries(Out, "*", SearchOption.AllDirectories).Any(), "nothing may be written on a rejected input");
        }

        public void Dispose() => Temp.Dispose();
    }

    [Fact]
    public void A_module_yaml_that_links_out_of_the_tree_is_not_read()
    {
        using var c = new Case();
        File.Delete(c.InTree($"{Module}/module.yaml"));
        File.CreateSymbolicLink(c.InTree($"{Module}/module.yaml"), Path.Combine(c.Outside, "secret.txt"));
        c.AssertRefused(c.Run("validate"), "kfunc-modules/kfunc_base/module.yaml: is, or lies in a folder that is, a link that leaves the tree");
    }

    [Fact]
    public void A_distro_profile_that_links_out_of_the_tree_is_not_read()
    {
        using var c = new Case();
        File.Delete(c.InTree("distros/debian12.yaml"));
        File.CreateSymbolicLink(c.InTree("distros/debian12.yaml"), Path.Combine(c.Outside, "secret.txt"));
        c.AssertRefused(c.Run("validate"), "distros/debian12.yaml: is, or lies in a folder that is, a link that leaves the tree");
    }

    [Fact]
    public void A_fifo_named_module_yaml_does_not_hang_the_engine()
    {
        using var c = new Case();
        File.Delete(c.InTree($"{Module}/module.yaml"));
        Assert.Equal(0, Process.Start("mkfifo", [c.InTree($"{Module}/module.yaml")])!.WaitForExitAndCode());
        c.AssertRefused(c.Run("validate"), "is not a regular file (a FIFO, socket or device)");
    }

    [Fact]
    public void A_source_folder_that_links_out_of_the_tree_is_refused()
    {
        using var c = new Case();
        var outsideSrc = Path.Combine(c.Outside, "src");
        Directory.Move(c.InTree($"{Module}/src"), outsideSrc);
        Directory.CreateSymbolicLink(c.InTree($"{Module}/src"), outsideSrc);
        c.AssertRefused(c.Run("render"), "kfuncs[0].variants[0].file: 'src/base.c' is, or lies in a folder that is, a link that leaves the tree");
    }

    [Fact]
    public void A_header_beside_a_variant_that_links_out_of_the_tree_is_refused()
    {
        using var c = new Case();
        File.CreateSymbolicLink(c.InTree($"{Module}/src/evil.h"), Path.Combine(c.Outside, "secret.txt"));
        c.AssertRefused(c.Run("render"), "the header 'src/evil.h' beside it is, or lies in a folder that is, a link that leaves the tree");
    }

    [Fact]
    public void A_dangling_header_link_is_refused_before_anything_is_written()
    {
        using var c = new Case();
        File.CreateSymbolicLink(c.InTree($"{Module}/src/gone.h"), Path.Combine(c.Outside, "no-such-file.h"));
        c.AssertRefused(c.Run("render"), "the header 'src/gone.h' beside it is a link to");
    }

    [Fact]
    public void A_header_with_a_hostile_name_is_refused()
    {
        using var c = new Case();
        File.WriteAllText(c.InTree($"{Module}/src/a$(touch x).h"), "/* */\n");
        c.AssertRefused(c.Run("render"), "the header 'src/a$(touch x).h' beside it segment");
    }

    [Fact]
    public void A_large_value_aliased_many_times_is_refused_by_size_with_bounded_output()
    {
        using var c = new Case();
        var big = new string('x', 20_000);
        var aliases = string.Join(", ", Enumerable.Repeat("*big", 1000));
        File.WriteAllText(c.InTree("distros/debian12.yaml"), File.ReadAllText(c.InTree("distros/debian12.yaml"))
            .Replace("toolchain: [gcc-12,", $"x_big: &big \"{big}\"\ntoolchain: [{aliases}, gcc-12,"));
        var r = c.Run("validate");
        Assert.True(r.Stderr.Length < 200_000, $"{r.Stderr.Length} bytes of error output");
        c.AssertRefused(r, "distros/debian12.yaml");
    }

    [Fact]
    public void Many_problems_are_reported_with_bounded_output()
    {
        using var c = new Case();
        var bad = string.Join(", ", Enumerable.Range(0, 5000).Select(i => $"\"bad package {i}\""));
        File.WriteAllText(c.InTree("distros/debian12.yaml"), File.ReadAllText(c.InTree("distros/debian12.yaml")).Replace("toolchain: [gcc-12,", $"toolchain: [{bad}, gcc-12,"));
        var r = c.Run("validate");
        Assert.True(r.Stderr.Length < 600_000, $"{r.Stderr.Length} bytes of error output");
        c.AssertRefused(r, "more problems not shown");
    }

    [Fact]
    public void Ten_thousand_nested_mappings_are_refused_by_size_and_not_called_an_alias_bomb()
    {
        using var c = new Case();
        File.WriteAllText(c.InTree("distros/kernel-packaging/debian.yaml"), "name: " + string.Concat(Enumerable.Repeat("{a: ", 10_000)) + "1" + new string('}', 10_000) + "\n");
        var r = c.Run("validate");
        c.AssertRefused(r, "distros/kernel-packaging/debian.yaml:1:1: document has more than 20000 nodes");
        Assert.DoesNotContain("alias", r.Stderr);
    }

    [Fact]
    public void A_complex_mapping_key_is_bad_input_not_a_crash()
    {
        using var c = new Case();
        File.WriteAllText(c.InTree($"{Module}/module.yaml"), File.ReadAllText(c.InTree($"{Module}/module.yaml"))
            .Replace("        kernels: { from: \"5.18\", before: \"6.20\" }", "        kernels: { from: \"5.18\", before: \"6.20\" }\n        requires_config: { [CONFIG_BPF]: y }"));
        c.AssertRefused(c.Run("validate"), "keys must be plain text");
    }

    [Fact]
    public void An_out_folder_on_a_read_only_file_system_is_bad_input()
    {
        if (!CacheStorageFaultTests.IsRoot) return; // mounting needs root; CI runs as root
        using var c = new Case();
        var mount = c.Temp.Combine("ro");
        Directory.CreateDirectory(mount);
        CacheStorageFaultTests.Mount(mount, "ro,size=64k");
        try
        {
            var r = TestTree.Run("render", "--root", c.Source, "--templates", TestTree.Templates, $"--out={Path.Combine(mount, "out")}");
            Assert.True(r.ExitCode == 2, r.Stderr);
            Assert.Contains("cannot be written", r.Stderr);
            Assert.DoesNotContain("internal error", r.Stderr);
        }
        finally
        {
            CacheStorageFaultTests.Unmount(mount);
        }
    }
}

internal static class ProcessExtensions
{
    public static int WaitForExitAndCode(this Process p)
    {
        p.WaitForExit();
        return p.ExitCode;
    }
}
