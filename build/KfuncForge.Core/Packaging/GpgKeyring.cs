using System.Globalization;
using KfuncForge.Diagnostics;
using KfuncForge.Processes;

namespace KfuncForge.Packaging;

/// <summary>An OpenPGP signing key in a keyring: its fingerprint and creation time (never its secret part).</summary>
public sealed record GpgKey(string Fingerprint, long Created, string UserId)
{
    /// <summary>
    /// The time every signature of a run carries: SOURCE_DATE_EPOCH, or the key's creation time when
    /// that is later (gpg refuses to sign before a key existed). Fixed time + deterministic RSA = the same
    /// signature bytes on every run.
    /// </summary>
    public long SignatureTime(DateTimeOffset sourceDate) => Math.Max(sourceDate.ToUnixTimeSeconds(), Created);
}

/// <summary>
/// gpg on one keyring folder the project controls (GNUPGHOME), run in batch mode with argv lists.
/// Without a configured key id, a development key is made in that keyring with a loud warning.
/// Secret keys stay in the keyring: nothing here exports or prints them.
/// </summary>
public sealed class GpgKeyring(IProcessRunner runner, string home)
{
    public const string DevelopmentUserId = "KfuncForge development package signing key <kfuncforge-dev@localhost>";

    public string Home { get; } = System.IO.Path.GetFullPath(home);

    public static string DefaultDevelopmentHome()
    {
        var data = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (string.IsNullOrEmpty(data) || !System.IO.Path.IsPathRooted(data))
            data = System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        return System.IO.Path.Combine(data, "kfuncforge", "gnupg");
    }

