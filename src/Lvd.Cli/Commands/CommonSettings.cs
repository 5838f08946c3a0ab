using System.ComponentModel;
using Lvd.Machine.Cost;
using Spectre.Console.Cli;

namespace Lvd.Cli.Commands;

/// <summary>Options every command that runs the machine shares.</summary>
public class MachineSettings : CommandSettings
{
    [CommandOption("--costs <FILE>")]
    [Description("Cost model file (default: config/costs.json, built in).")]
    public string? Costs { get; init; }

    [CommandOption("--memory <MIB>")]
    [Description("Guest RAM in MiB (default 256; allocated on touch).")]
    [DefaultValue(256)]
    public int MemoryMiB { get; init; } = 256;

    public CostModel LoadCosts() => Costs == null ? CostModel.Default : CostModel.Load(Costs);

    public ulong MemoryBytes => MemoryMiB is >= 1 and <= 65536
        ? (ulong)MemoryMiB << 20
        : throw new UsageException($"--memory {MemoryMiB}: must be 1 to 65536 MiB");
}

/// <summary>Machine settings plus the guest profiler's options (`lvd exec` and `lvd boot`).</summary>
public class ProfiledMachineSettings : MachineSettings
{
    [CommandOption("--profile [FILE]")]
    [Description("Profile the guest: modeled cycles by function (ELF symbols) and by mode (user, kernel, hypervisor, idle), sampled every --profile-period cycles per vCPU; printed after the run, or written to FILE.")]
    public FlagValue<string>? Profile { get; init; }

    [CommandOption("--profile-period <CYCLES>")]
    [Description("Modeled cycles between two samples of one vCPU (default 997).")]
    [DefaultValue(ProfileOutput.DefaultPeriod)]
    public long ProfilePeriod { get; init; } = ProfileOutput.DefaultPeriod;

    [CommandOption("--profile-from <CYCLE>")]
    [Description("Start sampling when a vCPU's clock reaches this modeled cycle (e.g. skip the boot; default 0).")]
    public long ProfileFrom { get; init; }

    [CommandOption("--profile-top <N>")]
    [Description("Functions listed in the profile (default 30).")]
    [DefaultValue(ProfileOutput.DefaultTop)]
    public int ProfileTop { get; init; } = ProfileOutput.DefaultTop;
}
