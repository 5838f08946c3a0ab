using Lvd.Machine.Decoding;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Execution;

/// <summary>
/// Compatibility mode (IA-32e with CS.L=0) and 32-bit protected mode (EFER.LMA=0), as far as
/// docs/CPU-MODES.md says: 32-bit code runs from blocks decoded at bitness 32 (their own run
/// chain, so the 64-bit chain pays nothing), through ESP with 4-byte slots, EIP truncated; CS
/// comes from descriptors (far JMP/CALL/RET, IRET) with the SDM's checks; MOV to CR0 moves
/// between the modes (SDM 9.8.5); with CR0.PG=0 linear = physical (then EPT in VMX non-root);
/// a 32-bit interrupt or trap gate delivers at the same privilege in protected mode. The flat
/// memory model only: a 32-bit chain starts only when CS, SS, DS and ES have base 0 and a 4 GiB
/// limit; anything else the machine does not model stops the run with a machine check naming it,
/// never a silently wrong result.
/// </summary>
public sealed partial class Cpu
{
    private const uint AttrL = 1u << 13, AttrDB = 1u << 14;
    private BlockDecoder? _decoder32;

    /// <summary>64-bit mode: IA-32e mode active and CS.L=1 (SDM 2.2.1).</summary>
    public bool In64BitMode => (Efer & EferLMA) != 0 && (Segs[(int)SegReg.CS].Attributes & AttrL) != 0;

    /// <summary>"64-bit", "compatibility" or "protected" (reports).</summary>
    public string ModeName => In64BitMode ? "64-bit" : (Efer & EferLMA) != 0 ? "compatibility" : "protected";

    private BlockDecoder Decoder32 => _decoder32 ??= new BlockDecoder(Costs, bitness: 32);

    /// <summary>The chain of <see cref="RunChain"/> for 32-bit code.</summary>
    private void RunChain32()
    {
        Check32Segments();
        do
        {
            var block = GetBlock32();
            if (!RunBlock(block)) break;
        }
        while (Cycles < _cycleLimit && Instructions < _instructionLimit && !_attention);
    }

    private Block GetBlock32()
    {
        // EIP is 32 bits: code running off the end of the 4 GiB segment wraps (CS.limit = 4 GiB - 1).
        ulong rip = Rip = (uint)Rip;
        ulong pa = FetchPhys(rip);
        return _code.Lookup32(pa) ?? DecodeBlock(rip, pa, single: false, mode32: true);
    }

    /// <summary>
    /// The segment state a 32-bit chain needs (the flat model; checked at every chain start, and
    /// every segment load ends a chain): CS a 32-bit code segment, SS, DS and ES writable
    /// expand-up data segments (SS with B=1), each with base 0 and limit 4 GiB - 1. FS and GS are
    /// never used by 32-bit code here (their overrides are #UD).
    /// </summary>
    private void Check32Segments()
    {
        ref var cs = ref Segs[(int)SegReg.CS];
        if (!Flat(in cs) || (cs.Attributes & 0x18) != 0x18 || (cs.Attributes & AttrDB) == 0) Unmodeled32("CS", in cs);
        for (int s = 0; s < 4; s++)
        {
            if (s == (int)SegReg.CS) continue;
            ref var seg = ref Segs[s];
            bool ok = Flat(in seg) && (seg.Attributes & 0x1e) == 0x12 && (s != (int)SegReg.SS || (seg.Attributes & AttrDB) != 0);
            if (!ok) Unmodeled32(((SegReg)s).ToString(), in seg);
        }
    }

    private static bool Flat(in Segment s) => (s.Attributes & Segment.Unusable) == 0 && s.Base == 0 && s.Limit == 0xffffffff;

    private void Unmodeled32(string name, in Segment s) =>
        throw new MachineCheck($"vCPU {Id} in {ModeName} mode at RIP 0x{Rip:x}: {name} = 0x{s.Selector:x} (base 0x{s.Base:x}, limit " +
            $"0x{s.Limit:x}, attributes 0x{s.Attributes:x}) is not a flat segment; 32-bit code runs only with flat CS/SS/DS/ES " +
            "(docs/CPU-MODES.md)");

