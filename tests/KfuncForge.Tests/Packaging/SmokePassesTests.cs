using KfuncForge.Tests.Infrastructure;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Packaging;

/// <summary>The record of what passed SmokeTest: keyed by the module's own bytes, merged run by run.</summary>
public sealed class SmokePassesTests(PackagingFixture f) : IClassFixture<PackagingFixture>
{
    [Fact]
    public void A_signed_copy_counts_as_its_module_and_any_other_bytes_do_not()
    {
        // Under Secure Boot the guest loads the signed copy; Package checks the built module: both hash alike.
        Assert.Equal(SmokePasses.ModuleSha256(f.UnsignedModule), SmokePasses.ModuleSha256(f.SignedModule));
        using var temp = TestTree.Temp();
        var other = temp.Combine("other.ko");
        File.WriteAllBytes(other, [.. File.ReadAllBytes(f.UnsignedModule), 0]);
        var passes = new[] { new SmokePass("6.1.0-57-amd64", "m", SmokePasses.ModuleSha256(f.SignedModule)) };
        Assert.Null(SmokePasses.Unproven(passes, "6.1.0-57-amd64", "m", f.UnsignedModule));
        Assert.Equal("6.1.0-57-amd64/m was built again since it passed SmokeTest", SmokePasses.Unproven(passes, "6.1.0-57-amd64", "m", other));
        Assert.Equal("6.12.117+deb12-amd64/m has not passed SmokeTest", SmokePasses.Unproven(passes, "6.12.117+deb12-amd64", "m", f.UnsignedModule));
    }

    [Fact]
    public void A_run_replaces_what_it_tested_keeps_the_rest_and_a_damaged_file_counts_as_nothing()
    {
        using var temp = TestTree.Temp();
        var path = temp.Combine("smoke", "debian12", SmokePasses.FileName);
        SmokePasses.Record(path, [(new SmokePass("6.1", "a", "1"), true), (new SmokePass("6.1", "b", "2"), true), (new SmokePass("6.12", "a", "3"), false)]);
        Assert.Equal([new SmokePass("6.1", "a", "1"), new SmokePass("6.1", "b", "2")], SmokePasses.Load(path));

        // A narrowed run (module b only): b failed now, a stays as it was.
        SmokePasses.Record(path, [(new SmokePass("6.1", "b", "4"), false)]);
        Assert.Equal([new SmokePass("6.1", "a", "1")], SmokePasses.Load(path));
        Assert.Contains("\"release\": \"6.1\"", File.ReadAllText(path));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp"));

        File.WriteAllText(path, "{ not json");
        Assert.Empty(SmokePasses.Load(path));
    }
}
