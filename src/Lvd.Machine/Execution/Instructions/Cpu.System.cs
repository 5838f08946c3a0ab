using Lvd.Machine.Decoding;
using Lvd.Machine.Vmx;

namespace Lvd.Machine.Execution;

/// <summary>
/// System instructions: interrupt flag, ports, CPUID, TSC, MSRs, control and debug registers,
/// descriptor tables, SYSCALL/SYSRET, IRETQ, software interrupts. Each ends its block.
/// </summary>
public sealed partial class Cpu
{
    public static class Msr
    {
        public const uint Tsc = 0x10, ApicBase = 0x1b, SysenterCs = 0x174, SysenterEsp = 0x175, SysenterEip = 0x176,
            BiosSignId = 0x8b, MiscEnable = 0x1a0, Pat = 0x277, Efer = 0xc0000080, Star = 0xc0000081, Lstar = 0xc0000082,
            Cstar = 0xc0000083, Fmask = 0xc0000084, FsBase = 0xc0000100, GsBase = 0xc0000101, KernelGsBase = 0xc0000102, TscAux = 0xc0000103;
    }

    /// <summary>The Iced code of the last unimplemented instruction that raised #UD (for reports), or -1.</summary>
    public long LastUnimplemented { get; private set; } = -1;

    private void RequireCpl0()
    {
        if (Cpl != 0) throw GuestFault.Gp();
    }

