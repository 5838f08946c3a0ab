using Lvd.Experiments.Profiling;
using Lvd.Machine;
using Lvd.Hypervisor;

namespace Lvd.Cli.Commands;

/// <summary>`lvd boot`: build the guest kernel and boot it on N vCPUs (docs/BOOT.md); the kernel log on stdout.</summary>
public sealed class BootCommand : Command<BootCommand.Settings>
{
    public sealed class Settings : DebuggedMachineSettings
    {
        [CommandOption("--cpus <N>")]
        [Description("vCPUs, 1 to 16 (default 1; --lvd-selftest: 1 to 9).")]
        public int? CpusOption { get; init; }

        [CommandOption("--kernel <ELF>")]
        [Description("Boot this kernel image instead of building guest/kernel.")]
        public string? Kernel { get; init; }

        [CommandOption("--cmdline <TEXT>")]
        [Description("Extra kernel command line words the options do not set: domainmem=MIB, crash=pf|ud|domain|panic, noexit (docs/KERNEL.md).")]
        public string Cmdline { get; init; } = "";

        [CommandOption("--workload <NAME>")]
        [Description("Run a measured workload after the self tests: nullnet (UDP sends into the null device), ixgbe (the same sends " +
            "through the in-kernel ixgbe driver and the 82599 NIC to a sink that checks every frame), ixgbe-rx (receive the peer " +
            "generator's datagrams at line rate through that driver, each checked), ixgbe-rr (netperf UDP_RR: 64-byte requests to the " +
            "peer's echo responder, each reply received by a recv system call) or nullblk (random 512-byte " +
            "asynchronous reads of the null block device).")]
        public string? Workload { get; init; }

        [CommandOption("--threads <T>")]
        [Description("With --workload: threads, 1 to 64 (default 1).")]
        public int? Threads { get; init; }

        [CommandOption("--duration <CYCLES>")]
        [Description("With --workload: length in modeled cycles (default 20,000,000).")]
        public long? Duration { get; init; }

        [CommandOption("--depth <D>")]
        [Description("With --workload nullblk: reads each thread keeps in flight, 1 to 256 (default 1).")]
        public int? Depth { get; init; }

        [CommandOption("--frame-bytes <N>")]
        [Description("With --workload ixgbe-rx: the bytes of each frame the generator sends, 60 to 1,514 (default 1,514).")]
        public int? FrameBytes { get; init; }

        [CommandOption("--payload-bytes <N>")]
        [Description("With --workload ixgbe: each datagram's UDP payload, 18 to 1,472 bytes (frames of 60 to 1,514; default 1,472).")]
        public int? PayloadBytes { get; init; }

        [CommandOption("--interrupts")]
        [Description("With --workload ixgbe-rx: NAPI on the receive queue's MSI-X vector (the thread sleeps until it fires, then polls " +
            "the ring empty) instead of polling without end; the in-kernel driver only.")]
        public bool Interrupts { get; init; }

        [CommandOption("--seed <S>")]
        [Description("With --workload nullblk: the seed of the random sectors (default 1).")]
        public long? Seed { get; init; }

        [CommandOption("--hypervisor")]
        [Description("Install the LVD hypervisor; the kernel late-launches it (CPUID 0x4bf00000).")]
        public bool Hypervisor { get; init; }

        [CommandOption("--isolate <DRIVERS>")]
        [Description("Run these drivers isolated in LVD domains (comma list: nullnet, nullblk); implies --hypervisor.")]
        public string? Isolate { get; init; }

        [CommandOption("--crossings <N>")]
        [Description("With --isolate nullnet: 1 (transmit) or 2 (transmit + the consume callback) crossings per packet (default 1).")]
        public int? Crossings { get; init; }

        [CommandOption("--restart <POLICY>")]
        [Description("With --isolate: what the kernel does when an isolated driver is killed: never, always (the default: tear the domain down, " +
            "load the same image into a fresh one, replay its registration and configuration) or N-per-minute (at most N restarts per minute of " +
            "modeled time, N 1 to 16).")]
        public string? Restart { get; init; }

