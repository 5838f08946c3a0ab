using Lvd.Machine.Devices.Iommu;
using Lvd.Machine.Devices.Nic;
using Lvd.Machine.Memory;
using N = Lvd.Machine.Devices.Nic.Ixgbe82599;
using V = Lvd.Machine.Devices.Iommu.VtdIommu;

namespace Lvd.Tests.Devices;

/// <summary>
/// VT-d second-level translation against the VT-d 3.x specification: registers and capabilities,
/// root and context tables, 4 KiB/2 MiB pages with rights ANDed over the levels, every fault
/// reason the walk can give, fault recording (FRI, PPF, F write-1-to-clear, overflow), the fault
/// event interrupt, context-cache and IOTLB invalidation (stale until invalidated), and the NIC's
/// DMA blocked outside its domain with memory unchanged.
/// </summary>
public sealed class IommuTests
{
    private const ulong Root = 0x800000, Context = 0x801000, Pml4 = 0x802000, Pdpt = 0x803000, Pd = 0x804000, Pt = 0x805000;
    private const ushort Sid = 3 << 3; // 00:03.0, the NIC
    private const ushort Did = 7;

    private static ulong Reg(NicBench b, int at, int size = 8) => b.Machine.Memory.Read(b.Iommu!.Base + (ulong)at, size, b.Cpu);
    private static void SetReg(NicBench b, int at, ulong v, int size = 8) => b.Machine.Memory.Write(b.Iommu!.Base + (ulong)at, size, v, b.Cpu);

    /// <summary>Root entry for bus 0 -> context table; context entry for 00:03.0 -> domain 7, 4-level table; translation on.</summary>
    private static NicBench Set(NetworkPeer? peer = null)
    {
        var b = new NicBench(peer, iommu: true);
        var m = b.Machine.Memory;
        m.Write64(Root, Context | 1);
        m.Write64(Context + Sid * 16UL, Pml4 | 1);
        m.Write64(Context + Sid * 16UL + 8, 2 | (ulong)Did << 8);
        m.Write64(Pml4, Pdpt | 3);
        m.Write64(Pdpt, Pd | 3);
        m.Write64(Pd, Pt | 3);
        SetReg(b, V.Rtaddr, Root);
        SetReg(b, V.Gcmd, V.GcmdSrtp, 4);
        SetReg(b, V.Gcmd, V.GcmdTe, 4);
        return b;
    }

    private static void Map(NicBench b, ulong iova, ulong pa, ulong rights) => b.Machine.Memory.Write64(Pt + (iova >> 12 & 0x1ff) * 8, pa | rights);

    private static bool Tr(NicBench b, ulong iova, bool write, out ulong pa) => b.Iommu!.Translate(Sid, iova, write, b.Now, out pa);

    [Fact]
    public void RegistersReportVersionCapabilitiesAndStatus()
    {
        var b = new NicBench(iommu: true);
        Assert.Equal(0x10UL, Reg(b, V.Ver, 4));
        ulong cap = Reg(b, V.Cap);
        Assert.Equal(4UL, cap >> 8 & 0x1f);                      // SAGAW: 4-level tables
        Assert.Equal(47UL, cap >> 16 & 0x3f);                    // MGAW 48 bits
        Assert.Equal((ulong)V.FaultRecords, (cap >> 24 & 0x3ff) * 16);
        Assert.Equal((ulong)V.FaultRecordCount - 1, cap >> 40 & 0xff);
        Assert.Equal((ulong)V.Iva, (Reg(b, V.Ecap) >> 8 & 0x3ff) * 16);
        Assert.Equal(0UL, Reg(b, V.Gsts, 4));
        // Translation off: DMA addresses are host-physical.
        Assert.True(b.Iommu!.Translate(Sid, 0x123456, true, 0, out ulong pa));
        Assert.Equal(0x123456UL, pa);
        SetReg(b, V.Rtaddr, Root);
        SetReg(b, V.Gcmd, V.GcmdSrtp, 4);
        Assert.Equal((ulong)V.GcmdSrtp, Reg(b, V.Gsts, 4));
        SetReg(b, V.Gcmd, V.GcmdSrtp | V.GcmdTe, 4);
        Assert.Equal((ulong)(V.GcmdSrtp | V.GcmdTe), Reg(b, V.Gsts, 4));
    }

