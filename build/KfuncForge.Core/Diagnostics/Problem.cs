namespace KfuncForge.Diagnostics;

/// <summary>One thing wrong with the user's input: where (file:line:column, key), what, and what to do.</summary>
public sealed record Problem(string File, int Line, int Column, string Key, string Message)
{
    public override string ToString()
    {
        var where = Line > 0 ? $"{File}:{Line}:{Column}" : File;
        return string.IsNullOrEmpty(Key) ? $"{where}: {Message}" : $"{where}: {Key}: {Message}";
    }
}

/// <summary>Raised when input is invalid; carries every problem found so they are reported together (exit code 2).</summary>
public sealed class InputException(IReadOnlyList<Problem> problems) : Exception(string.Join(Environment.NewLine, problems))
{
    public IReadOnlyList<Problem> Problems { get; } = problems;

    public InputException(Problem problem) : this([problem]) { }
}

/// <summary>Raised when a pipeline stage fails for a reason that is not bad input (a tool failed, a build broke): exit code 1.</summary>
public sealed class StageException(string message) : Exception(message);

/// <summary>The engine's exit codes, documented in the README.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int BadInput = 2;

    /// <summary>Every cell that could run passed, but some target kernel was unavailable (its cells say why). Cake goes on to the next stage and exits 1 at the end.</summary>
    public const int Unavailable = 3;

    /// <summary>Unavailable when any kernel was, else ok: for a stage whose cells all passed.</summary>
    public static int Passed(bool anyUnavailable) => anyUnavailable ? Unavailable : Ok;
}