    private void ExecSystem(ref Op op, ulong next, ulong rip)
    {
        switch (op.H)
        {
            case Handler.Ud:
                LastUnimplemented = op.Imm >= 0 && op.Imm != (long)Iced.Intel.Code.Ud2 ? op.Imm : -1;
                throw GuestFault.Ud();
            case Handler.Cli:
                if (Cpl > Iopl) throw GuestFault.Gp();
                _rflags &= ~FlagIF;
                break;
            case Handler.Sti:
                if (Cpl > Iopl) throw GuestFault.Gp();
                if ((_rflags & FlagIF) == 0) _interruptShadow = true;
                _rflags |= FlagIF;
                break;
            case Handler.Pushf:
            {
                ulong f = GetRflags() & ~(FlagVM | FlagRF);
                if (op.Size2 == 4) Push32(op.Size, f); // 32-bit mode: through ESP
                else if (op.Size == 8) Push64(f);
                else { ulong sp = R(RSP) - 2; Write16(sp, (ushort)f); R(RSP) = sp; }
                break;
            }
            case Handler.Popf:
            {
                ulong v;
                if (op.Size2 == 4) v = Pop32(op.Size); // 32-bit mode: through ESP
                else
                {
                    ulong sp = R(RSP);
                    v = op.Size == 8 ? Read64(sp) : Read16(sp);
                    R(RSP) = sp + op.Size;
                }
                ulong cur = GetRflags();
                // SDM POPF: IOPL only at CPL 0, IF only when CPL <= IOPL; VM, VIF, VIP, RF never.
                ulong writable = ArithFlags | FlagTF | FlagDF | FlagNT | FlagAC | FlagID;
                if (Cpl == 0) writable |= FlagIOPL;
                if (Cpl <= Iopl) writable |= FlagIF;
                if (op.Size == 2) writable &= 0xffff;
                bool wasIf = (cur & FlagIF) != 0;
                SetRflags((cur & ~writable) | (v & writable));
                if (!wasIf && (_rflags & FlagIF) != 0) _interruptShadow = true;
                break;
            }
            case Handler.Hlt:
                RequireCpl0();
                if (NonRoot && (Vmcs!.ProcBased & ProcControls.HltExiting) != 0) throw new VmExit(ExitReason.Hlt);
                State = CpuState.Halted;
                break;
            case Handler.In:
            {
                if (Cpl > Iopl) throw GuestFault.Gp();
                ushort port = (op.Form & OpForm.PortDx) != 0 ? (ushort)R(RDX) : (ushort)op.Imm;
                if (NonRoot && IoExits(port, op.Size)) throw new VmExit(ExitReason.IoInstruction, IoQualification(ref op, port, true));
                SetReg(RAX, op.Size, Platform.PortIn(this, port, op.Size));
                break;
            }
            case Handler.Out:
            {
                if (Cpl > Iopl) throw GuestFault.Gp();
                ushort port = (op.Form & OpForm.PortDx) != 0 ? (ushort)R(RDX) : (ushort)op.Imm;
                if (NonRoot && IoExits(port, op.Size)) throw new VmExit(ExitReason.IoInstruction, IoQualification(ref op, port, false));
                Platform.PortOut(this, port, op.Size, GetReg(RAX, op.Size));
                break;
            }
            case Handler.Cpuid:
            {
                ExitIfNonRoot(ExitReason.Cpuid);
                if (!Platform.TryFirmwareCpuid(this, (uint)R(RAX), (uint)R(RCX), out var fw)) fw = CpuidLeaf((uint)R(RAX), (uint)R(RCX));
                var (a, b, c, d) = fw;
                R(RAX) = a; R(RBX) = b; R(RCX) = c; R(RDX) = d;
                break;
            }
            case Handler.Rdtsc:
            case Handler.Rdtscp:
            {
                if (op.H == Handler.Rdtscp && NonRoot && !Vmcs!.Has2(Proc2Controls.EnableRdtscp)) throw GuestFault.Ud();
                if ((Cr4 & Cr4TSD) != 0 && Cpl != 0) throw GuestFault.Gp();
                if (NonRoot && (Vmcs!.ProcBased & ProcControls.RdtscExiting) != 0)
                    throw new VmExit(op.H == Handler.Rdtsc ? ExitReason.Rdtsc : ExitReason.Rdtscp);
                ulong tsc = Tsc;
                R(RAX) = (uint)tsc; R(RDX) = tsc >> 32;
                if (op.H == Handler.Rdtscp) R(RCX) = (uint)TscAux;
                break;
            }
            case Handler.Rdpid:
                throw GuestFault.Ud(); // CPUID.7.0:ECX.RDPID[22] is not reported
            case Handler.Rdmsr:
            {
                RequireCpl0();
                if (NonRoot && MsrExits((uint)R(RCX), false)) throw new VmExit(ExitReason.Rdmsr);
                ulong v = ReadMsr((uint)R(RCX));
                R(RAX) = (uint)v; R(RDX) = v >> 32;
                break;
            }
            case Handler.Wrmsr:
                RequireCpl0();
                if (NonRoot && MsrExits((uint)R(RCX), true)) throw new VmExit(ExitReason.Wrmsr);
                WriteMsr((uint)R(RCX), ((R(RDX) & 0xffffffff) << 32) | (R(RAX) & 0xffffffff));
                break;
            case Handler.Swapgs:
            {
                RequireCpl0();
                ulong t = GsBase; GsBase = KernelGsBase; KernelGsBase = t;
                break;
            }
            case Handler.RdSegBase:
                if ((Cr4 & Cr4FSGSBASE) == 0) throw GuestFault.Ud();
                SetReg(op.R1, op.Size, op.Sub == 1 ? FsBase : GsBase);
                break;
            case Handler.WrSegBase:
            {
                if ((Cr4 & Cr4FSGSBASE) == 0) throw GuestFault.Ud();
                ulong v = GetReg(op.R2, op.Size);
                if (!IsCanonical(v)) throw GuestFault.Gp();
                if (op.Sub == 1) FsBase = v; else GsBase = v;
                break;
            }
            case Handler.MovFromCr:
                RequireCpl0();
                R(op.R1) = op.Size == 4 ? (uint)ReadCr(op.Sub, op.R1) : ReadCr(op.Sub, op.R1);
                break;
            case Handler.MovToCr:
                RequireCpl0();
                // Outside 64-bit mode the operand is 32 bits (Size 4).
                WriteCrChecked(op.Sub, op.Size == 4 ? (uint)R(op.R2) : R(op.R2), op.R2);
                break;
            case Handler.MovFromDr:
                RequireCpl0();
                if (NonRoot && (Vmcs!.ProcBased & ProcControls.MovDrExiting) != 0)
                    throw new VmExit(ExitReason.MovDr, (ulong)op.Sub | (1UL << 4) | ((ulong)op.R1 << 8));
                R(op.R1) = op.Size == 4 ? (uint)Dr[op.Sub] : Dr[op.Sub];
                break;
            case Handler.MovToDr:
                RequireCpl0();
                if (NonRoot && (Vmcs!.ProcBased & ProcControls.MovDrExiting) != 0)
                    throw new VmExit(ExitReason.MovDr, (ulong)op.Sub | ((ulong)op.R2 << 8));
                Dr[op.Sub] = op.Size == 4 ? (uint)R(op.R2) : R(op.R2);
                break;
            case Handler.Clts:
                RequireCpl0();
                // SDM 25.1.3/25.3: CLTS exits if TS is owned and set in the shadow; if owned and
                // clear in the shadow it completes without changing CR0.TS.
                if (NonRoot && (Vmcs!.Cr0GuestHostMask & Cr0TS) != 0)
                {
                    if ((Vmcs.Cr0ReadShadow & Cr0TS) != 0) throw new VmExit(ExitReason.CrAccess, 2UL << 4);
                    break;
                }
                Cr0 &= ~Cr0TS;
                break;
            case Handler.Lgdt:
            case Handler.Lidt:
            {
                RequireCpl0();
                DescriptorTableExit(ref op, next);
                ulong ea = Ea(ref op, next);
                ushort limit = Read16(ea);
                // The base: 64 bits in 64-bit mode, else 32 (24 with a 16-bit operand size; SDM LGDT).
                ulong bas = op.Size == 8 ? Read64(ea + 2) : Read32((uint)(ea + 2)) & (op.Size == 2 ? 0xffffffu : uint.MaxValue);
                if (!IsCanonical(bas)) throw GuestFault.Gp();
                var t = new DescriptorTable { Base = bas, Limit = limit };
                if (op.H == Handler.Lgdt) Gdtr = t; else Idtr = t;
                break;
            }
            case Handler.Sgdt:
            case Handler.Sidt:
            {
                DescriptorTableExit(ref op, next);
                ulong ea = Ea(ref op, next);
                var t = op.H == Handler.Sgdt ? Gdtr : Idtr;
                ProbeWrite(ea, op.Size == 8 ? 10 : 6);
                Write16(ea, t.Limit);
                if (op.Size == 8) Write64(ea + 2, t.Base);
                else Write32((uint)(ea + 2), (uint)t.Base);
                break;
            }
            case Handler.Ltr:
                RequireCpl0();
                DescriptorTableExit(ref op, next);
                LoadTr((ushort)((op.Form & OpForm.MemSrc) != 0 ? Read16(Ea(ref op, next)) : GetReg(op.R2, 2)));
                break;
            case Handler.Lldt:
            {
                RequireCpl0();
                DescriptorTableExit(ref op, next);
                ushort sel = (ushort)((op.Form & OpForm.MemSrc) != 0 ? Read16(Ea(ref op, next)) : GetReg(op.R2, 2));
                LoadLdt(sel);
                break;
            }
            case Handler.Str:
            case Handler.Sldt:
            {
                DescriptorTableExit(ref op, next);
                ushort sel = op.H == Handler.Str ? Tr.Selector : Ldtr.Selector;
                if ((op.Form & OpForm.MemDst) != 0) Write16(Ea(ref op, next), sel);
                else SetReg(op.R1, op.Size, sel);
                break;
            }
            case Handler.Invlpg:
            {
                RequireCpl0();
                ulong la = Ea(ref op, next);
                if (NonRoot && (Vmcs!.ProcBased & ProcControls.InvlpgExiting) != 0) throw new VmExit(ExitReason.Invlpg, la);
                FlushTlbPage(la);
                break;
            }
            case Handler.Invpcid:
                RequireCpl0();
                FlushTlb(R(op.R1) >= 2);
                break;
            case Handler.Wbinvd:
                RequireCpl0();
                if (NonRoot && Vmcs!.Has2(Proc2Controls.WbinvdExiting)) throw new VmExit(ExitReason.Wbinvd);
                break;
            case Handler.Pause:
                // A spin-wait hint (SDM PAUSE): once this vCPU's clock is past the other vCPUs',
                // end the slice, so that the one it waits for (a lock holder) gets to run.
                if (Cycles >= PauseYieldCycle) { _yieldSlice = true; _attention = true; }
                break;
            case Handler.Iret:
                Iret(op.Size);
                NoteIret();
                break;
            case Handler.Retf:
                FarReturn(op.Size, (ulong)op.Imm);
                break;
            case Handler.FarJmp:
            case Handler.FarCall:
                FarJmpCall(ref op, next, op.H == Handler.FarCall);
                break;
            case Handler.Syscall:
                Syscall(next);
                break;
            case Handler.Sysret:
                Sysret(op.Size);
                break;
            case Handler.Int:
                SoftwareInterrupt((int)(op.Imm & 0xff), next);
                break;
            case Handler.Int3:
                SoftwareInterrupt(Vectors.BP, next);
                break;
            case Handler.Int1:
                Deliver(Vectors.DB, false, 0, EventKind.Exception, next);
                break;
            case Handler.MovToSeg:
            {
                ushort sel = (ushort)((op.Form & OpForm.MemSrc) != 0 ? Read16(Ea(ref op, next)) : GetReg(op.R2, 2));
                LoadDataSegment(op.Sub, sel);
                break;
            }
            case Handler.MovFromSeg:
            {
                ushort sel = Segs[op.Sub].Selector;
                if ((op.Form & OpForm.MemDst) != 0) Write16(Ea(ref op, next), sel);
                else SetReg(op.R1, op.Size, sel);
                break;
            }
            case Handler.Vmcall:
                // Outside VMX non-root operation VMCALL is #UD; inside it always exits (SDM 25.1.2).
                ExitIfNonRoot(ExitReason.Vmcall);
                throw GuestFault.Ud();
            case Handler.Vmfunc:
                ExecVmfunc();
                break;
            case Handler.Xsetbv:
                // XSETBV exits unconditionally in non-root operation; natively XSAVE is not reported (#UD).
                if (NonRoot && Cpl == 0) throw new VmExit(ExitReason.Xsetbv);
                throw GuestFault.Ud();
            case Handler.Xgetbv:
                throw GuestFault.Ud();
            default:
                LastUnimplemented = (long)op.H;
                throw GuestFault.Ud();
        }
    }

