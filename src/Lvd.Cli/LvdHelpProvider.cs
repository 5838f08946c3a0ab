using Spectre.Console.Cli.Help;
using Spectre.Console.Rendering;

namespace Lvd.Cli;

/// <summary>
/// Spectre's help, plus: a branch with a default command (`lvd bench`) shows that command's
/// options too, since `lvd bench --out DIR` is how it is run; and a pointer to `lvd help COMMAND`.
/// </summary>
public sealed class LvdHelpProvider(ICommandAppSettings settings) : HelpProvider(settings)
{
    public override IEnumerable<IRenderable> GetOptions(ICommandModel model, ICommandInfo? command) =>
        base.GetOptions(model, command is { IsBranch: true, DefaultCommand: { } d } ? d : command);

    public override IEnumerable<IRenderable> GetFooter(ICommandModel model, ICommandInfo? command)
    {
        foreach (var r in base.GetFooter(model, command)) yield return r;
        if (command == null)
            yield return new Spectre.Console.Text("Help on one command: lvd help COMMAND (or lvd COMMAND --help). Version: lvd --version.\n");
    }
}
