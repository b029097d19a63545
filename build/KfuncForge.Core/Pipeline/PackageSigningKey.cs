using KfuncForge.Packaging;
using KfuncForge.Processes;

namespace KfuncForge.Pipeline;

/// <summary>
/// The OpenPGP key that signs packages and repositories, chosen one way for every path: the key id given
/// (command line, else the profile's signing.package_key_id) from the keyring given, else the engine's
/// development key (made when missing, with a warning to print). Disposing it stops the gpg-agent of the
/// development keyring, which is the engine's own; a user's keyring is left alone.
/// </summary>
public sealed class PackageSigningKey : IAsyncDisposable
{
    private PackageSigningKey(GpgKeyring keyring, GpgKey key, bool development)
    {
        Keyring = keyring;
        Key = key;
        IsDevelopment = development;
    }

    public GpgKeyring Keyring { get; }
    public GpgKey Key { get; }
    public bool IsDevelopment { get; }

    public static async Task<PackageSigningKey> ResolveAsync(IProcessRunner runner, string? gnupgHome, string? keyId)
    {
        var keyring = new GpgKeyring(runner, gnupgHome ?? GpgKeyring.DefaultDevelopmentHome());
        if (keyId is not null) return new PackageSigningKey(keyring, await keyring.FindAsync(keyId).ConfigureAwait(false), development: false);
        var (key, _) = await keyring.EnsureDevelopmentKeyAsync().ConfigureAwait(false);
        return new PackageSigningKey(keyring, key, development: true);
    }

    /// <summary>The warning to print after publishing with the development key, or null.</summary>
    public string? Warning(string publicKeyFile) => IsDevelopment ? Keyring.DevelopmentWarning(Key, publicKeyFile) : null;

    public async ValueTask DisposeAsync()
    {
        if (IsDevelopment) await Keyring.StopAgentAsync().ConfigureAwait(false);
    }
}