    /// <summary>The absolute path of gpg (rpmsign needs it as a macro).</summary>
    public static string GpgPath() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':')
            .Select(d => System.IO.Path.Combine(d, "gpg")).FirstOrDefault(File.Exists) ?? "/usr/bin/gpg";

    private ProcessSpec Gpg(params string[] args) => new("gpg", ["--homedir", Home, "--batch", "--no-tty", "--quiet", "--no-auto-check-trustdb", .. args])
    {
        Timeout = TimeSpan.FromMinutes(3),
        Environment = new Dictionary<string, string?> { ["GNUPGHOME"] = Home, ["LC_ALL"] = "C" },
    };

    private void EnsureHome()
    {
        Directory.CreateDirectory(Home);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Home, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>The secret key named by <paramref name="keyId"/> (fingerprint, long id or user id); bad input when there is none or several.</summary>
    public async Task<GpgKey> FindAsync(string keyId, CancellationToken cancellation = default)
    {
        EnsureHome();
        var keys = await SecretKeysAsync(keyId, cancellation).ConfigureAwait(false);
        return keys.Count switch
        {
            1 => keys[0],
            0 => throw new InputException(new Problem("signing.package_key_id", 0, 0, "", $"no secret key '{keyId}' in the keyring {Home}; import it there (gpg --homedir {Home} --import) or fix the id")),
            _ => throw new InputException(new Problem("signing.package_key_id", 0, 0, "", $"'{keyId}' names {keys.Count} secret keys in {Home}; give the full fingerprint")),
        };
    }

    /// <summary>The development key of this keyring, made now if there is none. Created says which.</summary>
    public async Task<(GpgKey Key, bool Created)> EnsureDevelopmentKeyAsync(CancellationToken cancellation = default)
    {
        EnsureHome();
        var existing = await SecretKeysAsync(DevelopmentUserId, cancellation).ConfigureAwait(false);
        if (existing.Count > 0) return (existing[0], false);
        await runner.CheckedAsync(Gpg("--passphrase", "", "--quick-generate-key", DevelopmentUserId, "rsa3072", "sign", "never"), cancellation).ConfigureAwait(false);
        var made = await SecretKeysAsync(DevelopmentUserId, cancellation).ConfigureAwait(false);
        return (made.Single(), true);
    }

    public string DevelopmentWarning(GpgKey key, string publicKeyFile) => string.Join('\n',
        "**********************************************************************",
        "WARNING: no package signing key was configured (signing.package_key_id), so packages and",
        $"  repository metadata are signed with a DEVELOPMENT OpenPGP key kept in {Home}:",
        $"    fingerprint: {key.Fingerprint}",
        $"  Machines trust the repository only with its public key, published as {publicKeyFile}.",
        "  For production, import your release key into a keyring and set signing.package_key_id.",
        "**********************************************************************");

    public async Task<byte[]> ExportPublicKeyAsync(GpgKey key, bool armor, string output, CancellationToken cancellation = default)
    {
        var args = new List<string> { "--export-options", "export-minimal" };
        if (armor) args.Add("--armor");
        args.AddRange(["--output", output, "--export", key.Fingerprint]);
        if (File.Exists(output)) File.Delete(output);
        await runner.CheckedAsync(Gpg([.. args]), cancellation).ConfigureAwait(false);
        return await File.ReadAllBytesAsync(output, cancellation).ConfigureAwait(false);
    }

    /// <summary>InRelease: the file clear-signed.</summary>
    public Task ClearSignAsync(GpgKey key, string input, string output, DateTimeOffset sourceDate, CancellationToken cancellation = default) =>
        SignAsync(key, ["--clearsign"], input, output, sourceDate, cancellation);

    /// <summary>Release.gpg / repomd.xml.asc: an armored detached signature.</summary>
    public Task DetachSignAsync(GpgKey key, string input, string output, DateTimeOffset sourceDate, CancellationToken cancellation = default) =>
        SignAsync(key, ["--armor", "--detach-sign"], input, output, sourceDate, cancellation);

    /// <summary>SHA256SUMS.gpg of a system extension feed: a binary detached signature, as systemd-sysupdate fetches it.</summary>
    public Task DetachSignBinaryAsync(GpgKey key, string input, string output, DateTimeOffset sourceDate, CancellationToken cancellation = default) =>
        SignAsync(key, ["--detach-sign"], input, output, sourceDate, cancellation);

    /// <summary>The arguments that pin a signature's time (for rpmsign's %_gpg_sign_cmd_extra_args too).</summary>
    public static string[] FixedTimeArguments(GpgKey key, DateTimeOffset sourceDate) =>
        ["--faked-system-time", key.SignatureTime(sourceDate).ToString(CultureInfo.InvariantCulture) + "!", "--digest-algo", "SHA512"];

    private async Task SignAsync(GpgKey key, string[] mode, string input, string output, DateTimeOffset sourceDate, CancellationToken cancellation)
    {
        if (File.Exists(output)) File.Delete(output);
        string[] args = ["--local-user", key.Fingerprint, .. FixedTimeArguments(key, sourceDate), .. mode, "--output", output, input];
        var result = await runner.RunAsync(Gpg(args), cancellation).ConfigureAwait(false);
        if (!result.Succeeded)
            throw new StageException($"gpg could not sign {System.IO.Path.GetFileName(input)} with {key.Fingerprint} (a key with a passphrase needs a running gpg-agent with the passphrase preset): {new ProcessFailedException(result).Message}");
    }

    /// <summary>Stops the gpg-agent this keyring started (tests and one-shot runs).</summary>
    public async Task StopAgentAsync()
    {
        if (!Directory.Exists(Home)) return;
        await runner.RunAsync(new ProcessSpec("gpgconf", ["--homedir", Home, "--kill", "gpg-agent"]) { Timeout = TimeSpan.FromSeconds(30) }).ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<GpgKey>> SecretKeysAsync(string pattern, CancellationToken cancellation)
    {
        var result = await runner.RunAsync(Gpg("--with-colons", "--fixed-list-mode", "--list-secret-keys", pattern), cancellation).ConfigureAwait(false);
        if (!result.Succeeded) return [];
        var keys = new List<GpgKey>();
        string? created = null, fingerprint = null, uid = null;
        var inPrimary = false;
        foreach (var line in result.Stdout.Split('\n'))
        {
            var f = line.Split(':');
            switch (f[0])
            {
                case "sec":
                    Flush();
                    inPrimary = true;
                    created = f.Length > 5 ? f[5] : null;
                    break;
                case "fpr" when inPrimary && fingerprint is null:
                    fingerprint = f.Length > 9 ? f[9] : null;
                    break;
                case "uid" when inPrimary && uid is null:
                    uid = f.Length > 9 ? f[9] : "";
                    break;
                case "ssb":
                    inPrimary = false;
                    break;
            }
        }
        Flush();
        return keys;

        void Flush()
        {
            if (fingerprint is not null && long.TryParse(created, NumberStyles.None, CultureInfo.InvariantCulture, out var c))
                keys.Add(new GpgKey(fingerprint, c, uid ?? ""));
            created = fingerprint = uid = null;
        }
    }
}
