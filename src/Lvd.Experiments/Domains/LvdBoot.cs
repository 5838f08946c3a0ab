using System.Text.RegularExpressions;

namespace Lvd.Experiments.Domains;

/// <summary>
/// One boot of the guest kernel as the LVD experiments run it (docs/DOMAINS.md): which CPUs,
/// which workload, which drivers isolated in domains. The one place that turns such a
/// description into a kernel command line and boot modules (driver images built with
/// guest/domains/build.sh), used by `lvd boot`, `lvd demo`, `lvd bench` and the tests.
/// </summary>
public sealed record LvdBootSpec
{
    public int Cpus { get; init; } = 4;
    public string? Workload { get; init; }          // nullnet | ixgbe | ixgbe-rx | ixgbe-rr | nullblk
    public int Threads { get; init; } = 1;
    public int Depth { get; init; } = 1;
    public long Duration { get; init; } = 20_000_000;
    public long Seed { get; init; } = 1;
    public IReadOnlyList<string> Isolate { get; init; } = [];   // nullnet, nullblk, ixgbe
    public int Crossings { get; init; } = 1;
    /// <summary>--workload ixgbe-rx: the bytes of each of the generator's frames (60 to 1,514, without the CRC).</summary>
    public int RxFrameBytes { get; init; } = Lvd.Machine.Devices.Nic.Frames.MaxFrame;
    /// <summary>--workload ixgbe: each datagram's UDP payload (18 to 1,472 bytes: frames of 60 to 1,514).</summary>
    public int TxPayloadBytes { get; init; } = LvdBoot.MaxPayloadBytes;
    /// <summary>--workload ixgbe-rx: NAPI on the receive queue's MSI-X vector (the kernel's rxirq=) instead of polling without end.</summary>
    public bool RxInterrupts { get; init; }
    public bool Hypervisor { get; init; }
    /// <summary>Run the LVD self test (lvd_test.c: calls, nesting, concurrency, 24 misbehaviours).</summary>
    public bool Selftest { get; init; }
    /// <summary>An in-guest measurement (lvd_bench.c): "call" or "irq".</summary>
    public string? Bench { get; init; }
    public IReadOnlyList<string> UserDomains { get; init; } = [];
    /// <summary>Calls of each user domain's driver_call (`--calls`; the kernel's domaincalls=): null, one untimed call.</summary>
    public int? UserCalls { get; init; }
    public string ExtraCmdline { get; init; } = "";
    /// <summary>Guest RAM in MiB (at least <see cref="LvdBoot.MinMemoryMiB"/>).</summary>
    public int MemoryMiB { get; init; } = 256;
    /// <summary>
    /// Restart policy of the isolated drivers after a kill (docs/DOMAINS.md, "Restart"): never,
    /// always, or N-per-minute (modeled time); null: the kernel's default (always).
    /// </summary>
    public string? Restart { get; init; }
    /// <summary>
    /// An attack by the isolated ixgbe (`lvd attack`; the kernel's ixgbeattack=, guest/domains/ixgbe_attack loaded in place of the
    /// driver): one of <see cref="LvdBoot.IxgbeAttacks"/>.
    /// </summary>
    public string? IxgbeAttack { get; init; }
    /// <summary>A fault plan for the kernel's injector (FaultCampaign; boot module "faultplan").</summary>
    public byte[]? FaultPlan { get; init; }

