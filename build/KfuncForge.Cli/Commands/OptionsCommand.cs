using KfuncForge.Diagnostics;

namespace KfuncForge.Cli.Commands;

/// <summary>
/// The one table of options: each verb's name and the options it takes (its Accepts and the common ones), one verb
/// per line. build.cake reads it to pass each verb exactly the options the user gave that the verb takes, and to
/// reject an option no verb takes; nothing else lists options.
/// </summary>
public sealed class OptionsCommand : ICommand
{
    public string Name => "options";
    public string Summary => "print every verb with the options it takes (one line each); build.cake passes options by this table";
    public IReadOnlyCollection<string> Accepts => [];

    public int Run(CommandContext context)
    {
        foreach (var command in Cli.Commands)
            context.Out.WriteLine(string.Join(' ', [command.Name, .. Cli.CommonOptions.Concat(command.Accepts).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)]));
        return ExitCodes.Ok;
    }
}
