using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Lvd.Tests.Vmx;

/// <summary>Instruction exits and their exit qualifications / instruction information (SDM 25.1, 27.2).</summary>
public sealed class ExitQualificationTests
{
    /// <summary>Runs one instruction after a label; returns the harness and the instruction's address.</summary>
    private static (VmxHarness h, ulong rip) One(Action<Assembler> setup, Action<Assembler> insn, Action<VmxHarness>? configure = null,
        bool vpid = false)
    {
        var h = new VmxHarness(vpid);
        configure?.Invoke(h);
        var l = default(Label);
        var r = h.Guest(a =>
        {
            l = a.CreateLabel();
            setup(a);
            a.Label(ref l);
            insn(a);
            VmxHarness.EmitDone(a);
        });
        h.Enter();
        return (h, r.GetLabelRIP(l));
    }

    private static void Nothing(Assembler a) { }

    /// <summary>The run's one exit: its reason, the RIP of the exiting instruction and its length.</summary>
    private static ExitRecord SingleExit(VmxHarness h, ExitReason reason, ulong rip, uint length)
    {
        var x = h.Single();
        Assert.Equal(reason, x.Reason);
        Assert.Equal(rip, x.GuestRip);
        Assert.Equal(length, x.InstructionLength);
        return x;
    }

    [Fact] // SDM 25.1.2: CPUID exits unconditionally (reason 10)
    public void Cpuid()
    {
        var (h, rip) = One(Nothing, a => a.cpuid());
        SingleExit(h, ExitReason.Cpuid, rip, 2u);
    }

    [Fact] // SDM 25.1.3: HLT exits with "HLT exiting" (reason 12)
    public void HltExiting()
    {
        var (h, rip) = One(Nothing, a => a.hlt(), h => h.V.ProcBased |= ProcControls.HltExiting);
        SingleExit(h, ExitReason.Hlt, rip, 1u);
    }

    [Fact] // SDM 25.1.3: without "HLT exiting" the guest halts; no exit
    public void HltWithoutExitingHalts()
    {
        var h = new VmxHarness();
        var l = default(Label);
        var r = h.Guest(a => { l = a.CreateLabel(); a.hlt(); a.Label(ref l); VmxHarness.EmitDone(a); });
        var run = h.Enter();
        Assert.Equal(RunOutcome.Deadlock, run.Outcome);
        Assert.Empty(h.Exits);
        Assert.Equal(CpuState.Halted, h.Cpu.State);
        Assert.True(h.Cpu.NonRoot);
        Assert.Equal(r.GetLabelRIP(l), h.Cpu.Rip);
    }

    [Fact] // SDM 27.2.1: INVLPG exit qualification = the linear-address operand (reason 14)
    public void InvlpgExiting()
    {
        var (h, rip) = One(a => a.mov(rbx, 0x1234_5000), a => a.invlpg(__[rbx + 0x66]), h => h.V.ProcBased |= ProcControls.InvlpgExiting);
        var x = h.Single();
        Assert.Equal(ExitReason.Invlpg, x.Reason);
        Assert.Equal(0x1234_5066UL, x.Qualification);
        Assert.Equal(rip, x.GuestRip);
    }

    [Fact] // SDM 25.1.3: RDTSC exits with "RDTSC exiting" (reason 16)
    public void RdtscExiting()
    {
        var (h, rip) = One(Nothing, a => a.rdtsc(), h => h.V.ProcBased |= ProcControls.RdtscExiting);
        SingleExit(h, ExitReason.Rdtsc, rip, 2u);
    }

    [Fact] // SDM 25.1.2: VMCALL exits unconditionally (reason 18)
    public void Vmcall()
    {
        var (h, rip) = One(a => a.mov(r15d, 7), a => a.vmcall());
        SingleExit(h, ExitReason.Vmcall, rip, 3u);
    }

    [Fact] // SDM 25.1.2: XSETBV exits unconditionally (reason 55)
    public void Xsetbv()
    {
        var (h, rip) = One(a => { a.xor(ecx, ecx); a.mov(eax, 1); a.xor(edx, edx); }, a => a.xsetbv());
        SingleExit(h, ExitReason.Xsetbv, rip, 3u);
    }

    // ---------------- CR accesses ----------------