    /// <summary>
    /// What is wrong with this description, in the words of `lvd boot`'s options (empty: it can
    /// be booted). Only what the guest kernel really runs passes: the limits below were found by
    /// booting it (issue 15).
    /// </summary>
    public IEnumerable<string> Problems()
    {
        if (Cpus < 1 || Cpus > LvdBoot.MaxCpus)
            yield return $"--cpus {Cpus}: the guest kernel runs on 1 to {LvdBoot.MaxCpus} vCPUs (beyond, the per-CPU caches of its packet pool " +
                "can hold every packet page: its network self test or a workload fails)";
        if (Selftest && Cpus > LvdBoot.MaxSelftestCpus)
            yield return $"--lvd-selftest runs on 1 to {LvdBoot.MaxSelftestCpus} vCPUs (its ~90 domains' per-CPU EPTs outgrow the hypervisor's " +
                "16 MiB: 16 vCPUs fail)";
        if (MemoryMiB < LvdBoot.MinMemoryMiB)
            yield return $"--memory {MemoryMiB}: the guest kernel needs at least {LvdBoot.MinMemoryMiB} MiB (an eighth of RAM, at most 64 MiB, is " +
                $"its domain memory, which must hold the 4 MiB packet pool twice over)";
        if (Selftest && Cpus > 4 && MemoryMiB < LvdBoot.SelftestManyCpusMemoryMiB)
            yield return $"--lvd-selftest on more than 4 vCPUs needs --memory {LvdBoot.SelftestManyCpusMemoryMiB} or more (its domains on every " +
                $"CPU outgrow the domain memory, an eighth of RAM: 8 vCPUs fail at 256 MiB)";
        else if (Selftest && MemoryMiB < LvdBoot.SelftestMemoryMiB)
            yield return $"--lvd-selftest needs --memory {LvdBoot.SelftestMemoryMiB} or more (its domains outgrow the domain memory, an eighth of " +
                $"RAM: 4 vCPUs fail at 80 MiB)";
        if (Workload is not (null or "nullnet" or "ixgbe" or "ixgbe-rx" or "ixgbe-rr" or "nullblk"))
            yield return $"--workload {Workload}: nullnet, ixgbe, ixgbe-rx, ixgbe-rr or nullblk";
        if (Isolate.Contains("ixgbe") && !UsesNic)
            yield return "--isolate ixgbe needs --workload ixgbe, ixgbe-rx or ixgbe-rr (the kernel with the driver and the NIC)";
        if (UsesNic && (ulong)MemoryMiB << 20 > Lvd.Machine.Devices.Nic.NicSpec.DefaultBar0)
            yield return $"--memory {MemoryMiB}: with --workload {Workload}, RAM must end below the NIC's registers at 0xfd000000";
        if (Workload is "ixgbe-rx" or "ixgbe-rr" && Threads != 1)
            yield return $"--threads {Threads}: --workload {Workload} receives on one thread";
        if (RxFrameBytes is < Lvd.Machine.Devices.Nic.Frames.MinFrame or > Lvd.Machine.Devices.Nic.Frames.MaxFrame)
            yield return $"--frame-bytes {RxFrameBytes}: {Lvd.Machine.Devices.Nic.Frames.MinFrame} to {Lvd.Machine.Devices.Nic.Frames.MaxFrame}";
        if (RxInterrupts && Workload != "ixgbe-rx") yield return "--interrupts needs --workload ixgbe-rx";
        if (TxPayloadBytes is < LvdBoot.MinPayloadBytes or > LvdBoot.MaxPayloadBytes)
            yield return $"--payload-bytes {TxPayloadBytes}: {LvdBoot.MinPayloadBytes} to {LvdBoot.MaxPayloadBytes} (frames of 60 to 1,514 bytes)";
        if (TxPayloadBytes != LvdBoot.MaxPayloadBytes && Workload != "ixgbe")
            yield return "--payload-bytes is the sender's: only with --workload ixgbe";
        if (RxFrameBytes != Lvd.Machine.Devices.Nic.Frames.MaxFrame && Workload != "ixgbe-rx")
            yield return "--frame-bytes is the generator's: only with --workload ixgbe-rx";
        if (Threads is < 1 or > LvdBoot.MaxThreads) yield return $"--threads {Threads}: 1 to {LvdBoot.MaxThreads}";
        if (Depth is < 1 or > LvdBoot.MaxDepth) yield return $"--depth {Depth}: must be 1 to {LvdBoot.MaxDepth}";
        if (Duration <= 0) yield return $"--duration {Duration}: must be positive";
        if (Seed < 0) yield return $"--seed {Seed}: must be 0 or more";
        foreach (var d in Isolate)
            if (!LvdBoot.IsolatableDrivers.Contains(d)) yield return $"--isolate {d}: nullnet, nullblk or ixgbe";
        foreach (var d in Isolate.GroupBy(d => d).Where(g => g.Count() > 1))
            yield return $"--isolate: {d.Key} given twice";
        if (Crossings is < 1 or > 2) yield return $"--crossings {Crossings}: 1 or 2";
        if (UserCalls is < 1 or > LvdBoot.MaxUserCalls) yield return $"--calls {UserCalls}: 1 to {LvdBoot.MaxUserCalls:N0}";
        if (UserCalls != null && UserDomains.Count == 0) yield return "--calls needs --domain (it calls your driver)";
        if (Bench is not (null or "call" or "irq")) yield return $"bench {Bench}: call or irq";
        if (Restart != null && LvdBoot.RestartWord(Restart) == null)
            yield return $"--restart {Restart}: never, always or N-per-minute (N 1 to 16)";
        if (Restart != null && Isolate.Count == 0)
            yield return "--restart needs --isolate (only the isolated drivers are restarted)";
        if (IxgbeAttack != null && !LvdBoot.IxgbeAttacks.Contains(IxgbeAttack))
            yield return $"ixgbe attack {IxgbeAttack}: one of {string.Join(", ", LvdBoot.IxgbeAttacks)}";
        if (IxgbeAttack != null && !Isolate.Contains("ixgbe")) yield return "an ixgbe attack needs --isolate ixgbe";
        if (IxgbeAttack == "domain" && !Isolate.Contains("nullnet")) yield return "the ixgbe attack on another domain needs --isolate nullnet too";
        if (FaultPlan != null && (Workload == null || Isolate.Count == 0))
            yield return "a fault plan needs a workload and an isolated driver";
        foreach (var p in LvdBoot.CmdlineProblems(ExtraCmdline)) yield return p;
    }

