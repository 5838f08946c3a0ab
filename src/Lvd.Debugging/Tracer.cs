using Lvd.Machine;
using Lvd.Machine.Diagnostics;
using Lvd.Machine.Execution;
using Lvd.Machine.Vmx;

namespace Lvd.Debugging;

/// <summary>
/// `--trace`: a text trace of a run in modeled time (docs/DEBUGGING.md). One line per executed
/// instruction of the <see cref="TraceWindow"/> (vCPU, modeled cycle, RIP, symbol, the
/// instruction, then the registers it changed with their new values), and one line per event
/// of the run (VMFUNC, VM exits, interrupts and exceptions, domain kills; filtered like a
/// timeline). The instructions come from the machine's <see cref="DebugControl"/>, which runs the
/// traced blocks one instruction at a time with their own costs, so a traced run has the modeled
/// cycles of a plain one. An event caused by an instruction is printed just before its line.
/// </summary>
public sealed class Tracer : IInstructionTracer, IMachineEvents
{
    /// <summary>The general registers in the order of their numbers (RAX = 0 ... R15 = 15).</summary>
    private static readonly string[] RegisterNames =
        ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

    private readonly TextWriter _out;
    private readonly Func<ulong, string?> _name;
    private readonly TimelineFilter _events;
    /// <summary>Per vCPU: the 16 general registers and RFLAGS before the instruction being traced.</summary>
    private readonly ulong[][] _before;
    private readonly ulong[] _rip;
    private readonly long[] _cycle;

    public long Lines { get; private set; }

    /// <param name="name">Names an address (function+offset), or null.</param>
    public Tracer(int cpus, TextWriter output, Func<ulong, string?> name, TimelineFilter events)
    {
        _out = output;
        _name = name;
        _events = events;
        _before = new ulong[cpus][];
        for (int i = 0; i < cpus; i++) _before[i] = new ulong[17];
        _rip = new ulong[cpus];
        _cycle = new long[cpus];
    }

    public void Before(Cpu cpu)
    {
        var regs = _before[cpu.Id];
        for (int r = 0; r < 16; r++) regs[r] = cpu.GetRegister(r);
        regs[16] = cpu.Rflags;
        _rip[cpu.Id] = cpu.Rip;
        _cycle[cpu.Id] = cpu.Cycles;
    }

    public void After(Cpu cpu)
    {
        int id = cpu.Id;
        ulong rip = _rip[id];
        var line = new System.Text.StringBuilder(160);
        line.Append($"cpu{id} {_cycle[id],14:N0}  {rip:x16}  {_name(rip) ?? "",-30} {CrashReport.Disassemble(cpu, rip),-34}");
        var regs = _before[id];
        for (int r = 0; r < 16; r++)
        {
            ulong now = cpu.GetRegister(r);
            if (now != regs[r]) line.Append($" {RegisterNames[r]}=0x{now:x}");
        }
        if (cpu.Rflags != regs[16]) line.Append($" rflags=0x{cpu.Rflags:x}");
        Write(line.ToString().TrimEnd());
    }

    private void Write(string line)
    {
        _out.WriteLine(line);
        Lines++;
    }

    private bool Wanted(TimelineKinds kind, Cpu cpu) => _events.Wants(kind, cpu.Id, cpu.Cycles, cpu.Cycles);

    private void Event(Cpu cpu, string what) => Write($"cpu{cpu.Id} {cpu.Cycles,14:N0}  == {what}");

    private static string Where(Cpu cpu) => cpu.NonRoot && cpu.Vmcs is { } v ? $"EPTP index {v.EptpIndex}" : cpu.NonRoot ? "non-root" : "root";

    public void Vmfunc(Cpu cpu, int from, int to, ulong eptp)
    {
        if (Wanted(TimelineKinds.Calls, cpu)) Event(cpu, $"VMFUNC: EPTP index {from} -> {to} (EPTP 0x{eptp:x})");
    }

    public void VmExit(Cpu cpu, ExitReason reason, ulong qualification, ulong rip, int eptpIndex, long startCycle)
    {
        if (Wanted(TimelineKinds.Exits, cpu))
            Event(cpu, $"VM exit {reason} ({(int)reason}), qualification 0x{qualification:x}, at 0x{rip:x} in EPTP index {eptpIndex}, " +
                $"{cpu.Cycles - startCycle:N0} cycles until the guest ran again");
    }

    public void Delivered(Cpu cpu, DeliveredEvent kind, int vector, uint errorCode)
    {
        var k = kind == DeliveredEvent.Exception ? TimelineKinds.Exceptions : TimelineKinds.Interrupts;
        if (!Wanted(k, cpu)) return;
        string what = kind switch { DeliveredEvent.Exception => $"exception {vector} (error code 0x{errorCode:x})",
            DeliveredEvent.Software => $"software interrupt {vector}", _ => $"interrupt vector {vector}" };
        Event(cpu, $"{what} at 0x{cpu.Rip:x}, {Where(cpu)}");
    }

    public void Note(Cpu cpu, string kind, string detail)
    {
        if (Wanted(TimelineKinds.Kills, cpu)) Event(cpu, $"{kind}: {detail}");
    }
}
