using Lvd.Machine.Execution;

namespace Lvd.Machine.Devices;

/// <summary>
/// Port 0x61, the PC's system control port B (NMI status and control): bit 0 is the 8254's
/// counter 2 GATE, bit 1 the speaker data enable, bits 2-3 the parity and channel check
/// disables (all read back); bit 4 toggles every 15.085 us (the refresh clock, as timing loops
/// use it), bit 5 is counter 2's OUT; bits 6-7 (SERR, IOCHK) never assert here.
/// </summary>
public sealed class SystemControlPort(Pit8254 pit, long clockHz) : IPortDevice
{
    public const ushort Port = 0x61;
    /// <summary>The refresh toggle's half period, in picoseconds.</summary>
    public const long RefreshHalfPeriodPs = 15_085_000;

    private byte _bits;

    public ulong In(Cpu cpu, ushort port, int size)
    {
        long now = cpu.Cycles;
        long ps = (long)((Int128)now * 1_000_000_000_000 / clockHz);
        int refresh = (int)(ps / RefreshHalfPeriodPs) & 1;
        return (ulong)((_bits & 0x0f) | (refresh << 4) | (pit.Out2(now) ? 0x20 : 0));
    }

    public void Out(Cpu cpu, ushort port, int size, ulong value)
    {
        _bits = (byte)(value & 0x0f);
        pit.SetGate2((_bits & 1) != 0, cpu.Cycles);
    }
}