    /// <summary>Throws <see cref="ArgumentException"/> with the first of <see cref="Problems"/>.</summary>
    public void Validate()
    {
        var p = Problems().FirstOrDefault();
        if (p != null) throw new ArgumentException(p);
    }

    /// <summary>
    /// The devices the machine needs beyond the Lvd platform's: for --workload ixgbe the 82599 with a sink
    /// on its cable that checks every frame (docs/NIC.md), and under the hypervisor the IOMMU, whose kernel
    /// DMA domain the NIC is then in (docs/IOMMU.md).
    /// </summary>
    public IReadOnlyList<Lvd.Machine.Devices.DeviceSpec> Devices
    {
        get
        {
            if (!UsesNic) return [];
            // ixgbe-rx: 1,514-byte datagrams at line rate from the generator.
            // ixgbe-rr: the echo responder (netperf UDP_RR's far side); ixgbe: a sink.
            Func<Lvd.Machine.Devices.Nic.NetworkPeer> peer = Workload switch
            {
                "ixgbe-rx" => () => new Lvd.Machine.Devices.Nic.GeneratorPeer { FrameBytes = RxFrameBytes },
                "ixgbe-rr" => () => new Lvd.Machine.Devices.Nic.EchoPeer(),
                _ => () => new Lvd.Machine.Devices.Nic.SinkPeer(),
            };
            var nic = new Lvd.Machine.Devices.Nic.NicSpec { PeerFactory = peer };
            return NeedsHypervisor ? [nic, new Lvd.Machine.Devices.Iommu.IommuSpec()] : [nic];
        }
    }

    /// <summary>The workload runs on the 82599 model through the kernel's ixgbe configuration.</summary>
    public bool UsesNic => Workload is "ixgbe" or "ixgbe-rx" or "ixgbe-rr";

    /// <summary>Domains need the hypervisor: any of them turns it on.</summary>
    public bool NeedsHypervisor => Hypervisor || Isolate.Count > 0 || Selftest || UserDomains.Count > 0 || Bench == "call";

    public string Describe() =>
        (Isolate.Count == 0 ? (Hypervisor ? "native drivers, under the hypervisor" : "native")
            : $"isolated {string.Join('+', Isolate)}" + (Isolate.Contains("nullnet") ? $", {Crossings} crossing(s)/packet" : ""))
        + (Workload == null ? "" : $", {Workload} {Threads} thread(s)" + (Workload == "nullblk" ? $" depth {Depth}" : ""));
}

