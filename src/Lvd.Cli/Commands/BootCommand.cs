using System.ComponentModel;
using Lvd.Hypervisor;
using Lvd.Machine.Loader;
using Lvd.Toolchain;
using Spectre.Console.Cli;

namespace Lvd.Cli.Commands;

/// <summary>`lvd boot`: build the guest kernel and boot it on N vCPUs (docs/BOOT.md); the kernel log on stdout.</summary>
public sealed class BootCommand : Command<BootCommand.Settings>
{
    public sealed class Settings : MachineSettings
    {
        [CommandOption("--cpus <N>")]
        [Description("vCPUs, 1 to 64 (default 1).")]
        [DefaultValue(1)]
        public int Cpus { get; init; } = 1;

        [CommandOption("--kernel <ELF>")]
        [Description("Boot this kernel image instead of building guest/kernel.")]
        public string? Kernel { get; init; }

        [CommandOption("--cmdline <TEXT>")]
        [Description("Kernel command line.")]
        public string Cmdline { get; init; } = "";

        [CommandOption("--hypervisor")]
        [Description("Install the LVD hypervisor; the kernel late-launches it (CPUID 0x4bf00000).")]
        public bool Hypervisor { get; init; }

        [CommandOption("--max-instructions <N>")]
        [Description("Stop after N instructions over all vCPUs (exit status 124).")]
        public long? MaxInstructions { get; init; }

        [CommandOption("--trace")]
        [Description("Print every executed instruction to stderr (slow).")]
        public bool Trace { get; init; }

        [CommandOption("--stats-json <FILE>")]
        [Description("Write run statistics as JSON.")]
        public string? StatsJson { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Cpus is < 1 or > 64) throw new UsageException($"--cpus {settings.Cpus}: 1 to 64");
        string elf = settings.Kernel ?? KernelBuilder.Build(GuestCompiler.Locate());
        using var stdout = Console.OpenStandardOutput();
        var options = new RunOptions
        {
            MemoryBytes = settings.MemoryBytes,
            Costs = settings.LoadCosts(),
            CpuCount = settings.Cpus,
            KernelCommandLine = settings.Cmdline,
            MaxInstructions = settings.MaxInstructions ?? new RunOptions().MaxInstructions,
            SerialOut = stdout,
            Trace = settings.Trace ? Console.Error : null,
        }.With(settings.Hypervisor ? HypervisorMode.OnRequest : HypervisorMode.None);
        var result = ProgramRunner.Run(elf, options);
        if (result.Run.CrashReport != null) Console.Error.Write(result.Run.CrashReport);
        if (settings.StatsJson != null) File.WriteAllText(settings.StatsJson, result.StatsJson());
        return result.ExitStatus;
    }
}
