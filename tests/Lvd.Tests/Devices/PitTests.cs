using Lvd.Machine.Devices;

namespace Lvd.Tests.Devices;

/// <summary>The 8254 against the Intel datasheet, in modeled time at 1.193182 MHz.</summary>
public sealed class PitTests
{
    private static long Tick(PcBench b, long n) => b.Pc.Pit.CycleOfTick(n);

    [Fact]
    public void TicksFollowTheCrystalInModeledTime()
    {
        var b = new PcBench();
        Assert.Equal(Pit8254.InputHz, b.Pc.Pit.Ticks(b.Hz));        // one modeled second
        Assert.Equal(0, b.Pc.Pit.Ticks(Tick(b, 1) - 1));
        Assert.Equal(1, b.Pc.Pit.Ticks(Tick(b, 1)));
    }

    [Fact]
    public void RateGeneratorRaisesIrq0ThroughIoApicPin2EveryPeriod()
    {
        var b = new PcBench();
        b.Route(2, 0x30);                      // the ACPI override: ISA IRQ 0 is GSI 2
        b.Out(0x43, 0x34);                     // counter 0, LSB then MSB, mode 2
        b.Out(0x40, 1000 & 0xff);
        b.Out(0x40, 1000 >> 8);
        // The count loads on the next clock; OUT falls at count 1 and rises (the IRQ) at reload.
        b.At(Tick(b, 1 + 1000) - 1);
        Assert.Equal(-1, b.TakeInterrupt());
        b.At(Tick(b, 1 + 1000));
        Assert.Equal(0x30, b.TakeInterrupt());
        b.Eoi();
        b.At(Tick(b, 1 + 2000) - 1);
        Assert.Equal(-1, b.TakeInterrupt());
        b.At(Tick(b, 1 + 2000));
        Assert.Equal(0x30, b.TakeInterrupt());
        b.Eoi();
        // Counter latch: the value holds until read, LSB then MSB.
        b.At(Tick(b, 1 + 2000 + 300));
        b.Out(0x43, 0x00);
        b.Advance(Tick(b, 50));
        int v = b.In(0x40) | b.In(0x40) << 8;
        Assert.Equal(1000 - 300, v);
    }

    [Fact]
    public void InterruptOnTerminalCountIsOneShotAndReadBackGivesStatus()
    {
        var b = new PcBench();
        b.Route(2, 0x30);
        b.Out(0x43, 0x30);                     // counter 0, mode 0
        b.Out(0x40, 100); b.Out(0x40, 0);
        b.Out(0x43, 0xe2);                     // read-back status of counter 0 (COUNT# high: status only)
        Assert.Equal(0x30, b.In(0x40) & 0x3f); // RW = both, mode 0, binary
        b.At(Tick(b, 1 + 100));
        Assert.Equal(0x30, b.TakeInterrupt());
        b.Eoi();
        b.Out(0x43, 0xe2);
        Assert.Equal(0x80, b.In(0x40) & 0x80); // OUT high after terminal count
        b.At(Tick(b, 1 + 100 + 70000));
        Assert.Equal(-1, b.TakeInterrupt());   // no second interrupt
        b.Out(0x43, 0xd2);                     // read-back count of counter 0: it kept counting past zero
        int v = b.In(0x40) | b.In(0x40) << 8;
        Assert.Equal((100 - (100 + 70000)) & 0xffff, v);
    }

    [Fact]
    public void SquareWaveOnCounter2IsVisibleInPort61AndGated()
    {
        var b = new PcBench();
        b.Out(0x61, 0x01);                     // GATE2 on, speaker off
        Assert.Equal(0x01, b.In(0x61) & 0x0f);
        b.Out(0x43, 0xb6);                     // counter 2, both bytes, mode 3
        b.Out(0x42, 100); b.Out(0x42, 0);
        long start = 1;
        b.At(Tick(b, start + 10));
        Assert.Equal(0x20, b.In(0x61) & 0x20); // first half high
        b.At(Tick(b, start + 60));
        Assert.Equal(0x00, b.In(0x61) & 0x20); // second half low
        b.At(Tick(b, start + 110));
        Assert.Equal(0x20, b.In(0x61) & 0x20);
        b.Out(0x43, 0x80);                     // latch counter 2: counts down by two
        int v = b.In(0x42) | b.In(0x42) << 8;
        Assert.Equal(100 - 2 * 10, v);
        b.Out(0x61, 0x00);                     // gate low: OUT forced high, counting stops
        b.Advance(Tick(b, 57));
        Assert.Equal(0x20, b.In(0x61) & 0x20);
    }

    [Fact]
    public void BcdCountAndLowByteOnlyAccess()
    {
        var b = new PcBench();
        b.Out(0x43, 0x91);                     // counter 2, LSB only, mode 0, BCD
        b.Out(0x42, 0x50);                     // 50 decimal
        b.Out(0x61, 0x01);
        b.At(Tick(b, 1 + 20));
        Assert.Equal(0x30, b.In(0x42));        // 30 in BCD
        Assert.Equal(0x30, b.In(0x42));        // LSB-only reads do not toggle
    }

    [Fact]
    public void RefreshBitToggles()
    {
        var b = new PcBench();
        long half = b.Hz * SystemControlPort.RefreshHalfPeriodPs / 1_000_000_000_000;
        int first = b.In(0x61) & 0x10;
        b.Advance(half + 1);
        Assert.NotEqual(first, b.In(0x61) & 0x10);
    }

    [Fact]
    public void MaskedTimerDoesNotKeepAnIdleMachineAlive()
    {
        var b = new PcBench();
        b.Out(0x43, 0x34);
        b.Out(0x40, 0x9b); b.Out(0x40, 0x2e);  // 11931: 100 Hz
        Assert.NotEqual(long.MaxValue, b.Machine.Timers.Next);
        Assert.Equal(long.MaxValue, b.Machine.Timers.NextWake); // pin 2 masked: nothing to wake for
        b.Route(2, 0x30);
        Assert.NotEqual(long.MaxValue, b.Machine.Timers.NextWake);
    }
}