    [Fact]
    public void SecondLevelTablesTranslate4KAnd2MPagesWithRightsAndedOverLevels()
    {
        var b = Set();
        Map(b, 0x3000, 0x600000, V.SlRead | V.SlWrite);
        Map(b, 0x4000, 0x601000, V.SlRead);
        Assert.True(Tr(b, 0x3abc, true, out ulong pa));
        Assert.Equal(0x600abcUL, pa);
        Assert.True(Tr(b, 0x4010, false, out pa));
        Assert.Equal(0x601010UL, pa);
        Assert.False(Tr(b, 0x4010, true, out _));
        Assert.Equal(VtdFaultReason.WriteDenied, b.Iommu!.Faults[^1].Reason);
        // A 2 MiB page at IOVA 2 MiB (PD entry 1, PS), its rights limited by a read-only PDPT entry.
        b.Machine.Memory.Write64(Pd + 8, 0x1200000 | V.SlLarge | V.SlRead | V.SlWrite);
        Assert.True(Tr(b, 0x2345678 & 0x3fffff | 0x200000, true, out pa));
        Assert.Equal(0x1200000UL | (0x345678 & 0x1fffff), pa);
        b.Machine.Memory.Write64(Pdpt, Pd | V.SlRead);
        SetReg(b, V.IotlbReg, V.IotlbIvt | 1UL << 60);           // global IOTLB invalidation
        Assert.False(Tr(b, 0x200000, true, out _));
        Assert.Equal(VtdFaultReason.WriteDenied, b.Iommu.Faults[^1].Reason);
        Assert.True(Tr(b, 0x200000, false, out _));
    }

    [Fact]
    public void EachFaultReasonOfTheWalk()
    {
        var b = Set();
        Assert.False(Tr(b, 0x9000, false, out _));
        Assert.Equal(VtdFaultReason.ReadDenied, b.Iommu!.Faults[^1].Reason);   // not present: R = W = 0
        Assert.False(Tr(b, 1UL << 48, false, out _));
        Assert.Equal(VtdFaultReason.AddressBeyondWidth, b.Iommu.Faults[^1].Reason);
        Map(b, 0xa000, 0x600000 | 1UL << 50, V.SlRead);
        Assert.False(Tr(b, 0xa000, false, out _));
        Assert.Equal(VtdFaultReason.EntryReserved, b.Iommu.Faults[^1].Reason);
        Assert.False(b.Iommu.Translate(4 << 3, 0x1000, false, b.Now, out _));   // 00:04.0 has no context entry
        Assert.Equal(VtdFaultReason.ContextNotPresent, b.Iommu.Faults[^1].Reason);
        Assert.False(b.Iommu.Translate(0x100, 0x1000, false, b.Now, out _));    // bus 1 has no root entry
        Assert.Equal(VtdFaultReason.RootNotPresent, b.Iommu.Faults[^1].Reason);
        b.Machine.Memory.Write64(Context + 5 * 8 * 16, Pml4 | 1 | 1 << 2);       // 00:05.0: translation type 01
        b.Machine.Memory.Write64(Context + 5 * 8 * 16 + 8, 2);
        Assert.False(b.Iommu.Translate(5 << 3, 0x1000, false, b.Now, out _));
        Assert.Equal(VtdFaultReason.ContextInvalid, b.Iommu.Faults[^1].Reason);
        b.Machine.Memory.Write64(Context + 6 * 8 * 16, 0xf0000000UL | 1);         // 00:06.0: tables in MMIO space
        b.Machine.Memory.Write64(Context + 6 * 8 * 16 + 8, 2);
        Assert.False(b.Iommu.Translate(6 << 3, 0x1000, false, b.Now, out _));
        Assert.Equal(VtdFaultReason.TableNotInMemory, b.Iommu.Faults[^1].Reason);
        // Fault processing disabled (FPD): blocked, not recorded.
        int recorded = b.Iommu.Faults.Count;
        b.Machine.Memory.Write64(Context + 7 * 8 * 16, Pml4 | 3);
        b.Machine.Memory.Write64(Context + 7 * 8 * 16 + 8, 2 | 9 << 8);
        Assert.False(b.Iommu.Translate(7 << 3, 0x9000, false, b.Now, out _));
        Assert.Equal(recorded, b.Iommu.Faults.Count);
    }

