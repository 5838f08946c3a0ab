using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Lvd.Tests.Vmx;

/// <summary>VMFUNC leaf 0 (EPTP switching): #UD cases, exit-59 cases, the switch itself (SDM Vol. 2B VMFUNC, Vol. 3C 25.5.5).</summary>
public sealed class VmfuncTests
{
    /// <summary>The host page that the second EPT puts behind guest-physical <see cref="VmxHarness.Data"/>.</summary>
    private const ulong OtherHpa = 0x210000;

    /// <summary>EPT 0: the harness's identity map. EPT 1: the same, but Data -> OtherHpa. List[0..1] = their EPTPs.</summary>
    internal static (ulong List, EptTable Second) SetupSwitching(VmxHarness h, ulong? entry1 = null)
    {
        var second = EptTable.Create(h.Hv, h.Mem)!;
        Assert.True(second.Map(0, 0, h.Machine.GuestRamTop, VmxHarness.Rwx));
        Assert.True(second.Map(VmxHarness.Data, OtherHpa, 0x1000, VmxHarness.Rwx));
        ulong list = h.NewPage();
        h.Mem.Write64(list, h.Ept.Eptp);
        h.Mem.Write64(list + 8, entry1 ?? second.Eptp);
        h.Mem.Write64(VmxHarness.Data, VmxHarness.ValueA);
        h.Mem.Write64(OtherHpa, VmxHarness.ValueB);
        h.V.ProcBased2 |= Proc2Controls.EnableVmFunctions;
        h.V.VmFunctionControls = VmFunctionControls.EptpSwitching;
        h.V.EptpListAddress = list;
        return (list, second);
    }

    /// <summary>Guest: VMFUNC with EAX/ECX, then "done"; returns the VMFUNC's address.</summary>
    private static ulong VmfuncGuest(VmxHarness h, uint fn, uint idx)
    {
        var l = default(Label);
        var r = h.Guest(a =>
        {
            l = a.CreateLabel();
            a.mov(eax, unchecked((int)fn));
            a.mov(ecx, unchecked((int)idx));
            a.Label(ref l);
            a.vmfunc();
            VmxHarness.EmitDone(a);
        });
        return r.GetLabelRIP(l);
    }

    // ---------------- #UD ----------------

    /// <summary>SDM VMFUNC: #UD outside VMX non-root operation.</summary>
    [Fact]
    public void OutsideNonRootIsUd()
    {
        var h = new VmxHarness();
        // Native #UD handler: store the faulting RIP, exit with status 6.
        var hd = VmxHarness.Asm();
        hd.mov(rax, __qword_ptr[rsp]);
        hd.mov(rbx, VmxHarness.Data);
        hd.mov(__qword_ptr[rbx], rax);
        hd.mov(eax, 6);
        hd.@out(0xf4, eax);
        h.WriteCode(VmxHarness.Stubs + 0x1000, hd);
        h.SetGate(6, VmxHarness.Stubs + 0x1000);
        ulong at = VmfuncGuest(h, 0, 0);
        var r = h.Machine.Run(10_000); // never VmEnter: the CPU runs natively
        Assert.Equal(RunOutcome.Exited, r.Outcome);
        Assert.Equal(6, r.ExitCode);
        Assert.Equal(at, h.Mem.Read64(VmxHarness.Data));
        Assert.Equal(0, h.Cpu.VmFuncs);
    }

    public static IEnumerable<object[]> UdCases() =>
    [
        [false, 0u, 0u],          // "enable VM functions" = 0
        [true, 64u, 0u],          // EAX >= 64
        [true, 0xffffffffu, 0u],
        [true, 0x100u, 1u],
    ];

    /// <summary>SDM VMFUNC: #UD if "enable VM functions" is 0 or EAX >= 64 (delivered through the guest IDT).</summary>
    [Theory]
    [MemberData(nameof(UdCases))]
    public void UdInGuest(bool enable, uint eax, uint ecx)
    {
        var h = new VmxHarness();
        SetupSwitching(h);
        if (!enable) h.V.ProcBased2 &= ~Proc2Controls.EnableVmFunctions;
        ulong at = VmfuncGuest(h, eax, ecx);
        h.Enter();
        var x = h.Single();
        Assert.Equal(ExitReason.Vmcall, x.Reason);
        Assert.Equal((ulong)Vectors.UD, x.R15);                       // the #UD stub ran
        Assert.Equal(at, h.Mem.Read64(x.GuestRsp));                  // frame: RIP of the VMFUNC
        Assert.Equal(0, h.Cpu.VmFuncs);
        Assert.Equal(h.Ept.Eptp, h.V.Eptp);
        Assert.Equal(0, h.Cpu.ExitsByReason[(int)ExitReason.Vmfunc]);
    }