    private MachineCheck Unmodeled(string what) =>
        new($"vCPU {Id} in {ModeName} mode at RIP 0x{Rip:x}: {what} is not modeled (docs/CPU-MODES.md)");

    // ---- the stack through ESP (SS.B = 1) ----

    private void Push32(int size, ulong v)
    {
        uint sp = (uint)R(RSP) - (uint)size;
        WriteMem(sp, size, v);
        R(RSP) = sp;
    }

    private ulong Pop32(int size)
    {
        uint sp = (uint)R(RSP);
        ulong v = ReadMem(sp, size);
        R(RSP) = sp + (uint)size;
        return v;
    }

    /// <summary>A near branch target in 32-bit code: truncated to the operand size, within CS's limit (SDM JMP: #GP(0)).</summary>
    private ulong Target32(ulong t, int size)
    {
        t &= Mask(size);
        return t <= Segs[(int)SegReg.CS].Limit ? t : throw GuestFault.Gp();
    }

    /// <summary><see cref="Handler.Legacy"/>: returns as <see cref="ExecuteCold"/> does.</summary>
    private int ExecuteLegacy(ref Op op, ulong next, int i)
    {
        int size = op.Size;
        switch (op.Sub)
        {
            case LegacyOp.Push:
            {
                ulong v = (op.Form & OpForm.ImmSrc) != 0 ? (ulong)op.Imm
                    : (op.Form & OpForm.MemSrc) != 0 ? ReadMem(Ea(ref op, next), size) : GetReg(op.R2, size);
                Push32(size, v);
                return -1;
            }
            case LegacyOp.Pop:
            {
                ulong old = R(RSP);
                ulong v = Pop32(size);
                try
                {
                    // SDM POP: an ESP-based destination address is computed after the increment.
                    if ((op.Form & OpForm.MemDst) != 0) WriteMem(Ea(ref op, next), size, v);
                    else SetReg(op.R1, size, v);
                }
                catch (GuestFault) { R(RSP) = old; throw; }
                return -1;
            }
            case LegacyOp.PushSeg:
            {
                // SDM PUSH: with a 32-bit operand size recent Intel processors write the selector with a
                // 16-bit move, leaving the upper half of the slot as it was.
                uint sp = (uint)R(RSP) - (uint)size;
                ProbeWrite(sp, size);
                Write16(sp, Segs[op.R1].Selector);
                R(RSP) = sp;
                return -1;
            }
            case LegacyOp.PopSeg:
            {
                uint sp = (uint)R(RSP);
                ushort sel = Read16(sp);
                LoadDataSegment(op.R1, sel);
                R(RSP) = sp + (uint)size;
                Rip = next;
                Instructions += i + 1;
                return 1;
            }
            case LegacyOp.Pusha:
            {
                uint sp = (uint)R(RSP);
                ProbeWrite(sp - (uint)(8 * size), 8 * size);
                // EAX, ECX, EDX, EBX, the original ESP, EBP, ESI, EDI (register order).
                for (int r = 0; r < 8; r++) WriteMem(sp - (uint)((r + 1) * size), size, GetReg(r, size));
                R(RSP) = sp - (uint)(8 * size);
                return -1;
            }
            case LegacyOp.Popa:
            {
                uint sp = (uint)R(RSP);
                Span<ulong> v = stackalloc ulong[8];
                for (int r = 0; r < 8; r++) v[r] = ReadMem(sp + (uint)((7 - r) * size), size);
                for (int r = 0; r < 8; r++) if (r != RSP) SetReg(r, size, v[r]);
                R(RSP) = sp + (uint)(8 * size);
                return -1;
            }
            case LegacyOp.Jmp:
                Rip = Target32(next + (ulong)op.Imm, size);
                Instructions += i + 1;
                return 0;
            case LegacyOp.Jcc:
                Rip = Cond(op.R1) ? Target32(next + (ulong)op.Imm, size) : next;
                Instructions += i + 1;
                return 0;
            case LegacyOp.JmpInd:
                Rip = Target32((op.Form & OpForm.MemSrc) != 0 ? ReadMem(Ea(ref op, next), size) : GetReg(op.R2, size), size);
                Instructions += i + 1;
                return 0;
            case LegacyOp.Call:
            case LegacyOp.CallInd:
            {
                ulong target = op.Sub == LegacyOp.Call ? next + (ulong)op.Imm
                    : (op.Form & OpForm.MemSrc) != 0 ? ReadMem(Ea(ref op, next), size) : GetReg(op.R2, size);
                target = Target32(target, size);
                Push32(size, next);
                Rip = target;
                Instructions += i + 1;
                return 0;
            }
            case LegacyOp.Ret:
            {
                uint sp = (uint)R(RSP);
                ulong target = Target32(ReadMem(sp, size), size);
                R(RSP) = sp + (uint)size + (uint)op.Imm;
                Rip = target;
                Instructions += i + 1;
                return 0;
            }
            case LegacyOp.Loop:
            {
                ulong c = (R(RCX) - 1) & Mask(op.Size2);
                bool take = c != 0 && (op.R1 == 0 || (op.R1 == 1 ? Cond(4) : !Cond(4)));
                ulong target = take ? Target32(next + (ulong)op.Imm, size) : next;
                SetReg(RCX, op.Size2, c);
                Rip = target;
                Instructions += i + 1;
                return 0;
            }
            case LegacyOp.Jcxz:
                Rip = (R(RCX) & Mask(op.Size2)) == 0 ? Target32(next + (ulong)op.Imm, size) : next;
                Instructions += i + 1;
                return 0;
            case LegacyOp.Enter:
            {
                int level = (int)(op.Disp & 31);
                uint frameSize = (uint)op.Imm & 0xffff;
                uint esp = (uint)R(RSP), ebp = (uint)R(RBP);
                uint sp = esp - 4;
                Write32(sp, ebp);
                uint frameTemp = sp;
                for (int l = 1; l < level; l++)
                {
                    ebp -= 4;
                    sp -= 4;
                    Write32(sp, Read32(ebp));
                }
                if (level > 0) { sp -= 4; Write32(sp, frameTemp); }
                R(RBP) = frameTemp;
                R(RSP) = sp - frameSize;
                return -1;
            }
            case LegacyOp.Leave:
            {
                uint bp = (uint)R(RBP);
                ulong v = Read32(bp);
                R(RSP) = bp + 4u;
                R(RBP) = (uint)v;
                return -1;
            }
        }
        throw GuestFault.Ud();
    }

