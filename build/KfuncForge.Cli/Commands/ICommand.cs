using KfuncForge.Definitions;

namespace KfuncForge.Cli.Commands;

/// <summary>Everything a command gets: its options, the source tree it works on, where it writes, and the two output streams.</summary>
public sealed record CommandContext(Options Options, SourceTree Tree, string ArtifactsDir, TextWriter Out, TextWriter Err)
{
    /// <summary>Where each stage writes under ArtifactsDir.</summary>
    public Pipeline.ArtifactsLayout Layout => new(ArtifactsDir);
}

/// <summary>One verb of the engine. build.cake runs one verb per task; see the README for the mapping.</summary>
public interface ICommand
{
    string Name { get; }
    string Summary { get; }

    /// <summary>Options this verb takes besides the common ones (root, out).</summary>
    IReadOnlyCollection<string> Accepts { get; }

    int Run(CommandContext context);
}
