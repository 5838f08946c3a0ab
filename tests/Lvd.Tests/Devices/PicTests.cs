using Lvd.Machine.Devices;

namespace Lvd.Tests.Devices;

/// <summary>The 8259A pair against the Intel datasheet, and Linux's init_8259A and probe.</summary>
public sealed class PicTests
{
    /// <summary>Linux's init_8259A(auto_eoi = 0): masks, ICW1-ICW4 on both, vectors 0x30/0x38, cascade on IR2.</summary>
    private static void LinuxInit(PcBench b)
    {
        b.Out(0x21, 0xff); b.Out(0xa1, 0xff);
        b.Out(0x20, 0x11); b.Out(0x21, 0x30); b.Out(0x21, 0x04); b.Out(0x21, 0x01);
        b.Out(0xa0, 0x11); b.Out(0xa1, 0x38); b.Out(0xa1, 0x02); b.Out(0xa1, 0x01);
    }

    [Fact]
    public void LinuxInitSequenceAndMaskReadBack()
    {
        var b = new PcBench();
        LinuxInit(b);
        Assert.Equal(0x00, b.In(0x21));      // ICW1 cleared the mask
        b.Out(0x21, 0xfb);                   // Linux's probe value
        Assert.Equal(0xfb, b.In(0x21));
        b.Out(0xa1, 0xff);
        Assert.Equal(0xff, b.In(0xa1));
        b.Out(0x21, 0xff);                   // masked for good, as Linux leaves it with the I/O APIC
        Assert.Equal(0xff, b.Pc.Pic.MasterMask);
        b.Pc.SetIsaIrq(1, true, 0);
        Assert.False(b.Pc.Pic.Intr);
        Assert.Equal(0, b.Pc.Pic.UnwiredRequests);
        Assert.Equal(0x02, b.In(0x20));      // IRR (the OCW3 default) still latches the edge
    }

    [Fact]
    public void PriorityInServiceAndEndOfInterrupt()
    {
        var b = new PcBench();
        LinuxInit(b);
        var pic = b.Pc.Pic;
        pic.SetIrq(3, true);
        pic.SetIrq(1, true);
        Assert.True(pic.Intr);
        Assert.Equal(0x31, pic.Acknowledge());   // IR1 beats IR3
        b.Out(0x20, 0x0b);                        // OCW3: read ISR
        Assert.Equal(0x02, b.In(0x20));
        Assert.False(pic.Intr);                   // IR3 waits behind IR1 in service
        b.Out(0x20, 0x20);                        // non-specific EOI
        Assert.Equal(0x00, b.In(0x20));
        Assert.Equal(0x33, pic.Acknowledge());
        b.Out(0x20, 0x63);                        // specific EOI for IR3
        Assert.Equal(0x00, b.In(0x20));
        b.Out(0x20, 0x0a);                        // OCW3: read IRR
        Assert.Equal(0x00, b.In(0x20));
        // The slave's requests come through IR2 with the slave's vectors.
        pic.SetIrq(12, true);
        Assert.Equal(0x3c, pic.Acknowledge());
        b.Out(0xa0, 0x0b);
        Assert.Equal(0x10, b.In(0xa0));
        Assert.True(pic.UnwiredRequests > 0);     // INTR rose with no CPU to take it
    }

    [Fact]
    public void PollModeAndLevelTriggeringByElcr()
    {
        var b = new PcBench();
        LinuxInit(b);
        b.Out(0x4d1, 0xff);
        Assert.Equal(0xde, b.In(0x4d1));          // IRQ 8 and 13 stay edge-triggered
        var pic = b.Pc.Pic;
        pic.SetIrq(9, true);                      // level: held while the line is high
        b.Out(0xa0, 0x0c);                        // OCW3 poll
        Assert.Equal(0x81, b.In(0xa0));
        b.Out(0xa0, 0x20);
        b.Out(0xa0, 0x0a);
        Assert.Equal(0x02, b.In(0xa0));           // still requested: the line is high
        pic.SetIrq(9, false);
        Assert.Equal(0x00, b.In(0xa0));
    }
}