    // ---- far transfers ----

    /// <summary>
    /// The code segment of a far JMP or CALL to <paramref name="sel"/> (SDM JMP/CALL, protected
    /// mode, "code segment"): null is #GP(0); a system descriptor (call gate, task gate, TSS: not
    /// modeled) or a data segment #GP(sel); conforming needs DPL &lt;= CPL, non-conforming RPL &lt;= CPL
    /// and DPL = CPL; not present #NP(sel); L=1 with D=1 in IA-32e mode #GP(sel). CPL stays.
    /// </summary>
    private Segment FarCodeSegment(ushort sel)
    {
        if ((sel & ~3) == 0) throw GuestFault.Gp();
        ulong d = ReadDescriptor(sel);
        uint attr = Segment.AttributesFromDescriptor(d);
        uint err = (uint)(sel & ~3);
        if ((attr & 0x18) != 0x18) throw GuestFault.Gp(err);
        int dpl = (int)(attr >> 5) & 3;
        bool conforming = (attr & 4) != 0;
        if (conforming ? dpl > Cpl : (sel & 3) > Cpl || dpl != Cpl) throw GuestFault.Gp(err);
        if ((attr & 0x80) == 0) throw new GuestFault(Vectors.NP, err, true);
        if ((Efer & EferLMA) != 0 && (attr & AttrL) != 0 && (attr & AttrDB) != 0) throw GuestFault.Gp(err);
        return new Segment
        {
            Selector = (ushort)((sel & ~3) | Cpl), Base = Segment.BaseFromDescriptor(d), Limit = Segment.LimitFromDescriptor(d),
            Attributes = attr,
        };
    }

