using KfuncForge.Processes;
using KfuncForge.Signing;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Signing;

/// <summary>A key that never leaves a PKCS#11 token (SoftHSM standing in for an HSM), used through the external signer path.</summary>
public sealed class Pkcs11Tests(TestKeys keys) : IClassFixture<TestKeys>
{
    [Fact]
    public async Task A_key_in_a_PKCS11_token_signs_byte_identically_to_sign_file_and_its_PIN_is_redacted()
    {
        using var temp = TestTree.Temp();
        var conf = temp.Combine("softhsm2.conf");
        Directory.CreateDirectory(temp.Combine("tokens"));
        File.WriteAllText(conf, $"directories.tokendir = {temp.Combine("tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n");
        var env = new Dictionary<string, string?> { ["SOFTHSM2_CONF"] = conf };
        HostTools.Run(new ProcessSpec("softhsm2-util", ["--init-token", "--free", "--label", "kfuncforge-test", "--pin", "4321", "--so-pin", "8765"]) { Environment = env }).EnsureSuccess();
        var der = temp.Combine("key.der");
        HostTools.Checked("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", keys.RsaKey, "-outform", "DER", "-out", der);
        HostTools.Run(new ProcessSpec("pkcs11-tool", ["--module", SoftHsmModule(), "--login", "--pin", "4321", "--token-label", "kfuncforge-test",
            "--write-object", der, "--type", "privkey", "--id", "01", "--label", "modsign"]) { Environment = env }).EnsureSuccess();
        File.Delete(der);

        const string uri = "pkcs11:token=kfuncforge-test;object=modsign;type=private;pin-value=4321";
        var runner = new EnvironmentRunner(env);
        var source = Pkcs11Signer.Create(runner, uri, keys.RsaCert, ModuleHash.Sha256);
        var output = temp.Combine("hsm.ko");
        await new ModuleSigner(source).SignAsync(keys.Module, output);

        var reference = temp.Combine("reference.ko");
        HostTools.Checked(HostTools.SignFile(), "sha256", keys.RsaKey, keys.RsaCert, keys.Module, reference);
        Assert.Equal(File.ReadAllBytes(reference), File.ReadAllBytes(output));
        var shown = Assert.Single(runner.Seen);
        Assert.DoesNotContain("4321", shown);
        Assert.Contains("***", shown);
    }

    private static string SoftHsmModule() =>
        new[] { "/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so" }.First(File.Exists);

    /// <summary>The real runner with SOFTHSM2_CONF added, recording each command as a log would show it.</summary>
    private sealed class EnvironmentRunner(IReadOnlyDictionary<string, string?> env) : IProcessRunner
    {
        public List<string> Seen { get; } = [];

        public Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellation = default)
        {
            var merged = new Dictionary<string, string?>(spec.Environment);
            foreach (var (k, v) in env) merged[k] = v;
            var withEnv = spec with { Environment = merged };
            Seen.Add(withEnv.Display);
            return ProcessRunner.Instance.RunAsync(withEnv, cancellation);
        }
    }
}
