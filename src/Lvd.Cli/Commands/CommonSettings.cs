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
