using KfuncForge.Rendering;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Rendering;

/// <summary>
/// The renderer's per-format escapes hold on their own, for values the validator would already refuse:
/// the real shell and make read each escaped hostile value back as the same text, and nothing runs.
/// </summary>
public sealed class FormatEscapeTests
{
    private static readonly string[] Hostile =
    [
        "$(touch {marker})", "`touch {marker}`", "a\"b'c\\d", "x; touch {marker}", "$HOME ${HOME} $$", "#comment", "tab\there", "100% %(echo x) %{name}",
        "line\nDepends: evil", "*/ evil(); /*", "",
    ];

    public static TheoryData<string> Values() { var d = new TheoryData<string>(); foreach (var v in Hostile) d.Add(v); return d; }

    private static string OneLine(string v) => v.Replace('\n', ' ').Replace('\t', ' ');

    [Theory]
    [MemberData(nameof(Values))]
    public void A_shell_word_is_read_back_as_the_same_text_and_runs_nothing(string value)
    {
        using var temp = TestTree.Temp();
        var text = value.Replace("{marker}", temp.Combine("pwned"));
        var r = HostTools.Checked("sh", "-c", $"printf '%s' {FormatEscapes.Sh(text)}");
        Assert.Equal(OneLine(text), r.Stdout);
        var q = HostTools.Checked("bash", "-c", $"X=\"{FormatEscapes.ShDoubleQuoted(text)}\"; printf '%s' \"$X\"");
        Assert.Equal(OneLine(text), q.Stdout);
        Assert.False(File.Exists(temp.Combine("pwned")));
    }

    [Theory]
    [MemberData(nameof(Values))]
    public void A_make_value_is_read_back_as_the_same_text_and_runs_nothing(string value)
    {
        using var temp = TestTree.Temp();
        var text = value.Replace("{marker}", temp.Combine("pwned"));
        var makefile = temp.Combine("probe.mk");
        File.WriteAllText(makefile, $"X := {FormatEscapes.Make(text)}\nprint:\n\t@printf '%s' '$(subst ','\\'',$(X))'\n");
        var r = HostTools.Checked("make", "-s", "-f", makefile, "print");
        Assert.Equal(OneLine(text).Trim(), r.Stdout);
        Assert.False(File.Exists(temp.Combine("pwned")));
    }

    [Theory]
    [MemberData(nameof(Values))]
    public void Rpm_deb822_and_c_comment_text_cannot_change_structure(string value)
    {
        Assert.DoesNotContain('\n', FormatEscapes.DebLine(value));
        var rpm = FormatEscapes.Rpm(value);
        Assert.DoesNotContain('\n', rpm);
        Assert.Equal(value.Count(c => c == '%') * 2, rpm.Count(c => c == '%'));
        var comment = FormatEscapes.CComment(value);
        Assert.DoesNotContain("*/", comment);
        Assert.DoesNotContain("/*", comment);
        Assert.DoesNotContain('\n', comment);
    }

    [Fact]
    public void Values_that_need_no_escaping_are_unchanged()
    {
        foreach (var safe in new[] { "6.1.0-56-amd64", "/lib/modules/6.12.117+deb12-amd64/updates/kfuncforge", "kfunc_strings", "0.1.0+b2" })
        {
            Assert.Equal(safe, FormatEscapes.Sh(safe));
            Assert.Equal(safe, FormatEscapes.ShDoubleQuoted(safe));
            Assert.Equal(safe, FormatEscapes.Make(safe));
            Assert.Equal(safe, FormatEscapes.Rpm(safe));
            Assert.Equal(safe, FormatEscapes.DebLine(safe));
            Assert.Equal(safe, FormatEscapes.CComment(safe));
        }
    }
}
