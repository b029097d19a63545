using System.Security.Cryptography;
using KfuncForge.Diagnostics;
using KfuncForge.Model;

namespace KfuncForge.Signing;

/// <summary>A digest the kernel can check a module signature with, named as Kconfig and sign-file name it ("sha256").</summary>
public sealed record ModuleHash(string Name, string Oid, HashAlgorithmName Algorithm, string CryptoConfig, string SignatureConfig)
{
    public static readonly ModuleHash Sha1 = new("sha1", "1.3.14.3.2.26", HashAlgorithmName.SHA1, "CONFIG_CRYPTO_SHA1", "CONFIG_MODULE_SIG_SHA1");
    public static readonly ModuleHash Sha224 = new("sha224", "2.16.840.1.101.3.4.2.4", new HashAlgorithmName("SHA224"), "CONFIG_CRYPTO_SHA256", "CONFIG_MODULE_SIG_SHA224");
    public static readonly ModuleHash Sha256 = new("sha256", "2.16.840.1.101.3.4.2.1", HashAlgorithmName.SHA256, "CONFIG_CRYPTO_SHA256", "CONFIG_MODULE_SIG_SHA256");
    public static readonly ModuleHash Sha384 = new("sha384", "2.16.840.1.101.3.4.2.2", HashAlgorithmName.SHA384, "CONFIG_CRYPTO_SHA512", "CONFIG_MODULE_SIG_SHA384");
    public static readonly ModuleHash Sha512 = new("sha512", "2.16.840.1.101.3.4.2.3", HashAlgorithmName.SHA512, "CONFIG_CRYPTO_SHA512", "CONFIG_MODULE_SIG_SHA512");
    public static readonly ModuleHash Sha3_256 = new("sha3-256", "2.16.840.1.101.3.4.2.8", HashAlgorithmName.SHA3_256, "CONFIG_CRYPTO_SHA3", "CONFIG_MODULE_SIG_SHA3_256");
    public static readonly ModuleHash Sha3_384 = new("sha3-384", "2.16.840.1.101.3.4.2.9", HashAlgorithmName.SHA3_384, "CONFIG_CRYPTO_SHA3", "CONFIG_MODULE_SIG_SHA3_384");
    public static readonly ModuleHash Sha3_512 = new("sha3-512", "2.16.840.1.101.3.4.2.10", HashAlgorithmName.SHA3_512, "CONFIG_CRYPTO_SHA3", "CONFIG_MODULE_SIG_SHA3_512");

    /// <summary>Every digest any kernel offers for module signing (Kconfig's MODULE_SIG_HASH choice), in Kconfig order.</summary>
    public static IReadOnlyList<ModuleHash> All { get; } = [Sha1, Sha224, Sha256, Sha384, Sha512, Sha3_256, Sha3_384, Sha3_512];

    /// <summary>Whether the in-process signer can use it (.NET has no SHA-224; SHA-3 needs OpenSSL 1.1.1+). The external signer hook takes any.</summary>
    public bool InProcess => this != Sha224 && (Algorithm != HashAlgorithmName.SHA3_256 || SHA3_256.IsSupported)
        && (Algorithm != HashAlgorithmName.SHA3_384 || SHA3_384.IsSupported) && (Algorithm != HashAlgorithmName.SHA3_512 || SHA3_512.IsSupported);

    public byte[] Digest(ReadOnlySpan<byte> data) =>
        InProcess ? CryptographicOperations.HashData(Algorithm, data)
        : throw new NotSupportedException($"{Name} is not available in this process");

    public static ModuleHash? Find(string name) =>
        All.FirstOrDefault(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase));

    public static ModuleHash? FromOid(string oid) => All.FirstOrDefault(h => h.Oid == oid);

    public override string ToString() => Name;
}

/// <summary>
/// Which digests a target kernel accepts for module signatures. The kernel offers sha1…sha512 (6.7 added
/// sha3-*, 6.11 dropped sha1 from the choice); a signature can only be checked when the digest is built
/// into the kernel (=y), because module signatures are checked before any crypto module could load.
/// </summary>
public static class KernelHashPolicy
{
    public const string FromKernelConfig = "from-kernel-config";

    /// <summary>The digests this kernel's Kconfig offers, narrowed by its config when known.</summary>
    public static IReadOnlyList<ModuleHash> Allowed(KernelFacts kernel)
    {
        var offered = ModuleHash.All.Where(h => Offered(h, kernel.Version)).ToList();
        if (kernel.Config is null) return offered;
        return offered.Where(h => kernel.ConfigValue(h.CryptoConfig) == "y").ToList();
    }

    /// <summary>
    /// The digest to sign with for this kernel: the profile's choice, or the kernel's own CONFIG_MODULE_SIG_HASH.
    /// Anything the kernel cannot check is bad input, named with the digests it can.
    /// </summary>
    public static ModuleHash Resolve(string setting, KernelFacts kernel, string where = "signing.module_hash")
    {
        var allowed = Allowed(kernel);
        string name;
        if (setting == FromKernelConfig)
        {
            if (kernel.Config is null)
                throw Bad(where, $"the hash is taken from the kernel's CONFIG_MODULE_SIG_HASH, but the config of {kernel.Release} is not known yet (fetch the kernel first, or name a hash: {Names(allowed)})");
            name = kernel.ConfigValue("CONFIG_MODULE_SIG_HASH")?.Trim('"') ?? "";
            if (name.Length == 0)
                throw Bad(where, $"{kernel.Release} has no CONFIG_MODULE_SIG_HASH (module signing is not configured); name a hash: {Names(allowed)}");
        }
        else name = setting;

        var hash = ModuleHash.Find(name);
        if (hash is null || !allowed.Contains(hash))
            throw Bad(where, $"'{name}' is not a hash the kernel {kernel.Release} can check module signatures with; it accepts {Names(allowed)}");
        return hash;
    }

    /// <summary>The same check for a hash named on the command line without kernel facts: every digest some kernel accepts.</summary>
    public static ModuleHash Parse(string name, string where = "--hash") =>
        ModuleHash.Find(name) ?? throw Bad(where, $"'{name}' is not a hash the kernel can check module signatures with; kernels accept {Names(ModuleHash.All)} (each kernel a subset: see its Kconfig)");

    private static bool Offered(ModuleHash h, KernelVersion v)
    {
        if (h.CryptoConfig == "CONFIG_CRYPTO_SHA3") return v >= new KernelVersion(6, 7, 0);
        if (h == ModuleHash.Sha1) return v < new KernelVersion(6, 11, 0);
        return true;
    }

    private static string Names(IEnumerable<ModuleHash> hashes)
    {
        var list = hashes.Select(h => h.Name).ToList();
        return list.Count == 0 ? "none (no digest is built into this kernel)" : string.Join(", ", list);
    }

    private static InputException Bad(string where, string message) => new(new Problem(where, 0, 0, "", message));
}