/// <summary>A workload's result line and what the machine counted during the run.</summary>
public sealed record LvdWorkloadResult(
    string Line, long Operations, long Cycles, long PerSecond, long CyclesPerOperation,
    long VmFuncs, long Exits, IReadOnlyDictionary<string, long> ExitsByReason, long DomainCalls, long DomainInterrupts)
{
    /// <summary>The numbers as results.json and `--json` hold them (docs/RESULTS.md), added to <paramref name="into"/>.</summary>
    public System.Text.Json.Nodes.JsonObject ToJson(System.Text.Json.Nodes.JsonObject? into = null)
    {
        var o = into ?? new System.Text.Json.Nodes.JsonObject();
        o["operations"] = Operations;
        o["cycles"] = Cycles;
        o["operations_per_second"] = PerSecond;
        o["cycles_per_operation"] = CyclesPerOperation;
        o["vmfuncs"] = VmFuncs;
        o["vm_exits"] = Exits;
        o["domain_calls"] = DomainCalls;
        o["domain_interrupts"] = DomainInterrupts;
        o["vm_exits_by_reason"] = Results.Counts(ExitsByReason);
        return o;
    }
}

/// <summary>
/// Timings of `--calls N` (N > 1): modeled cycles per call (RDTSC around lvd_call), and the vCPU's VMFUNCs and VM exits
/// over all calls.
/// </summary>
public sealed record UserCallTimings(long CyclesTotal, long CyclesMedian, long CyclesMin, long CyclesMax, long VmFuncs, long VmExits);

/// <summary>
/// One user's driver of a boot: outcome (answered, killed, call_failed, init_failed, refused,
/// not_reported), the kernel's line saying so, calls asked for and answered, timings, last return value.
/// </summary>
public sealed record UserDomainResult(string Name, string Outcome, string Detail, long CallsRequested, long Calls,
    UserCallTimings? Timings, long? Returned)
{
    public double? CyclesMean => Timings == null || Calls == 0 ? null : (double)Timings.CyclesTotal / Calls;
    public double? VmFuncsPerCall => Timings == null || Calls == 0 ? null : (double)Timings.VmFuncs / Calls;
    public double? VmExitsPerCall => Timings == null || Calls == 0 ? null : (double)Timings.VmExits / Calls;

    public System.Text.Json.Nodes.JsonObject ToJson() => new()
    {
        ["name"] = Name, ["outcome"] = Outcome, ["detail"] = Detail,
        ["calls_requested"] = CallsRequested, ["calls"] = Calls, ["last_return"] = Returned,
        ["cycles_per_call_median"] = Timings?.CyclesMedian, ["cycles_per_call_mean"] = CyclesMean,
        ["cycles_per_call_min"] = Timings?.CyclesMin, ["cycles_per_call_max"] = Timings?.CyclesMax,
        ["cycles_total"] = Timings?.CyclesTotal, ["vmfuncs"] = Timings?.VmFuncs, ["vm_exits"] = Timings?.VmExits,
        ["vmfuncs_per_call"] = VmFuncsPerCall, ["vm_exits_per_call"] = VmExitsPerCall,
    };
}

public static partial class LvdBoot
{
    public static readonly string[] IsolatableDrivers = ["nullnet", "nullblk", "ixgbe"];

    /// <summary>The isolated ixgbe's attacks (lvd_ixgbe.c, ix_attack), in `lvd attack`'s order.</summary>
    public static readonly string[] IxgbeAttacks =
        ["kernel-rx", "kernel-tx", "kernel-ring", "domain", "hypervisor", "iommu-regs", "nic-regs", "irq-flood", "irq-storm", "msix-table"];

