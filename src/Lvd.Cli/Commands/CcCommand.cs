namespace Lvd.Cli.Commands;

/// <summary>`lvd cc [gcc options] file.c... -o out.elf`: gcc with the guest runtime and linker script.</summary>
public sealed class CcCommand : Command<CcCommand.Settings>
{
    public sealed class Settings : CommandSettings;

    public static int Run(string[] args)
    {
        if (args.Length == 0 || args is ["--help"] or ["-h"])
        {
            Console.Error.WriteLine("usage: lvd cc [gcc options] file.c... [-o out.elf]");
            return args.Length == 0 ? 2 : 0;
        }
        return GuestCompiler.Locate().Compile(args, Console.Out, Console.Error);
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        Run(context.Remaining.Raw.ToArray());
}
