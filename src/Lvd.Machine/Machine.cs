using System.Diagnostics;
using Lvd.Machine.Cost;
using Lvd.Machine.Execution;
using Lvd.Machine.Devices;
using Lvd.Machine.Devices.Pci;
using Lvd.Machine.Memory;
using Lvd.Machine.Loader;

namespace Lvd.Machine;

/// <summary>The computer to build: RAM, vCPUs, the cost file, where serial output goes, profiling.</summary>
public record MachineConfig
{
    public ulong MemoryBytes { get; init; } = 256UL << 20;
    public int CpuCount { get; init; } = 1;
    public CostModel Costs { get; init; } = CostModel.Default;
    /// <summary>Where the serial port's output goes; null discards it.</summary>
    public Stream? SerialOut { get; init; }
    /// <summary>Keep a copy of serial output in memory (tests, reports).</summary>
    public bool CaptureSerial { get; init; }
    /// <summary>
    /// RAM at the top kept from the guest for software that runs in VMX root operation (firmware
    /// or a hypervisor): absent from the guest's memory map; a 2 MiB multiple.
    /// </summary>
    public ulong VmxRootReservedBytes { get; init; }
    /// <summary>Non-zero: sample each vCPU every this many modeled cycles (<see cref="Machine.Profiler"/>).</summary>
    public long ProfilePeriod { get; init; }
    /// <summary>Modeled cycle of a vCPU's clock at which its sampling starts (e.g. after the boot).</summary>
    public long ProfileStart { get; init; }
    /// <summary>
    /// Non-zero: each sample also records up to this many callers (the frame-pointer chain,
    /// <see cref="Diagnostics.Profiler.StackDepth"/>).
    /// </summary>
    public int ProfileStackDepth { get; init; }
    /// <summary>The devices beyond the CPUs and RAM (docs/PLATFORM.md).</summary>
    public MachinePlatform Platform { get; init; } = MachinePlatform.Lvd;
    /// <summary>
    /// TSC reads across vCPUs in the order they happen (<see cref="Execution.Cpu.TscSyncCycle"/>), as a synchronized
    /// invariant TSC on hardware; Linux checks it. Off (the LVD kernel's runs and figures): a vCPU's TSC is its own clock,
    /// and one vCPU may read a TSC below what another read just before by up to a scheduling slice.
    /// </summary>
    public bool SynchronizedTsc { get; init; }
    /// <summary>`--timing detailed`: data caches and branch predictors add their cycles (docs/COST-MODEL.md, Detailed timing).</summary>
    public bool DetailedTiming { get; init; }
    /// <summary>COM1 transmits at its programmed baud rate in modeled time (otherwise a byte leaves at once).</summary>
    public bool SerialPacing { get; init; }
    /// <summary>The CMOS RTC's date at modeled time zero (<see cref="MachinePlatform.Pc"/>).</summary>
    public DateTime RtcStart { get; init; } = CmosRtc.DefaultStart;
    /// <summary>Where the firmware puts its ACPI tables, the RSDP first (<see cref="MachinePlatform.Pc"/>).</summary>
    public ulong AcpiTablesAddress { get; init; } = 0xe0000;
    /// <summary>
    /// Non-null: the MADT names this 4 KiB multiprocessor-wakeup mailbox and the firmware parks the APs on it
    /// (<see cref="Firmware.MpWakeupMailbox"/>: a page outside RAM, e.g. its DefaultAddress; 3 pages of RAM after the ACPI
    /// tables hold the hand-off page tables and GDT).
    /// </summary>
    public ulong? AcpiMpWakeupMailbox { get; init; }
    /// <summary>Devices beyond the platform's (a NIC, an IOMMU), made in this order (docs/PLATFORM.md).</summary>
    public IReadOnlyList<DeviceSpec> Devices { get; init; } = [];
    /// <summary>
    /// How the vCPUs run guest code on the host (`--engine`): the interpreter alone, or with hot regions compiled to IL
    /// (docs/HOST-SPEED.md, tier 1). Modeled time, output and the schedule are the same either way. The default is
    /// <see cref="DefaultEngine"/> (jit unless the CLI's --engine set it for the process).
    /// </summary>
    public ExecutionEngine Engine { get; init; } = DefaultEngine;
    /// <summary>Compile regions on the vCPU's thread, at once (tests: the same results as compiling in the background).</summary>
    public bool SynchronousCompile { get; init; }
    /// <summary>
    /// A block's runs before its region is compiled (tests lower it so that nearly all code runs compiled); the environment
    /// variable LVD_JIT_THRESHOLD sets the default (the measurements of docs/HOST-SPEED.md).
    /// </summary>
    public long JitThreshold { get; init; } =
        long.TryParse(Environment.GetEnvironmentVariable("LVD_JIT_THRESHOLD"), out long t) && t >= 1 ? t : Translation.RegionJit.DefaultHotThreshold;

