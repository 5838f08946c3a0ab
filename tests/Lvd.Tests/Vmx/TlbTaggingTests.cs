using static Iced.Intel.AssemblerRegisters;

namespace Lvd.Tests.Vmx;

/// <summary>
/// TLB tagging by VPID and EPTP (SDM 28.4): only what the architecture guarantees is asserted;
/// where a stale translation is permitted but not required, either value is accepted.
/// </summary>
public sealed class TlbTaggingTests
{
    /// <summary>
    /// Guest: three reads of [la] into r8, r9, r10 with a VMCALL (R15 = 1, then 2) between them;
    /// <paramref name="atCall"/> changes or invalidates translations at each. Runs the guest and
    /// returns the three values read.
    /// </summary>
    private static (ulong First, ulong Second, ulong Third) ThreeReads(VmxHarness h, ulong la, Action<ulong> atCall)
    {
        h.Guest(a =>
        {
            a.mov(rbx, la);
            a.mov(r8, __qword_ptr[rbx]);
            a.mov(r15d, 1); a.vmcall();
            a.mov(r9, __qword_ptr[rbx]);
            a.mov(r15d, 2); a.vmcall();
            a.mov(r10, __qword_ptr[rbx]);
            VmxHarness.EmitDone(a);
        });
        h.ResumeUntilDone(r => { atCall(r.R15); return true; });
        h.Enter();
        return (h.Cpu.GetRegister(Cpu.R8), h.Cpu.GetRegister(Cpu.R9), h.Cpu.GetRegister(Cpu.R10));
    }

    /// <summary>
    /// SDM 28.4.3.1 / 28.3.3.4: a changed EPT entry may be ignored until INVEPT, and is used after
    /// an INVEPT of that EPTP (VPID on, so VM entry and exit flush nothing).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ChangedEptEntryIsUsedAfterInvalidateEpt(bool vpid)
    {
        var h = new VmxHarness(vpid);
        const ulong other = 0x210000;
        h.Mem.Write64(VmxHarness.Data, VmxHarness.ValueA);
        h.Mem.Write64(other, VmxHarness.ValueB);
        Assert.True(h.Ept.Map(VmxHarness.Data, VmxHarness.Data, 0x1000, VmxHarness.Rwx)); // a 4 KiB leaf to change
        var (first, second, third) = ThreeReads(h, VmxHarness.Data, call =>
        {
            if (call == 1) Assert.True(h.Ept.Map(VmxHarness.Data, other, 0x1000, VmxHarness.Rwx)); // no INVEPT
            if (call == 2) h.Cpu.InvalidateEpt(h.Ept.Eptp);
        });
        Assert.Equal(3, h.Exits.Count);
        Assert.Equal(VmxHarness.ValueA, first);
        Assert.Contains(second, new[] { VmxHarness.ValueA, VmxHarness.ValueB }); // stale or fresh: both allowed
        Assert.Equal(VmxHarness.ValueB, third);
    }

    /// <summary>
    /// Guest PTE 0x7000 (holding ValueA) is pointed at 0x8000 (ValueB) at the first VMCALL, without
    /// INVLPG; the VPID invalidation, if any, happens at the second.
    /// </summary>
    private static (ulong First, ulong Second, ulong Third) PteChangeReads(bool vpid, bool invalidateVpid)
    {
        var h = new VmxHarness(vpid);
        h.Mem.Write64(0x7000, VmxHarness.ValueA);
        h.Mem.Write64(0x8000, VmxHarness.ValueB);
        return ThreeReads(h, 0x7000, call =>
        {
            if (call == 1) h.Mem.Write64(VmxHarness.Pt0 + 7 * 8, 0x8000 | 7); // guest PTE 0x7000 -> 0x8000, no INVLPG
            if (call == 2 && invalidateVpid) h.Cpu.InvalidateVpid(h.V.Vpid);
        });
    }

    /// <summary>
    /// SDM 28.4.3.3: without VPIDs, every VM entry and exit invalidates the linear and combined mappings of VPID 0000H;
    /// a changed guest PTE is seen without INVLPG.
    /// </summary>
    [Fact]
    public void WithoutVpidEntryAndExitFlushGuestTranslations()
    {
        Assert.Equal((VmxHarness.ValueA, VmxHarness.ValueB, VmxHarness.ValueB), PteChangeReads(vpid: false, invalidateVpid: false));
    }

    /// <summary>SDM 28.4.3.2: with VPIDs the guest's translations may survive the round trip; INVVPID of the VPID removes them.</summary>
    [Fact]
    public void WithVpidChangedPteIsUsedAfterInvalidateVpid()
    {
        var (first, second, third) = PteChangeReads(vpid: true, invalidateVpid: true);
        Assert.Equal(VmxHarness.ValueA, first);
        Assert.Contains(second, new[] { VmxHarness.ValueA, VmxHarness.ValueB });
        Assert.Equal(VmxHarness.ValueB, third);
    }

    /// <summary>
    /// SDM 28.4.1: translations are tagged by EPTP: a VMFUNC switch away and back needs no
    /// invalidation, and each EPT's data is seen; an INVEPT of the other EPTP does not disturb this one.
    /// </summary>
    [Fact]
    public void VmfuncRoundTripWithVpidNeedsNoFlush()
    {
        var h = new VmxHarness(vpid: true);
        var (_, second) = VmfuncTests.SetupSwitching(h);
        h.Guest(a =>
        {
            a.mov(rbx, VmxHarness.Data);
            a.mov(r8, __qword_ptr[rbx]);
            a.xor(eax, eax); a.mov(ecx, 1); a.vmfunc();
            a.mov(r9, __qword_ptr[rbx]);
            a.mov(r15d, 1); a.vmcall();                 // root: INVEPT of the first EPT only
            a.mov(r10, __qword_ptr[rbx]);
            a.xor(eax, eax); a.xor(ecx, ecx); a.vmfunc();
            a.mov(r11, __qword_ptr[rbx]);
            VmxHarness.EmitDone(a);
        });
        h.ResumeUntilDone(r => { if (r.R15 == 1) h.Cpu.InvalidateEpt(h.Ept.Eptp); return true; });
        h.Enter();
        Assert.Equal(2, h.Exits.Count);
        Assert.Equal(second.Eptp, h.Exits[0].Eptp);
        Assert.Equal(VmxHarness.ValueA, h.Cpu.GetRegister(Cpu.R8));
        Assert.Equal(0xBBBB_0000_BBBB_0002UL, h.Cpu.GetRegister(Cpu.R9));
        Assert.Equal(0xBBBB_0000_BBBB_0002UL, h.Cpu.GetRegister(Cpu.R10));
        Assert.Equal(VmxHarness.ValueA, h.Cpu.GetRegister(Cpu.R11));
        Assert.Equal(2, h.Cpu.VmFuncs);
    }
}
