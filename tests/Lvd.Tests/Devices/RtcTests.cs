using Lvd.Machine.Devices;

namespace Lvd.Tests.Devices;

/// <summary>The CMOS RTC against the MC146818A datasheet, from its fixed start date in modeled time.</summary>
public sealed class RtcTests
{
    private static byte Read(PcBench b, int reg) { b.Out(0x70, (ulong)reg); return b.In(0x71); }
    private static void Write(PcBench b, int reg, int v) { b.Out(0x70, (ulong)reg); b.Out(0x71, (ulong)v); }

    [Fact]
    public void StartsAtTheFixedDateInBcdAndRunsInModeledTime()
    {
        var b = new PcBench();
        var start = CmosRtc.DefaultStart;                 // 2026-01-01 00:00:00, a Thursday
        Assert.Equal(0x26, Read(b, 0x09));
        Assert.Equal(0x20, Read(b, 0x32));
        Assert.Equal(0x01, Read(b, 0x08));
        Assert.Equal(0x01, Read(b, 0x07));
        Assert.Equal((int)start.DayOfWeek + 1, Read(b, 0x06));
        Assert.Equal(0x80, Read(b, 0x0d));                // valid RAM and time
        b.At(b.Hz * (3600 + 23 * 60 + 45));              // 01:23:45
        Assert.Equal(0x45, Read(b, 0x00));
        Assert.Equal(0x23, Read(b, 0x02));
        Assert.Equal(0x01, Read(b, 0x04));
        Write(b, 0x0b, 0x06);                             // binary, 24-hour
        Assert.Equal(45, Read(b, 0x00));
        Assert.Equal(23, Read(b, 0x02));
    }

    [Fact]
    public void UpdateInProgressIsSetInTheLast244MicrosecondsOfASecond()
    {
        var b = new PcBench();
        long uip = b.Hz * CmosRtc.UipCycleMicros / 1_000_000;
        b.At(b.Hz - uip - 1);
        Assert.Equal(0, Read(b, 0x0a) & 0x80);
        Assert.Equal(0x26, Read(b, 0x0a));                // divider 010, rate 6
        b.At(b.Hz - uip);
        Assert.Equal(0x80, Read(b, 0x0a) & 0x80);
        Assert.Equal(0x00, Read(b, 0x00));                // the update has not happened yet
        b.At(b.Hz);
        Assert.Equal(0, Read(b, 0x0a) & 0x80);
        Assert.Equal(0x01, Read(b, 0x00));
    }

    [Fact]
    public void SetBitStopsTheClockWhileTheTimeIsWrittenIn12HourMode()
    {
        var b = new PcBench();
        Write(b, 0x0b, 0x80);                             // SET, 12-hour, BCD
        Write(b, 0x04, 0x80 | 0x11);                      // 11 PM
        Write(b, 0x02, 0x59);
        Write(b, 0x00, 0x58);
        b.Advance(5 * b.Hz);
        Assert.Equal(0x58, Read(b, 0x00));                // stopped
        Write(b, 0x0b, 0x00);
        b.Advance(3 * b.Hz);
        Assert.Equal(0x01, Read(b, 0x00));                // 23:59:58 + 3 s
        Assert.Equal(0x00, Read(b, 0x02));
        Assert.Equal(0x12, Read(b, 0x04));                // 12 AM (midnight)
        Assert.Equal(0x02, Read(b, 0x07));                // the next day
        Write(b, 0x0b, 0x02);
        Assert.Equal(0x00, Read(b, 0x04));                // 24-hour: 00
    }

    [Fact]
    public void UpdateEndedInterruptRaisesIrq8UntilRegisterCIsRead()
    {
        var b = new PcBench();
        b.Route(8, 0x38);
        Write(b, 0x0b, 0x12);                             // UIE, 24-hour
        b.At(b.Hz - 1);
        Assert.Equal(-1, b.TakeInterrupt());
        b.At(b.Hz);
        Assert.Equal(0x38, b.TakeInterrupt());
        b.Eoi();
        Assert.Equal(0xd0, Read(b, 0x0c));                // IRQF, UF, and PF (set at its rate even without PIE); read clears
        Assert.Equal(0x00, Read(b, 0x0c));
        b.At(2 * b.Hz);
        Assert.Equal(0x38, b.TakeInterrupt());
    }

    [Fact]
    public void PeriodicAndAlarmFlags()
    {
        var b = new PcBench();
        Read(b, 0x0c);
        b.Advance(b.Hz / 1024 + 1);                       // rate 6: 1024 Hz
        Assert.Equal(0x40, Read(b, 0x0c));                // PF without PIE: no IRQF
        Write(b, 0x01, 0x05);                             // alarm at hh:mm:05, any hour and minute
        Write(b, 0x03, 0xc0);
        Write(b, 0x05, 0xc0);
        Read(b, 0x0c);
        b.At(5 * b.Hz + 10);
        Assert.Equal(0x20, Read(b, 0x0c) & 0x20);
        b.At(6 * b.Hz + 10);
        Assert.Equal(0x00, Read(b, 0x0c) & 0x20);
    }

    [Fact]
    public void NvramKeepsItsBytesAndTheIndexPortMasksNmi()
    {
        var b = new PcBench();
        Write(b, 0x40, 0x5a);
        Assert.Equal(0x5a, Read(b, 0x40));
        b.Out(0x70, 0x80 | 0x40);
        Assert.True(b.Pc.Rtc.NmiMasked);
        Assert.Equal(0x5a, b.In(0x71));
    }
}