    private int Iopl => (int)(_rflags >> 12) & 3;

    public ulong Tsc => (ulong)Cycles + TscOffset;

    private void WriteCr(int cr, ulong v)
    {
        switch (cr)
        {
            case 0:
                Cycles += Costs.MovCr;
                WriteCr0(v); // mode transitions: Cpu.Mode32.cs
                break;
            case 2:
                Cycles += Costs.MovCr;
                Cr2 = v;
                break;
            case 3:
                Cycles += Costs.MovCr3;
                if ((v >> MaxPhysAddrBits) != 0) throw GuestFault.Gp();
                SetCr3(v);
                break;
            case 4:
                Cycles += Costs.MovCr;
                // Unimplemented bits are reserved (VMXE is allowed in VMX operation, where the
                // hypervisor owns it); PAE must stay on in IA-32e mode.
                if (((v & Cr4PAE) == 0 && (Efer & EferLMA) != 0) || (v & ~(Cr4Implemented | (NonRoot ? Cr4VMXE : 0))) != 0) throw GuestFault.Gp();
                SetCr4(v);
                break;
            case 8:
                Cycles += Costs.MovCr;
                if (v > 15) throw GuestFault.Gp();
                Cr8 = v;
                break;
            default:
                throw GuestFault.Ud();
        }
    }

