using System.Text;
using System.Text.Json;
using KfuncForge.Diagnostics;
using KfuncForge.Model;
using KfuncForge.Packaging;
using KfuncForge.Processes;
using KfuncForge.Signing;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Packaging;

/// <summary>Bad modules and bad packaging input stop the run with a clear error, and the previous repository stays as it was.</summary>
public sealed class FailClosedTests(PackagingFixture f) : IClassFixture<PackagingFixture>
{
    private async Task<(string Repo, SortedDictionary<string, string> Before, string? Link)> Published(string name)
    {
        var repo = f.Temp.Combine(name, "apt");
        await f.PackageAsync(repo, PackageFamily.Deb);
        return (repo, DebPackageTests.Snapshot(repo), new DirectoryInfo(repo).LinkTarget);
    }

    private static void Unchanged((string Repo, SortedDictionary<string, string> Before, string? Link) published)
    {
        Assert.Equal(published.Link, new DirectoryInfo(published.Repo).LinkTarget);
        Assert.Equal(published.Before, DebPackageTests.Snapshot(published.Repo));
        var parent = Path.GetDirectoryName(published.Repo)!;
        Assert.Single(Directory.GetDirectories(parent, ".apt.gen-*"));
        Assert.Empty(Directory.GetFileSystemEntries(parent, ".apt.link-*"));
    }

    [Fact]
    public async Task An_unsigned_module_stops_packaging_and_nothing_is_published()
    {
        var published = await Published("unsigned");
        var e = await Assert.ThrowsAsync<StageException>(() => f.PackageAsync(published.Repo, PackageFamily.Deb, f.UnsignedModule));
        Assert.StartsWith("refusing to package: 1 module(s) not signed by 'CN=KfuncForge test RSA signing key'", e.Message);
        Assert.Contains("carries no appended signature", e.Message);
        Unchanged(published);
    }

    [Fact]
    public async Task A_module_changed_after_signing_stops_packaging()
    {
        var published = await Published("tampered");
        var tampered = f.Temp.Combine("tampered.ko");
        var bytes = File.ReadAllBytes(f.SignedModule);
        bytes[200] ^= 1;
        File.WriteAllBytes(tampered, bytes);
        var e = await Assert.ThrowsAsync<StageException>(() => f.PackageAsync(published.Repo, PackageFamily.Deb, tampered));
        Assert.Contains("the module was changed after signing", e.Message);
        Unchanged(published);
    }