    [Fact]
    public void FaultRecordsFillInOrderOverflowAndClearWithTheFBit()
    {
        var b = Set();
        var reported = new List<IommuFault>();
        b.Iommu!.FaultReported = reported.Add;
        Assert.False(Tr(b, 0x5000, true, out _));
        // Record 0: FI = the page, SID, reason, T = 0 (write), F.
        Assert.Equal(0x5000UL, Reg(b, V.FaultRecords));
        ulong high = Reg(b, V.FaultRecords + 8);
        Assert.Equal((ulong)Sid, high & 0xffff);
        Assert.Equal((ulong)VtdFaultReason.WriteDenied, high >> 32 & 0xff);
        Assert.Equal(0UL, high >> 62 & 1);
        Assert.Equal(1UL, high >> 63);
        ulong fsts = Reg(b, V.Fsts, 4);
        Assert.Equal((ulong)V.FstsPpf, fsts & 0xff);
        Assert.Equal(1UL, fsts >> 8 & 0xff);                         // FRI: the next record
        for (int i = 1; i < V.FaultRecordCount; i++) Assert.False(Tr(b, 0x5000 + (ulong)i * 0x1000, false, out _));
        Assert.Equal(0UL, Reg(b, V.Fsts, 4) & V.FstsPfo);
        Assert.False(Tr(b, 0x20000, false, out _));                 // all 8 records hold faults: overflow
        Assert.Equal((ulong)V.FstsPfo, Reg(b, V.Fsts, 4) & V.FstsPfo);
        Assert.Equal(V.FaultRecordCount + 1, reported.Count);
        Assert.Equal(Sid, reported[0].SourceId);
        // Software clears each F bit (write 1) and PFO; PPF follows.
        for (int i = 0; i < V.FaultRecordCount; i++) SetReg(b, V.FaultRecords + 16 * i + 12, 0x80000000, 4);
        SetReg(b, V.Fsts, V.FstsPfo, 4);
        Assert.Equal(0UL, Reg(b, V.Fsts, 4) & (V.FstsPfo | V.FstsPpf));
        Assert.False(Tr(b, 0x21000, false, out _));
        Assert.Equal(0x21000UL, Reg(b, V.FaultRecords));             // FRI wrapped to record 0
        Assert.Equal(1UL, Reg(b, V.FaultRecords + 8) >> 62 & 1);    // a read
    }

    [Fact]
    public void FaultEventInterruptIsSentUnlessMaskedThenOnUnmask()
    {
        var b = Set();
        SetReg(b, V.Fedata, 0x51, 4);
        SetReg(b, V.Feaddr, 0xfee00000, 4);
        Assert.False(Tr(b, 0x5000, false, out _));                  // masked (the reset state): IP set, nothing sent
        Assert.Equal((ulong)V.FectlIp, Reg(b, V.Fectl, 4) & V.FectlIp);
        Assert.Equal(0, b.Machine.Apics[0].InterruptsRaised);
        SetReg(b, V.Fectl, 0, 4);                                   // unmask: the pending event is sent
        Assert.Equal(0x51, b.Machine.Apics[0].PendingVector());
        Assert.Equal(0UL, Reg(b, V.Fectl, 4) & V.FectlIp);
        Assert.False(Tr(b, 0x6000, false, out _));
        Assert.Equal(2, b.Machine.Apics[0].InterruptsRaised);
    }

    [Fact]
    public void TranslationsStayCachedUntilInvalidated()
    {
        var b = Set();
        Map(b, 0x3000, 0x600000, V.SlRead | V.SlWrite);
        Map(b, 0x4000, 0x640000, V.SlRead | V.SlWrite);
        Assert.True(Tr(b, 0x3000, false, out ulong pa));
        Assert.True(Tr(b, 0x4000, false, out _));
        Assert.Equal(2, b.Iommu!.IotlbEntries);
        // Software remaps both pages: the IOTLB keeps the old translations (no coherence promised for caches).
        Map(b, 0x3000, 0x700000, V.SlRead | V.SlWrite);
        Map(b, 0x4000, 0, 0);
        Assert.True(Tr(b, 0x3000, false, out pa));
        Assert.Equal(0x600000UL, pa);
        // Page-selective invalidation of 0x3000 in domain 7 (IVA, AM 0): only that page is refetched.
        SetReg(b, V.Iva, 0x3000);
        SetReg(b, V.IotlbReg, V.IotlbIvt | 3UL << 60 | (ulong)Did << 32);
        Assert.Equal(0UL, Reg(b, V.IotlbReg) >> 63);                  // IVT clears when done
        Assert.Equal(3UL, Reg(b, V.IotlbReg) >> 57 & 3);              // IAIG: page-selective
        Assert.True(Tr(b, 0x3000, false, out pa));
        Assert.Equal(0x700000UL, pa);
        Assert.True(Tr(b, 0x4000, false, out _));                    // still the stale entry
        // Another domain's invalidation leaves ours; a domain-selective one of ours drops it.
        SetReg(b, V.IotlbReg, V.IotlbIvt | 2UL << 60 | 9UL << 32);
        Assert.True(Tr(b, 0x4000, false, out _));
        SetReg(b, V.IotlbReg, V.IotlbIvt | 2UL << 60 | (ulong)Did << 32);
        Assert.False(Tr(b, 0x4000, false, out _));
        // The context cache: a cleared context entry still translates until CCMD invalidates the device.
        b.Machine.Memory.Write64(Context + Sid * 16UL, 0);
        Assert.True(Tr(b, 0x3000, false, out _));
        SetReg(b, V.Ccmd, V.CcmdIcc | 3UL << 61 | (ulong)Sid << 16);
        Assert.Equal(3UL, Reg(b, V.Ccmd) >> 59 & 3);
        Assert.False(Tr(b, 0x3000, false, out _));
        Assert.Equal(VtdFaultReason.ContextNotPresent, b.Iommu.Faults[^1].Reason);
    }