    public ulong ReadMsr(uint msr)
    {
        switch (msr)
        {
            case Msr.Tsc: return Tsc;
            case Msr.Efer: return Efer;
            case Msr.Star: return Star;
            case Msr.Lstar: return Lstar;
            case Msr.Cstar: return Cstar;
            case Msr.Fmask: return Fmask;
            case Msr.FsBase: return FsBase;
            case Msr.GsBase: return GsBase;
            case Msr.KernelGsBase: return KernelGsBase;
            case Msr.TscAux: return TscAux;
            case Msr.Pat: return Pat;
            case Msr.SysenterCs: return SysenterCs;
            case Msr.SysenterEsp: return SysenterEsp;
            case Msr.SysenterEip: return SysenterEip;
            case Msr.MiscEnable: return MiscEnable;
            case Msr.BiosSignId: return 0; // bits 63:32: the loaded microcode update's revision; none is
        }
        if (Platform.TryReadMsr(this, msr, out ulong v)) return v;
        throw GuestFault.Gp();
    }

    public void WriteMsr(uint msr, ulong v)
    {
        bool IsCanonicalOrGp(ulong x) => IsCanonical(x) ? true : throw GuestFault.Gp();
        switch (msr)
        {
            case Msr.Tsc: TscOffset = v - (ulong)Cycles; return;
            case Msr.Efer:
                // LMA is read-only; LME cannot change while paging is on; only SCE/LME/LMA/NXE exist.
                if ((v & ~(EferSCE | EferLME | EferLMA | EferNXE)) != 0) throw GuestFault.Gp();
                if (((v ^ Efer) & EferLME) != 0 && (Cr0 & Cr0PG) != 0) throw GuestFault.Gp();
                SetEfer((v & ~EferLMA) | (Efer & EferLMA));
                return;
            case Msr.Star: Star = v; return;
            case Msr.Lstar: IsCanonicalOrGp(v); Lstar = v; return;
            case Msr.Cstar: IsCanonicalOrGp(v); Cstar = v; return;
            case Msr.Fmask: Fmask = v & 0xffffffff; return;
            case Msr.FsBase: IsCanonicalOrGp(v); FsBase = v; return;
            case Msr.GsBase: IsCanonicalOrGp(v); GsBase = v; return;
            case Msr.KernelGsBase: IsCanonicalOrGp(v); KernelGsBase = v; return;
            case Msr.TscAux: if ((v >> 32) != 0) throw GuestFault.Gp(); TscAux = v; return;
            case Msr.Pat: Pat = v; return;
            case Msr.SysenterCs: SysenterCs = v; return;
            case Msr.SysenterEsp: SysenterEsp = v; return;
            case Msr.SysenterEip: SysenterEip = v; return;
            case Msr.MiscEnable: MiscEnable = v; return;
            case Msr.BiosSignId: return; // SDM 10.11.7.1: software writes 0, then CPUID, then reads the revision
        }
        if (Platform.TryWriteMsr(this, msr, v)) return;
        throw GuestFault.Gp();
    }

