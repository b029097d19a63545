using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Processes;
using KfuncForge.Signing;

namespace KfuncForge.Pipeline;

/// <summary>One module to sign for its kernel, and where its signed copy goes.</summary>
public sealed record SignRequest(string Release, string Module, string Ko, string Output, KernelEntry Kernel);

/// <summary>A signed module, the digest and key that signed it, and the certificate it verifies against.</summary>
public sealed record SignOutcome(SignRequest Request, SignedModule Signed, ModuleHash Hash, string KeyDescription, string CertificatePath);

/// <summary>
/// The Sign stage, for the sign verb and matrix cells alike: each module gets the digest its own kernel's
/// config asks for (CONFIG_MODULE_SIG_HASH, checked against the profile's signing.module_hash), unless one
/// is forced; one key setup per digest; each signed copy is verified as it is written (ModuleSigner).
/// </summary>
public static class SignStage
{
    public static ModuleHash HashFor(DistroProfile distro, KernelEntry kernel, string? forced) =>
        forced is not null
            ? KernelHashPolicy.Parse(forced)
            : KernelHashPolicy.Resolve(distro.Signing.ModuleHash, KernelConfigFile.Read(kernel.ConfigFile, kernel.Release), "signing.module_hash");

    public static async Task<IReadOnlyList<SignOutcome>> RunAsync(IReadOnlyList<SignRequest> requests, DistroProfile distro, ModuleKeyRequest keys,
        string? forcedHash, IProcessRunner runner, Action<string> warn, CancellationToken cancellation = default)
    {
        var hashes = requests.Select(r => r.Kernel).DistinctBy(k => k.Release).ToDictionary(k => k.Release, k => HashFor(distro, k, forcedHash));
        var outcomes = new List<SignOutcome>();
        foreach (var byHash in requests.GroupBy(r => hashes[r.Release].Name, StringComparer.Ordinal))
        {
            var hash = hashes[byHash.First().Release];
            using var setup = ModuleKeySetup.Resolve(keys, hash, runner);
            if (setup.Warning is not null) warn(setup.Warning);
            foreach (var request in byHash)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(request.Output)!);
                var signed = await new ModuleSigner(setup.Source).SignAsync(request.Ko, request.Output, cancellation).ConfigureAwait(false);
                outcomes.Add(new SignOutcome(request, signed, hash, setup.Description, setup.CertificatePath));
            }
        }
        return outcomes;
    }
}
