using System.Text;

namespace KfuncForge.Processes;

/// <summary>
/// One program to run: an argv list (never a shell string), where, with what environment and for how long.
/// Stdin can come from a file (from an offset) and stdout can go to a file, for large binary streams.
/// </summary>
public sealed record ProcessSpec(string FileName, IReadOnlyList<string> Arguments)
{
    public string? WorkingDirectory { get; init; }

    /// <summary>Variables to set (a null value removes the variable from the child's environment).</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    public TimeSpan? Timeout { get; init; }

    /// <summary>Values that must never appear in logs (keys, passphrases); replaced by *** when the command is shown.</summary>
    public IReadOnlyList<string> Secrets { get; init; } = [];

    public string? StdinFile { get; init; }
    public long StdinOffset { get; init; }

    /// <summary>When set, stdout is streamed to this file instead of being captured as text.</summary>
    public string? StdoutFile { get; init; }

    /// <summary>The command as a human reads it in a log: quoted for a POSIX shell, secrets redacted.</summary>
    public string Display => CommandLine.Format(this);
}

/// <summary>What a finished process left: exit code, captured output, duration, and whether it was killed for taking too long.</summary>
public sealed record ProcessResult(ProcessSpec Spec, int ExitCode, string Stdout, string Stderr, TimeSpan Duration, bool TimedOut)
{
    public bool Succeeded => ExitCode == 0 && !TimedOut;

    /// <summary>Returns this result when the process succeeded; otherwise throws with its stderr and exit code.</summary>
    public ProcessResult EnsureSuccess() => Succeeded ? this : throw new ProcessFailedException(this);
}

/// <summary>A process that exited non-zero or timed out; keeps the whole result (exit code, stderr) for the report.</summary>
public sealed class ProcessFailedException(ProcessResult result) : Exception(Describe(result))
{
    public ProcessResult Result { get; } = result;

    private static string Describe(ProcessResult r)
    {
        var what = r.TimedOut ? $"timed out after {r.Spec.Timeout?.TotalSeconds:0} s" : $"exited with code {r.ExitCode}";
        var output = string.IsNullOrWhiteSpace(r.Stderr) ? r.Stdout : r.Stderr;
        var tail = CommandLine.Tail(output, 12);
        // The decisive line first when it is not already among the last ones shown.
        var cause = CommandLine.Decisive(output, 1) is { } d && !tail.Contains(d, StringComparison.Ordinal) ? $" ({d})" : "";
        return tail.Length == 0 ? $"{r.Spec.Display} {what}" : $"{r.Spec.Display} {what}{cause}:\n{tail}";
    }
}

/// <summary>Formatting of argv lists for logs.</summary>
public static class CommandLine
{
    private static readonly string[] SecretNameParts = ["PASSWORD", "PASSPHRASE", "SECRET", "TOKEN", "PRIVATE", "_KEY"];

    public static string Format(ProcessSpec spec)
    {
        var sb = new StringBuilder();
        foreach (var (name, value) in spec.Environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (value is null) continue;
            var secret = SecretNameParts.Any(p => name.Contains(p, StringComparison.OrdinalIgnoreCase));
            sb.Append(name).Append('=').Append(secret ? "***" : Quote(Redact(value, spec.Secrets))).Append(' ');
        }
        sb.Append(Quote(spec.FileName));
        foreach (var arg in spec.Arguments) sb.Append(' ').Append(Quote(Redact(arg, spec.Secrets)));
        return sb.ToString();
    }

    public static string Redact(string text, IReadOnlyList<string> secrets)
    {
        foreach (var s in secrets)
            if (s.Length > 0) text = text.Replace(s, "***", StringComparison.Ordinal);
        return text;
    }

    /// <summary>Single-quotes an argument when a shell would split or expand it (display only; nothing is ever run through a shell).</summary>
    public static string Quote(string arg)
    {
        if (arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,+@%".Contains(c))) return arg;
        return "'" + arg.Replace("'", "'\\''") + "'";
    }

    /// <summary>
    /// Lines that say why a tool failed, most telling kind first: the system's own errors (a full disk, no
    /// memory, a killed process), then compiler and linker errors, then kbuild's ERROR lines (modpost's missing
    /// symbols) and undefined references, then make's own "***" lines. Null when no line is of those kinds.
    /// </summary>
    private static readonly Func<string, bool>[] DecisiveKinds =
    [
        l => l.Contains("No space left on device", StringComparison.Ordinal) || l.Contains("Disk quota exceeded", StringComparison.Ordinal),
        l => l.Contains("Cannot allocate memory", StringComparison.Ordinal) || l.Contains("out of memory", StringComparison.OrdinalIgnoreCase) || l.Contains("Killed signal terminated", StringComparison.Ordinal),
        l => l.Contains(": error:", StringComparison.Ordinal) || l.Contains(": fatal error:", StringComparison.Ordinal) || l.Contains(": Fatal error:", StringComparison.Ordinal),
        l => l.StartsWith("ERROR:", StringComparison.Ordinal) || l.Contains("undefined reference to", StringComparison.Ordinal) || l.Contains("Permission denied", StringComparison.Ordinal),
        l => l.Contains("make: ***", StringComparison.Ordinal) || (l.StartsWith("make[", StringComparison.Ordinal) && l.Contains("***", StringComparison.Ordinal)),
    ];

    public static string? Decisive(string text, int max = 3)
    {
        var lines = text.Replace("\r", "").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        foreach (var kind in DecisiveKinds)
        {
            var hits = lines.Where(kind).Distinct().Take(max).ToList();
            if (hits.Count > 0) return string.Join(" | ", hits);
        }
        return null;
    }

    /// <summary>The decisive lines of a tool's output, else its last lines: what a one-line summary shows.</summary>
    public static string Reason(string text, int tail = 3) => Decisive(text) ?? Tail(text, tail).Replace("\n", " | ");

    /// <summary>The last lines of a tool's output, for error messages.</summary>
    public static string Tail(string text, int lines)
    {
        var all = text.TrimEnd().Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines))).TrimEnd();
    }
}
