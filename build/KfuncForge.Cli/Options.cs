using KfuncForge.Diagnostics;

namespace KfuncForge.Cli;

/// <summary>Parsed --name=value / --name value options. Each command declares which it accepts; anything else is an error.</summary>
public sealed class Options
{
    private readonly Dictionary<string, string> _values;

    private Options(Dictionary<string, string> values) => _values = values;

    public static Options Parse(IReadOnlyList<string> args, IReadOnlyCollection<string> allowed, string command)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var problems = new List<Problem>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                problems.Add(new Problem("command line", 0, 0, "", $"unexpected argument '{arg}'; options look like --name=value"));
                continue;
            }
            var body = arg[2..];
            string name, value;
            var eq = body.IndexOf('=');
            if (eq >= 0) (name, value) = (body[..eq], body[(eq + 1)..]);
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) (name, value) = (body, args[++i]);
            else (name, value) = (body, "true");
            if (!allowed.Contains(name))
                problems.Add(new Problem("command line", 0, 0, "", $"'{command}' does not take --{name}; it takes {string.Join(", ", allowed.Order(StringComparer.Ordinal).Select(a => "--" + a))}"));
            else if (!values.TryAdd(name, value))
                problems.Add(new Problem("command line", 0, 0, "", $"--{name} is given twice"));
        }
        if (problems.Count > 0) throw new InputException(problems);
        return new Options(values);
    }

    /// <summary>A copy with one option set (a verb running another verb for several distros).</summary>
    public Options With(string name, string value) => new(new Dictionary<string, string>(_values, StringComparer.Ordinal) { [name] = value });

    /// <summary>A copy with only the options a verb takes (a verb run inside another: see RunCommand).</summary>
    public Options Only(IReadOnlyCollection<string> names) =>
        new(_values.Where(v => names.Contains(v.Key)).ToDictionary(v => v.Key, v => v.Value, StringComparer.Ordinal));

    public string? Get(string name) => _values.TryGetValue(name, out var v) && v.Length > 0 ? v : null;

    public string Get(string name, string fallback) => Get(name) ?? fallback;

    public bool Flag(string name) => Get(name) is "true" or "1" or "yes";

    /// <summary>An on/off switch (--secure-boot, --icount): <paramref name="fallback"/> when absent, anything but on or off is bad input.</summary>
    public bool OnOff(string name, bool fallback) => Get(name) switch
    {
        null => fallback,
        "on" => true,
        "off" => false,
        var other => throw new InputException(new Problem("command line", 0, 0, "", $"--{name} must be on or off, not '{other}'")),
    };

    public int Int(string name, int fallback) =>
        Get(name) is not { } text ? fallback
        : int.TryParse(text, out var n) && n > 0 ? n
        : throw new InputException(new Problem("command line", 0, 0, "", $"--{name} must be a positive whole number, not '{text}'"));
}
