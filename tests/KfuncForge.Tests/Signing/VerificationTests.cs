using KfuncForge.Diagnostics;
using KfuncForge.Processes;
using KfuncForge.Signing;

namespace KfuncForge.Tests.Signing;

/// <summary>What the verifier refuses, and that a signer never writes a signature that would not verify.</summary>
public sealed class VerificationTests(TestKeys keys) : IClassFixture<TestKeys>
{
    private async Task<byte[]> Signed(string name, ModuleHash? hash = null)
    {
        using var key = SigningKey.Load(keys.RsaKey, keys.RsaCert);
        var path = keys.Combine($"verify-{name}.ko");
        await new ModuleSigner(new KeySignatureSource(key, hash ?? ModuleHash.Sha256)).SignAsync(keys.Module, path);
        return await File.ReadAllBytesAsync(path);
    }

    private static SignatureFailure FailureOf(byte[] module, string certificate, ModuleHash? expected = null)
    {
        using var cert = SigningKey.LoadCertificate(certificate);
        return Assert.Throws<ModuleSignatureException>(() => ModuleSignatureVerifier.Verify(module, cert, expected)).Failure;
    }

    [Fact]
    public async Task A_signed_module_verifies_and_reports_its_hash_and_signer()
    {
        var signed = await Signed("ok");
        using var cert = SigningKey.LoadCertificate(keys.RsaCert);
        var v = ModuleSignatureVerifier.Verify(signed, cert, ModuleHash.Sha256);
        Assert.Equal(ModuleHash.Sha256, v.Hash);
        Assert.Equal(SigningKeyKind.Rsa, v.KeyKind);
        Assert.Contains("KfuncForge test RSA signing key", v.Signer);
    }

    [Fact]
    public async Task A_module_changed_after_signing_is_refused()
    {
        var signed = await Signed("tamper");
        signed[100] ^= 0x01;
        Assert.Equal(SignatureFailure.BadSignature, FailureOf(signed, keys.RsaCert));
    }

    [Fact]
    public async Task A_module_signed_by_another_certificate_is_refused_even_with_the_same_subject()
    {
        var signed = await Signed("wrong-cert");
        Assert.Equal(SignatureFailure.WrongSigner, FailureOf(signed, keys.OtherCert));
        Assert.Equal(SignatureFailure.WrongSigner, FailureOf(signed, keys.EcCert));
    }

    [Fact]
    public void An_unsigned_module_is_refused() =>
        Assert.Equal(SignatureFailure.Unsigned, FailureOf(File.ReadAllBytes(keys.Module), keys.RsaCert));

    [Fact]
    public async Task A_damaged_trailer_or_signature_is_refused_as_malformed()
    {
        var signed = await Signed("malformed");
        var badIdType = (byte[])signed.Clone();
        badIdType[^(ModuleSignatureTrailer.TrailerSize - 2)] = 1;
        Assert.Equal(SignatureFailure.Malformed, FailureOf(badIdType, keys.RsaCert));
        var badLength = (byte[])signed.Clone();
        badLength[^(ModuleSignatureTrailer.Magic.Length + 4)] = 0x7f;
        Assert.Equal(SignatureFailure.Malformed, FailureOf(badLength, keys.RsaCert));
        var badCms = (byte[])signed.Clone();
        var appended = ModuleSignatureTrailer.Parse(signed);
        badCms[appended.ContentLength] = 0x04;
        Assert.Equal(SignatureFailure.Malformed, FailureOf(badCms, keys.RsaCert));
    }

    [Fact]
    public async Task A_signature_with_another_hash_than_the_kernel_wants_is_refused()
    {
        var signed = await Signed("sha512", ModuleHash.Sha512);
        Assert.Equal(SignatureFailure.WrongHash, FailureOf(signed, keys.RsaCert, ModuleHash.Sha256));
    }

    [Fact]
    public async Task Signing_an_already_signed_module_is_bad_input()
    {
        var signed = keys.Combine("already.ko");
        await File.WriteAllBytesAsync(signed, await Signed("already-src"));
        using var key = SigningKey.Load(keys.RsaKey, keys.RsaCert);
        var e = await Assert.ThrowsAsync<InputException>(() => new ModuleSigner(new KeySignatureSource(key, ModuleHash.Sha256)).SignAsync(signed, keys.Combine("twice.ko")));
        Assert.Contains("already carries a signature", e.Message);
    }

    [Fact]
    public async Task An_external_signer_that_signs_with_the_wrong_key_fails_closed_and_writes_nothing()
    {
        string[] argv = ["openssl", "cms", "-sign", "-binary", "-noattr", "-nocerts", "-outform", "DER", "-md", "{hash}", "-signer", keys.OtherCert, "-inkey", keys.OtherKey];
        var output = keys.Combine("hook-wrong.ko");
        var source = new ExternalSignatureSource(ProcessRunner.Instance, argv, keys.RsaCert, ModuleHash.Sha256);
        var e = await Assert.ThrowsAsync<StageException>(() => new ModuleSigner(source).SignAsync(keys.Module, output));
        Assert.Contains("does not verify", e.Message);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(output)!, ".hook-wrong*"));
    }

    [Fact]
    public async Task An_external_signer_that_fails_is_reported_with_its_exit_code_and_stderr()
    {
        string[] argv = ["openssl", "cms", "-sign", "-inkey", keys.Combine("no-such-key.pem"), "-signer", "{certificate}"];
        var source = new ExternalSignatureSource(ProcessRunner.Instance, argv, keys.RsaCert, ModuleHash.Sha256);
        var e = await Assert.ThrowsAsync<StageException>(() => new ModuleSigner(source).SignAsync(keys.Module, keys.Combine("hook-fail.ko")));
        Assert.Contains("external module signer failed", e.Message);
        Assert.Contains("exited with code", e.Message);
    }

    [Fact]
    public async Task An_external_signer_with_signed_attributes_is_accepted_since_the_kernel_accepts_them()
    {
        string[] argv = ["openssl", "cms", "-sign", "-binary", "-nocerts", "-outform", "DER", "-md", "{hash}", "-signer", "{certificate}", "-inkey", keys.RsaKey];
        var output = keys.Combine("hook-attrs.ko");
        var signed = await new ModuleSigner(new ExternalSignatureSource(ProcessRunner.Instance, argv, keys.RsaCert, ModuleHash.Sha384)).SignAsync(keys.Module, output);
        Assert.Equal(ModuleHash.Sha384, signed.Signature.Hash);
        var bytes = await File.ReadAllBytesAsync(output);
        bytes[64] ^= 0x80;
        Assert.Equal(SignatureFailure.BadSignature, FailureOf(bytes, keys.RsaCert));
    }
}