    /// <summary>
    /// SDM 25.1.3, Table 27-3: MOV to CR3 exits unless the value is one of the first CR3-target-count targets;
    /// qualification 3 | type 0 | GPR in 11:8.
    /// </summary>
    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(4, true)]
    public void MovToCr3WithTargets(int count, bool ownCr3IsTarget)
    {
        var h = new VmxHarness();
        h.V.ProcBased |= ProcControls.Cr3LoadExiting;
        h.V.Cr3TargetCount = count;
        for (int i = 0; i < 4; i++) h.V.Cr3Targets[i] = 0x5000 + (ulong)i * 0x1000;
        if (count > 0) h.V.Cr3Targets[count - 1] = VmxHarness.Pml4;
        // A second PML4 identical to the first, not a target.
        for (ulong i = 0; i < 512; i++) h.Mem.Write64(VmxHarness.SparePt2 + i * 8, h.Mem.Read64(VmxHarness.Pml4 + i * 8));
        var l1 = default(Label); var l2 = default(Label);
        var r = h.Guest(a =>
        {
            l1 = a.CreateLabel(); l2 = a.CreateLabel();
            a.mov(rax, VmxHarness.Pml4);
            a.Label(ref l1);
            a.mov(cr3, rax);
            a.mov(rsi, VmxHarness.SparePt2);
            a.Label(ref l2);
            a.mov(cr3, rsi);
            VmxHarness.EmitDone(a);
        });
        h.ResumeUntilDone();
        h.Enter();
        var crExits = h.Exits.Where(e => e.Reason == ExitReason.CrAccess).ToList();
        if (ownCr3IsTarget)
        {
            var x = Assert.Single(crExits);
            Assert.Equal(r.GetLabelRIP(l2), x.GuestRip);
            Assert.Equal(3UL | (0UL << 4) | (6UL << 8), x.Qualification);
        }
        else
        {
            Assert.Equal(2, crExits.Count);
            Assert.Equal(r.GetLabelRIP(l1), crExits[0].GuestRip);
            Assert.Equal(3UL | (0UL << 8), crExits[0].Qualification);
            Assert.Equal(3UL | (6UL << 8), crExits[1].Qualification);
        }
        Assert.Equal(VmxHarness.Pml4, h.V.GuestCr3); // the exiting moves were skipped, not performed
    }

    /// <summary>
    /// SDM 25.3 / 25.1.3: reads of owned CR0 bits return the read shadow; a MOV to CR0 exits only
    /// if an owned bit differs from the shadow; a non-exiting write leaves owned bits alone.
    /// </summary>
    [Fact]
    public void Cr0MaskAndShadow()
    {
        var h = new VmxHarness();
        h.V.Cr0GuestHostMask = Cpu.Cr0TS | Cpu.Cr0MP;
        h.V.Cr0ReadShadow = (h.V.GuestCr0 | Cpu.Cr0TS) & ~Cpu.Cr0MP; // shadow TS = 1, MP = 0; real TS = 0, MP = 1
        var l = default(Label);
        var r = h.Guest(a =>
        {
            l = a.CreateLabel();
            a.mov(r8, cr0);              // shadowed read
            a.mov(rax, r8);
            a.or(rax, 1 << 18);          // AM: guest-owned, changes freely
            a.mov(cr0, rax);             // owned bits equal the shadow: no exit
            a.mov(r9, cr0);
            a.mov(r10, cr4);             // VMXE hidden by the CR4 shadow
            a.mov(rdx, rax);
            a.and(rdx, ~8);              // clear TS: differs from the shadow
            a.Label(ref l);
            a.mov(cr0, rdx);
            VmxHarness.EmitDone(a);
        });
        h.Enter();
        ulong shadowView = (h.Cpu.GetRegister(Cpu.R8));
        Assert.Equal(Cpu.Cr0TS, shadowView & Cpu.Cr0TS);
        Assert.Equal(0UL, shadowView & Cpu.Cr0MP);
        Assert.Equal(shadowView | (1UL << 18), h.Cpu.GetRegister(Cpu.R9));
        Assert.Equal(0UL, h.Cpu.GetRegister(Cpu.R10) & Cpu.Cr4VMXE);
        var x = h.Single();
        Assert.Equal(ExitReason.CrAccess, x.Reason);
        Assert.Equal(r.GetLabelRIP(l), x.GuestRip);
        Assert.Equal(0UL | (0UL << 4) | (2UL << 8), x.Qualification); // CR0, MOV to CR, RDX
        Assert.Equal(0UL, x.GuestCr0 & Cpu.Cr0TS);                 // real TS untouched
        Assert.Equal(Cpu.Cr0MP, x.GuestCr0 & Cpu.Cr0MP);
        Assert.Equal(1UL << 18, x.GuestCr0 & (1UL << 18));             // the guest-owned write landed
    }

    /// <summary>SDM Table 27-3: MOV DR qualification: DR number 2:0, direction bit 4 (1 = from DR), GPR 11:8 (reason 29).</summary>
    [Fact]
    public void MovDrExiting()
    {
        var h = new VmxHarness();
        h.V.ProcBased |= ProcControls.MovDrExiting;
        var l1 = default(Label); var l2 = default(Label);
        var r = h.Guest(a =>
        {
            l1 = a.CreateLabel(); l2 = a.CreateLabel();
            a.Label(ref l1); a.mov(rbx, dr7);
            a.Label(ref l2); a.mov(dr3, r12);
            VmxHarness.EmitDone(a);
        });
        h.ResumeUntilDone();
        h.Enter();
        Assert.Equal(3, h.Exits.Count);
        Assert.Equal(ExitReason.MovDr, h.Exits[0].Reason);
        Assert.Equal(7UL | (1UL << 4) | (3UL << 8), h.Exits[0].Qualification);
        Assert.Equal(r.GetLabelRIP(l1), h.Exits[0].GuestRip);
        Assert.Equal(ExitReason.MovDr, h.Exits[1].Reason);
        Assert.Equal(3UL | (0UL << 4) | (12UL << 8), h.Exits[1].Qualification);
        Assert.Equal(r.GetLabelRIP(l2), h.Exits[1].GuestRip);
    }

    // ---------------- I/O ----------------

    /// <summary>
    /// SDM Table 27-5: size-1 in 2:0, direction bit 3 (1 = IN), string 4, REP 5, operand encoding bit 6 (1 =
    /// immediate), port 31:16.
    /// </summary>
    [Fact]
    public void UnconditionalIoExiting()
    {
        var h = new VmxHarness();
        h.V.ProcBased |= ProcControls.UnconditionalIoExiting;
        h.Guest(a =>
        {
            a.@out(0x80, al);
            a.mov(edx, 0x1234);
            a.@in(eax, dx);
            a.@out(dx, ax);
            a.@in(al, 0x71);
            a.mov(edx, 0xf4);
            a.@out(dx, eax);       // even the exit device port exits
            VmxHarness.EmitDone(a);
        });
        h.ResumeUntilDone();
        h.Enter();
        var io = h.Exits.Where(e => e.Reason == ExitReason.IoInstruction).Select(e => (e.Qualification, e.InstructionLength)).ToArray();
        Assert.Equal(new[]
        {
            (0UL | (1UL << 6) | (0x80UL << 16), 2u),
            (3UL | (1UL << 3) | (0x1234UL << 16), 1u),
            (1UL | (0x1234UL << 16), 2u),
            (0UL | (1UL << 3) | (1UL << 6) | (0x71UL << 16), 2u),
            (3UL | (0xf4UL << 16), 1u),
        }, io);
    }

    /// <summary>
    /// SDM 25.1.3: with I/O bitmaps (unconditional I/O exiting ignored) an access exits if any byte's bit is set; a
    /// wrap past FFFFH exits.
    /// </summary>
    [Fact]
    public void IoBitmaps()
    {
        var h = new VmxHarness();
        ulong bmA = h.NewPage(), bmB = h.NewPage();
        h.Mem.Write(bmA + (0x70 >> 3), 1, 1UL << (0x70 & 7));
        h.Mem.Write(bmB + 0, 1, 1);                     // port 0x8000
        h.V.ProcBased |= ProcControls.UseIoBitmaps | ProcControls.UnconditionalIoExiting;
        h.V.IoBitmapA = bmA;
        h.V.IoBitmapB = bmB;
        h.Guest(a =>
        {
            a.@out(0x80, al);       // clear: no exit
            a.@out(0x70, al);       // set: exit
            a.@in(al, 0x71);        // clear
            a.mov(edx, 0x7ffe);
            a.@in(ax, dx);          // 7FFE, 7FFF clear
            a.mov(edx, 0x7fff);
            a.@in(ax, dx);          // 7FFF, 8000: exit
            a.mov(edx, 0x8001);
            a.@in(eax, dx);         // clear
            a.mov(edx, 0xffff);
            a.@in(ax, dx);          // wraps: exit
            VmxHarness.EmitDone(a);
        });
        h.ResumeUntilDone();
        h.Enter();
        var ports = h.Exits.Where(e => e.Reason == ExitReason.IoInstruction).Select(e => e.Qualification >> 16).ToArray();
        Assert.Equal(new ulong[] { 0x70, 0x7fff, 0xffff }, ports);
        Assert.Equal(ExitReason.Vmcall, h.Last.Reason);
    }

    // ---------------- MSRs ----------------

    /// <summary>
    /// SDM 24.6.9 / 25.1.3: MSR bitmap quarters (read low, read high, write low, write high); MSRs outside both ranges
    /// always exit.
    /// </summary>
    [Fact]
    public void MsrBitmap()
    {
        var h = new VmxHarness();
        ulong bm = h.NewPage();
        void Set(ulong offset, uint bit) => h.Mem.Write(bm + offset + (bit >> 3), 1, h.Mem.Read(bm + offset + (bit >> 3),
            1) | (1UL << (int)(bit & 7)));
        Set(0, 0x10);                 // read TSC
        Set(1024, 0x102);             // read KERNEL_GS_BASE
        Set(2048, 0x277);             // write PAT
        Set(3072, 0x84);              // write FMASK
        h.V.ProcBased |= ProcControls.UseMsrBitmaps;
        h.V.MsrBitmap = bm;
        h.Guest(a =>
        {
            void Rd(uint msr) { a.mov(ecx, unchecked((int)msr)); a.rdmsr(); }
            void Wr(uint msr) { a.mov(ecx, unchecked((int)msr)); a.xor(eax, eax); a.xor(edx, edx); a.wrmsr(); }
            Rd(0x10);          // exit 31
            Rd(0x174);         // no exit
            Rd(0xc0000102);    // exit 31
            Rd(0xc0000080);    // no exit
            Wr(0x277);         // exit 32
            Wr(0xc0000084);    // exit 32
            Wr(0x175);         // no exit
            Rd(0x40000000);    // outside: exit 31
            Wr(0xc0002000);    // outside: exit 32
            Rd(0x2000);        // outside (first range ends at 1FFFH): exit 31
            VmxHarness.EmitDone(a);
        });
        h.ResumeUntilDone();
        h.Enter();
        var msrExits = h.Exits.Where(e => e.Reason is ExitReason.Rdmsr or ExitReason.Wrmsr).Select(e => (e.Reason, (uint)e.Rcx)).ToArray();
        Assert.Equal(new[]
        {
            (ExitReason.Rdmsr, 0x10u), (ExitReason.Rdmsr, 0xc0000102u), (ExitReason.Wrmsr, 0x277u), (ExitReason.Wrmsr, 0xc0000084u),
            (ExitReason.Rdmsr, 0x40000000u), (ExitReason.Wrmsr, 0xc0002000u), (ExitReason.Rdmsr, 0x2000u),
        }, msrExits);
        Assert.Equal(ExitReason.Vmcall, h.Last.Reason);
    }

    [Fact] // SDM 25.1.3: without "use MSR bitmaps" every RDMSR/WRMSR exits
    public void MsrWithoutBitmapAlwaysExits()
    {
        var (h, rip) = One(a => a.mov(ecx, 0xc0000080), a => a.rdmsr());
        SingleExit(h, ExitReason.Rdmsr, rip, 2u);
    }

    // ---------------- descriptor tables ----------------

    private static uint Info(uint scale, uint addrSize, uint seg, int index, int bas, uint identity) =>
        scale | (addrSize << 7) | (seg << 15) | (index < 0 ? 1u << 22 : (uint)index << 18) | (bas < 0 ? 1u << 27
            : (uint)bas << 23) | (identity << 28);

    /// <summary>SDM Table 27-10 (LGDT, LIDT, SGDT, SIDT; reason 46) and 27.2.1 (qualification = displacement; RIP-relative: the address).</summary>
    [Fact]
    public void GdtrIdtrAccessInstructionInformation()
    {
        var h = new VmxHarness();
        h.V.ProcBased2 |= Proc2Controls.DescriptorTableExiting;
        var target = default(Label);
        var ripRel = default(Label);
        var r = h.Guest(a =>
        {
            target = a.CreateLabel(); ripRel = a.CreateLabel();
            a.mov(rbx, VmxHarness.Data);
            a.xor(esi, esi);
            a.lgdt(__[rbx + rsi * 4 + 0x20]);     // LGDT: DS, base RBX, index RSI, scale 2
            a.sidt(__[rsp + 8]);                  // SIDT: SS, base RSP, no index
            a.sgdt(__.fs[r9 * 8 + 0x12345]);      // SGDT: FS, no base, index R9, scale 3
            a.Label(ref ripRel);
            a.lidt(__[target]);                   // LIDT: RIP-relative
            VmxHarness.EmitDone(a);
            a.Label(ref target);
            a.dq(0); a.dq(0);
        });
        h.ResumeUntilDone();
        h.Enter();
        var d = h.Exits.Where(e => e.Reason == ExitReason.GdtrIdtrAccess).ToArray();
        Assert.Equal(4, d.Length);
        const uint infoMask = 0x3fff_ff83; // defined bits: 1:0, 9:7, 29:15 (6:2, 14:10 undefined)
        Assert.Equal(Info(2, 2, 3, 6, 3, 2), d[0].InstructionInfo & infoMask);
        Assert.Equal(0x20UL, d[0].Qualification);
        Assert.Equal(Info(0, 2, 2, -1, 4, 1), d[1].InstructionInfo & infoMask);
        Assert.Equal(8UL, d[1].Qualification);
        Assert.Equal(Info(3, 2, 4, 9, -1, 0), d[2].InstructionInfo & infoMask);
        Assert.Equal(0x12345UL, d[2].Qualification);
        Assert.Equal(Info(0, 2, 3, -1, -1, 3), d[3].InstructionInfo & infoMask);
        Assert.Equal(r.GetLabelRIP(target), d[3].Qualification);
        Assert.Equal(r.GetLabelRIP(ripRel), d[3].GuestRip);
    }

    /// <summary>
    /// SDM Table 27-11 (LLDT, LTR, SLDT, STR; reason 47): register operands in 6:3 with bit 10 = 1; memory operands as
    /// Table 27-10.
    /// </summary>
    [Fact]
    public void LdtrTrAccessInstructionInformation()
    {
        var h = new VmxHarness();
        h.V.ProcBased2 |= Proc2Controls.DescriptorTableExiting;
        h.Guest(a =>
        {
            a.mov(rbx, VmxHarness.Data);
            a.str(ax);                         // STR AX
            a.mov(ecx, VmxHarness.TssSel);
            a.ltr(r14w);                       // LTR R14W
            a.str(__word_ptr[rbx + 8]);        // STR [RBX+8]
            a.sldt(__word_ptr[rbx + rdi * 2]); // SLDT [RBX+RDI*2]
            a.lldt(__word_ptr[rbp - 0x10]);    // LLDT [RBP-10H] (SS)
            VmxHarness.EmitDone(a);
        });
        h.ResumeUntilDone();
        h.Enter();
        var d = h.Exits.Where(e => e.Reason == ExitReason.LdtrTrAccess).ToArray();
        Assert.Equal(5, d.Length);
        const uint regMask = (3u << 28) | (1u << 10) | (0xfu << 3);
        Assert.Equal((1u << 28) | (1u << 10) | (0u << 3), d[0].InstructionInfo & regMask);
        Assert.Equal(0UL, d[0].Qualification);
        Assert.Equal((3u << 28) | (1u << 10) | (14u << 3), d[1].InstructionInfo & regMask);
        const uint memMask = 0x3fff_fb83; // 1:0, 9:7, 10, 29:15
        Assert.Equal(Info(0, 2, 3, -1, 3, 1), d[2].InstructionInfo & memMask);
        Assert.Equal(8UL, d[2].Qualification);
        Assert.Equal(Info(1, 2, 3, 7, 3, 0), d[3].InstructionInfo & memMask);
        Assert.Equal(0UL, d[3].Qualification);
        Assert.Equal(Info(0, 2, 2, -1, 5, 2), d[4].InstructionInfo & memMask);
        Assert.Equal(unchecked((ulong)-0x10L), d[4].Qualification);
    }

    // ---------------- exceptions, triple fault, timer ----------------

    /// <summary>
    /// SDM 25.2 / 27.2.1-2: a #PF in the exception bitmap exits (reason 0): info type 3 vector 14 with error code,
    /// qualification = linear address, CR2 unchanged.
    /// </summary>
    [Theory]
    [InlineData(false, 0u)]
    [InlineData(true, 2u)]
    public void PageFaultExitsThroughExceptionBitmap(bool write, uint errorCode)
    {
        var h = new VmxHarness();
        h.V.ExceptionBitmap = 1u << Vectors.PF;
        h.Cpu.Cr2 = 0x5555;
        const ulong la = 0x8000_1234; // guest PDPT entry 2 not present
        var l = default(Label);
        var r = h.Guest(a =>
        {
            l = a.CreateLabel();
            a.mov(rbx, la);
            a.Label(ref l);
            if (write) a.mov(__qword_ptr[rbx], rax); else a.mov(rax, __qword_ptr[rbx]);
            VmxHarness.EmitDone(a);
        });
        h.Enter();
        var x = h.Single();
        Assert.Equal(ExitReason.ExceptionOrNmi, x.Reason);
        Assert.Equal(0x8000_0b0eu, x.InterruptionInfo);
        Assert.Equal(errorCode, x.InterruptionErrorCode);
        Assert.Equal(la, x.Qualification);
        Assert.Equal(0x5555UL, x.Cr2);
        Assert.Equal(r.GetLabelRIP(l), x.GuestRip);
    }

    /// <summary>SDM 25.2: a triple fault in the guest is VM exit 2 (here: #UD with no IDT -> #GP -> #DF -> shutdown).</summary>
    [Fact]
    public void TripleFault()
    {
        var h = new VmxHarness();
        h.V.GuestIdtr = new DescriptorTable { Base = 0, Limit = 0 };
        h.Guest(a => { a.ud2(); VmxHarness.EmitDone(a); });
        h.Enter();
        var x = h.Single();
        Assert.Equal(ExitReason.TripleFault, x.Reason);
        Assert.NotEqual(CpuState.Shutdown, h.Cpu.State);
    }

    /// <summary>SDM 25.5.1: the preemption timer counts down at TSC >> 5 (IA32_VMX_MISC[4:0]) and exits (reason 52) at zero.</summary>
    [Fact]
    public void PreemptionTimerFires()
    {
        var h = new VmxHarness();
        h.V.PinBased |= PinControls.PreemptionTimer;
        h.V.PreemptionTimerValue = 1000;
        var loop = default(Label);
        var r = h.Guest(a => { loop = a.CreateLabel(); a.Label(ref loop); a.inc(rax); a.jmp(loop); });
        long start = h.Cpu.Cycles;
        h.Enter(10_000_000);
        var x = h.Single();
        Assert.Equal(ExitReason.PreemptionTimer, x.Reason);
        long elapsed = x.Cycles - start - h.Machine.Costs.VmExit;
        Assert.InRange(elapsed, 1000L * 32, 1000L * 32 + 2000);
        Assert.InRange(x.GuestRip, r.GetLabelRIP(loop), r.GetLabelRIP(loop) + 4);
    }

    /// <summary>SDM 25.5.1: a timer value of 0 exits before the first guest instruction.</summary>
    [Fact]
    public void PreemptionTimerZeroExitsImmediately()
    {
        var h = new VmxHarness();
        h.V.PinBased |= PinControls.PreemptionTimer;
        h.V.PreemptionTimerValue = 0;
        h.Guest(a => { a.mov(eax, 1); VmxHarness.EmitDone(a); });
        h.Enter();
        var x = h.Single();
        Assert.Equal(ExitReason.PreemptionTimer, x.Reason);
        Assert.Equal(VmxHarness.Code, x.GuestRip);
        Assert.Equal(0L, h.Cpu.Instructions);
    }

    /// <summary>SDM Table 27-3: MOV from CR3 with "CR3-store exiting": CR 3, access type 1 (bits 5:4), GPR in 11:8.</summary>
    [Fact]
    public void MovFromCr3WithStoreExiting()
    {
        var (h, rip) = One(Nothing, a => a.mov(r11, cr3), h => h.V.ProcBased |= ProcControls.Cr3StoreExiting);
        var x = h.Single();
        Assert.Equal(ExitReason.CrAccess, x.Reason);
        Assert.Equal(3UL | (1UL << 4) | (11UL << 8), x.Qualification);
        Assert.Equal(rip, x.GuestRip);
    }

    /// <summary>
    /// SDM 25.1.3 / Table 27-3: CLTS exits if CR0.TS is owned and its shadow is 1 (access type 2); otherwise it clears
    /// TS without exiting.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Clts(bool shadowTs)
    {
        var (h, rip) = One(Nothing, a => a.clts(), h =>
        {
            h.V.GuestCr0 |= Cpu.Cr0TS;
            h.V.Cr0GuestHostMask = Cpu.Cr0TS;
            h.V.Cr0ReadShadow = shadowTs ? Cpu.Cr0TS : 0;
        });
        var x = h.Exits[0];
        if (shadowTs)
        {
            Assert.Equal(ExitReason.CrAccess, x.Reason);
            Assert.Equal(0UL | (2UL << 4), x.Qualification);
            Assert.Equal(rip, x.GuestRip);
        }
        else
        {
            Assert.Equal(ExitReason.Vmcall, x.Reason);
            Assert.Equal(Cpu.Cr0TS, x.GuestCr0 & Cpu.Cr0TS); // owned bit: CLTS leaves CR0.TS alone
        }
    }

    /// <summary>
    /// SDM 25.2 / 27.2.2: INT3 with exception-bitmap bit 3 exits with interruption type 6 (software exception) and the
    /// instruction length.
    /// </summary>
    [Fact]
    public void Int3ThroughExceptionBitmap()
    {
        var (h, rip) = One(Nothing, a => a.int3(), h => h.V.ExceptionBitmap = 1u << Vectors.BP);
        var x = h.Single();
        Assert.Equal(ExitReason.ExceptionOrNmi, x.Reason);
        Assert.Equal(0x8000_0603u, x.InterruptionInfo);
        Assert.Equal(1u, x.InstructionLength);
        Assert.Equal(rip, x.GuestRip);
    }

    /// <summary>SDM 25.3: NMI-window exiting with no virtual-NMI blocking exits before the first guest instruction (reason 8).</summary>
    [Fact]
    public void NmiWindowWithoutBlockingExitsAtOnce()
    {
        var (h, _) = One(Nothing, a => a.nop(), h =>
        {
            h.V.PinBased |= PinControls.NmiExiting | PinControls.VirtualNmis;
            h.V.ProcBased |= ProcControls.NmiWindowExiting;
        });
        var x = h.Single();
        Assert.Equal(ExitReason.NmiWindow, x.Reason);
        Assert.Equal(VmxHarness.Code, x.GuestRip);
    }

    /// <summary>
    /// SDM 27.2.4: a VM exit during delivery of an event through the IDT records the event in the
    /// IDT-vectoring information (here an EPT violation on the IDT read while delivering #UD).
    /// </summary>
    [Fact]
    public void ExitDuringEventDeliveryRecordsIdtVectoringInfo()
    {
        var h = new VmxHarness();
        Assert.True(h.Ept.Map(VmxHarness.Idt, VmxHarness.Idt, 0x1000, 0)); // IDT page not present in EPT
        var l = default(Label);
        var r = h.Guest(a => { l = a.CreateLabel(); a.Label(ref l); a.ud2(); VmxHarness.EmitDone(a); });
        h.Enter();
        var x = h.Single();
        Assert.Equal(ExitReason.EptViolation, x.Reason);
        Assert.Equal(VmxHarness.Idt + (ulong)Vectors.UD * 16, x.GuestPhysical);
        Assert.Equal(1UL, x.Qualification & 7);
        Assert.Equal(r.GetLabelRIP(l), x.GuestRip);
        Assert.Equal(InterruptionInfo.Make(Vectors.UD, InterruptionInfo.TypeHardwareException, false), h.V.IdtVectoringInfo);
    }

    /// <summary>SDM 25.5.1: the preemption timer counts down in the HLT activity state too and its exit saves activity state HLT (1).</summary>
    [Fact]
    public void PreemptionTimerWakesAHaltedGuest()
    {
        var h = new VmxHarness();
        h.V.PinBased |= PinControls.PreemptionTimer;
        h.V.PreemptionTimerValue = 100;
        h.Guest(a => { a.hlt(); VmxHarness.EmitDone(a); });
        h.Enter();
        Assert.True(h.Exits.Count == 1, $"no exit: outcome with the vCPU {h.Cpu.State}");
        var x = h.Single();
        Assert.Equal(ExitReason.PreemptionTimer, x.Reason);
        Assert.Equal(1u, h.V.GuestActivityState);
        Assert.Equal(VmxHarness.Code + 1, x.GuestRip);
    }
}
