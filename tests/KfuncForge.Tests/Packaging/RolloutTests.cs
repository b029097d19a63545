using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;
using KfuncForge.Containers;
using KfuncForge.Definitions;
using KfuncForge.Model;
using KfuncForge.Packaging;
using KfuncForge.Planning;
using KfuncForge.Processes;
using KfuncForge.Rendering;
using KfuncForge.Signing;

using KfuncForge.Tests.Signing;
using KfuncForge.Tests.Support;
using KfuncForge.Tests.Vm.Infrastructure;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Packaging;

/// <summary>
/// Issue 21's rollout test, on Debian 12's two real kernels: 6.1 (kernel A) and 6.12 from bookworm-backports (kernel B).
/// The profile here names its meta package per flavour ({module_dashed}-modules-{flavour}), so one meta package follows
/// both kernels the way linux-image-amd64 follows a line; its rules are the shipped ones (versioned Depends on the newest
/// kernel's module package, the kernel guard under /etc/kernel/postinst.d). In the install check's rootfs:
/// <list type="number">
/// <item>generation 1 serves kernel A: apt installs the meta package from our signed repository, which brings A's module
/// package and kernel A;</item>
/// <item>kernel B is installed while no module package for it exists: the guard warns on apt's output and to the journal
/// socket, naming the kernel and the package expected, and the installation completes (B is then purged again);</item>
/// <item>generation 2 adds B's module package: apt-get full-upgrade brings kernel B and its module package, with no warning;
/// the rootfs booted on B loads the module by name;</item>
/// <item>generation 3 is made from B alone: the repository still serves A's package, byte for byte (retention).</item>
/// </list>
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class RolloutTests(RealKernel real, RealKernel612 real612, ITestOutputHelper output) : IAsyncLifetime
{
    private const string Module = "kfunc_fixture_ok";
    private const string Meta = "kfunc-fixture-ok-modules-amd64";
    private readonly TestKeys _keys = new();
    private readonly TempDir _temp = new("kfuncforge-rollout-");
    private GpgKeyring _keyring = null!;
    private GpgKey _packageKey = null!;
    private readonly Dictionary<string, PackageInput> _inputs = new(StringComparer.Ordinal);

    public async Task InitializeAsync()
    {
        if (RealKernel.SkipReason is not null || TestKernel.Unsupported() is not null) return;
        // The fixture's source tree, with the meta package named per flavour.
        var tree = _temp.Combine("src");
        RealKernel.MakeSourceTree(tree);
        var yaml = Path.Combine(tree, "distros", "debian12.yaml");
        File.WriteAllText(yaml, File.ReadAllText(yaml).Replace("  install_dir:", "  meta: \"{module_dashed}-modules-{flavour}\"\n  install_dir:", StringComparison.Ordinal));
        var catalog = Catalog.Load(new SourceTree(tree, KfuncForge.Tests.Infrastructure.TestTree.Templates));
        var distro = catalog.Distro("debian12");
        Assert.Equal("{module_dashed}-modules-{flavour}", distro.Packaging.Meta);
        var plan = Planner.Make(distro, [real.Kernel.ToFacts(distro.BpfLevel), real612.Kernel.ToFacts(distro.BpfLevel)], catalog.Modules.Where(m => m.Name == Module).ToList());
        var renderer = new Renderer(TemplateSet.Load(KfuncForge.Tests.Infrastructure.TestTree.Templates), DateTimeOffset.UnixEpoch, KfuncForge.Provenance.ProjectProvenance.Unknown("rollout test"));
        using var key = SigningKey.Load(_keys.RsaKey, _keys.RsaCert);
        foreach (var kernel in new[] { real, real612 })
        {
            var built = kernel.Cell(Module);
            Assert.True(built.Ko is not null, built.Reason);
            var cell = renderer.Render(plan.Cells.Single(c => c.Kernel.Release == kernel.Kernel.Release && c.NeedsModule), _temp.Combine("render"));
            var signed = _temp.Combine("signed", kernel.Kernel.Release, Module + ".ko");
            await new ModuleSigner(new KeySignatureSource(key, ModuleHash.Sha256)).SignAsync(built.Ko!, signed);
            _inputs[kernel.Kernel.Release] = new PackageInput(RenderedCellFiles.Load(cell.Directory), signed);
        }
        _keyring = new GpgKeyring(ProcessRunner.Instance, _temp.Combine("gnupg"));
        _packageKey = (await _keyring.EnsureDevelopmentKeyAsync()).Key;
    }

    public async Task DisposeAsync()
    {
        if (_keyring is not null) await _keyring.StopAgentAsync();
        _temp.Dispose();
        _keys.Dispose();
    }

    private string Repository => _temp.Combine("repo", "apt");

    private Task<PackagingResult> PublishAsync(int generation, params RealKernel[] kernels) =>
        new Packager(ProcessRunner.Instance).RunAsync(kernels.Select(k => _inputs[k.Kernel.Release]).ToList(),
            new PackagingSettings(Repository, PackageFamily.Deb, "amd64", PackagingFixture.SourceDate.AddDays(generation), SigningKey.LoadCertificate(_keys.RsaCert),
                ModuleHash.Sha256, _keyring, _packageKey, PackagingFixture.Provenance, "debian12"));

    private static string Package(RealKernel k) => $"kfunc-fixture-ok-modules-{k.Kernel.Release}";

    [IntegrationFact(Timeout = 3_600_000)]
    public async Task A_host_with_the_meta_package_follows_a_kernel_upgrade_and_the_guard_warns_for_a_kernel_without_one()
    {
        if (TestKernel.Unsupported() is not null) return; // not an x86-64 Debian host: IntegrationFact covers the tools
        var (a, b) = (real.Kernel.Release, real612.Kernel.Release);
        var first = await PublishAsync(1, real);
        var meta1 = Assert.Single(first.Packages, p => p.Name == Meta);
        Assert.Equal($"{Package(real)} (>= {_inputs[a].Cell.ModuleVersion})", DebField(meta1.Path, "Depends"));

        var request = new InstallCheckRequest(Repository, "debian12", Meta, a, Module, _temp.Combine("host"))
        {
            RootfsSuite = real.Distro.Rootfs!.Suite,
            ExtraSuites = real.Distro.Rootfs.ExtraSuites,
            Components = real.Distro.Rootfs.Components,
        };
        using var host = new RolloutHost(ProcessRunner.Instance, new GuestTools(new ContentCache(TestKernel.CacheRoot), ProcessRunner.Instance), new QemuVmRunner(ProcessRunner.Instance), request);
        await host.CreateAsync(AptMirrors.FromHost(), output.WriteLine);
        var installed = host.Installed();
        Assert.Equal(meta1.Version, installed.GetValueOrDefault(Meta));
        Assert.True(installed.ContainsKey(Package(real)), "the meta package did not bring kernel A's module package");
        Assert.True(installed.ContainsKey($"linux-image-{a}"), "the module package did not bring kernel A");
        Assert.True(File.Exists(Path.Combine(host.Root, "etc", "kernel", "postinst.d", $"zz-kfuncforge-{Module}")), "the meta package installed no kernel guard");

        // Kernel B arrives while no module package for it is published: the guard warns (apt's output and the journal socket), and the installation completes.
        using (var journal = new SyslogSocket(_temp.Combine("syslog.sock")))
        {
            var install = await host.AptAsync(["install", $"linux-image-{b}"], journal.Path);
            output.WriteLine(install.Stdout + install.Stderr);
            Assert.True(install.Succeeded, install.LogText());
            var warning = $"kfuncforge: WARNING: kernel {b} was installed without {Package(real612)}";
            Assert.Contains(warning, install.Stdout + install.Stderr);
            Assert.True(host.Installed().ContainsKey($"linux-image-{b}"), "the kernel's installation did not complete");
            var logged = await journal.WaitForAsync(warning, TimeSpan.FromSeconds(10));
            Assert.True(logged is not null, "the guard sent nothing to /dev/log; received: " + string.Join(" | ", journal.Received));
            Assert.Contains("kfuncforge", logged);
            Assert.StartsWith("<12>", logged); // user.warning
        }
        var purge = await host.AptAsync(["purge", $"linux-image-{b}"]);
        Assert.True(purge.Succeeded, purge.LogText());
        Assert.False(host.Installed().ContainsKey($"linux-image-{b}"));

        // Generation 2 serves B's module package as well: the ordinary upgrade brings kernel B and its module package, silently.
        var second = await PublishAsync(2, real, real612);
        var meta2 = Assert.Single(second.Packages, p => p.Name == Meta);
        Assert.True(KfuncForge.Kernels.DebVersion.Comparer.Compare(meta2.Version, meta1.Version) > 0, $"{meta2.Version} does not sort after {meta1.Version}");
        var update = await host.AptAsync(["update", "--error-on=any"]);
        Assert.True(update.Succeeded, update.LogText());
        var upgrade = await host.AptAsync(["full-upgrade"]);
        output.WriteLine(upgrade.Stdout + upgrade.Stderr);
        Assert.True(upgrade.Succeeded, upgrade.LogText());
        Assert.DoesNotContain("kfuncforge: WARNING", upgrade.Stdout + upgrade.Stderr);
        installed = host.Installed();
        var lists = Directory.GetFiles(Path.Combine(host.Root, "var", "lib", "apt", "lists"), "*repo_apt_dists_debian12_main_binary-amd64_Packages");
        Assert.True(meta2.Version == installed.GetValueOrDefault(Meta),
            $"{Meta} is {installed.GetValueOrDefault(Meta)}, not {meta2.Version}; update: {update.LogText()}\nlists: {string.Join("\n", lists.Select(File.ReadAllText))}");
        Assert.True(installed.ContainsKey($"linux-image-{b}"), "full-upgrade did not bring kernel B");
        Assert.True(installed.ContainsKey(Package(real612)), "full-upgrade did not bring kernel B's module package");
        Assert.True(installed.ContainsKey(Package(real)), "kernel A's module package went away (hosts may still boot A)");

        // The rootfs booted on kernel B loads the module as the host would (depmod by the rootfs's kmod, then modprobe by name).
        var boot = await host.BootAsync(b, Module, TimeSpan.FromMinutes(5));
        var commands = boot.Records.OfType<CommandRecord>().ToDictionary(c => c.Name);
        var report = string.Join("\n", commands.Values.Select(c => $"{c.Name}: {string.Join(' ', c.Argv)} -> {c.Code} {c.Output.Trim()}"));
        output.WriteLine(report);
        Assert.True(boot.Outcome == BootOutcome.Completed, $"{boot.Outcome}: {boot.Detail}\n{report}");
        Assert.Equal(b, boot.Hello?.Kernel);
        Assert.True(commands["modprobe"].Succeeded, report);
        Assert.Contains(commands["lsmod"].Output.Split('\n'), l => l.StartsWith(Module + " ", StringComparison.Ordinal));
        Assert.EndsWith($"/updates/kfuncforge/{Module}.ko.xz", commands["modinfo"].Output.Trim());

        // Generation 3, made from kernel B alone: A's package is still served, byte for byte, and the meta package still follows B.
        var previous = second.Packages.Single(p => p.Name == Package(real));
        var third = await PublishAsync(3, real612);
        var kept = Assert.Single(third.Carried);
        Assert.Equal(a, kept.Kernel);
        Assert.Equal(previous.Sha256, kept.Sha256);
        var index = File.ReadAllText(Path.Combine(Repository, "dists", "debian12", "main", "binary-amd64", "Packages"));
        Assert.Contains($"Package: {Package(real)}\n", index);
        Assert.Contains($"SHA256: {previous.Sha256}\n", index);
        Assert.Contains($"Package: {Package(real612)}\n", index);
        Assert.Equal([a, b], Packager.ServedKernels(Repository)!.Order(StringComparer.Ordinal));
    }

    private static string DebField(string deb, string field) => KfuncForge.Tests.Infrastructure.HostTools.Checked("dpkg-deb", "--field", deb, field).Stdout.Trim();

    /// <summary>A datagram socket standing in for the journal's /dev/log: what logger sends there reaches journald on a host.</summary>
    private sealed class SyslogSocket : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        private readonly List<string> _received = [];
        private readonly CancellationTokenSource _stop = new();

        public SyslogSocket(string path)
        {
            Path = path;
            _socket.Bind(new UnixDomainSocketEndPoint(path));
            _ = ReceiveAsync();
        }

        public string Path { get; }

        public IReadOnlyList<string> Received { get { lock (_received) return _received.ToList(); } }

        private async Task ReceiveAsync()
        {
            var buffer = new byte[8192];
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    lock (_received) _received.Add(Encoding.UTF8.GetString(buffer, 0, n));
                }
            }
            catch (OperationCanceledException) { }
            catch (SocketException) { }
            catch (ObjectDisposedException) { }
        }

        public async Task<string?> WaitForAsync(string text, TimeSpan timeout)
        {
            var until = DateTime.UtcNow + timeout;
            while (DateTime.UtcNow < until)
            {
                if (Received.FirstOrDefault(r => r.Contains(text, StringComparison.Ordinal)) is { } hit) return hit;
                await Task.Delay(100);
            }
            return null;
        }

        public void Dispose()
        {
            _stop.Cancel();
            _socket.Dispose();
            File.Delete(Path);
        }
    }
}
