using System.Text;
using Scriban.Runtime;

namespace KfuncForge.Rendering;

/// <summary>
/// The second line of defence behind the validator's grammars: every value a template writes goes through
/// the escape of the format it lands in, so even a value that passed validation cannot change a file's
/// structure. Each escape leaves a value that needs no escaping unchanged (so ordinary output does not move).
/// Templates call them as filters: <c>{{ module.description | deb_line }}</c>.
/// </summary>
public static class FormatEscapes
{
    /// <summary>One line of a deb822 field (control, changelog): line breaks and other control characters become spaces, so no value can start a field or stanza.</summary>
    public static string DebLine(string value) => NoControls(value);

    /// <summary>RPM spec text: '%' doubled (no macro expands), one line (no value can open a section).</summary>
    public static string Rpm(string value) => NoControls(value).Replace("%", "%%", StringComparison.Ordinal);

    /// <summary>A shell word: unchanged when it holds only characters no shell treats specially, else single-quoted.</summary>
    public static string Sh(string value) => Processes.CommandLine.Quote(NoControls(value));

    /// <summary>
    /// Text inside shell double quotes (dkms.conf, which bash sources): " $ ` escaped with a backslash, and a
    /// backslash where bash would read it as an escape (before \ " $ ` or at the end); elsewhere a backslash
    /// stands for itself there (a regular expression's \. stays as it is).
    /// </summary>
    public static string ShDoubleQuoted(string value)
    {
        var text = NoControls(value);
        var sb = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is '"' or '$' or '`' || (c == '\\' && (i + 1 == text.Length || text[i + 1] is '\\' or '"' or '$' or '`'))) sb.Append('\\');
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Make (Makefile, Kbuild, debian/rules): '$' doubled (no variable or $(shell) expands), '#' escaped (no comment starts), one line.</summary>
    public static string Make(string value) => NoControls(value).Replace("$", "$$", StringComparison.Ordinal).Replace("#", "\\#", StringComparison.Ordinal);

    /// <summary>Text inside a C block comment: no '*/' can close it early, one line.</summary>
    public static string CComment(string value) => NoControls(value).Replace("*/", "* /", StringComparison.Ordinal).Replace("/*", "/ *", StringComparison.Ordinal);

    /// <summary>
    /// An os-release value (extension-release): double-quoted, with \ " $ ` escaped as os-release(5) says, one line;
    /// unchanged when it needs no quoting.
    /// </summary>
    public static string OsRelease(string value)
    {
        var text = NoControls(value);
        if (text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '~' or '+' or '/' or ':')) return text;
        var sb = new StringBuilder("\"");
        foreach (var c in text)
        {
            if (c is '\\' or '"' or '$' or '`') sb.Append('\\');
            sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    /// <summary>A systemd unit file value: '%' doubled (no specifier expands), one line.</summary>
    public static string Unit(string value) => NoControls(value).Replace("%", "%%", StringComparison.Ordinal);

    /// <summary>The filters, as a Scriban object a template context can push.</summary>
    public static ScriptObject Functions()
    {
        var fns = new ScriptObject();
        fns.Import("deb_line", new Func<string, string>(DebLine));
        fns.Import("rpm", new Func<string, string>(Rpm));
        fns.Import("sh", new Func<string, string>(Sh));
        fns.Import("sh_dq", new Func<string, string>(ShDoubleQuoted));
        fns.Import("make", new Func<string, string>(Make));
        fns.Import("c_comment", new Func<string, string>(CComment));
        fns.Import("os_release", new Func<string, string>(OsRelease));
        fns.Import("unit", new Func<string, string>(Unit));
        return fns;
    }

    private static string NoControls(string value) =>
        value.Any(c => char.IsControl(c) || c is '\u2028' or '\u2029') ? new string(value.Select(c => char.IsControl(c) || c is '\u2028' or '\u2029' ? ' ' : c).ToArray()) : value;
}