    [Fact]
    public void NicDmaOutsideItsDomainIsBlockedRecordedAndLeavesMemoryUnchanged()
    {
        var gen = new GeneratorPeer { FrameBytes = 200, Count = 4, Start = 100_000, PacketsPerSecond = 1_000_000 };
        var b = Set(gen);
        // The domain maps its ring (IOVA 0x1000) and one buffer (IOVA 0x2000); descriptor 1 points at "kernel" memory.
        const ulong ring = 0x900000, buffer = 0x910000, kernel = 0xa00000;
        Map(b, 0x1000, ring, V.SlRead | V.SlWrite);
        Map(b, 0x2000, buffer, V.SlRead | V.SlWrite);
        b.Machine.Memory.Fill(kernel, 4096, 0x5a);
        b.BusMaster();
        b.Machine.Memory.Write64(ring, 0x2000);
        b.Machine.Memory.Write64(ring + 16, kernel);                  // an IOVA the domain does not map (identity would hit the kernel)
        b.W(N.Rdbal0, 0x1000);
        b.W(N.Rdlen0, 128);
        b.W(N.Rxdctl0, N.QueueEnable);
        b.W(N.Rdt0, 4);
        b.W(N.Rxctrl, N.RxEnable);
        b.Advance(b.Hz / 10_000);
        Assert.Equal(1L, b.Nic.FramesReceived);                      // descriptor 0: into the domain's buffer
        var frame = new byte[200];
        b.Machine.Memory.ReadBytes(buffer, frame);
        Assert.Equal(Frames.Kind.Udp, Frames.Parse(frame, out _));
        var fault = b.Iommu!.Faults[0];
        Assert.Equal(Sid, fault.SourceId);
        Assert.Equal(kernel, fault.Address);
        Assert.True(fault.Write);
        Assert.Equal(Did, fault.DomainId);
        Assert.Equal(1, b.Nic.DmaErrors);
        Assert.Equal(0u, b.R(N.Rxdctl0) & N.QueueEnable);           // the queue stopped
        var after = new byte[4096];
        b.Machine.Memory.ReadBytes(kernel, after);
        Assert.All(after, x => Assert.Equal(0x5a, x));
        // The same DMA without the IOMMU translating would have written there: the path is the one DMA path.
        Assert.True(b.Machine.Dma.Failures >= 1);
    }

    [Fact]
    public void DmaReachesRamOnlyNeverDeviceRegisters()
    {
        var b = new NicBench(iommu: true);
        // An IOMMU register as a DMA target (a device trying to reprogram the IOMMU): a master abort.
        Assert.False(b.Machine.Dma.Write64(Sid, IommuSpec.DefaultBase + V.Rtaddr, 0x1234000, b.Now));
        Assert.Equal(0UL, Reg(b, V.Rtaddr));
        Assert.False(b.Machine.Dma.Write64(Sid, NicSpec.DefaultBar0 + N.Ctrl, N.CtrlRst, b.Now));
        Assert.True(b.Machine.Dma.Write64(Sid, 0x1000, 42, b.Now));
        Assert.Equal(42UL, b.Machine.Memory.Read64(0x1000));
    }
}