    /// <summary>The engine of machines whose config does not name one: the CLI sets it from --engine before any work.</summary>
    public static ExecutionEngine DefaultEngine { get; set; } =
        Environment.GetEnvironmentVariable(EngineVariable) == "interp" ? ExecutionEngine.Interp : ExecutionEngine.Jit;

    /// <summary>The environment variable that carries --engine to the lvd processes a command starts (interp or jit).</summary>
    public const string EngineVariable = "LVD_ENGINE";
}

/// <summary>`--engine`: how guest code runs on the host (docs/HOST-SPEED.md).</summary>
public enum ExecutionEngine
{
    /// <summary>The block interpreter (tier 0) only.</summary>
    Interp,
    /// <summary>The interpreter, with hot regions compiled to IL in the background (tier 1, Translation/).</summary>
    Jit,
}

/// <summary>Which devices the machine has besides its CPUs (with their x2APICs) and RAM.</summary>
public enum MachinePlatform
{
    /// <summary>What the LVD kernel and programs use: COM1 (no interrupt wire) and the exit port 0xF4.</summary>
    Lvd,
    /// <summary>
    /// A PC as Linux probes it: also the I/O APIC, the 8259 pair, the 8254, ports 0x61 and 0x80,
    /// the CMOS RTC, PCI configuration space with a host bridge, ACPI tables; COM1 on IRQ 4.
    /// </summary>
    Pc,
}

public enum RunOutcome { Exited, Crashed, InstructionLimit, Deadlock, StoppedByVmxRoot, StoppedByDebugger, Interrupted }

/// <summary>Platform firmware services VMX-root software registers (e.g. late launch through a CPUID leaf).</summary>
public interface IFirmwareService
{
    bool TryCpuid(Cpu cpu, uint leaf, uint subleaf, out (uint a, uint b, uint c, uint d) result);
    /// <summary>The firmware started an application processor (the wakeup mailbox): its state is set, its first instruction next.</summary>
    void ProcessorStarted(Cpu cpu);
}

public sealed record RunResult(
    RunOutcome Outcome,
    int ExitCode,
    long Instructions,
    long Cycles,
    double HostSeconds,
    string? CrashReport);

/// <summary>
/// The emulated computer: guest-physical memory, vCPUs, the code cache, the I/O bus and its
/// devices. It schedules vCPUs by modeled time (always the one furthest behind), so runs are
/// deterministic and parallel guest work shows parallel speedup in modeled time.
/// </summary>
public sealed class Machine : IPlatform, IInterruptSink
{
    /// <summary>Modeled cycles one vCPU runs before the scheduler looks again.</summary>
    public const long Quantum = 20_000;

    /// <summary>
    /// A vCPU spinning (PAUSE) yields once its clock is this far past the next other running
    /// vCPU's: about the time a released lock's cache line takes to reach another core.
    /// </summary>
    public const long SpinSlack = 200;