    /// <summary>
    /// CPUID as this machine reports it: a Haswell-like Intel CPU with exactly the features the
    /// emulator implements (x87, SSE, SSE2, FXSAVE; no MMX, XSAVE or SSE3+; VMX is not exposed to the guest),
    /// the clock it runs at (leaves 0x15, 0x16; the invariant TSC of 0x80000007) and its vCPUs as the cores of one package (0xB).
    /// </summary>
    public (uint a, uint b, uint c, uint d) CpuidLeaf(uint leaf, uint sub)
    {
        switch (leaf)
        {
            case 0: return (0x16, 0x756e6547, 0x6c65746e, 0x49656e69); // "GenuineIntel"
            case 1:
            {
                uint ecx = (1u << 13) | (1u << 21) | (1u << 23); // CX16, x2APIC, POPCNT
                uint edx = (1u << 0) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 9) | (1u << 11) | (1u << 13) | (1u << 15)
                    | (1u << 16) | (1u << 24) | (1u << 25) | (1u << 26);
                // FPU, TSC, MSR, PAE, CX8, APIC, SEP, PGE, CMOV, PAT, FXSR, SSE, SSE2.
                return (0x000306f2, ((uint)Id << 24) | (64u << 16) | (8u << 8), ecx, edx);
            }
            case 2: return (1, 0, 0, 0); // AL = 1 (one CPUID 2 needed), only null descriptors: no caches or TLBs described
            case 7:
                if (sub != 0) return (0, 0, 0, 0);
                return (0, (1u << 0) | (1u << 3), 0, 0); // FSGSBASE, BMI1
            case 0xb:
            {
                // Extended topology (SDM CPUID leaf 0BH): the vCPUs are the cores of one package, one
                // thread each. Level 0 (SMT): one logical processor, no bits of the x2APIC ID;
                // level 1 (core): all N, the x2APIC ID's low ceil(log2 N) bits; then the invalid level.
                // Linux then finds every vCPU in one package (topology_core_cpumask), as on a
                // multi-core chip. EDX is the x2APIC ID at every subleaf.
                int n = Platform.CpuCount;
                uint coreShift = (uint)System.Numerics.BitOperations.Log2((uint)n);
                if ((1 << (int)coreShift) < n) coreShift++;
                return sub switch
                {
                    0 => (0u, 1u, (1u << 8) | 0, (uint)Id),
                    1 => (coreShift, (uint)n, (2u << 8) | 1, (uint)Id),
                    _ => (0u, 0u, sub & 0xff, (uint)Id),
                };
            }
            case 0x15:
            {
                // TSC / core crystal clock (SDM CPUID leaf 15H): the crystal is the clock the local
                // APIC timer counts (modeled cycles), and the TSC runs at it (ratio 1/1), so the
                // kernel knows both without calibrating against another timer. A clock rate that
                // does not fit in ECX is not enumerated.
                long hz = Costs.ClockHz;
                return hz is > 0 and <= uint.MaxValue ? (1u, 1u, (uint)hz, 0u) : (0u, 0u, 0u, 0u);
            }
            case 0x16:
            {
                // Processor frequency (leaf 16H): base and maximum in MHz; no bus frequency is enumerated.
                uint mhz = (uint)Math.Min(Costs.ClockHz / 1_000_000, 0xffff);
                return (mhz, mhz, 0, 0);
            }
            case 0x80000000: return (0x80000008, 0, 0, 0);
            case 0x80000001:
                return (0, 0, (1u << 0) | (1u << 5), (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29));
                // ECX: LAHF-SAHF, ABM (LZCNT); EDX: SYSCALL, NX, 1 GiB pages, RDTSCP, LM
            case 0x80000002: return (0x2344564c, 0x756d6520, 0x6574616c, 0x50432064); // "LVD# emulated CP"
            case 0x80000003: return (0x20202055, 0x20202020, 0x20202020, 0x20202020); // "U"
            case 0x80000004: return (0x20202020, 0x20202020, 0x20202020, 0x00202020);
            case 0x80000007: return (0, 0, 0, 1u << 8); // invariant TSC: modeled cycles at one rate in every state
            case 0x80000008: return (0x3000u | MaxPhysAddrBits, 0, 0, 0); // 48-bit linear, 46-bit physical
            default: return (0, 0, 0, 0);
        }
    }

    private void LoadTr(ushort sel)
    {
        if ((sel & ~3) == 0) throw GuestFault.Gp();
        ulong index = (ulong)(sel & ~7);
        if (index + 15 > Gdtr.Limit) throw GuestFault.Gp((uint)(sel & ~3));
        ulong lo = ReadSupervisor(Gdtr.Base + index, 8);
        ulong hi = ReadSupervisor(Gdtr.Base + index + 8, 8);
        uint attr = Segment.AttributesFromDescriptor(lo);
        if ((attr & 0x1f) != 0x09) throw GuestFault.Gp((uint)(sel & ~3)); // available 64-bit TSS
        if ((attr & 0x80) == 0) throw new GuestFault(Vectors.NP, (uint)(sel & ~3), true);
        WriteSupervisor(Gdtr.Base + index, 8, lo | (2UL << 40)); // mark busy
        Tr = new Segment
        {
            Selector = sel,
            Base = Segment.BaseFromDescriptor(lo) | ((hi & 0xffffffff) << 32),
            Limit = Segment.LimitFromDescriptor(lo),
            Attributes = attr | 2,
        };
    }

    /// <summary>
    /// MOV/POP to a data segment register (SDM MOV, "Operation"): SS needs RPL = CPL and a
    /// writable data segment with DPL = CPL (not present: #SS); DS/ES/FS/GS a data or readable
    /// code segment with, unless conforming code, DPL >= CPL and DPL >= RPL (not present: #NP).
    /// A null SS is #GP(0) outside 64-bit mode, and in 64-bit mode at CPL 3 or with RPL != CPL.
    /// </summary>
    private void LoadDataSegment(int seg, ushort sel)
    {
        if (seg == (int)SegReg.CS) throw GuestFault.Ud();
        if ((sel & ~3) == 0)
        {
            if (seg == (int)SegReg.SS && (Cpl == 3 || !In64BitMode || (sel & 3) != Cpl)) throw GuestFault.Gp();
            // A null selector: in 64-bit mode FS/GS keep their base only when loaded by MSR.
            ulong bas = seg is (int)SegReg.FS or (int)SegReg.GS ? 0 : Segs[seg].Base;
            Segs[seg] = new Segment { Selector = sel, Base = bas, Attributes = Segment.Unusable };
            return;
        }
        ulong d = ReadDescriptor(sel);
        uint attr = Segment.AttributesFromDescriptor(d);
        uint err = (uint)(sel & ~3);
        int dpl = (int)(attr >> 5) & 3;
        if (seg == (int)SegReg.SS)
        {
            if ((sel & 3) != Cpl || (attr & 0x1a) != 0x12 || dpl != Cpl) throw GuestFault.Gp(err);
        }
        else
        {
            bool code = (attr & 0x08) != 0;
            if ((attr & 0x10) == 0 || (code && (attr & 2) == 0)) throw GuestFault.Gp(err);
            if ((!code || (attr & 4) == 0) && ((sel & 3) > dpl || Cpl > dpl)) throw GuestFault.Gp(err);
        }
        if ((attr & 0x80) == 0) throw new GuestFault(seg == (int)SegReg.SS ? Vectors.SS : Vectors.NP, err, true);
        Segs[seg] = new Segment { Selector = sel, Base = Segment.BaseFromDescriptor(d), Limit = Segment.LimitFromDescriptor(d), Attributes = attr };
    }

    private void Syscall(ulong next)
    {
        if ((Efer & EferSCE) == 0) throw GuestFault.Ud();
        R(RCX) = next;
        R(11) = GetRflags() & ~FlagRF;
        ushort cs = (ushort)((Star >> 32) & 0xfffc);
        Segs[(int)SegReg.CS] = new Segment { Selector = cs, Attributes = 0xa09b, Limit = 0xffffffff };
        Segs[(int)SegReg.SS] = new Segment { Selector = (ushort)(cs + 8), Attributes = 0xc093, Limit = 0xffffffff };
        SetCpl(0);
        SetRflags(GetRflags() & ~Fmask & ~FlagRF);
        Rip = Lstar;
    }

    private void Sysret(int size)
    {
        if ((Efer & EferSCE) == 0) throw GuestFault.Ud();
        RequireCpl0();
        ulong target = size == 8 ? R(RCX) : (uint)R(RCX);
        if (!IsCanonical(target)) throw GuestFault.Gp();
        ushort bas = (ushort)(Star >> 48);
        ushort cs = (ushort)(size == 8 ? bas + 16 : bas);
        Segs[(int)SegReg.CS] = new Segment { Selector = (ushort)(cs | 3), Attributes = size == 8 ? 0xa0fbu : 0xc0fbu, Limit = 0xffffffff };
        Segs[(int)SegReg.SS] = new Segment { Selector = (ushort)((bas + 8) | 3), Attributes = 0xc0f3, Limit = 0xffffffff };
        SetRflags((R(11) & 0x3c7fd7) | 2);
        SetCpl(3);
        Rip = target;
    }

    /// <summary>
    /// LLDT (SDM LLDT): null leaves LDTR unusable; otherwise a GDT selector (TI=0) of a present
    /// LDT descriptor (type 2; 16 bytes in IA-32e mode), else #GP(selector) / #NP(selector).
    /// </summary>
    private void LoadLdt(ushort sel)
    {
        if ((sel & ~3) == 0) { Ldtr = new Segment { Selector = sel, Attributes = Segment.Unusable }; return; }
        uint err = (uint)(sel & ~3);
        if ((sel & 4) != 0) throw GuestFault.Gp(err);
        bool ia32e = (Efer & EferLMA) != 0;
        ulong index = (ulong)(sel & ~7);
        if (index + (ia32e ? 15UL : 7UL) > Gdtr.Limit) throw GuestFault.Gp(err);
        ulong lo = ReadSupervisor(Gdtr.Base + index, 8);
        ulong hi = ia32e ? ReadSupervisor(Gdtr.Base + index + 8, 8) : 0;
        uint attr = Segment.AttributesFromDescriptor(lo);
        if ((attr & 0x1f) != 0x02) throw GuestFault.Gp(err);
        if ((attr & 0x80) == 0) throw new GuestFault(Vectors.NP, err, true);
        ulong bas = Segment.BaseFromDescriptor(lo) | ((hi & 0xffffffff) << 32);
        if (!IsCanonical(bas)) throw GuestFault.Gp(err);
        Ldtr = new Segment { Selector = sel, Base = bas, Limit = Segment.LimitFromDescriptor(lo), Attributes = attr };
    }

    private static readonly int[] DataSegs = [(int)SegReg.DS, (int)SegReg.ES, (int)SegReg.FS, (int)SegReg.GS];
}
