using Lvd.Machine.Devices;

namespace Lvd.Tests.Devices;

/// <summary>
/// A PC-platform machine whose devices a test drives directly, as a vCPU's IN, OUT and MMIO
/// accesses would at a chosen modeled time, with the timed events fired in order up to it.
/// </summary>
public sealed class PcBench : DeviceBench
{
    public PcDevices Pc => Machine.Pc!;
    public MemoryStream Output { get; }

    public PcBench(int cpus = 1, bool pacing = false) : this(new MemoryStream(), cpus, pacing) { }

    private PcBench(MemoryStream output, int cpus, bool pacing) : base(new MachineConfig
    {
        Platform = MachinePlatform.Pc, CpuCount = cpus, MemoryBytes = 64UL << 20, SerialOut = output, SerialPacing = pacing,
    }) => Output = output;

    public byte In(ushort port) => (byte)Machine.Io.In(Cpu, port, 1);
    public ulong In(ushort port, int size) => Machine.Io.In(Cpu, port, size);
    public void Out(ushort port, ulong value, int size = 1) => Machine.Io.Out(Cpu, port, size, value);

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