    [field: Diagnostics.NotMachineState]
    public MachineConfig Config { get; }
    public PhysicalMemory Memory { get; }
    public CostModel Costs { get; }
    public CodeCache Code { get; }
    /// <summary>The region compiler (tier 1); null with the interpreter alone. Host state, not the machine's.</summary>
    [Diagnostics.NotMachineState] internal Translation.RegionJit? Jit;
    /// <summary>Regions compiled so far (0 with <see cref="ExecutionEngine.Interp"/>).</summary>
    public long RegionsCompiled => Jit?.Compiled ?? 0;
    /// <summary>Host seconds the region compiler spent (on its thread, or the vCPUs' with synchronous compiles).</summary>
    public double RegionCompileSeconds => Jit?.CompileSeconds ?? 0;
    /// <summary>Regions the vCPUs entered.</summary>
    public long RegionRuns { get { long n = 0; foreach (var c in Cpus) n += c.RegionRuns; return n; } }
    public IoBus Io { get; }
    /// <summary>COM1, a 16550A (on IRQ 4 on the PC platform).</summary>
    public Uart16550 Serial { get; }
    /// <summary>Devices' timed events (the scheduler honours them).</summary>
    public TimedEvents Timers { get; } = new();
    /// <summary>Port and memory accesses no device claimed (they read all ones).</summary>
    public UnclaimedAccesses Unclaimed { get; } = new();
    /// <summary>The PC platform's devices and firmware tables (<see cref="MachinePlatform.Pc"/>), or null.</summary>
    public PcDevices? Pc { get; }
    /// <summary>
    /// PCI bus 0 (ports 0xCF8-0xCFF with the host bridge at 00:00.0): on the PC platform, and on the
    /// Lvd platform once a device needs it (<see cref="EnsurePci"/>); otherwise null, so a machine
    /// without PCI devices has none of its ports.
    /// </summary>
    public PciBus? Pci { get; private set; }
    /// <summary>Every device of the machine in the order it was made: the platform's, then <see cref="MachineConfig.Devices"/>.</summary>
    public IReadOnlyList<IMachineDevice> Devices => _devices;
    private readonly List<IMachineDevice> _devices = new();
    /// <summary>The one path of device DMA to memory (through the IOMMU when one translates it).</summary>
    public DmaPath Dma { get; }
    public Cpu[] Cpus { get; }
    /// <summary>The x2APIC of each vCPU (index = APIC ID = vCPU id).</summary>
    public LocalApic[] Apics { get; }

    /// <summary>How APs start on INIT/SIPI (set by the kernel loader; docs/BOOT.md).</summary>
    public ApStartup? ApStartup { get; set; }

    public int? ExitCode { get; private set; }

    /// <summary>Firmware hook of installed VMX-root software (null: none).</summary>
    public IFirmwareService? Firmware { get; set; }

    /// <summary>The sampling profiler (<see cref="MachineConfig.ProfilePeriod"/>), or null when off.</summary>
    public Diagnostics.Profiler? Profiler { get; }

    /// <summary>The recorder of rare events (<see cref="AttachEvents"/>: timelines), or null.</summary>
    public Diagnostics.IMachineEvents? Events { get; private set; }

    /// <summary>Reports VMFUNCs, VM exits, IDT deliveries and VMX-root markers to <paramref name="events"/> from now on.</summary>
    public void AttachEvents(Diagnostics.IMachineEvents events)
    {
        // A second recorder (a trace beside a timeline) hears the same events.
        if (Events != null) events = new Diagnostics.MachineEventsPair(Events, events);
        Events = events;
        foreach (var c in Cpus) c.AttachEvents(events);
    }

    /// <summary>The attached debugger (<see cref="AttachDebugger"/>), or null.</summary>
    public Diagnostics.DebugControl? Debugger { get; private set; }

    /// <summary>
    /// Attaches a debugger: <paramref name="stopped"/> is called on the machine's thread whenever a
    /// vCPU stops (breakpoint, step, watchpoint, break request) and the run resumes when it returns.
    /// </summary>
    public Diagnostics.DebugControl AttachDebugger(Action<Cpu, Diagnostics.DebugStop> stopped)
    {
        if (Debugger?.Stopped != null) throw new InvalidOperationException("a debugger is already attached");
        var d = DebugControlOf();
        d.Stopped = stopped;
        return d;
    }

    /// <summary>Shows <paramref name="tracer"/> each instruction of <paramref name="window"/> (beside a debugger, if one is attached).</summary>
    public void AttachTracer(Diagnostics.IInstructionTracer tracer, Diagnostics.TraceWindow window) => DebugControlOf().Trace(tracer, window);

    private Diagnostics.DebugControl DebugControlOf()
    {
        if (Debugger != null) return Debugger;
        Debugger = new Diagnostics.DebugControl(this, null);
        foreach (var c in Cpus) c.AttachDebugger(Debugger);
        return Debugger;
    }