    /// <summary>The new RIP under CS <paramref name="cs"/>: canonical in 64-bit mode, else within the limit (#GP(0)).</summary>
    private ulong FarTarget(in Segment cs, ulong offset)
    {
        bool to64 = (Efer & EferLMA) != 0 && (cs.Attributes & AttrL) != 0;
        if (to64 ? !IsCanonical(offset) : offset > cs.Limit) throw GuestFault.Gp();
        return offset;
    }

    /// <summary>An address on the current stack: ESP wraps at 4 GiB outside 64-bit mode.</summary>
    private ulong StackAddress(ulong a, bool stack32) => stack32 ? (uint)a : a;

    private void FarJmpCall(ref Op op, ulong next, bool call)
    {
        ulong offset;
        ushort sel;
        bool stack32 = !In64BitMode;
        if ((op.Form & OpForm.MemSrc) != 0)
        {
            ulong ea = Ea(ref op, next);
            offset = ReadMem(ea, op.Size);
            sel = Read16(stack32 ? (uint)(ea + op.Size) : ea + op.Size);
        }
        else
        {
            offset = (uint)op.Imm;
            sel = (ushort)op.Disp;
        }
        var cs = FarCodeSegment(sel);
        ulong target = FarTarget(in cs, offset);
        if (call)
        {
            // SDM CALL: CS then the return offset, each in an operand-size slot; both probed first.
            int size = op.Size;
            ulong sp = R(RSP);
            ulong slotCs = StackAddress(sp - (ulong)size, stack32), slotIp = StackAddress(sp - 2 * (ulong)size, stack32);
            ProbeWrite(slotIp, size);
            ProbeWrite(slotCs, size);
            WriteMem(slotCs, size, Segs[(int)SegReg.CS].Selector);
            WriteMem(slotIp, size, next);
            R(RSP) = slotIp;
        }
        Segs[(int)SegReg.CS] = cs;
        Rip = target;
    }

    /// <summary>
    /// RETF (SDM RET, far return to the same privilege level): pops the offset and CS in
    /// operand-size slots and releases <paramref name="release"/> bytes. Returns to an outer
    /// level (which also pop SS:ESP) are not modeled: #GP(selector), as before.
    /// </summary>
    private void FarReturn(int size, ulong release)
    {
        bool stack32 = !In64BitMode;
        ulong sp = R(RSP);
        if (stack32) sp = (uint)sp;
        ulong ip = ReadMem(sp, size);
        ushort sel = (ushort)ReadMem(StackAddress(sp + (ulong)size, stack32), 2);
        uint err = (uint)(sel & ~3);
        if ((sel & ~3) == 0) throw GuestFault.Gp();
        if ((sel & 3) != Cpl) throw GuestFault.Gp(err);
        ulong desc = ReadDescriptor(sel);
        uint attr = Segment.AttributesFromDescriptor(desc);
        int dpl = (int)(attr >> 5) & 3;
        if ((attr & 0x18) != 0x18 || ((attr & 4) != 0 ? dpl > Cpl : dpl != Cpl)) throw GuestFault.Gp(err);
        if ((attr & 0x80) == 0) throw new GuestFault(Vectors.NP, err, true);
        if ((Efer & EferLMA) != 0 && (attr & AttrL) != 0 && (attr & AttrDB) != 0) throw GuestFault.Gp(err);
        var cs = new Segment
        {
            Selector = sel, Base = Segment.BaseFromDescriptor(desc), Limit = Segment.LimitFromDescriptor(desc), Attributes = attr,
        };
        ulong target = FarTarget(in cs, ip);
        Segs[(int)SegReg.CS] = cs;
        R(RSP) = StackAddress(sp + 2 * (ulong)size + release, stack32);
        Rip = target;
    }