    [Fact]
    public async Task A_module_signed_with_another_key_stops_packaging()
    {
        var published = await Published("foreign");
        var foreign = f.Temp.Combine("foreign.ko");
        using (var other = SigningKey.Load(f.Keys.OtherKey, f.Keys.OtherCert))
            await new ModuleSigner(new KeySignatureSource(other, ModuleHash.Sha256)).SignAsync(f.UnsignedModule, foreign);
        var e = await Assert.ThrowsAsync<StageException>(() => f.PackageAsync(published.Repo, PackageFamily.Deb, foreign));
        Assert.Contains("signed by another certificate", e.Message);
        Unchanged(published);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public async Task A_run_interrupted_midway_leaves_the_previous_repository_intact_and_usable(int failAtCall)
    {
        var published = await Published($"interrupted-{failAtCall}");
        var runner = new InterruptingRunner(failAtCall);
        // Other inputs than the served generation's (a later date), so the run really publishes.
        var settings = f.Settings(published.Repo, PackageFamily.Deb) with { Keyring = new GpgKeyring(runner, f.Keyring.Home), SourceDate = PackagingFixture.SourceDate.AddDays(1) };
        await Assert.ThrowsAsync<OperationCanceledException>(() => new Packager(runner).RunAsync(
            [new PackageInput(RenderedCellFiles.Load(PackagingFixture.DebCell), f.SignedModule)], settings));
        Assert.True(runner.Calls >= failAtCall);
        Unchanged(published);

        using var apt = TestTree.Temp();
        var list = apt.Combine("sources.list");
        File.WriteAllText(list, $"deb [signed-by={Path.Combine(published.Repo, AptRepository.KeyringFileName)}] file:{published.Repo} debian12 main\n");
        var update = HostTools.Run(DebPackageTests.AptGet(apt, list, "update"));
        Assert.True(update.Succeeded && !update.Stderr.Contains("E:"), update.Stderr);
    }

    [Fact]
    public async Task A_package_name_that_is_not_a_valid_Debian_name_is_bad_input_and_nothing_is_published()
    {
        var published = await Published("bad-deb-name");
        using var temp = TestTree.Temp();
        var cell = CopyCell(PackagingFixture.DebCell, temp.Combine("cell"), "debian/control", t => t.Replace("Package: kfunc-demo-modules-6.1-amd64", "Package: Kfunc_Demo-6.1"));
        var e = await Assert.ThrowsAsync<InputException>(() => new Packager(ProcessRunner.Instance).RunAsync(
            [new PackageInput(RenderedCellFiles.Load(cell), f.SignedModule)], f.Settings(published.Repo, PackageFamily.Deb)));
        Assert.Equal($"{Path.Combine(cell, "debian", "control")}: Package: 'Kfunc_Demo-6.1' is not a valid Debian package name: at least two characters of lower-case letters, digits, '+', '-' and '.', starting with a letter or digit (check packaging.name in the distro profile)", Assert.Single(e.Problems).ToString());
        Unchanged(published);
    }

    [Fact]
    public async Task A_package_name_that_is_not_a_valid_RPM_name_is_bad_input()
    {
        using var temp = TestTree.Temp();
        var cell = CopyCell(PackagingFixture.RpmCell, temp.Combine("cell"), "rpm/kmod-kfunc_demo-5.14.0-570.12.1.el9_6.x86_64.spec",
            t => t.Replace("Name:           kmod-kfunc_demo-5.14.0-570.12.1.el9_6.x86_64", "Name:           -kmod/kfunc"));
        var e = await Assert.ThrowsAsync<InputException>(() => new Packager(ProcessRunner.Instance).RunAsync(
            [new PackageInput(RenderedCellFiles.Load(cell), f.SignedModule)], f.Settings(temp.Combine("yum"), PackageFamily.Rpm, "rhel9")));
        Assert.True(e.Message.Contains("'-kmod/kfunc' is not a valid RPM package name"), e.Message);
        Assert.False(Directory.Exists(temp.Combine("yum")) && Directory.EnumerateFileSystemEntries(temp.Combine("yum")).Any());
    }

    [Fact]
    public void A_rendered_file_edited_after_rendering_is_refused()
    {
        using var temp = TestTree.Temp();
        var cell = temp.Combine("cell");
        TestTree.CopyDirectory(PackagingFixture.DebCell, cell);
        File.AppendAllText(Path.Combine(cell, "debian", "control"), "Extra: field\n");
        var e = Assert.Throws<InputException>(() => RenderedCellFiles.Load(cell));
        Assert.Contains("was changed after rendering", e.Message);
    }

    [Fact]
    public async Task A_cell_of_the_other_package_family_is_bad_input()
    {
        using var temp = TestTree.Temp();
        var e = await Assert.ThrowsAsync<InputException>(() => new Packager(ProcessRunner.Instance).RunAsync(
            [new PackageInput(RenderedCellFiles.Load(PackagingFixture.RpmCell), f.SignedModule)], f.Settings(temp.Combine("apt"), PackageFamily.Deb)));
        Assert.Contains("is rendered for rpm packages, but this run makes deb packages", e.Message);
    }

    /// <summary>A copy of a rendered cell with one file changed and its manifest hash updated, as if the template had produced it.</summary>
    internal static string CopyCell(string from, string to, string file, Func<string, string> change)
    {
        TestTree.CopyDirectory(from, to);
        var path = Path.Combine(to, file);
        File.WriteAllText(path, change(File.ReadAllText(path)));
        var manifestPath = Path.Combine(to, RenderedCellFiles.ManifestName);
        var manifest = JsonDocument.Parse(File.ReadAllText(manifestPath)).RootElement;
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            foreach (var p in manifest.EnumerateObject())
            {
                if (p.Name != "files") { p.WriteTo(w); continue; }
                w.WriteStartObject("files");
                foreach (var entry in p.Value.EnumerateObject()) w.WriteString(entry.Name, entry.Name == file ? hash : entry.Value.GetString());
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        File.WriteAllText(manifestPath, Encoding.UTF8.GetString(buffer.ToArray()));
        return to;
    }

    /// <summary>The real runner until the n-th process, which is "interrupted" (as by Ctrl-C or a killed machine).</summary>
    private sealed class InterruptingRunner(int failAt) : IProcessRunner
    {
        public int Calls { get; private set; }

        public Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellation = default)
        {
            if (++Calls == failAt) throw new OperationCanceledException($"interrupted at {spec.FileName}");
            return ProcessRunner.Instance.RunAsync(spec, cancellation);
        }
    }
}