    /// <summary>Checkpoints (<see cref="SetCheckpoints"/>): the interval in modeled cycles, the next one, the callback.</summary>
    [Diagnostics.NotMachineState] private long _checkpointInterval;
    [Diagnostics.NotMachineState] private long _nextCheckpoint = long.MaxValue;
    [Diagnostics.NotMachineState] private Action<Machine>? _checkpoint;

    /// <summary>
    /// Calls <paramref name="at"/> on the machine's thread each time the latest vCPU clock has passed another
    /// <paramref name="interval"/> modeled cycles, at the top of the run loop: every vCPU between two blocks, no
    /// device event due, the point from which a <see cref="Diagnostics.MachineSnapshot"/> taken there resumes exactly.
    /// Null stops it. Costs nothing to the modeled run.
    /// </summary>
    public void SetCheckpoints(long interval, Action<Machine>? at)
    {
        if (at != null && interval <= 0) throw new ArgumentOutOfRangeException(nameof(interval), "the checkpoint interval must be positive");
        _checkpoint = at;
        _checkpointInterval = interval;
        _nextCheckpoint = at == null ? long.MaxValue : (LatestClock / interval + 1) * interval;
    }

    /// <summary>The latest vCPU clock: the machine's progress in modeled time.</summary>
    public long LatestClock
    {
        get
        {
            long t = 0;
            foreach (var c in Cpus) t = Math.Max(t, c.Cycles);
            return t;
        }
    }

    /// <summary>A debugger ended the run (kill): the run stops with this report.</summary>
    public void StopFromDebugger(string report)
    {
        StopReport ??= report.EndsWith('\n') ? report : report + "\n";
        DebuggerKilled = true;
        foreach (var c in Cpus) c.StopRequested = true;
    }

    /// <summary>The run was ended by the debugger (<see cref="StopFromDebugger"/>).</summary>
    public bool DebuggerKilled { get; private set; }

    /// <summary>Why VMX-root software stopped the run, if it did.</summary>
    public string? StopReport { get; private set; }

    /// <summary>VMX-root software ends the whole run (e.g. a hypervisor's policy refuses to go on).</summary>
    public void StopFromVmxRoot(string report)
    {
        StopReport ??= report.EndsWith('\n') ? report : report + "\n";
        foreach (var c in Cpus) c.StopRequested = true;
    }

    /// <summary>First byte of RAM kept for VMX root (= RAM size without a reservation).</summary>
    public ulong GuestRamTop => Memory.RamSize - Config.VmxRootReservedBytes;

    public Machine(MachineConfig config)
    {
        if (config.CpuCount < 1 || config.CpuCount > 64) throw new ArgumentOutOfRangeException(nameof(config), "1 to 64 vCPUs");
        if ((config.VmxRootReservedBytes & ((2UL << 20) - 1)) != 0 || config.VmxRootReservedBytes >= config.MemoryBytes)
            throw new ArgumentOutOfRangeException(nameof(config), "the VMX-root reservation must be a 2 MiB multiple below the RAM size");
        if (config.Platform == MachinePlatform.Pc && config.MemoryBytes > IoApic.DefaultBase)
            throw new ArgumentOutOfRangeException(nameof(config), "the PC platform's RAM must end below its MMIO at 0xfec00000");
        Config = config;
        Costs = config.Costs;
        Memory = new PhysicalMemory(config.MemoryBytes, Unclaimed) { Now = () => Now };
        Io = new IoBus(Unclaimed);
        Code = new CodeCache(Memory);
        Timers.OnArmed = when => _running?.LimitSlice(when);
        bool pc = config.Platform == MachinePlatform.Pc;
        Serial = new Uart16550(config.SerialOut ?? Stream.Null, config.CaptureSerial, Timers, Costs.ClockHz, config.SerialPacing,
            pc ? (high, now) => Pc!.SetIsaIrq(Uart16550.Com1Irq, high, now) : null);
        Io.Register(Uart16550.Com1, 8, Serial);
        Register(Serial);
        var exit = new ExitDevice(RequestExit);
        Io.Register(ExitDevice.Port, 1, exit);
        Register(exit);
        Dma = new DmaPath(Memory, Unclaimed);
        Cpus = new Cpu[config.CpuCount];
        Apics = new LocalApic[config.CpuCount];
        for (int i = 0; i < Cpus.Length; i++)
        {
            Cpus[i] = new Cpu(i, Memory, Costs, this);
            Apics[i] = new LocalApic(this, Cpus[i]);
            Code.Attach(Cpus[i]);
        }
        // Tier 1 is off with detailed timing: its branch predictor and caches sit in the interpreter's paths.
        if (config.Engine == ExecutionEngine.Jit && !config.DetailedTiming)
        {
            Jit = new Translation.RegionJit(config.SynchronousCompile, config.JitThreshold);
            foreach (var c in Cpus) c.AttachJit(Jit);
        }
        if (config.DetailedTiming)
        {
            var llc = DataCaches.NewSharedLlc();
            foreach (var c in Cpus) c.EnableDetailedTiming(new DataCaches(llc, Costs), new BranchPredictor(Costs));
        }
        if (pc) Pc = new PcDevices(this);
        foreach (var spec in config.Devices) Register(spec.Create(this));
        if (config.ProfilePeriod != 0)
        {
            Profiler = new Diagnostics.Profiler(config.ProfilePeriod, Cpus.Length, config.ProfileStackDepth);
            for (int i = 0; i < Cpus.Length; i++)
                Cpus[i].AttachProfile(Profiler.Vcpus[i], config.ProfilePeriod, config.ProfileStart, config.ProfileStackDepth);
        }
    }

