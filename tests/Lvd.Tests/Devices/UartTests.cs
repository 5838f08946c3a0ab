using Lvd.Machine.Devices;

namespace Lvd.Tests.Devices;

/// <summary>COM1 against the PC16550D datasheet and the probes Linux's 8250 driver makes.</summary>
public sealed class UartTests
{
    private const ushort Thr = 0x3f8, Ier = 0x3f9, Iir = 0x3fa, Fcr = 0x3fa, Lcr = 0x3fb, Mcr = 0x3fc, Lsr = 0x3fd, Msr = 0x3fe, Scr = 0x3ff;

    [Fact]
    public void LinuxAutoconfigFindsA16550AWithWorkingFifos()
    {
        var b = new PcBench();
        // serial8250 autoconfig: IER keeps its low nibble only.
        b.Out(Ier, 0);
        Assert.Equal(0, b.In(Ier) & 0x0f);
        b.Out(Ier, 0x0f);
        Assert.Equal(0x0f, b.In(Ier));
        b.Out(Ier, 0xff);
        Assert.Equal(0x0f, b.In(Ier));
        b.Out(Ier, 0);
        // Loopback with RTS and OUT2 shows CTS and DCD in MSR.
        b.Out(Mcr, 0x10 | 0x0a);
        Assert.Equal(0x90, b.In(Msr) & 0xf0);
        b.Out(Mcr, 0);
        // FCR with FIFOs enabled: IIR bits 7:6 = 11 (16550A), bit 5 clear (no 64-byte FIFO).
        Assert.Equal(0x01, b.In(Iir));
        b.Out(Fcr, 0xe7);
        Assert.Equal(0xc1, b.In(Iir));
        b.Out(Fcr, 0);
        Assert.Equal(0x01, b.In(Iir));
        b.Out(Scr, 0xa5);
        Assert.Equal(0xa5, b.In(Scr));
        // Without loopback the line shows a connected terminal: CTS, DSR, DCD.
        Assert.Equal(0xb0, b.In(Msr) & 0xf0);
    }

    [Fact]
    public void DivisorLatchIsBehindDlabAndTransmitGoesToTheSink()
    {
        var b = new PcBench();
        b.Out(Lcr, 0x83);
        b.Out(Thr, 0x01); // DLL
        b.Out(Ier, 0x00); // DLM
        Assert.Equal(0x01, b.In(Thr));
        Assert.Equal(0x00, b.In(Ier));
        b.Out(Lcr, 0x03);
        Assert.Equal(0x03, b.In(Lcr));
        foreach (char c in "hi\n") b.Out(Thr, c);
        Assert.Equal("hi\n", b.OutputText);
        Assert.Equal(0x60, b.In(Lsr)); // THRE and TEMT: transmission without pacing is immediate
        // 115200 8N1: 10 bits x 16 x divisor 1 at 1.8432 MHz = 86.8 us.
        Assert.Equal((10 * 16 * b.Hz + Uart16550.CrystalHz - 1) / Uart16550.CrystalHz, b.Machine.Serial.CharacterCycles);
    }

    [Fact]
    public void PacedTransmitterEmptiesOneCharacterTimeLater()
    {
        var b = new PcBench(pacing: true);
        b.Out(Lcr, 0x83); b.Out(Thr, 12); b.Out(Ier, 0); b.Out(Lcr, 0x03); // 9600 baud
        b.Out(Fcr, 0x07);
        long ch = b.Machine.Serial.CharacterCycles;
        b.Out(Thr, (byte)'a');
        b.Out(Thr, (byte)'b');
        Assert.Equal("a", b.OutputText);            // the first is in the shift register
        Assert.Equal(0, b.In(Lsr) & 0x60);          // 'b' waits in the FIFO
        b.Advance(ch);
        Assert.Equal("ab", b.OutputText);
        Assert.Equal(0x20, b.In(Lsr) & 0x60);       // FIFO empty, shift register busy
        b.Advance(ch);
        Assert.Equal(0x60, b.In(Lsr) & 0x60);
    }

    [Fact]
    public void ThreInterruptRisesOnEnableClearsOnIirReadAndReturnsAfterTransmit()
    {
        var b = new PcBench();
        b.Route(4, 0x24);
        b.Out(Mcr, 0x0b); // DTR, RTS, OUT2: the PC's interrupt enable
        b.Out(Ier, 0x02);
        Assert.Equal(0x02, b.In(Iir) & 0x0f);       // reported, and the read clears it
        Assert.Equal(0x24, b.TakeInterrupt());
        b.Eoi();
        Assert.Equal(0x01, b.In(Iir) & 0x0f);
        b.Out(Thr, (byte)'x');                      // transmitted at once: THR empty again
        Assert.Equal(0x24, b.TakeInterrupt());
        Assert.Equal(0x02, b.In(Iir) & 0x0f);
        b.Eoi();
        // Without OUT2 the wire stays low, though IIR reports the interrupt.
        b.Out(Mcr, 0x03);
        b.Out(Thr, (byte)'y');
        Assert.Equal(0x02, b.In(Iir) & 0x0f);
        Assert.Equal(-1, b.TakeInterrupt());
    }

