using MachineT = Lvd.Machine.Machine;

namespace Lvd.Tests.Devices;

/// <summary>
/// A machine whose devices a test drives directly, as a vCPU's accesses would at a chosen modeled
/// time, with the timed events fired in order up to it (<see cref="At"/>): the common part of
/// <see cref="PcBench"/> and <see cref="NicBench"/>.
/// </summary>
public abstract class DeviceBench
{
    public MachineT Machine { get; }
    public Cpu Cpu => Machine.Cpus[0];
    public long Hz => Machine.Costs.ClockHz;

    protected DeviceBench(MachineConfig config)
    {
        Machine = new MachineT(config);
        // Software-enable every local APIC (SVR bit 8), as an OS does before taking interrupts.
        foreach (var a in Machine.Apics) a.Write(0x80f, 0x1ff);
    }

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

    public uint ReadMmio(ulong pa) => (uint)Machine.Memory.Read(pa, 4, Cpu);
    public void WriteMmio(ulong pa, uint value) => Machine.Memory.Write(pa, 4, value, Cpu);
}
