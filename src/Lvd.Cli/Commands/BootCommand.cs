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

        [CommandOption("--workload <NAME>")]
        [Description("Run a measured workload after the self tests: nullnet (UDP sends into the null device).")]
        public string? Workload { get; init; }

        [CommandOption("--threads <T>")]
        [Description("Workload threads (default 1).")]
        [DefaultValue(1)]
        public int Threads { get; init; } = 1;

        [CommandOption("--duration <CYCLES>")]
        [Description("Workload length in modeled cycles (default 20,000,000).")]
        [DefaultValue(20_000_000L)]
        public long Duration { get; init; } = 20_000_000;

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
        string cmdline = settings.Cmdline;
        if (settings.Workload != null)
        {
            // The kernel reads these from its command line (docs/KERNEL.md) and prints a "result:" line.
            if (settings.Workload != "nullnet") throw new UsageException($"--workload {settings.Workload}: the kernel has nullnet so far (nullblk comes with the block layer)");
            if (settings.Threads is < 1 or > 64) throw new UsageException("--threads must be 1 to 64");
            if (settings.Duration <= 0) throw new UsageException("--duration must be positive");
            cmdline = $"{cmdline} workload={settings.Workload} threads={settings.Threads} duration={settings.Duration}".Trim();
        }
        string elf = settings.Kernel ?? KernelBuilder.Build(GuestCompiler.Locate());
        using var stdout = Console.OpenStandardOutput();
        var options = new RunOptions
        {
            MemoryBytes = settings.MemoryBytes,
            Costs = settings.LoadCosts(),
            CpuCount = settings.Cpus,
            KernelCommandLine = cmdline,
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