    /// <summary>
    /// vCPUs the guest kernel boots on, passes its self tests with and runs every workload
    /// combination on (found by booting, issue 15: 16 vCPUs at 80 MiB with both drivers isolated,
    /// nullblk 16 threads at depth 16, nullnet 16 threads with 2 crossings, `lvd faults`). NCPU is
    /// 64 (kernel.h), but the packet pool's per-CPU caches, refilled 32 pages at a time
    /// (pktpool.c), can hold all of its ~1,000 packet pages on many CPUs: from 32 vCPUs the boot's
    /// network self test finds it empty, and at 31 a 31-thread nullnet workload does; at 31 an
    /// isolated nullblk with 31 threads also took a kernel page fault in acquire() that is not yet
    /// understood. (Before issue 15 the limit was 9: from 10 vCPUs the user-process test counted a
    /// page the kernel heap had carved for the test's threads as leaked.)
    /// </summary>
    public const int MaxCpus = 16;

    /// <summary>
    /// vCPUs for boots that load many domains: the LVD self test (`--lvd-selftest`, `lvd attack`)
    /// and `lvd fuzz-domains`. Their per-CPU domain EPTs come from the hypervisor's 16 MiB
    /// (Hypervisor.DefaultReservedBytes), which 16 vCPUs exhaust (EPT_MAP: NO_MEMORY); 9 pass.
    /// </summary>
    public const int MaxSelftestCpus = 9;

    /// <summary>
    /// The least RAM (MiB) that boots every accepted combination (9 vCPUs, both drivers isolated,
    /// nullblk at depth 16, the LVD self test): the domain carve-out is an eighth of the largest
    /// usable region, and the packet pool needs 8 MiB of it (pktpool.c).
    /// </summary>
    public const int MinMemoryMiB = 80;

    /// <summary>RAM for the LVD self test on 5 to 9 vCPUs (found by booting: 8 and 9 vCPUs fail at 256 MiB, pass at 384).</summary>
    public const int SelftestManyCpusMemoryMiB = 384;

    /// <summary>RAM for the LVD self test on 1 to 4 vCPUs (4 vCPUs pass at 256 MiB, fail at 80; the default).</summary>
    public const int SelftestMemoryMiB = 256;

    /// <summary>lvd_drivers.c: USER_CALLS_MAX (the calls whose timings it keeps for the median).</summary>
    public const int MaxUserCalls = 100_000;

    /// <summary>workload.c's ixgbe senders: UDP payloads from a 60-byte frame to the MTU (NULLNET_PAYLOAD).</summary>
    public const int MinPayloadBytes = 18, MaxPayloadBytes = 1472;

    /// <summary>workload.c: MAX_THREADS; blk-mq: IO_MAX_INFLIGHT.</summary>
    public const int MaxThreads = 64, MaxDepth = 256;

    /// <summary>
    /// Kernel command-line words lvd sets from its own options (the first occurrence wins in the kernel, so --cmdline
    /// must not repeat them).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> OptionWords = new Dictionary<string, string>
    {
        ["workload"] = "--workload", ["threads"] = "--threads", ["duration"] = "--duration", ["seed"] = "--seed",
        ["depth"] = "--depth", ["isolate"] = "--isolate", ["crossings"] = "--crossings", ["domain"] = "--domain",
        ["domaincalls"] = "--calls", ["lvdtest"] = "--lvd-selftest", ["lvdbench"] = "lvd bench", ["lvdrestart"] = "--restart",
            ["faults"] = "lvd faults", ["nic"] = "--workload ixgbe", ["ixgbeattack"] = "lvd attack", ["rxirq"] = "--interrupts",
            ["payload"] = "--payload-bytes",
    };

    /// <summary>The other words the guest kernel reads from its command line (docs/KERNEL.md).</summary>
    public static readonly IReadOnlyList<string> KernelWords = ["domainmem", "crash", "noexit", "lvdbudget", "domaincheck", "lvdwatchdog"];

    /// <summary>The kernel's lvdrestart= value for a --restart policy (never, always, N-per-minute), or null if it is none.</summary>
    public static string? RestartWord(string policy)
    {
        if (policy is "never" or "always") return policy;
        var m = Regex.Match(policy, @"^(\d{1,2})-per-minute$");
        return m.Success && int.Parse(m.Groups[1].Value) is >= 1 and <= 16 ? m.Groups[1].Value : null;
    }

