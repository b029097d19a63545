using System.Text.Json.Nodes;
using KfuncForge.Compilation;
using KfuncForge.Signing;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Signing;
using KfuncForge.Tests.Support;
using KfuncForge.Tests.Vm.Infrastructure;
using KfuncForge.Vm;
using Xunit.Abstractions;

namespace KfuncForge.Tests.Vm;

/// <summary>
/// `smoke --secure-boot=on` (issue 18): the real 6.12 kernel of debian12 boots under OVMF with Secure Boot on, after an
/// enrolment boot of the smoke stage's own (busybox dd, the kernel's efivarfs module) put the signing certificate in
/// MokListRT; the Sign stage's signed module is what the guest loads, and its kfuncs pass as they do without Secure Boot.
/// A fresh key and a cache of the test's own: the enrolment boot runs every time and nothing piles up in the user's cache.
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class SecureBootSmokeTests(RealKernel612 real, ITestOutputHelper output)
{
    private const string Module = "kfunc_fixture_ok";

    [IntegrationFact(Timeout = 1_200_000)]
    public async Task Smoke_under_secure_boot_enrols_the_certificate_and_passes_with_the_signed_module()
    {
        if (TestKernel.Unsupported() is not null) return; // not an x86-64 Debian host: IntegrationFact covers the tools
        using var keys = new TestKeys();
        using var temp = TestTree.Temp();
        var index = temp.Combine("build-index.json");
        BuildIndex.FromBuild([real.Kernel], real.Results).Save(index);
        var outDir = temp.Combine("out");
        var signed = BuiltCell.SignedPathOf(outDir, "debian12", real.Kernel.Release, Module);
        using (var key = SigningKey.Load(keys.RsaKey, keys.RsaCert))
            await new ModuleSigner(new KeySignatureSource(key, ModuleHash.Sha256)).SignAsync(real.Cell(Module).Ko!, signed);
        string[] args = ["smoke", $"--root={real.SourceRoot}", "--distro=debian12", $"--module={Module}", $"--kernel={real.Kernel.Release}", $"--index={index}",
            $"--out={outDir}", $"--cache={temp.Combine("cache")}", "--accel=tcg", "--secure-boot=on", $"--cert={keys.RsaCert}"];

        var run = TestTree.Run(args);

        output.WriteLine(run.Stdout);
        var work = Path.Combine(outDir, "smoke", "debian12");
        var text = run.Stdout + run.Stderr + (File.Exists(Path.Combine(work, "results.json")) ? File.ReadAllText(Path.Combine(work, "results.json")) : "");
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(work, "results.json")))!;
        Assert.True((bool)results["secure_boot"]!);
        var kernel = results["kernels"]!.AsArray().Single()!;
        Assert.Equal(real.Kernel.Release, (string?)kernel["kernel_seen"]);
        // The signed module loaded under lockdown, with its BTF, and its smoke program called the kfunc: the cell passes.
        var cell = kernel["cells"]!.AsArray().Single(c => (string?)c!["module"] == Module)!;
        var load = cell["checks"]!.AsArray().Single(c => ((string?)c!["message"] ?? "").StartsWith("loaded in", StringComparison.Ordinal))!;
        Assert.True((string?)load["status"] == "pass", text);
        Assert.EndsWith("with BTF", (string?)load["message"]);
        Assert.True((string?)cell["status"] == "pass", text);
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("secure boot: on; firmware keys are Debian's public OVMF test keys", File.ReadAllText(Path.Combine(work, "summary.txt")));

        // The enrolment boot ran here, and wrote the variable with busybox's dd.
        var boot = Path.Combine(work, "boots", SmokeSession.SafeName($"debian12/{real.Kernel.Release}"));
        var enrolRecords = File.ReadAllText(boot + ".enrol/records.jsonl");
        Assert.Contains("\"name\":\"enrol\"", enrolRecords);
        // The check boot: locked down by Secure Boot, our certificate loaded from MokListRT, the module verified (no 'E' taint message).
        var console = File.ReadAllText(Path.Combine(boot, "console.log"));
        Assert.Contains("Secure boot enabled", console);
        Assert.Contains("integrity: Loading X.509 certificate: UEFI:MokListRT", console);
        Assert.Contains("KfuncForge test RSA signing key", console);
        Assert.DoesNotContain("module verification failed", console);

        // Without a signed copy there is nothing lockdown would load: a clear error before any boot.
        File.Delete(signed);
        var unsigned = TestTree.Run(args);
        Assert.NotEqual(0, unsigned.ExitCode);
        Assert.Contains($"{real.Kernel.Release}/{Module}", unsigned.Stderr);
        Assert.Contains("run the Sign stage first", unsigned.Stderr);
    }
}