    /// <summary>SDM 25.2: with exception-bitmap bit 6 the #UD of VMFUNC is exit 0, interruption info vector 6, type 3, no error code.</summary>
    [Theory]
    [InlineData(false, 0u)]
    [InlineData(true, 64u)]
    public void UdExitsThroughExceptionBitmap(bool enable, uint eax)
    {
        var h = new VmxHarness();
        SetupSwitching(h);
        if (!enable) h.V.ProcBased2 &= ~Proc2Controls.EnableVmFunctions;
        h.V.ExceptionBitmap = 1u << Vectors.UD;
        ulong at = VmfuncGuest(h, eax, 0);
        h.Enter();
        var x = h.Single();
        Assert.Equal(ExitReason.ExceptionOrNmi, x.Reason);
        Assert.Equal(0x8000_0306u, x.InterruptionInfo);
        Assert.Equal(at, x.GuestRip);
    }

    // ---------------- exit 59 ----------------

    public static IEnumerable<object[]> ExitCases()
    {
        yield return ["function 0 disabled", 0u, 1u, 0UL];
        yield return ["function 1 disabled", 1u, 0u, 0UL];
        yield return ["function 63 disabled", 63u, 0u, 0UL];
        yield return ["ECX = 512", 0u, 512u, 0UL];
        yield return ["ECX = 0xffffffff", 0u, 0xffffffffu, 0UL];
        yield return ["memory type 1", 0u, 1u, 1UL];
        yield return ["memory type 7", 0u, 1u, 7UL];
        yield return ["walk length 3", 0u, 1u, 2UL << 3];
        yield return ["walk length 5", 0u, 1u, 4UL << 3];
        yield return ["reserved bit 7", 0u, 1u, 1UL << 7];
        yield return ["reserved bit 11", 0u, 1u, 1UL << 11];
        yield return ["bit 46 (MAXPHYADDR)", 0u, 1u, 1UL << 46];
        yield return ["bit 63", 0u, 1u, 1UL << 63];
        yield return ["zero entry", 0u, 2u, 0UL];
    }

    /// <summary>
    /// SDM 25.5.5.3: VM exit 59 if the function is not enabled, ECX >= 512, or the list entry is not a valid EPTP;
    /// nothing changes.
    /// </summary>
    [Theory]
    [MemberData(nameof(ExitCases))]
    public void ExitReason59(string name, uint eax, uint ecx, ulong corruption)
    {
        var h = new VmxHarness();
        var (list, second) = SetupSwitching(h);
        if (name.StartsWith("function 0")) h.V.VmFunctionControls = 0;
        if (name.StartsWith("function 0")) h.V.ProcBased2 |= Proc2Controls.EnableVmFunctions;
        if (corruption != 0)
        {
            ulong e = second.Eptp;
            if (name.StartsWith("memory type") || name.StartsWith("walk length")) e &= ~0x3fUL;
            h.Mem.Write64(list + 8, e | corruption);
        }
        ulong at = VmfuncGuest(h, eax, ecx);
        h.Enter();
        var x = h.Single();
        Assert.Equal(ExitReason.Vmfunc, x.Reason);
        Assert.Equal(at, x.GuestRip);
        Assert.Equal(3u, x.InstructionLength);
        Assert.Equal(h.Ept.Eptp, h.V.Eptp);
        Assert.Equal(0, h.V.EptpIndex);
        Assert.Equal(0, h.Cpu.VmFuncs);
    }

    // ---------------- the switch ----------------

    /// <summary>SDM 25.5.5.3: a valid VMFUNC leaf 0 loads EPTP from the list, updates the EPTP index, and causes no VM exit.</summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void SwitchLoadsTheOtherEpt(bool vpid, bool cpl3)
    {
        var h = new VmxHarness(vpid);
        var (_, second) = SetupSwitching(h);
        if (cpl3) h.GuestAtCpl3(); // SDM VMFUNC: no CPL check
        h.Guest(a =>
        {
            a.mov(rbx, VmxHarness.Data);
            a.mov(r8, __qword_ptr[rbx]);
            a.xor(eax, eax);
            a.mov(ecx, 1);
            a.vmfunc();
            a.mov(r9, __qword_ptr[rbx]);
            VmxHarness.EmitDone(a);
        });
        h.Enter();
        var x = h.Single();
        Assert.Equal(ExitReason.Vmcall, x.Reason);
        Assert.Equal(VmxHarness.Done, x.R15);
        Assert.Equal(VmxHarness.ValueA, h.Cpu.GetRegister(Cpu.R8));
        Assert.Equal(VmxHarness.ValueB, h.Cpu.GetRegister(Cpu.R9));
        Assert.Equal(second.Eptp, h.V.Eptp);
        Assert.Equal(1, h.V.EptpIndex);
        Assert.Equal(1, h.Cpu.VmFuncs);
        Assert.Equal(1, h.Cpu.VmExits);
        Assert.Equal(0, h.Cpu.ExitsByReason[(int)ExitReason.Vmfunc]);
    }

