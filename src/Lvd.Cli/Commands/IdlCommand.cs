namespace Lvd.Cli.Commands;

/// <summary>`lvd idl FILE.idl [-o OUTDIR]`: listed in the help; the arguments go to the IDL compiler's own parser.</summary>
public sealed class IdlCommand : Command<IdlCommand.Settings>
{
    public sealed class Settings : CommandSettings;

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        Lvd.Idl.IdlCommandLine.Run([.. context.Remaining.Raw], Console.Out, Console.Error);
}