    /// <summary>Problems of a --cmdline: words set by options, words the kernel does not know.</summary>
    public static IEnumerable<string> CmdlineProblems(string cmdline)
    {
        foreach (var word in cmdline.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = word.IndexOf('=');
            string key = eq < 0 ? word : word[..eq];
            if (OptionWords.TryGetValue(key, out var option))
                yield return $"--cmdline {word}: set by {option}, not by --cmdline (the kernel would take the first and the report would disagree " +
                    $"with the run)";
            else if (!KernelWords.Contains(key))
                yield return $"--cmdline {word}: the kernel does not read '{key}' (it reads {string.Join(", ", KernelWords)}; the rest are lvd " +
                    $"boot options)";
        }
    }

    /// <summary>
    /// Images built once for many runs (lvd bench, tests): the kernel and driver modules by name.
    /// Without it every run builds what it needs.
    /// </summary>
    public sealed class Images(GuestCompiler cc)
    {
        private readonly Dictionary<string, KernelLoader.Module> _modules = new();
        private string? _kernel, _ixgbeKernel;
        public GuestCompiler Cc { get; } = cc;

        public string Kernel
        {
            get { lock (_modules) return _kernel ??= KernelBuilder.Build(Cc); }
        }

        /// <summary>The kernel with the ixgbe driver and PCI support (--workload ixgbe; KernelBuilder.Configs).</summary>
        public string IxgbeKernel
        {
            get { lock (_modules) return _ixgbeKernel ??= KernelBuilder.Build(Cc, "ixgbe"); }
        }

        /// <summary>A driver built elsewhere (lvd fuzz-domains builds many at once).</summary>
        public void Add(string driver, KernelLoader.Module module)
        {
            lock (_modules) _modules[driver] = module;
        }

        public KernelLoader.Module Module(string driver)
        {
            lock (_modules)
            {
                if (_modules.TryGetValue(driver, out var m)) return m;
                var (name, path) = DomainBuilder.Build(Cc, driver);
                return _modules[driver] = new KernelLoader.Module(name, File.ReadAllBytes(path));
            }
        }
    }

    /// <summary>The kernel command line and boot modules for a spec (builds the driver images).</summary>
    public static (string Cmdline, List<KernelLoader.Module> Modules) Prepare(LvdBootSpec s, GuestCompiler cc) => Prepare(s, new Images(cc));

    public static (string Cmdline, List<KernelLoader.Module> Modules) Prepare(LvdBootSpec s, Images images)
    {
        s.Validate();
        var words = new List<string>();
        var modules = new List<KernelLoader.Module>();
        void Add(string driver)
        {
            var module = images.Module(driver);
            if (modules.Any(m => m.Name == module.Name)) throw new ArgumentException($"domain {module.Name} given twice");
            modules.Add(module);
        }
        if (s.Workload != null)
        {
            words.Add($"workload={s.Workload} threads={s.Threads} duration={s.Duration} seed={s.Seed}");
            if (s.UsesNic) words.Add("nic=ixgbe");
            if (s.RxInterrupts) words.Add("rxirq=msix");
            if (s.TxPayloadBytes != MaxPayloadBytes) words.Add($"payload={s.TxPayloadBytes}");
            if (s.Workload == "nullblk") words.Add($"depth={s.Depth}");
        }
        if (s.Isolate.Count > 0)
        {
            foreach (var d in s.Isolate) Add(d == "ixgbe" && s.IxgbeAttack != null ? "ixgbe_attack" : d);
            if (s.IxgbeAttack != null) words.Add($"ixgbeattack={s.IxgbeAttack}");
            words.Add($"isolate={string.Join(',', s.Isolate)} crossings={s.Crossings}");
            if (s.Restart != null) words.Add($"lvdrestart={RestartWord(s.Restart)}");
        }
        if (s.FaultPlan != null)
        {
            modules.Add(new KernelLoader.Module("faultplan", s.FaultPlan));
            words.Add("faults");
        }
        foreach (var d in s.UserDomains)
        {
            Add(d);
            words.Add($"domain={modules[^1].Name}");
        }
        if (s.UserCalls != null) words.Add($"domaincalls={s.UserCalls}");
        if (s.Selftest || (s.Bench != null && s.NeedsHypervisor)) Add("selftest");
        if (s.Selftest)
        {
            Add("selftest_huge");   // a .bss larger than domain memory: must be refused (lvd_test.c)
            // One fresh domain per misbehaviour, and a killed domain's memory is not reused yet
            // (docs/THREAT-MODEL.md): ~90 domains of ~1 MiB on 4 CPUs.
            // The per-call budget at 20 ms (default 100) keeps the two endless loops short.
            words.Add("lvdtest domainmem=128 lvdbudget=20");
        }
        if (s.Bench != null) words.Add($"lvdbench={s.Bench}");
        if (s.ExtraCmdline.Length > 0) words.Insert(0, s.ExtraCmdline);
        return (string.Join(' ', words), modules);
    }