    /// <summary>Adds <paramref name="device"/> to <see cref="Devices"/>.</summary>
    public void Register(IMachineDevice device) => _devices.Add(device);

    /// <summary>The first registered device of type <typeparamref name="T"/>, or null.</summary>
    public T? Device<T>() where T : class, IMachineDevice
    {
        foreach (var d in _devices) if (d is T t) return t;
        return null;
    }

    /// <summary>PCI bus 0, made (with its host bridge and ports) the first time a device asks.</summary>
    public PciBus EnsurePci()
    {
        if (Pci != null) return Pci;
        Pci = new PciBus(Memory, Io);
        Io.Register(PciBus.AddressPort, 8, Pci);
        Pci.Add(0, 0, PciFunction.HostBridge());
        return Pci;
    }

    private volatile bool _interrupted;
    /// <summary>The vCPU whose slice is running (null between slices), and the time of the last timed event fired.</summary>
    private Cpu? _running;
    private long _eventTime;
    /// <summary>Idle skips in a row to device events that woke no vCPU (<see cref="MaxIdleDeviceEvents"/>).</summary>
    private long _idleDeviceEvents;

    /// <summary>
    /// Idle skips in a row to device events that wake nobody after which the run is a deadlock
    /// (e.g. a timer interrupt every vCPU ignores).
    /// </summary>
    public const long MaxIdleDeviceEvents = 100_000;

    /// <summary>The machine's modeled time for an access no vCPU makes: the running vCPU's clock, else the last timed event's.</summary>
    public long Now => _running?.Cycles ?? _eventTime;

    /// <summary>
    /// From another thread (a user's Ctrl-C): end the run at the next block boundary of the
    /// running vCPU, with <see cref="RunOutcome.Interrupted"/>; the vCPUs keep their state for a report.
    /// </summary>
    public void Interrupt()
    {
        _interrupted = true;
        foreach (var c in Cpus) c.StopRequested = true;
    }

    public void RequestExit(int code)
    {
        ExitCode ??= code;
        foreach (var c in Cpus) c.StopRequested = true;
    }

    public long TotalInstructions
    {
        get { long n = 0; foreach (var c in Cpus) n += c.Instructions; return n; }
    }

