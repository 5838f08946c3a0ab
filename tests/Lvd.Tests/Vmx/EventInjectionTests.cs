using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Lvd.Tests.Vmx;

/// <summary>VM-entry event injection (SDM 26.5) and virtual NMIs (SDM 25.3, 26.6.1).</summary>
public sealed class EventInjectionTests
{
    private const ulong RfMask = ~(1UL << 16);

    /// <summary>SDM 26.5.1: an injected #GP with error code is delivered through the guest IDT with the frame of a fault at GuestRip.</summary>
    [Fact]
    public void InjectedGpLandsInTheHandlerWithItsFrame()
    {
        var h = new VmxHarness();
        h.V.EntryInterruptionInfo = InterruptionInfo.Make(Vectors.GP, InterruptionInfo.TypeHardwareException, true);
        h.V.EntryExceptionErrorCode = 0x1234;
        h.V.GuestRflags = 2 | (1UL << 6); // ZF, to see RFLAGS in the frame
        h.Guest(VmxHarness.EmitDone);
        h.ResumeUntilDone();
        h.Enter();
        Assert.Equal(2, h.Exits.Count);
        var inHandler = h.Exits[0];
        Assert.Equal((ulong)Vectors.GP, inHandler.R15);
        ulong sp = inHandler.GuestRsp;
        Assert.Equal(VmxHarness.StackTop - 48, sp);
        Assert.Equal(0x1234UL, h.Mem.Read64(sp));                          // error code
        Assert.Equal(VmxHarness.Code, h.Mem.Read64(sp + 8));               // RIP: GuestRip
        Assert.Equal((ulong)VmxHarness.KernelCode, h.Mem.Read64(sp + 16));  // CS
        Assert.Equal(2UL | (1UL << 6), h.Mem.Read64(sp + 24) & RfMask);    // RFLAGS
        Assert.Equal(VmxHarness.StackTop, h.Mem.Read64(sp + 32));          // RSP
        Assert.Equal((ulong)VmxHarness.KernelData, h.Mem.Read64(sp + 40));  // SS
        Assert.Equal(0u, h.V.EntryInterruptionInfo & InterruptionInfo.Valid); // SDM 27.2.3? the valid bit is cleared
        // After IRET the guest runs from GuestRip.
        Assert.Equal(VmxHarness.Done, h.Exits[1].R15);
        Assert.Equal(VmxHarness.Code + 6, h.Exits[1].GuestRip); // mov r15d, imm32; vmcall
        Assert.Equal(VmxHarness.StackTop, h.Exits[1].GuestRsp);
    }

    /// <summary>SDM 26.5.1.1: an injected software exception pushes GuestRip + VM-entry instruction length.</summary>
    [Fact]
    public void InjectedSoftwareExceptionReturnsPastTheInstruction()
    {
        var h = new VmxHarness();
        h.V.EntryInterruptionInfo = InterruptionInfo.Make(Vectors.BP, InterruptionInfo.TypeSoftwareException, false);
        h.V.EntryInstructionLength = 1;
        h.Guest(a => { a.int3(); VmxHarness.EmitDone(a); });
        h.Enter();
        var x = h.Single();
        Assert.Equal((ulong)Vectors.BP, x.R15);
        Assert.Equal(VmxHarness.Code + 1, h.Mem.Read64(x.GuestRsp));
    }

    /// <summary>
    /// SDM 25.2: with "interrupt-window exiting", a VM exit (reason 7) happens at the first
    /// instruction boundary where RFLAGS.IF = 1 and nothing blocks interrupts: not while IF = 0,
    /// not in the STI shadow, at once after it; an external interrupt injected then is delivered.
    /// </summary>
    [Fact]
    public void InterruptWindowExitsOnceInterruptsAreOpen()
    {
        var h = new VmxHarness();
        h.V.ProcBased |= ProcControls.InterruptWindowExiting;
        h.SetGate(0x40, VmxHarness.Stubs + 3 * 32);   // the stub that reports 3
        h.Guest(a => { a.nop(); a.sti(); a.nop(); a.nop(); VmxHarness.EmitDone(a); });
        h.OnExit = r =>
        {
            if (r.Reason == ExitReason.InterruptWindow)
            {
                h.V.ProcBased &= ~ProcControls.InterruptWindowExiting;
                h.V.EntryInterruptionInfo = InterruptionInfo.Make(0x40, InterruptionInfo.TypeExternal, false);
                return ExitAction.Resume;
            }
            if (r.Reason == ExitReason.Vmcall && r.R15 == VmxHarness.Done) return ExitAction.Stop;
            return h.SkipAndResume();
        };
        h.Enter();
        Assert.Equal(ExitReason.InterruptWindow, h.Exits[0].Reason);
        Assert.Equal(VmxHarness.Code + 3, h.Exits[0].GuestRip);   // nop; sti; nop (the shadow) -> then the window
        Assert.Equal(ExitReason.Vmcall, h.Exits[1].Reason);
        Assert.Equal(3UL, h.Exits[1].R15);                          // the injected interrupt's handler (vector 0x40) ran
    }