    /// <summary>
    /// Boots the kernel for a spec and returns the run (serial captured unless a stream is given); <paramref name="setup"/>
    /// sees the machine after the hypervisor is installed, before the first instruction.
    /// </summary>
    public static ProgramResult Run(LvdBootSpec s, Stream? serial = null, long maxInstructions = 20_000_000_000,
        Lvd.Machine.Cost.CostModel? costs = null, Images? images = null, Action<Lvd.Machine.Machine>? setup = null,
        Func<RunOptions, RunOptions>? configure = null)
    {
        images ??= new Images(GuestCompiler.Locate());
        string elf = s.UsesNic ? images.IxgbeKernel : images.Kernel;
        var (cmdline, modules) = Prepare(s, images);
        var options = new RunOptions
        {
            CpuCount = s.Cpus,
            MemoryBytes = (ulong)s.MemoryMiB << 20,
            KernelCommandLine = cmdline,
            BootModules = modules,
            SerialOut = serial,
            CaptureSerial = serial == null,
            MaxInstructions = maxInstructions,
            Costs = costs ?? Lvd.Machine.Cost.CostModel.Default,
            Devices = s.Devices,
        }.With(s.NeedsHypervisor ? HypervisorMode.OnRequest : HypervisorMode.None);
        if (setup != null)
        {
            var installed = options.Setup;
            options = options with { Setup = m => { installed?.Invoke(m); setup(m); } };
        }
        if (configure != null) options = configure(options);
        return ProgramRunner.Run(elf, options);
    }