    /// <summary>Runs until the guest exits, a vCPU crashes, the instruction limit is hit, or no vCPU can make progress.</summary>
    public RunResult Run(long maxInstructions = long.MaxValue)
    {
        var sw = Stopwatch.StartNew();
        RunOutcome outcome;
        string? crash = null;
        try
        {
            while (true)
            {
                if (ExitCode != null) { outcome = RunOutcome.Exited; break; }
                if (_interrupted) { outcome = RunOutcome.Interrupted; break; }
                if (StopReport != null)
                {
                    outcome = DebuggerKilled ? RunOutcome.StoppedByDebugger : RunOutcome.StoppedByVmxRoot;
                    crash = StopReport;
                    break;
                }
                var shut = Array.Find(Cpus, c => c.State == CpuState.Shutdown);
                if (shut != null) { outcome = RunOutcome.Crashed; crash = CrashReport.Describe(this, shut); break; }
                if (TotalInstructions >= maxInstructions) { outcome = RunOutcome.InstructionLimit; break; }
                if (_checkpoint != null && LatestClock >= _nextCheckpoint)
                {
                    _nextCheckpoint = (LatestClock / _checkpointInterval + 1) * _checkpointInterval;
                    _checkpoint(this);
                    continue;
                }
                Cpu? next = null;
                long secondCycles = long.MaxValue;
                foreach (var c in Cpus)
                {
                    if (c.State == CpuState.Halted) c.TryWake();
                    if (c.State != CpuState.Running) continue;
                    if (next == null || c.Cycles < next.Cycles)
                    {
                        if (next != null) secondCycles = next.Cycles;
                        next = c;
                    }
                    else if (c.Cycles < secondCycles) secondCycles = c.Cycles;
                }
                if (next == null)
                {
                    // Everyone is halted: skip idle time to the earliest timed event, if any.
                    if (!SkipIdleTime()) { outcome = RunOutcome.Deadlock; crash = CrashReport.DescribeDeadlock(this); break; }
                    continue;
                }
                _idleDeviceEvents = 0;
                // Device events fire once every running vCPU's clock has reached them.
                long device = Timers.Next;
                if (device <= next.Cycles)
                {
                    FireTimers(next.Cycles);
                    continue;
                }
                // A vCPU runs at most a quantum ahead, and stops at its own next timer event and the next device event.
                long limit = next.Cycles + (Cpus.Length == 1 ? Quantum * 50 : Quantum);
                long timer = Apics[next.Id].NextTimerEvent;
                if (timer < limit) limit = Math.Max(timer, next.Cycles + 1);
                if (device < limit) limit = device;
                next.PauseYieldCycle = secondCycles == long.MaxValue ? long.MaxValue : secondCycles + SpinSlack;
                if (Config.SynchronizedTsc) next.TscSyncCycle = secondCycles;
                long total = TotalInstructions;
                _running = next;
                try
                {
                    next.Run(limit, maxInstructions == long.MaxValue ? long.MaxValue : next.Instructions + (maxInstructions - total));
                }
                finally
                {
                    _running = null;
                }
            }
        }
        catch (MachineCheck mc)
        {
            outcome = RunOutcome.Crashed;
            crash = "machine check: " + mc.Message;
        }
        Serial.Flush();
        long cycles = 0;
        foreach (var c in Cpus) cycles = Math.Max(cycles, c.Cycles);
        return new RunResult(outcome, ExitCode ?? 0, TotalInstructions, cycles, sw.Elapsed.TotalSeconds, crash);
    }

    /// <summary>
    /// All vCPUs are halted: advance the clock of the one with the earliest timed event (APIC
    /// timer, VMX-preemption timer) to it. Halted time is idle time, so this is exact.
    /// </summary>
    private bool SkipIdleTime()
    {
        Cpu? sleeper = null;
        long when = long.MaxValue;
        foreach (var c in Cpus)
        {
            if (c.State != CpuState.Halted) continue;
            long t = Math.Min(c.NextTimedEvent, Apics[c.Id].NextWakeEvent(c.AcceptsInterruptsWhileHalted));
            if (t < when) { when = t; sleeper = c; }
        }
        // A device event that can wake a vCPU (its interrupt pin is unmasked) comes first; it
        // fires, with the events before it, and its interrupt brings its target's clock there.
        long device = Timers.NextWake;
        if (device < when)
        {
            if (++_idleDeviceEvents > MaxIdleDeviceEvents) return false;
            FireTimers(device);
            return true;
        }
        if (sleeper == null) return false;
        if (sleeper.NextTimedEvent == when) { sleeper.SkipToNextTimedEvent(); return true; }
        if (sleeper.Cycles < when) sleeper.Cycles = when;
        Apics[sleeper.Id].UpdateTimer();
        // Only timers that can wake their vCPU count (NextWakeEvent), so this one does; the next
        // round finds the next event, or the deadlock when none is left.
        sleeper.TryWake();
        return true;
    }