    private static void VirtualNmiSetup(VmxHarness h)
    {
        h.V.PinBased |= PinControls.NmiExiting | PinControls.VirtualNmis;
        h.V.ProcBased |= ProcControls.NmiWindowExiting;
    }

    /// <summary>A guest that only finishes, entered with "virtual NMIs" and an NMI to inject.</summary>
    private static VmxHarness WithInjectedVirtualNmi()
    {
        var h = new VmxHarness();
        VirtualNmiSetup(h);
        h.V.EntryInterruptionInfo = InterruptionInfo.Make(Vectors.NMI, InterruptionInfo.TypeNmi, false);
        h.Guest(VmxHarness.EmitDone);
        return h;
    }

    /// <summary>
    /// SDM 26.6.1.2 / 25.3: injecting an NMI with "virtual NMIs" sets virtual-NMI blocking; an
    /// NMI-window exit (reason 8) happens only after the guest's IRET removes it.
    /// </summary>
    [Fact]
    public void InjectedVirtualNmiBlocksUntilIret()
    {
        var h = WithInjectedVirtualNmi();
        h.OnExit = r =>
        {
            if (r.Reason == ExitReason.Vmcall && r.R15 == VmxHarness.Done) return ExitAction.Stop;
            if (r.Reason == ExitReason.NmiWindow) { h.V.ProcBased &= ~ProcControls.NmiWindowExiting; return ExitAction.Resume; }
            return h.SkipAndResume();
        };
        h.Enter();
        Assert.Equal(new[] { ExitReason.Vmcall, ExitReason.NmiWindow, ExitReason.Vmcall }, h.Exits.Select(e => e.Reason).ToArray());
        Assert.Equal((ulong)Vectors.NMI, h.Exits[0].R15);               // in the NMI handler
        Assert.Equal(8u, h.Exits[0].Interruptibility & 8);               // virtual-NMI blocking in effect
        Assert.Equal(VmxHarness.Code, h.Exits[1].GuestRip);              // after IRET, before the next instruction
        Assert.Equal(0u, h.Exits[1].Interruptibility & 8);
        Assert.Equal(VmxHarness.Done, h.Exits[2].R15);
    }

    /// <summary>
    /// SDM 26.6.1: with "virtual NMIs", VM entry takes virtual-NMI blocking from interruptibility bit 3; clearing it
    /// unblocks at once.
    /// </summary>
    [Fact]
    public void EntryWithBlockingBitClearedUnblocksVirtualNmis()
    {
        var h = WithInjectedVirtualNmi();
        h.OnExit = r =>
        {
            if (r.Reason == ExitReason.Vmcall && r.R15 == (ulong)Vectors.NMI)
            {
                h.V.GuestInterruptibility &= ~8u; // the hypervisor ends virtual-NMI blocking
                return h.SkipAndResume();
            }
            return ExitAction.Stop;
        };
        h.Enter();
        Assert.Equal(2, h.Exits.Count);
        Assert.Equal(ExitReason.NmiWindow, h.Exits[1].Reason);
        ulong iretAt = VmxHarness.Stubs + 2 * 32 + 9; // mov r15d, 2 (6 bytes); vmcall (3 bytes); iretq
        Assert.Equal(iretAt, h.Exits[1].GuestRip);
    }

    /// <summary>SDM 26.6.1: entering with interruptibility bit 3 = 1 (no injection) means virtual-NMI blocking until the guest's IRET.</summary>
    [Fact]
    public void EntryWithBlockingBitSetBlocksUntilIret()
    {
        var h = new VmxHarness();
        VirtualNmiSetup(h);
        h.V.GuestInterruptibility = 8;
        var after = default(Label);
        var r = h.Guest(a =>
        {
            after = a.CreateLabel();
            // Build an IRET frame to 'after' on the current stack.
            a.mov(rax, rsp);
            a.push(VmxHarness.KernelData);
            a.push(rax);
            a.pushfq();
            a.push(VmxHarness.KernelCode);
            a.lea(rax, __[after]);
            a.push(rax);
            a.iretq();
            a.Label(ref after);
            VmxHarness.EmitDone(a);
        });
        h.OnExit = x => ExitAction.Stop;
        h.Enter();
        var e = h.Single();
        Assert.Equal(ExitReason.NmiWindow, e.Reason);
        Assert.Equal(r.GetLabelRIP(after), e.GuestRip);
    }
}
