using System.ComponentModel;
using Lvd.Hypervisor;
using Lvd.Machine.Loader;
using Spectre.Console.Cli;

namespace Lvd.Cli.Commands;

/// <summary>`lvd exec prog.elf`: guest serial to stdout, the guest's exit code as ours.</summary>
public sealed class ExecCommand : Command<ExecCommand.Settings>
{
    public sealed class Settings : ProfiledMachineSettings
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

        [CommandOption("--hypervisor")]
        [Description("Late-launch the LVD hypervisor before the program runs (it then runs as a VT-x guest under an identity EPT).")]
        public bool Hypervisor { get; init; }

        [CommandOption("--hypervisor-on-request")]
        [Description("Install the hypervisor but launch it only when the program asks (CPUID leaf 0x4bf00000).")]
        public bool HypervisorOnRequest { get; init; }

        [CommandOption("--trace")]
        [Description("Print every executed instruction to stderr (slow).")]
        public bool Trace { get; init; }

    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.MaxInstructions is <= 0) throw new UsageException("--max-instructions must be positive");
        using var stdout = Console.OpenStandardOutput();
        if (settings.Hypervisor && settings.HypervisorOnRequest) throw new UsageException("--hypervisor and --hypervisor-on-request exclude each other");
        var mode = settings.Hypervisor ? HypervisorMode.LaunchAtStart : settings.HypervisorOnRequest ? HypervisorMode.OnRequest : HypervisorMode.None;
        var result = ProgramRunner.Run(settings.Elf, new RunOptions
        {
            MemoryBytes = settings.MemoryBytes,
            Costs = settings.LoadCosts(),
            MaxInstructions = settings.MaxInstructions ?? new RunOptions().MaxInstructions,
            SerialOut = stdout,
            Trace = settings.Trace ? Console.Error : null,
            ProfilePeriod = ProfileOutput.Period(settings.Profile, settings.ProfilePeriod, settings.ProfileTop, settings.ProfileFrom),
            ProfileStart = settings.ProfileFrom,
        }.With(mode));
        if (result.Run.CrashReport != null) Console.Error.Write(result.Run.CrashReport);
        if (settings.StatsJson != null) File.WriteAllText(settings.StatsJson, result.StatsJson());
        ProfileOutput.Write(result, settings.Elf, settings.Profile, settings.ProfileTop);
        return result.ExitStatus;
    }
}