    /// <summary>SDM 28.4.1: only combined mappings of the current EPTP are used, so switching back and forth sees each EPT's data.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SwitchingBackAndForthSeesEachEpt(bool vpid)
    {
        var h = new VmxHarness(vpid);
        SetupSwitching(h);
        h.Guest(a =>
        {
            a.mov(rbx, VmxHarness.Data);
            a.mov(r8, __qword_ptr[rbx]);
            a.xor(eax, eax); a.mov(ecx, 1); a.vmfunc();
            a.mov(r9, __qword_ptr[rbx]);
            a.xor(eax, eax); a.xor(ecx, ecx); a.vmfunc();
            a.mov(r10, __qword_ptr[rbx]);
            a.xor(eax, eax); a.mov(ecx, 1); a.vmfunc();
            a.mov(r11, __qword_ptr[rbx]);
            a.mov(rdx, 0x5151);
            a.mov(__qword_ptr[rbx], rdx); // lands in the host page of EPT 1
            a.xor(eax, eax); a.xor(ecx, ecx); a.vmfunc();
            a.mov(r12, __qword_ptr[rbx]);
            VmxHarness.EmitDone(a);
        });
        h.Enter();
        Assert.Equal(ExitReason.Vmcall, h.Single().Reason);
        Assert.Equal(VmxHarness.ValueA, h.Cpu.GetRegister(Cpu.R8));
        Assert.Equal(VmxHarness.ValueB, h.Cpu.GetRegister(Cpu.R9));
        Assert.Equal(VmxHarness.ValueA, h.Cpu.GetRegister(Cpu.R10));
        Assert.Equal(VmxHarness.ValueB, h.Cpu.GetRegister(Cpu.R11));
        Assert.Equal(VmxHarness.ValueA, h.Cpu.GetRegister(Cpu.R12));
        Assert.Equal(0x5151UL, h.Mem.Read64(OtherHpa));
        Assert.Equal(VmxHarness.ValueA, h.Mem.Read64(VmxHarness.Data));
        Assert.Equal(4, h.Cpu.VmFuncs);
        Assert.Equal(0, h.V.EptpIndex);
    }

    /// <summary>An EPTP with UC memory type is valid for VMFUNC (SDM 24.6.11: types 0 and 6).</summary>
    [Fact]
    public void UncachedEptpIsValid()
    {
        var h = new VmxHarness();
        var (list, second) = SetupSwitching(h);
        h.Mem.Write64(list + 8, second.Eptp & ~7UL); // memory type UC
        VmfuncGuest(h, 0, 1);
        h.Enter();
        Assert.Equal(ExitReason.Vmcall, h.Single().Reason);
        Assert.Equal(1, h.Cpu.VmFuncs);
        Assert.Equal(second.Eptp & ~7UL, h.V.Eptp);
    }

    /// <summary>After VMFUNC, fetches go through the new EPT too: the code page is mapped to different host code.</summary>
    [Fact]
    public void InstructionFetchFollowsTheNewEpt()
    {
        var h = new VmxHarness();
        var (_, second) = SetupSwitching(h);
        const ulong codeGpa = 0x220000, hostA = 0x220000, hostB = 0x230000;
        var ca = VmxHarness.Asm(); ca.mov(r13d, 0xA); VmxHarness.EmitDone(ca);
        var cb = VmxHarness.Asm(); cb.mov(r13d, 0xB); VmxHarness.EmitDone(cb);
        h.WriteCode(hostA, ca);
        h.WriteCode(hostB, cb);
        Assert.True(second.Map(codeGpa, hostB, 0x1000, VmxHarness.Rwx));
        h.Guest(a => { a.xor(eax, eax); a.mov(ecx, 1); a.vmfunc(); a.mov(rbx, codeGpa); a.jmp(rbx); });
        h.Enter();
        Assert.Equal(ExitReason.Vmcall, h.Single().Reason);
        Assert.Equal(0xBUL, h.Cpu.GetRegister(Cpu.R13));
    }

    /// <summary>SDM VMFUNC: the function number is EAX and the index ECX; bits 63:32 of RAX/RCX are ignored.</summary>
    [Fact]
    public void UpperRegisterHalvesAreIgnored()
    {
        var h = new VmxHarness();
        var (_, second) = SetupSwitching(h);
        h.Guest(a =>
        {
            a.mov(rax, 0x7fff_0000_0000_0000L);
            a.mov(rcx, 0x1234_5678_0000_0001L);
            a.vmfunc();
            VmxHarness.EmitDone(a);
        });
        h.Enter();
        Assert.Equal(ExitReason.Vmcall, h.Single().Reason);
        Assert.Equal(second.Eptp, h.V.Eptp);
        Assert.Equal(1, h.V.EptpIndex);
    }
}