    [GeneratedRegex(@"^result: workload=(?<w>[\w-]+) .*?(?:packets|ios)=(?<n>\d+) cycles=(?<c>\d+) (?:pkts_per_sec|iops)=(?<r>\d+) "
        + @"(?:cycles_per_packet|cycles_per_io)=(?<k>\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ResultLine();

    [GeneratedRegex(@"^lvd: domain \S+: (?<calls>\d+) calls, (?<up>\d+) upcalls, (?<irq>\d+) interrupts inside", RegexOptions.Multiline)]
    private static partial Regex DomainStats();

    /// <summary>The workload result of a finished run; a clear error if the run failed or printed none.</summary>
    public static LvdWorkloadResult Parse(ProgramResult r, string log)
    {
        if (r.ExitStatus != 0)
            throw new InvalidOperationException($"the guest run failed (exit status " +
                $"{r.ExitStatus}){(r.Run.CrashReport != null ? ": " + r.Run.CrashReport.Trim() : "")}\n{Tail(log)}");
        var m = ResultLine().Match(log);
        if (!m.Success) throw new InvalidOperationException("the kernel printed no result line:\n" + Tail(log));
        var exits = new Dictionary<string, long>();
        long total = 0;
        foreach (var c in r.Machine.Cpus)
            for (int reason = 0; reason < c.ExitsByReason.Length; reason++)
            {
                if (c.ExitsByReason[reason] == 0) continue;
                string name = Enum.IsDefined(typeof(Lvd.Machine.Vmx.ExitReason),
                    (ushort)reason) ? ((Lvd.Machine.Vmx.ExitReason)reason).ToString() : $"reason{reason}";
                exits[name] = exits.GetValueOrDefault(name) + c.ExitsByReason[reason];
                total += c.ExitsByReason[reason];
            }
        long calls = 0, irqs = 0;
        foreach (Match d in DomainStats().Matches(log))
        {
            calls += long.Parse(d.Groups["calls"].Value) + long.Parse(d.Groups["up"].Value);
            irqs += long.Parse(d.Groups["irq"].Value);
        }
        return new LvdWorkloadResult(m.Value.Trim(), long.Parse(m.Groups["n"].Value), long.Parse(m.Groups["c"].Value),
            long.Parse(m.Groups["r"].Value), long.Parse(m.Groups["k"].Value), r.Machine.Cpus.Sum(c => c.VmFuncs), total, exits, calls, irqs);
    }

    [GeneratedRegex(@"^lvd: (?<n>\S+): calls: (?<done>\d+) of (?<req>\d+), cycles total (?<sum>\d+) median (?<med>\d+) min (?<min>\d+) " +
        @"max (?<max>\d+), vmfuncs (?<f>\d+), vm_exits (?<e>\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex UserCallsLine();

    [GeneratedRegex(@"^lvd: (?<n>\S+): driver_call returned (?<r>-?\d+), w1 = (?<w>0x[0-9a-f]+|0)\s*$", RegexOptions.Multiline)]
    private static partial Regex UserReturnLine();

    /// <summary>
    /// What became of each user's driver of a boot (the kernel's lines, lvd_drivers.c and lvd.c;
    /// a domain cannot forge them: its output is prefixed "[domain NAME]").
    /// </summary>
    public static IReadOnlyList<UserDomainResult> ParseUserDomains(LvdBootSpec s, string log)
    {
        var lines = log.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        var results = new List<UserDomainResult>();
        foreach (var driver in s.UserDomains)
        {
            string n = DomainBuilder.Name(driver);
            string? Line(string prefix) => lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
            string? killed = Line($"lvd: domain {n} killed on cpu ");
            string? refused = Line($"lvd: domain {n} refused:") ?? Line($"lvd: module {n}:") ?? Line($"lvd: no boot module named {n}");
            string? initFailed = Line($"lvd: domain {n}: init failed");
            string? callFailed = Line($"lvd: {n}: call failed");
            bool notStarted = lines.Contains($"lvd: {n}: not started (see above)");
            var ret = UserReturnLine().Matches(log).FirstOrDefault(m => m.Groups["n"].Value == n);
            var calls = UserCallsLine().Matches(log).FirstOrDefault(m => m.Groups["n"].Value == n);
            var (outcome, detail) =
                killed != null ? ("killed", killed) :
                refused != null ? ("refused", refused) :
                initFailed != null || notStarted ? ("init_failed", initFailed ?? $"lvd: {n}: not started") :
                callFailed != null ? ("call_failed", callFailed) :
                ret != null ? ("answered", ret.Value.Trim()) : ("not_reported", "the run ended before the kernel reported it");
            long G(string g) => calls == null ? 0 : long.Parse(calls.Groups[g].Value);
            results.Add(new UserDomainResult(n, outcome, detail, s.UserCalls ?? 1,
                calls != null ? G("done") : ret != null ? 1 : 0,
                calls == null ? null : new UserCallTimings(G("sum"), G("med"), G("min"), G("max"), G("f"), G("e")),
                ret == null ? null : long.Parse(ret.Groups["r"].Value)));
        }
        return results;
    }

    /// <summary>
    /// The exit status of `lvd boot` for its users' drivers when the kernel itself ended well:
    /// <see cref="ProgramReport.StatusDriverKilled"/> if one was killed or a call to it failed,
    /// <see cref="ProgramReport.StatusDriverNotStarted"/> if one was refused or failed its init, else 0.
    /// </summary>
    public static int UserDomainStatus(IEnumerable<UserDomainResult> results)
    {
        var list = results.ToList();
        if (list.Any(r => r.Outcome is "killed" or "call_failed" or "not_reported")) return ProgramReport.StatusDriverKilled;
        if (list.Any(r => r.Outcome is "refused" or "init_failed")) return ProgramReport.StatusDriverNotStarted;
        return 0;
    }

    private static string Tail(string log)
    {
        var lines = log.Split('\n');
        return string.Join('\n', lines.Skip(Math.Max(0, lines.Length - 15)));
    }
}