    /// <summary>
    /// IRET, IRETD and IRETQ in protected and IA-32e mode (SDM IRET): pops EIP/RIP, CS and
    /// EFLAGS in operand-size slots, and SS:ESP when returning to an outer level or with a 64-bit
    /// operand size; the target may be 64-bit, compatibility or protected-mode code. Not
    /// modeled (machine check): a task return (NT=1 outside IA-32e mode) and a return to
    /// virtual-8086 mode; NT=1 in IA-32e mode is #GP(0).
    /// </summary>
    private void Iret(int size)
    {
        bool ia32e = (Efer & EferLMA) != 0;
        bool stack32 = !In64BitMode;
        if ((_rflags & FlagNT) != 0)
        {
            if (ia32e) throw GuestFault.Gp();
            throw Unmodeled("IRET with EFLAGS.NT=1 (a task return)");
        }
        ulong sp = R(RSP);
        if (stack32) sp = (uint)sp;
        ulong Slot(int n) => ReadMem(StackAddress(sp + (ulong)(n * size), stack32), size);
        ulong rip = Slot(0), cs = Slot(1), rflags = Slot(2);
        if (!ia32e && (rflags & FlagVM) != 0 && Cpl == 0) throw Unmodeled("IRET to virtual-8086 mode");
        ushort csSel = (ushort)cs;
        int rpl = csSel & 3;
        bool outer = rpl > Cpl || size == 8;
        ulong rsp = 0;
        ushort ssSel = 0;
        if (outer) { rsp = Slot(3); ssSel = (ushort)Slot(4); }
        if ((csSel & ~3) == 0) throw GuestFault.Gp();
        if (rpl < Cpl) throw GuestFault.Gp((uint)(csSel & ~3));
        ulong csDesc = ReadDescriptor(csSel);
        uint csAttr = Segment.AttributesFromDescriptor(csDesc);
        int csDpl = (int)(csAttr >> 5) & 3;
        if ((csAttr & 0x18) != 0x18 || ((csAttr & 4) != 0 ? csDpl > rpl : csDpl != rpl)) throw GuestFault.Gp((uint)(csSel & ~3));
        if ((csAttr & 0x80) == 0) throw new GuestFault(Vectors.NP, (uint)(csSel & ~3), true);
        if (ia32e && (csAttr & AttrL) != 0 && (csAttr & AttrDB) != 0) throw GuestFault.Gp((uint)(csSel & ~3));
        var csSeg = new Segment
        {
            Selector = csSel, Base = Segment.BaseFromDescriptor(csDesc), Limit = Segment.LimitFromDescriptor(csDesc), Attributes = csAttr,
        };
        bool to64 = ia32e && (csAttr & AttrL) != 0;
        FarTarget(in csSeg, rip);
        Segment ssSeg = Segs[(int)SegReg.SS];
        if (outer)
        {
            if ((ssSel & ~3) == 0)
            {
                // A null SS only for a return to 64-bit mode below CPL 3 (SDM IRET).
                if (!to64 || rpl == 3) throw GuestFault.Gp();
                ssSeg = new Segment { Selector = ssSel, Attributes = Segment.Unusable | ((uint)rpl << 5) };
            }
            else
            {
                if ((ssSel & 3) != rpl) throw GuestFault.Gp((uint)(ssSel & ~3));
                ulong ssDesc = ReadDescriptor(ssSel);
                uint ssAttr = Segment.AttributesFromDescriptor(ssDesc);
                if ((ssAttr & 0x1a) != 0x12 || ((ssAttr >> 5) & 3) != rpl) throw GuestFault.Gp((uint)(ssSel & ~3));
                if ((ssAttr & 0x80) == 0) throw new GuestFault(Vectors.SS, (uint)(ssSel & ~3), true);
                ssSeg = new Segment
                {
                    Selector = ssSel, Base = Segment.BaseFromDescriptor(ssDesc), Limit = Segment.LimitFromDescriptor(ssDesc), Attributes = ssAttr,
                };
            }
        }
        ulong cur = GetRflags();
        ulong writable = ArithFlags | FlagTF | FlagDF | FlagNT | FlagAC | FlagID | FlagRF | FlagVIF | FlagVIP;
        if (Cpl == 0) writable |= FlagIOPL;
        if (Cpl <= Iopl) writable |= FlagIF;
        if (size == 2) writable &= 0xffff;
        SetRflags((cur & ~writable) | (rflags & writable));
        Segs[(int)SegReg.CS] = csSeg;
        if (outer) Segs[(int)SegReg.SS] = ssSeg;
        if (rpl > Cpl)
        {
            // Returning to an outer level: data segments with a DPL below the new CPL are nulled.
            foreach (int s in DataSegs)
            {
                ref var seg = ref Segs[s];
                bool conformingCode = (seg.Attributes & 0x1c) == 0x1c;
                if ((seg.Attributes & Segment.Unusable) == 0 && !conformingCode && seg.Dpl < rpl)
                {
                    seg.Selector = 0;
                    seg.Attributes |= Segment.Unusable;
                    if (s is (int)SegReg.DS or (int)SegReg.ES) seg.Base = 0;
                }
            }
        }
        SetCpl(rpl);
        R(RSP) = outer ? (size == 8 ? rsp : (uint)rsp) : StackAddress(sp + 3 * (ulong)size, stack32);
        Rip = rip;
    }

