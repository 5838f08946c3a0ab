using System.ComponentModel;
using Lvd.Experiments.Domains;
using Lvd.Hypervisor;
using Lvd.Machine.Loader;
using Lvd.Toolchain;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lvd.Cli.Commands;

/// <summary>`lvd boot`: build the guest kernel and boot it on N vCPUs (docs/BOOT.md); the kernel log on stdout.</summary>
public sealed class BootCommand : Command<BootCommand.Settings>
{
    public sealed class Settings : ProfiledMachineSettings
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
        [Description("Run a measured workload after the self tests: nullnet (UDP sends into the null device) or nullblk (random 512-byte asynchronous reads of the null block device).")]
        public string? Workload { get; init; }

        [CommandOption("--threads <T>")]
        [Description("Workload threads (default 1).")]
        [DefaultValue(1)]
        public int Threads { get; init; } = 1;

        [CommandOption("--duration <CYCLES>")]
        [Description("Workload length in modeled cycles (default 20,000,000).")]
        [DefaultValue(20_000_000L)]
        public long Duration { get; init; } = 20_000_000;

        [CommandOption("--depth <D>")]
        [Description("nullblk: reads each thread keeps in flight, 1 to 256 (default 1).")]
        [DefaultValue(1)]
        public int Depth { get; init; } = 1;

        [CommandOption("--seed <S>")]
        [Description("Workload seed (nullblk: the random sectors; default 1).")]
        [DefaultValue(1L)]
        public long Seed { get; init; } = 1;

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

        [CommandOption("--isolate <DRIVERS>")]
        [Description("Run these drivers isolated in LVD domains (comma list: nullnet, nullblk); implies --hypervisor.")]
        public string? Isolate { get; init; }

        [CommandOption("--crossings <N>")]
        [Description("Isolated nullnet: 1 (transmit) or 2 (transmit + the consume callback) crossings per packet (default 1).")]
        [DefaultValue(1)]
        public int Crossings { get; init; } = 1;

        [CommandOption("--domain <DRIVER>")]
        [Description("Build DRIVER (a .c file or directory written against guest/domains/lib/lvd_driver.h) and run it in a domain: init, then one call; a misbehaving driver is killed and reported. Implies --hypervisor.")]
        public string[] Domains { get; init; } = [];

        [CommandOption("--lvd-selftest")]
        [Description("Run the LVD self test: calls, nesting, all CPUs at once, interrupts inside a domain, and 84 misbehaviours that must each be contained (docs/THREAT-MODEL.md). Implies --hypervisor.")]
        public bool LvdSelftest { get; init; }

    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Cpus is < 1 or > 64) throw new UsageException($"--cpus {settings.Cpus}: 1 to 64");
        if (settings.Workload != null)
        {
            // The kernel reads these from its command line (docs/KERNEL.md) and prints a "result:" line.
            if (settings.Workload is not ("nullnet" or "nullblk")) throw new UsageException($"--workload {settings.Workload}: nullnet or nullblk");
            if (settings.Threads is < 1 or > 64) throw new UsageException("--threads must be 1 to 64");
            if (settings.Duration <= 0) throw new UsageException("--duration must be positive");
            if (settings.Depth is < 1 or > 256) throw new UsageException("--depth must be 1 to 256");
            if (settings.Seed < 0) throw new UsageException("--seed must be 0 or more");
        }
        if (settings.Crossings is < 1 or > 2) throw new UsageException("--crossings must be 1 or 2");
        var isolate = (settings.Isolate ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var d in isolate)
            if (!LvdBoot.IsolatableDrivers.Contains(d)) throw new UsageException($"--isolate {d}: nullnet or nullblk");
        var spec = new LvdBootSpec
        {
            Cpus = settings.Cpus, Workload = settings.Workload, Threads = settings.Threads, Depth = settings.Depth,
            Duration = settings.Duration, Seed = settings.Seed, Isolate = isolate, Crossings = settings.Crossings,
            Hypervisor = settings.Hypervisor, Selftest = settings.LvdSelftest, UserDomains = settings.Domains,
            ExtraCmdline = settings.Cmdline,
        };
        var cc = GuestCompiler.Locate();
        string elf = settings.Kernel ?? KernelBuilder.Build(cc);
        string cmdline;
        List<KernelLoader.Module> modules;
        try { (cmdline, modules) = LvdBoot.Prepare(spec, cc); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        bool hypervisor = spec.NeedsHypervisor;
        using var stdout = Console.OpenStandardOutput();
        // Long runs show progress, on a terminal only: piped or captured output stays the kernel log alone.
        var progress = settings.Workload != null && !Console.IsErrorRedirected && !settings.Trace
            ? new WorkloadProgress(settings.Workload, settings.Duration) : null;
        var options = new RunOptions
        {
            MemoryBytes = settings.MemoryBytes,
            Costs = settings.LoadCosts(),
            CpuCount = settings.Cpus,
            KernelCommandLine = cmdline,
            BootModules = modules,
            MaxInstructions = settings.MaxInstructions ?? new RunOptions().MaxInstructions,
            SerialOut = progress?.Watch(stdout) ?? stdout,
            Setup = progress == null ? null : progress.Attach,
            Trace = settings.Trace ? Console.Error : null,
            ProfilePeriod = ProfileOutput.Period(settings.Profile, settings.ProfilePeriod, settings.ProfileTop, settings.ProfileFrom),
            ProfileStart = settings.ProfileFrom,
        }.With(hypervisor ? HypervisorMode.OnRequest : HypervisorMode.None);
        ProgramResult result;
        if (progress == null) result = ProgramRunner.Run(elf, options);
        else
        {
            var run = Task.Run(() =>
            {
                try { return ProgramRunner.Run(elf, options); }
                finally { progress.RunFinished(); }
            }, cancellationToken);
            progress.Show(AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }));
            result = run.GetAwaiter().GetResult();
        }
        if (result.Run.CrashReport != null) Console.Error.Write(result.Run.CrashReport);
        if (settings.StatsJson != null) File.WriteAllText(settings.StatsJson, result.StatsJson());
        ProfileOutput.Write(result, elf, settings.Profile, settings.ProfileTop, symbols =>
        {
            ProfileOutput.KernelUserImage(symbols);
            ProfileOutput.DomainImages(symbols, cc.RepoRoot, modules.Select(m => m.Name));
        });
        return result.ExitStatus;
    }
}
