using System.Diagnostics;
using Lvd.Machine.Cost;
using Lvd.Machine.Cpu;
using Lvd.Machine.Devices;
using Lvd.Machine.Memory;
using CpuCore = Lvd.Machine.Cpu.Cpu;

namespace Lvd.Machine;

public sealed record MachineConfig
{
    public ulong MemoryBytes { get; init; } = 256UL << 20;
    public int CpuCount { get; init; } = 1;
    public CostModel Costs { get; init; } = CostModel.Default;
    /// <summary>Where the serial port's output goes; null discards it.</summary>
    public Stream? SerialOut { get; init; }
    /// <summary>Keep a copy of serial output in memory (tests, reports).</summary>
    public bool CaptureSerial { get; init; }
    /// <summary>Print every executed instruction here (decodes one instruction per block: slow).</summary>
    public TextWriter? Trace { get; init; }
    /// <summary>RAM at the top reserved for a hypervisor (never given to the guest; 2 MiB multiple).</summary>
    public ulong HypervisorReservedBytes { get; init; }
}

public enum RunOutcome { Exited, Crashed, InstructionLimit, Deadlock, StoppedByHypervisor }

/// <summary>Platform firmware services a hypervisor registers (late launch through a CPUID leaf).</summary>
public interface IFirmwareService
{
    bool TryCpuid(Lvd.Machine.Cpu.Cpu cpu, uint leaf, uint subleaf, out (uint a, uint b, uint c, uint d) result);
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
public sealed class Machine : IPlatform
{
    /// <summary>Modeled cycles one vCPU runs before the scheduler looks again.</summary>
    public const long Quantum = 20_000;

    public MachineConfig Config { get; }
    public PhysicalMemory Memory { get; }
    public CostModel Costs { get; }
    public CodeCache Code { get; }
    public IoBus Io { get; } = new();
    public SerialPort Serial { get; }
    public CpuCore[] Cpus { get; }

    public int? ExitCode { get; private set; }

    /// <summary>Firmware hook of an installed hypervisor (null: none).</summary>
    public IFirmwareService? Firmware { get; set; }

    /// <summary>Why the hypervisor stopped the run, if it did.</summary>
    public string? StopReport { get; private set; }

    /// <summary>The hypervisor ends the whole run (e.g. a violation before domains exist).</summary>
    public void StopByHypervisor(string report)
    {
        StopReport ??= report.EndsWith('\n') ? report : report + "\n";
        foreach (var c in Cpus) c.StopRequested = true;
    }

    /// <summary>First byte of RAM reserved for the hypervisor (= RAM size without one).</summary>
    public ulong GuestRamTop => Memory.RamSize - Config.HypervisorReservedBytes;

    public Machine(MachineConfig config)
    {
        if (config.CpuCount < 1 || config.CpuCount > 64) throw new ArgumentOutOfRangeException(nameof(config), "1 to 64 vCPUs");
        if ((config.HypervisorReservedBytes & ((2UL << 20) - 1)) != 0 || config.HypervisorReservedBytes >= config.MemoryBytes)
            throw new ArgumentOutOfRangeException(nameof(config), "hypervisor reservation must be a 2 MiB multiple below the RAM size");
        Config = config;
        Costs = config.Costs;
        Memory = new PhysicalMemory(config.MemoryBytes);
        Code = new CodeCache(Memory);
        Serial = new SerialPort(config.SerialOut ?? Stream.Null, config.CaptureSerial);
        Io.Register(SerialPort.Com1, 8, Serial);
        Io.Register(ExitDevice.Port, 1, new ExitDevice(RequestExit));
        Cpus = new CpuCore[config.CpuCount];
        for (int i = 0; i < Cpus.Length; i++)
        {
            Cpus[i] = new CpuCore(i, Memory, Costs, this, config.Trace);
            Code.Attach(Cpus[i]);
        }
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
                if (StopReport != null) { outcome = RunOutcome.StoppedByHypervisor; crash = StopReport; break; }
                var shut = Array.Find(Cpus, c => c.State == CpuState.Shutdown);
                if (shut != null) { outcome = RunOutcome.Crashed; crash = CrashReport.Describe(this, shut); break; }
                if (TotalInstructions >= maxInstructions) { outcome = RunOutcome.InstructionLimit; break; }
                CpuCore? next = null;
                foreach (var c in Cpus)
                {
                    if (c.State == CpuState.Halted) c.TryWake();
                    if (c.State == CpuState.Running && (next == null || c.Cycles < next.Cycles)) next = c;
                }
                if (next == null)
                {
                    // Everyone is halted: skip idle time to the earliest timed event, if any.
                    CpuCore? sleeper = null;
                    foreach (var c in Cpus)
                        if (c.State == CpuState.Halted && c.NextTimedEvent != long.MaxValue && (sleeper == null || c.NextTimedEvent < sleeper.NextTimedEvent)) sleeper = c;
                    if (sleeper == null) { outcome = RunOutcome.Deadlock; crash = CrashReport.DescribeDeadlock(this); break; }
                    sleeper.SkipToNextTimedEvent();
                    continue;
                }
                long limit = next.Cycles + (Cpus.Length == 1 ? Quantum * 50 : Quantum);
                long total = TotalInstructions;
                next.Run(limit, maxInstructions == long.MaxValue ? long.MaxValue : next.Instructions + (maxInstructions - total));
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

    // ---- IPlatform ----

    public ulong PortIn(CpuCore cpu, ushort port, int size) => Io.In(cpu.Id, port, size);

    public void PortOut(CpuCore cpu, ushort port, int size, ulong value) => Io.Out(cpu.Id, port, size, value);

    public bool TryReadMsr(CpuCore cpu, uint msr, out ulong value)
    {
        value = 0;
        return false;
    }

    public bool TryWriteMsr(CpuCore cpu, uint msr, ulong value) => false;

    public int PendingInterrupt(CpuCore cpu) => -1;

    public void AcknowledgeInterrupt(CpuCore cpu, int vector) { }

    public bool TryFirmwareCpuid(CpuCore cpu, uint leaf, uint subleaf, out (uint a, uint b, uint c, uint d) result)
    {
        result = default;
        return Firmware != null && Firmware.TryCpuid(cpu, leaf, subleaf, out result);
    }
}
