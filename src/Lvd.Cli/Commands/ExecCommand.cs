using System.ComponentModel;
using Lvd.Machine.Loader;
using Spectre.Console.Cli;

namespace Lvd.Cli.Commands;

/// <summary>`lvd exec prog.elf`: guest serial to stdout, the guest's exit code as ours.</summary>
public sealed class ExecCommand : Command<ExecCommand.Settings>
{
    public sealed class Settings : MachineSettings
    {
        [CommandArgument(0, "<ELF>")]
        [Description("Static x86-64 ELF executable (build one with lvd cc).")]
        public string Elf { get; init; } = "";

        [CommandOption("--stats-json <FILE>")]
        [Description("Write instructions, cycles, host_seconds and more as JSON.")]
        public string? StatsJson { get; init; }

        [CommandOption("--max-instructions <N>")]
        [Description("Stop a runaway guest after N instructions (exit status 124).")]
        public long? MaxInstructions { get; init; }

        [CommandOption("--trace")]
        [Description("Print every executed instruction to stderr (slow).")]
        public bool Trace { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.MaxInstructions is <= 0) throw new UsageException("--max-instructions must be positive");
        using var stdout = Console.OpenStandardOutput();
        var result = ProgramRunner.Run(settings.Elf, new RunOptions
        {
            MemoryBytes = settings.MemoryBytes,
            Costs = settings.LoadCosts(),
            MaxInstructions = settings.MaxInstructions ?? new RunOptions().MaxInstructions,
            SerialOut = stdout,
            Trace = settings.Trace ? Console.Error : null,
        });
        if (result.Run.CrashReport != null) Console.Error.Write(result.Run.CrashReport);
        if (settings.StatsJson != null) File.WriteAllText(settings.StatsJson, result.StatsJson());
        return result.ExitStatus;
    }
}
