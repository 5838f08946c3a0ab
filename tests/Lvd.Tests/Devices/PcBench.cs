using MachineT = Lvd.Machine.Machine;
using Lvd.Machine.Devices;

namespace Lvd.Tests.Devices;

/// <summary>
/// A PC-platform machine whose devices a test drives directly, as a vCPU's IN, OUT and MMIO
/// accesses would at a chosen modeled time, with the timed events fired in order up to it.
/// </summary>
public sealed class PcBench
{
    public MachineT Machine { get; }
    public Cpu Cpu => Machine.Cpus[0];
    public PcDevices Pc => Machine.Pc!;
    public MemoryStream Output { get; } = new();

    public PcBench(int cpus = 1, bool pacing = false)
    {
        Machine = new MachineT(new MachineConfig
        {
            Platform = MachinePlatform.Pc, CpuCount = cpus, MemoryBytes = 64UL << 20, SerialOut = Output, SerialPacing = pacing,
        });
        // Software-enable every local APIC (SVR bit 8), as an OS does before taking interrupts.
        foreach (var a in Machine.Apics) a.Write(0x80f, 0x1ff);
    }

    public long Hz => Machine.Costs.ClockHz;

    /// <summary>Moves modeled time to <paramref name="cycles"/> (never back), firing the device events due by then.</summary>
    public void At(long cycles)
    {
        if (cycles < Cpu.Cycles) throw new ArgumentOutOfRangeException(nameof(cycles), "time runs forward");
        while (Machine.Timers.Next <= cycles)
        {
            long t = Machine.Timers.Next;
            foreach (var c in Machine.Cpus) c.Cycles = Math.Max(c.Cycles, t);
            Machine.Timers.RunDue(t);
        }
        foreach (var c in Machine.Cpus) c.Cycles = Math.Max(c.Cycles, cycles);
    }

    public void Advance(long cycles) => At(Cpu.Cycles + cycles);

    public byte In(ushort port) => (byte)Machine.Io.In(Cpu, port, 1);
    public ulong In(ushort port, int size) => Machine.Io.In(Cpu, port, size);
    public void Out(ushort port, ulong value, int size = 1) => Machine.Io.Out(Cpu, port, size, value);

    public uint ReadMmio(ulong pa) => (uint)Machine.Memory.Read(pa, 4, Cpu);
    public void WriteMmio(ulong pa, uint value) => Machine.Memory.Write(pa, 4, value, Cpu);

    /// <summary>Programs I/O APIC redirection entry <paramref name="pin"/> (low dword <paramref name="low"/>, destination APIC ID).</summary>
    public void Route(int pin, uint low, uint destination = 0)
    {
        WriteMmio(IoApic.DefaultBase, (uint)(0x11 + 2 * pin));
        WriteMmio(IoApic.DefaultBase + 0x10, destination << 24);
        WriteMmio(IoApic.DefaultBase, (uint)(0x10 + 2 * pin));
        WriteMmio(IoApic.DefaultBase + 0x10, low);
    }

    /// <summary>The vector the local APIC of vCPU <paramref name="cpu"/> would deliver now, accepted (IRR to ISR), or -1.</summary>
    public int TakeInterrupt(int cpu = 0)
    {
        int v = Machine.Apics[cpu].PendingVector();
        if (v >= 0) Machine.Apics[cpu].Accept(v);
        return v;
    }

    public void Eoi(int cpu = 0) => Machine.Apics[cpu].Write(0x80b, 0);

    public string OutputText => System.Text.Encoding.ASCII.GetString(Output.ToArray());
}