        [CommandOption("--domain <DRIVER>")]
        [Description("Build DRIVER (a .c file or directory written against guest/domains/lib/lvd_driver.h) and run it in a domain: init, then one " +
            "call; a misbehaving driver is killed and reported. Implies --hypervisor.")]
        public string[] Domains { get; init; } = [];

        [CommandOption("--calls <N>")]
        [Description("With --domain: call each driver's driver_call N times (1 to 100,000; w[[1]] = the call's index 0..N-1, w[[2]] = N) and " +
            "report modeled cycles per call (median, mean, min, max), VMFUNCs and VM exits per call (guest/domains/examples/README.md).")]
        public int? Calls { get; init; }

        [CommandOption("--lvd-selftest")]
        [Description("Run the LVD self test: calls, nesting, all CPUs at once, interrupts inside a domain, and 84 misbehaviours that must each be " +
            "contained (docs/THREAT-MODEL.md). Implies --hypervisor.")]
        public bool LvdSelftest { get; init; }

        public int Cpus => CpusOption ?? 1;

        public string[] IsolateList => (Isolate ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        /// <summary>The boot these options describe (defaults filled in).</summary>
        public LvdBootSpec Spec => new()
        {
            Cpus = Cpus, Workload = Workload, Threads = Threads ?? 1, Depth = Depth ?? 1,
            Duration = Duration ?? 20_000_000, Seed = Seed ?? 1, Isolate = IsolateList, Crossings = Crossings ?? 1,
            Hypervisor = Hypervisor, Selftest = LvdSelftest, UserDomains = Domains, UserCalls = Calls, ExtraCmdline = Cmdline,
            MemoryMiB = MemoryMiB, Restart = Restart, RxFrameBytes = FrameBytes ?? Lvd.Machine.Devices.Nic.Frames.MaxFrame,
            RxInterrupts = Interrupts, TxPayloadBytes = PayloadBytes ?? LvdBoot.MaxPayloadBytes,
        };

        protected override (int MiB, string Why) MinimumMemory => (1, "");

        protected override void Check()
        {
            base.Check();
            Require(Isolate == null || IsolateList.Length > 0, "--isolate needs a driver: nullnet, nullblk or both (nullnet,nullblk)");
            // Options that would do nothing in this combination are mistakes, not defaults.
            OnlyWith(Threads != null, Workload != null, "--threads", "--workload");
            OnlyWith(Duration != null, Workload != null, "--duration", "--workload");
            OnlyWith(Depth != null, Workload == "nullblk", "--depth", "--workload nullblk");
            OnlyWith(FrameBytes != null, Workload == "ixgbe-rx", "--frame-bytes", "--workload ixgbe-rx");
            OnlyWith(Interrupts, Workload == "ixgbe-rx", "--interrupts", "--workload ixgbe-rx");
            OnlyWith(PayloadBytes != null, Workload == "ixgbe", "--payload-bytes", "--workload ixgbe");
            OnlyWith(Seed != null, Workload == "nullblk", "--seed", "--workload nullblk (nullnet sends the same datagrams every run)");
            OnlyWith(Crossings != null, IsolateList.Contains("nullnet"), "--crossings", "--isolate nullnet");
            OnlyWith(Restart != null, IsolateList.Length > 0, "--restart", "--isolate");
            OnlyWith(Calls != null, Domains.Length > 0, "--calls", "--domain (it calls your driver)");
            if (Kernel != null)
            {
                OutputPaths.CheckInputFile("--kernel", Kernel);
                Require(ProfileOutput.IsElf(Kernel), $"--kernel {Kernel}: not an ELF file");
            }
            if (Domains.Length > 0)
            {
                string domains = Path.Combine(GuestCompiler.Locate().RepoRoot, "guest", "domains");
                var names = new List<string>(IsolateList);
                foreach (var d in Domains)
                {
                    bool builtIn = !d.Contains('/') && Directory.Exists(Path.Combine(domains, d));
                    Require(builtIn || File.Exists(d) || Directory.Exists(d),
                        $"--domain {d}: no such file or directory (a driver is a .c file or a directory of them, or a directory under " +
                        $"guest/domains)");
                    Require(builtIn || Directory.Exists(d) || d.EndsWith(".c"), $"--domain {d}: a driver is a .c file or a directory of them");
                    string name = DomainBuilder.Name(d);
                    Require(name.Length is >= 1 and <= 15, $"--domain {d}: a domain's name (its file name, {name}) must be 1 to 15 characters");
                    Require(!names.Contains(name), $"--domain {d}: a domain named {name} is already loaded (each domain needs its own file name)");
                    names.Add(name);
                }
            }
            var problem = Spec.Problems().FirstOrDefault();
            if (problem != null) throw new UsageException(problem);
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var spec = settings.Spec;
        var cc = GuestCompiler.Locate();
        string elf = settings.Kernel ?? KernelBuilder.Build(cc, spec.UsesNic ? "ixgbe" : null);
        string cmdline;
        List<KernelLoader.Module> modules;
        try { (cmdline, modules) = LvdBoot.Prepare(spec, cc); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        bool hypervisor = spec.NeedsHypervisor;
        using var stdout = Console.OpenStandardOutput();
        // --json needs the kernel's result line, --domain its lines about the drivers, a panic
        // its backtrace to symbolize: keep a copy of the log as it goes to stdout.
        var log = new TeeStream(stdout);
        Stream serial = log;
        // Long runs show progress, on a terminal only: piped or captured output stays the kernel log alone.
        var progress = settings.Workload != null && Terminal.Interactive && !settings.Trace && settings.GdbPort == null
            ? new WorkloadProgress(settings.Workload, spec.Duration) : null;
        using var interrupt = new GuestInterrupt();
        var options = new RunOptions
        {
            MemoryBytes = settings.MemoryBytes,
            Costs = settings.LoadCosts(),
            DetailedTiming = settings.DetailedTiming,
            CpuCount = settings.Cpus,
            KernelCommandLine = cmdline,
            BootModules = modules,
            MaxInstructions = settings.MaxInstructions ?? new RunOptions().MaxInstructions,
            SerialOut = progress?.Watch(serial) ?? serial,
            Setup = m => { interrupt.Attach(m); progress?.Attach(m); },
            ProfilePeriod = ProfileOutput.Period(settings),
            ProfileStart = settings.ProfileFrom ?? 0,
            ProfileStackDepth = ProfileOutput.StackDepth(settings),
            Devices = spec.Devices,
        }.With(hypervisor ? HypervisorMode.OnRequest : HypervisorMode.None);
        var domainImages = modules.Select(m => new Lvd.Debugging.DebugImage(m.Name, Path.Combine(cc.RepoRoot, "build", "domains", m.Name + ".elf")))
            .Where(i => File.Exists(i.ElfPath)).ToList();
        options = TimelineSession.Attach(options, settings.Timeline, settings.TimelineFilter, out var timeline);
        Symbolizer? traceSymbols = null;
        if (settings.Trace)
        {
            traceSymbols = Symbolizer.FromElf(elf);
            ProfileOutput.KernelUserImage(traceSymbols);
            ProfileOutput.DomainImages(traceSymbols, cc.RepoRoot, modules.Select(m => m.Name));
        }
        options = TraceSession.Attach(options, settings, a => traceSymbols?.NameWithOffset(a), out var trace);
        options = GdbSession.Attach(options, settings.GdbPort, settings.GdbSnapshots, elf, domainImages, out var gdb);
        ProgramResult result;
        if (progress == null) result = gdb?.Run(() => ProgramRunner.Run(elf, options)) ?? ProgramRunner.Run(elf, options);
        else
        {
            var run = Task.Run(() =>
            {
                try { return gdb?.Run(() => ProgramRunner.Run(elf, options)) ?? ProgramRunner.Run(elf, options); }
                finally { progress.RunFinished(); }
            }, cancellationToken);
            progress.Show(Terminal.Stderr);
            result = run.GetAwaiter().GetResult();
        }
        gdb?.Finished(result);
        trace?.Dispose();
        timeline?.Finished();
        string text = log.Text;
        var userNames = spec.UserDomains.Select(DomainBuilder.Name).ToList();
        if (result.Run.CrashReport != null || result.Run.Outcome == RunOutcome.Interrupted || CrashSymbols.HasKernelReport(text, userNames))
        {
            var symbols = Symbolizer.FromElf(elf);
            ProfileOutput.KernelUserImage(symbols);
            ProfileOutput.DomainImages(symbols, cc.RepoRoot, modules.Select(m => m.Name));
            if (result.Run.CrashReport != null) Console.Error.Write(CrashSymbols.AnnotateReport(result.Run.CrashReport, symbols, cc.RepoRoot));
            if (CrashSymbols.KernelReport(text, symbols, userNames, cc.RepoRoot) is string report) Console.Error.Write(report);
            if (result.Run.Outcome == RunOutcome.Interrupted) Console.Error.Write(ProgramReport.StateDump(result, symbols, cc.RepoRoot));
        }
        int status = result.ExitStatus;
        IReadOnlyList<UserDomainResult> users = [];
        if (spec.UserDomains.Count > 0)
        {
            users = LvdBoot.ParseUserDomains(spec, text);
            foreach (var u in users) Console.Out.WriteLine(UserDomainLine(u));
            if (status == 0) status = LvdBoot.UserDomainStatus(users);
        }
        if (settings.StatsJson != null) File.WriteAllText(settings.StatsJson, result.StatsJson());
        if (settings.Json != null)
            ResultsJson.Write(settings.Json, "boot", settings.LoadCosts(), ResultsJson.Boot(spec, result, text, status, users));
        ProfileOutput.Write(result, elf, settings, symbols =>
        {
            ProfileOutput.KernelUserImage(symbols);
            ProfileOutput.DomainImages(symbols, cc.RepoRoot, modules.Select(m => m.Name));
        });
        if (result.Machine.Device<Lvd.Machine.Devices.Nic.Ixgbe82599>() is { } nic)
            Console.Error.WriteLine($"nic: sent {nic.FramesSent} frames, received {nic.FramesReceived}; the peer heard " +
                $"{nic.Peer.FramesHeard} ({nic.Peer.UdpHeard} UDP, {nic.Peer.BadFrames} with a bad checksum), sent {nic.Peer.FramesSent}");
        return status;
    }

    /// <summary>The summary of one user's driver after the kernel log: what became of it, and its timings with --calls.</summary>
    private static string UserDomainLine(UserDomainResult u)
    {
        string head = $"lvd: your driver {u.Name}: ";
        string what = u.Outcome switch
        {
            "answered" => $"{u.Calls:N0} call(s) answered, the last returned {u.Returned}",
            "killed" => $"killed after {u.Calls:N0} answered call(s) ({u.Detail})",
            "call_failed" => $"a call failed after {u.Calls:N0} answered ({u.Detail})",
            "init_failed" => $"failed to initialize ({u.Detail})",
            "refused" => $"refused by the loader ({u.Detail})",
            _ => "not reported by the kernel (the run ended first)",
        };
        if (u.Timings is { } t)
            what += $"; modeled cycles per call: median {t.CyclesMedian:N0}, mean {u.CyclesMean:N1} (min {t.CyclesMin:N0}, max {t.CyclesMax:N0}); " +
                    $"VMFUNCs per call {u.VmFuncsPerCall:F2}, VM exits per call {u.VmExitsPerCall:F2}";
        return head + what;
    }
}
