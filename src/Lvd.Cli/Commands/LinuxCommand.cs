using Lvd.Experiments.Linux;
using Lvd.Toolchain.Linux;

namespace Lvd.Cli.Commands;

/// <summary>
/// `lvd linux`: build (or find) the cached Linux 6.1 kernel, boot it with its BusyBox initramfs on
/// the PC platform, the console on stdout and stdin, and exit with the init program's status
/// (docs/LINUX.md).
/// </summary>
public sealed class LinuxCommand : Command<LinuxCommand.Settings>
{
    public const int MinMemoryMiB = 64, MaxCpus = 16;

    public sealed class Settings : MachineSettings
    {
        [CommandOption("--cpus <N>")]
        [Description("vCPUs, 1 to 16 (default 1).")]
        public int? CpusOption { get; init; }

        [CommandOption("--hypervisor")]
        [Description("Launch the LVD hypervisor before Linux's first instruction: Linux runs deprivileged, as a VT-x guest.")]
        public bool Hypervisor { get; init; }

        [CommandOption("--late-launch")]
        [Description("Offer the LVD hypervisor to the running Linux: the init script runs its checks and a workload (and --init PROG) " +
            "natively, loads the LVD module, which late-launches the hypervisor on every CPU, runs them deprivileged, unloads it " +
            "(every CPU devirtualizes) and runs them again; the VM exits by reason are reported. Any --cpus.")]
        public bool LateLaunch { get; init; }

        [CommandOption("--init <PROG>")]
        [Description("A static x86-64 Linux ELF (e.g. gcc -static) run after the init script's checks; its exit status is ours. Without it: " +
            "a BusyBox shell on the console (stdin), whose status is ours.")]
        public string? Init { get; init; }

        [CommandOption("--cmdline <TEXT>")]
        [Description("More words for the kernel command line (after console=ttyS0 earlyprintk=serial panic=-1 reboot=t lvd.cpus=N, which " +
            "lvd linux sets itself).")]
        public string Cmdline { get; init; } = "";

        [CommandOption("--max-seconds <S>")]
        [Description("Modeled seconds after which a boot that has not ended is reported as a hang (exit status 124; default 600).")]
        public double? MaxSeconds { get; init; }

        [CommandOption("--bzimage")]
        [Description("Boot the bzImage (its decompressor runs first) instead of vmlinux.")]
        public bool BzImage { get; init; }

        public int Cpus => CpusOption ?? 1;

        protected override (int MiB, string Why) MinimumMemory =>
            (MinMemoryMiB + (Hypervisor || LateLaunch ? (int)(Lvd.Hypervisor.Hypervisor.DefaultReservedBytes >> 20) : 0),
                "the kernel loads at 16 MiB" + (Hypervisor || LateLaunch ? "; the hypervisor keeps the top of RAM" : ""));

        protected override void Check()
        {
            base.Check();
            Require(Cpus is >= 1 and <= MaxCpus, $"--cpus {Cpus}: must be 1 to {MaxCpus}");
            Require(!(Hypervisor && LateLaunch), "--hypervisor and --late-launch exclude each other (at power-on, or late from the running Linux)");
            Require(MemoryMiB < 4032, $"--memory {MemoryMiB}: the PC platform's RAM must end below its MMIO at 0xfec00000 (at most 4031 MiB)");
            Require(MaxSeconds is null or > 0, "--max-seconds must be positive");
            Require(Cmdline.All(c => c is >= ' ' and <= '~'), "--cmdline: printable ASCII only");
            Require(Cmdline.Length <= 1024, "--cmdline: at most 1024 characters");
            // Words lvd linux sets itself: the console it shows, the reboot its panic report needs, the CPU count --cpus gives.
            foreach (string word in Cmdline.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                foreach (string own in LinuxBoot.OwnWords)
                {
                    string why = own == "lvd.cpus=" ? "use --cpus"
                        : own == "lvd.latelaunch=" ? "use --late-launch" : "its console and reports need it";
                    Require(!word.StartsWith(own, StringComparison.Ordinal), $"--cmdline {word}: lvd linux sets {own}... itself ({why})");
                }
            if (Init != null)
            {
                OutputPaths.CheckInputFile("--init", Init);
                Require(ProfileOutput.IsElf(Init), $"--init {Init}: not an ELF file (a static x86-64 Linux executable, e.g. from gcc -static)");
            }
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string root = GuestCompiler.Locate().RepoRoot;
        var kernel = LinuxKernel.Build(root);
        var spec = new LinuxBootSpec
        {
            Cpus = settings.Cpus, MemoryMiB = settings.MemoryMiB, Hypervisor = settings.Hypervisor, LateLaunch = settings.LateLaunch,
            InitProgram = settings.Init,
            ExtraCmdline = settings.Cmdline, Costs = settings.LoadCosts(), DetailedTiming = settings.DetailedTiming,
            TimeoutSeconds = settings.MaxSeconds ?? 600, BzImage = settings.BzImage,
        };
        using var stdout = Console.OpenStandardOutput();
        // Ctrl-C stops the machine and reports every vCPU's state (status 130); on a raw terminal Ctrl-C
        // is the guest's, and Ctrl-A x stops the machine.
        using var interrupt = new GuestInterrupt();
        Lvd.Machine.Machine? machine = null;
        // The shell reads stdin; a program given with --init does not.
        RawConsole? raw = null;
        bool shell = settings.Init == null && !settings.LateLaunch;
        using var stdin = shell ? RawConsole.Input(Console.OpenStandardInput(), () => machine?.Interrupt()) : null;
        try
        {
            var result = LinuxBoot.Run(kernel, root, spec, stdout, stdin, m =>
            {
                machine = m;
                interrupt.Attach(m);
                if (shell) raw = RawConsole.Enter();
            });
            raw?.Dispose();
            stdout.Flush();
            Report(result, settings);
            return result.ExitStatus;
        }
        finally { raw?.Dispose(); }
    }

    private static void Report(LinuxBootResult result, Settings settings)
    {
        if (result.Report != null) Console.Error.Write(result.Report);
        if (settings.Hypervisor) Console.Error.WriteLine($"lvd linux: under the LVD hypervisor, {LinuxBoot.VmExits(result.Machine)}");
        if (settings.LateLaunch) Console.Error.WriteLine($"lvd linux: late launch: {LinuxBoot.LateLaunchSummary(result.Machine)}");
        Console.Error.WriteLine($"lvd linux: exit status {result.ExitStatus}; {result.ModeledSeconds:0.000} modeled seconds " +
            $"({result.Cycles:N0} cycles, {result.Instructions:N0} instructions), {result.HostSeconds:0.0} host seconds ({result.Mips:0} MIPS)");
    }
}