    // ---- control registers ----

    /// <summary>
    /// MOV to CR0 (SDM MOV CR, 2.5, 9.8.5): bits 63:32, PG without PE, NW without CD are #GP;
    /// in VMX non-root operation PE and PG are fixed to 1 unless "unrestricted guest". Clearing PG
    /// in 64-bit mode is #GP; in compatibility mode it leaves IA-32e mode (EFER.LMA=0). Setting PG
    /// with EFER.LME=1 needs CR4.PAE=1 and CS.L=0 (#GP) and activates IA-32e mode. Not modeled
    /// (machine check): real mode (PE=0) and paging outside IA-32e mode (PG=1 with LME=0).
    /// </summary>
    private void WriteCr0(ulong v)
    {
        if ((v >> 32) != 0) throw GuestFault.Gp();
        if ((v & Cr0PG) != 0 && (v & Cr0PE) == 0) throw GuestFault.Gp();
        if ((v & Cr0NW) != 0 && (v & Cr0CD) == 0) throw GuestFault.Gp();
        if (NonRoot && !Vmcs!.Has2(Vmx.Proc2Controls.UnrestrictedGuest) && (v & (Cr0PE | Cr0PG)) != (Cr0PE | Cr0PG)) throw GuestFault.Gp();
        bool pg = (v & Cr0PG) != 0, wasPg = (Cr0 & Cr0PG) != 0;
        ulong efer = Efer;
        if (wasPg && !pg)
        {
            if (In64BitMode) throw GuestFault.Gp();
            efer &= ~EferLMA;
        }
        if (!wasPg && pg)
        {
            if ((efer & EferLME) == 0) throw Unmodeled("paging outside IA-32e mode (CR0.PG=1 with EFER.LME=0: 32-bit or PAE paging)");
            if ((Cr4 & Cr4PAE) == 0 || (Segs[(int)SegReg.CS].Attributes & AttrL) != 0) throw GuestFault.Gp();
            efer |= EferLMA;
        }
        if ((v & Cr0PE) == 0) throw Unmodeled("real mode (CR0.PE=0)");
        if (efer != Efer) SetEfer(efer);
        SetCr0(v | Cr0ET);
    }

    // ---- paging off ----

    /// <summary>CR0.PG=0 (protected mode): linear = physical, then through EPT in VMX non-root operation; 4 KiB TLB entries.</summary>
    private ulong TranslateUnpaged(ulong la, Access access, bool user)
    {
        TlbMisses++;
        ulong pa = la;
        bool writable = true, exec = true;
        if (_eptActive)
        {
            pa = EptTranslate(la, access, true, la, out ulong eptPerms);
            writable = (eptPerms & Vmx.Ept.Write) != 0;
            exec = (eptPerms & Vmx.Ept.Exec) != 0;
            if ((eptPerms & Vmx.Ept.Read) == 0) { FillTlbExecOnly(la, pa, user, true, exec, false, PhysicalMemory.PageShift); return pa; }
        }
        FillTlb(la, pa, user, true, writable, exec, true, false, PhysicalMemory.PageShift);
        return pa;
    }