    /// <summary>
    /// An interprocessor interrupt from <paramref name="from"/> (SDM 11.6): fixed vectors go to
    /// the target APIC, NMIs to the CPU, INIT puts it in wait-for-SIPI, SIPI starts it through
    /// its mailbox (docs/BOOT.md). A sleeping target's clock catches up with the sender's.
    /// </summary>
    public void DeliverIpi(Cpu from, Cpu target, int deliveryMode, int vector)
    {
        if (target.State is CpuState.Halted or CpuState.WaitForSipi && target.Cycles < from.Cycles) target.Cycles = from.Cycles;
        switch (deliveryMode)
        {
            case 0: // fixed
            case 1: // lowest priority, delivered as fixed
                Apics[target.Id].Raise(vector);
                break;
            case 4:
                target.RaiseNmi();
                break;
            case 5:
                if (target != from) target.State = CpuState.WaitForSipi;
                break;
            case 6:
                if (target.State == CpuState.WaitForSipi && ApStartup is { } start) start.Start(this, target);
                break;
        }
    }

    /// <summary>Fires the device events due by <paramref name="now"/>, in time order.</summary>
    private void FireTimers(long now)
    {
        long t = Timers.Next;
        while (t <= now)
        {
            _eventTime = t;
            Timers.RunDue(t);
            t = Timers.Next;
        }
    }

    /// <summary>
    /// An interrupt message from the I/O APIC (or a device's MSI) at modeled time
    /// <paramref name="now"/> (SDM 11.6.2, 11.12.10 in x2APIC mode): physical destination the
    /// APIC ID, logical by cluster and member mask, 0xFFFFFFFF every APIC. Fixed and NMI go to
    /// each target, lowest priority to one (the lowest APIC ID that matches, so runs are
    /// deterministic); other delivery modes (SMI, INIT, ExtINT) reach nobody. A halted target's
    /// clock catches up with the message.
    /// </summary>
    public int DeliverInterrupt(uint destination, bool logical, int deliveryMode, int vector, bool level, long now)
    {
        if (deliveryMode is not (0 or 1 or 4)) return 0;
        int n = 0;
        foreach (var target in Cpus)
        {
            var apic = Apics[target.Id];
            bool hit = logical ? apic.MatchesLogical(destination) : apic.MatchesPhysical(destination);
            if (!hit) continue;
            if (target.State is CpuState.Halted or CpuState.WaitForSipi && target.Cycles < now) target.Cycles = now;
            if (deliveryMode == 4) target.RaiseNmi();
            else apic.Raise(vector, level);
            n++;
            if (deliveryMode == 1) break;
        }
        return n;
    }

    /// <summary>A local APIC's EOI of a level-triggered vector, broadcast to the I/O APIC (SDM 11.8.5).</summary>
    internal void BroadcastEoi(int vector, long now) => Pc?.IoApic.EndOfInterrupt(vector, now);

    /// <summary>A message-signalled interrupt from a device: <paramref name="vector"/> on the vCPU with APIC ID <paramref name="apicId"/>.</summary>
    public void RaiseMsi(int apicId, int vector)
    {
        if ((uint)apicId < (uint)Apics.Length) Apics[apicId].Raise(vector);
    }

    // ---- IPlatform ----

    public int CpuCount => Cpus.Length;

    public ulong PortIn(Cpu cpu, ushort port, int size) => Io.In(cpu, port, size);

    public void PortOut(Cpu cpu, ushort port, int size, ulong value) => Io.Out(cpu, port, size, value);

    public bool TryReadMsr(Cpu cpu, uint msr, out ulong value)
    {
        var apic = Apics[cpu.Id];
        value = 0;
        if (!apic.Handles(msr)) return false;
        value = apic.Read(msr);
        return true;
    }

    public bool TryWriteMsr(Cpu cpu, uint msr, ulong value)
    {
        var apic = Apics[cpu.Id];
        if (!apic.Handles(msr)) return false;
        apic.Write(msr, value);
        return true;
    }

    public int PendingInterrupt(Cpu cpu) => Apics[cpu.Id].PendingVector();

    public void AcknowledgeInterrupt(Cpu cpu, int vector) => Apics[cpu.Id].Accept(vector);

    public bool TryFirmwareCpuid(Cpu cpu, uint leaf, uint subleaf, out (uint a, uint b, uint c, uint d) result)
    {
        result = default;
        return Firmware != null && Firmware.TryCpuid(cpu, leaf, subleaf, out result);
    }
}