    [Fact]
    public void ReceivedDataRaisesRdaAtTheTriggerLevelAndTimeoutBelowIt()
    {
        var b = new PcBench();
        b.Route(4, 0x24);
        b.Out(Fcr, 0x47); // FIFOs on, trigger 4
        b.Out(Mcr, 0x08);
        b.Out(Ier, 0x01);
        long ch = b.Machine.Serial.CharacterCycles;
        b.Machine.Serial.Receive("abc"u8, b.Cpu.Cycles);
        b.Advance(3 * ch);
        Assert.Equal(0x01, b.In(Lsr) & 0x01);       // data ready
        Assert.Equal(0xc1, b.In(Iir));              // three characters: below the trigger
        b.Advance(4 * ch - 1);
        Assert.Equal(0xc1, b.In(Iir));
        b.Advance(1);
        Assert.Equal(0xcc, b.In(Iir));              // character timeout
        Assert.Equal(0x24, b.TakeInterrupt());
        b.Eoi();
        Assert.Equal((byte)'a', b.In(Thr));
        Assert.Equal(0xc1, b.In(Iir));              // reading RBR clears the timeout
        b.Machine.Serial.Receive("defg"u8, b.Cpu.Cycles);
        b.Advance(2 * ch);
        Assert.Equal(0xc4, b.In(Iir));              // b c d e: trigger level 4 reached
        Assert.Equal("bcde", ReadAll(b));
        b.Advance(ch);
        Assert.Equal((byte)'f', b.In(Thr));
        b.Advance(ch);
        Assert.Equal((byte)'g', b.In(Thr));
        Assert.Equal(0, b.In(Lsr) & 0x01);
    }

    [Fact]
    public void HostInputWaitsWhileTheFifoIsFullAndIsNeverLost()
    {
        var b = new PcBench();
        b.Out(Fcr, 0x01);
        long ch = b.Machine.Serial.CharacterCycles;
        var input = new byte[40];
        for (int i = 0; i < input.Length; i++) input[i] = (byte)('A' + i);
        b.Machine.Serial.Receive(input, 0);
        b.Advance(100 * ch);
        Assert.Equal(0, b.In(Lsr) & 0x02);          // no overrun
        var got = new List<byte>();
        while (got.Count < input.Length)
        {
            while ((b.In(Lsr) & 1) != 0) got.Add(b.In(Thr));
            b.Advance(ch);
        }
        Assert.Equal(input, got.ToArray());
    }

    [Fact]
    public void LoopbackKeepsOutputOffTheLineAndOverrunsWithoutFifo()
    {
        var b = new PcBench();
        b.Out(Mcr, 0x10);
        Assert.Equal(0x0b, b.In(Msr));              // entering loopback drops CTS, DSR, DCD: their deltas
        b.Out(Thr, 0x55);
        Assert.Equal(0x01, b.In(Lsr) & 0x01);
        b.Out(Thr, 0x66);                           // 16450 mode: the holding register is full
        Assert.Equal(0x03, b.In(Lsr) & 0x03);       // data ready and overrun
        Assert.Equal(0x01, b.In(Lsr) & 0x03);       // reading LSR cleared OE
        Assert.Equal(0x55, b.In(Thr));
        Assert.Equal("", b.OutputText);
        // Loopback modem lines: DTR -> DSR, OUT1 -> RI; deltas set and cleared by reading MSR.
        b.Out(Mcr, 0x15);
        Assert.Equal(0x60 | 0x02, b.In(Msr));       // DSR, RI, delta DSR
        Assert.Equal(0x60, b.In(Msr));
        b.Out(Mcr, 0x10);
        Assert.Equal(0x02 | 0x04, b.In(Msr));       // DSR fell (delta), RI's trailing edge (TERI)
    }

    [Fact]
    public void ModemStatusAndLineStatusInterruptsHaveTheirPriorities()
    {
        var b = new PcBench();
        b.Out(Mcr, 0x10);
        b.Out(Ier, 0x0d);                           // RLS, RDA, MSI
        b.Out(Mcr, 0x11);                           // DSR changes: modem status interrupt
        Assert.Equal(0x00, b.In(Iir) & 0x0f);
        b.In(Msr);
        Assert.Equal(0x01, b.In(Iir) & 0x0f);
        b.Out(Thr, 1);
        b.Out(Thr, 2);                              // overrun: line status beats received data
        Assert.Equal(0x06, b.In(Iir) & 0x0f);
        b.In(Lsr);
        Assert.Equal(0x04, b.In(Iir) & 0x0f);
    }

    private static string ReadAll(PcBench b)
    {
        var s = new System.Text.StringBuilder();
        while ((b.In(Lsr) & 1) != 0) s.Append((char)b.In(Thr));
        return s.ToString();
    }
}