    // ---- interrupts in protected mode ----

    /// <summary>
    /// Event delivery outside IA-32e mode (SDM 6.12): 8-byte gates; a 32-bit interrupt or trap
    /// gate to a code segment of the same privilege pushes EFLAGS, CS, EIP (and the error code)
    /// on the current stack. Task gates, 16-bit gates and privilege changes (a stack from the
    /// 32-bit TSS) are not modeled (machine check).
    /// </summary>
    private void DeliverLegacy(int vector, bool hasError, uint error, EventKind kind, ulong returnRip)
    {
        uint ext = kind == EventKind.Software ? 0u : 1u;
        uint idtErr = (uint)(vector * 8 + 2) | ext;
        if ((ulong)vector * 8 + 7 > Idtr.Limit) throw GuestFault.Gp(idtErr);
        ulong gate = ReadSupervisor(Idtr.Base + (ulong)vector * 8, 8);
        int type = (int)(gate >> 40) & 0x1f;
        if (type == 0x05) throw Unmodeled($"a task gate (vector {vector})");
        if (type is 0x06 or 0x07) throw Unmodeled($"a 16-bit interrupt or trap gate (vector {vector})");
        if (type != 0x0e && type != 0x0f) throw GuestFault.Gp(idtErr);
        int gateDpl = (int)(gate >> 45) & 3;
        if (kind == EventKind.Software && Cpl > gateDpl) throw GuestFault.Gp((uint)(vector * 8 + 2));
        if ((gate & (1UL << 47)) == 0) throw new GuestFault(Vectors.NP, idtErr, true);
        ushort selector = (ushort)(gate >> 16);
        ulong offset = (gate & 0xffff) | (((gate >> 48) & 0xffff) << 16);
        ulong d = ReadDescriptor(selector, ext);
        uint attr = Segment.AttributesFromDescriptor(d);
        if ((attr & 0x18) != 0x18) throw GuestFault.Gp((uint)(selector & ~3) | ext);
        if ((attr & 0x80) == 0) throw new GuestFault(Vectors.NP, (uint)(selector & ~3) | ext, true);
        int dpl = (int)(attr >> 5) & 3;
        int newCpl = (attr & 4) != 0 ? Cpl : dpl;
        if (dpl > Cpl) throw GuestFault.Gp((uint)(selector & ~3) | ext);
        if (newCpl != Cpl) throw Unmodeled($"an interrupt to a more privileged level through a 32-bit gate (vector {vector}: the TSS stack switch)");
        var cs = new Segment
        {
            Selector = (ushort)((selector & ~3) | newCpl), Base = Segment.BaseFromDescriptor(d), Limit = Segment.LimitFromDescriptor(d),
            Attributes = attr,
        };
        if (offset > cs.Limit) throw GuestFault.Gp(ext);
        ulong rflags = GetRflags();
        if (kind == EventKind.Exception && Vectors.IsFault(vector)) rflags |= FlagRF;
        int frame = hasError ? 4 : 3;
        uint sp = (uint)R(RSP);
        ProbeWrite(sp - (uint)(4 * frame), 4 * frame);
        WriteSupervisor(sp - 4, 4, (uint)rflags);
        WriteSupervisor(sp - 8, 4, Segs[(int)SegReg.CS].Selector);
        WriteSupervisor(sp - 12, 4, (uint)returnRip);
        if (hasError) WriteSupervisor(sp - 16, 4, error);
        Segs[(int)SegReg.CS] = cs;
        R(RSP) = sp - (uint)(4 * frame);
        ulong clear = FlagTF | FlagNT | FlagRF | FlagVM;
        if (type == 0x0e) clear |= FlagIF;
        SetRflags(rflags & ~clear);
        Rip = offset;
        Cycles += Costs.Interrupt;
        if (State == CpuState.Halted) State = CpuState.Running;
    }
}
