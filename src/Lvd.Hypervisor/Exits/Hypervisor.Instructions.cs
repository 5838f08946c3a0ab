using Lvd.Machine.Execution;
using Lvd.Machine.Vmx;

namespace Lvd.Hypervisor;

/// <summary>Emulation of the intercepted instructions (LVD Invariant 4), on behalf of the kernel.</summary>
public sealed partial class Hypervisor
{
    private static ulong GetGpr(VcpuContext ctx, int gpr) => gpr == Cpu.RSP ? ctx.Vmcs.GuestRsp : ctx.Cpu.GetRegister(gpr);

    private static void SetGpr(VcpuContext ctx, int gpr, ulong value)
    {
        if (gpr == Cpu.RSP) ctx.Vmcs.GuestRsp = value; else ctx.Cpu.SetRegister(gpr, value);
    }

    /// <summary>CPUID passthrough: VMX stays hidden, the hypervisor-present bit and our leaves are added.</summary>
    private ExitAction Cpuid(VcpuContext ctx)
    {
        var cpu = ctx.Cpu;
        uint leaf = (uint)cpu.GetRegister(Cpu.RAX), sub = (uint)cpu.GetRegister(Cpu.RCX);
        var (a, b, c, d) = cpu.CpuidLeaf(leaf, sub);
        if (leaf == 1) c |= 1u << 31; // hypervisor present
        // Launched already: success; every vCPU asked for launches those still native; a bad scope is refused as natively.
        if (leaf == HypercallAbi.LaunchLeaf)
            (a, b, c, d) = ((uint)(long)(sub switch
            {
                HypercallAbi.ScopeAllCpus => Launch() ? HypercallStatus.Ok : HypercallStatus.NoMemory,
                HypercallAbi.ScopeThisCpu => HypercallStatus.Ok,
                _ => HypercallStatus.Invalid,
            }), 0, 0, 0);
        if (leaf == HypercallAbi.InfoLeaf) (a, b, c, d) = ((uint)HypercallAbi.Version, 0x2344564c, 0x00005648, 0); // "LVD#" "HV"
        cpu.SetRegister(Cpu.RAX, a);
        cpu.SetRegister(Cpu.RBX, b);
        cpu.SetRegister(Cpu.RCX, c);
        cpu.SetRegister(Cpu.RDX, d);
        return Advance(ctx);
    }

    private ExitAction Rdmsr(VcpuContext ctx)
    {
        var cpu = ctx.Cpu;
        ulong value;
        try { value = cpu.ReadMsr((uint)cpu.GetRegister(Cpu.RCX)); }
        catch (GuestFault f) { return Inject(ctx, f.Vector, f.ErrorCode); }
        cpu.SetRegister(Cpu.RAX, (uint)value);
        cpu.SetRegister(Cpu.RDX, value >> 32);
        return Advance(ctx);
    }

    private ExitAction Wrmsr(VcpuContext ctx)
    {
        var cpu = ctx.Cpu;
        uint msr = (uint)cpu.GetRegister(Cpu.RCX);
        ulong value = (cpu.GetRegister(Cpu.RDX) << 32) | (uint)cpu.GetRegister(Cpu.RAX);
        // The VMCS holds the live copies of these while in non-root operation.
        switch (msr)
        {
            case Cpu.Msr.FsBase:
                if (!Cpu.IsCanonicalAddress(value)) return Inject(ctx, Vectors.GP, 0);
                ctx.Vmcs.GuestSegs[(int)SegReg.FS].Base = value;
                return Advance(ctx);
            case Cpu.Msr.GsBase:
                if (!Cpu.IsCanonicalAddress(value)) return Inject(ctx, Vectors.GP, 0);
                ctx.Vmcs.GuestSegs[(int)SegReg.GS].Base = value;
                return Advance(ctx);
            case Cpu.Msr.Efer:
                // LME may change only with paging off (SDM 9.8.5; possible with "unrestricted guest"), as natively.
                if ((value & ~(Cpu.EferSCE | Cpu.EferLME | Cpu.EferLMA | Cpu.EferNXE)) != 0
                    || (((value ^ ctx.Vmcs.GuestEfer) & Cpu.EferLME) != 0 && (ctx.Vmcs.GuestCr0 & Cpu.Cr0PG) != 0))
                    return Inject(ctx, Vectors.GP, 0);
                ctx.Vmcs.GuestEfer = (value & ~Cpu.EferLMA) | (ctx.Vmcs.GuestEfer & Cpu.EferLMA);
                cpu.InvalidateVpid(ctx.Vmcs.Vpid);
                return Advance(ctx);
            case Cpu.Msr.Pat: ctx.Vmcs.GuestPat = value; return Advance(ctx);
            case Cpu.Msr.SysenterCs: ctx.Vmcs.GuestSysenterCs = value; return Advance(ctx);
            case Cpu.Msr.SysenterEsp: ctx.Vmcs.GuestSysenterEsp = value; return Advance(ctx);
            case Cpu.Msr.SysenterEip: ctx.Vmcs.GuestSysenterEip = value; return Advance(ctx);
        }
        try { cpu.WriteMsr(msr, value); }
        catch (GuestFault f) { return Inject(ctx, f.Vector, f.ErrorCode); }
        return Advance(ctx);
    }

    /// <summary>MOV to/from CR and CLTS (qualification: SDM Table 27-3).</summary>
    private ExitAction CrAccess(VcpuContext ctx)
    {
        var v = ctx.Vmcs;
        var cpu = ctx.Cpu;
        int cr = (int)(v.ExitQualification & 15), type = (int)(v.ExitQualification >> 4) & 3, gpr = (int)(v.ExitQualification >> 8) & 15;
        if (type == 2) // CLTS
        {
            v.GuestCr0 &= ~Cpu.Cr0TS;
            v.Cr0ReadShadow &= ~Cpu.Cr0TS;
            return Advance(ctx);
        }
        if (type == 1) // MOV from CR3/CR8 (store exiting)
        {
            SetGpr(ctx, gpr, cr == 3 ? v.GuestCr3 : cpu.Cr8);
            return Advance(ctx);
        }
        // Outside 64-bit mode MOV CR takes a 32-bit register (SDM MOV CR: "operand size is 32 bits").
        bool mode64 = (v.GuestEfer & Cpu.EferLMA) != 0 && (v.GuestSegs[(int)SegReg.CS].Attributes & (1u << 13)) != 0;
        ulong value = mode64 ? GetGpr(ctx, gpr) : (uint)GetGpr(ctx, gpr);
        switch (cr)
        {
            case 0: return WriteCr0(ctx, value, mode64);
            case 4:
                // CR4.VMXE belongs to the hypervisor: the guest sees no VMX; unimplemented bits #GP; PAE stays on in IA-32e mode.
                if ((value & ~Cpu.Cr4Implemented) != 0 || ((value & Cpu.Cr4PAE) == 0 && (v.GuestEfer & Cpu.EferLMA) != 0))
                    return Inject(ctx, Vectors.GP, 0);
                v.Cr4ReadShadow = value;
                v.GuestCr4 = value | Cpu.Cr4VMXE;
                cpu.InvalidateVpid(v.Vpid);
                return Advance(ctx);
            case 3:
                if ((value >> Cpu.MaxPhysAddrBits) != 0) return Inject(ctx, Vectors.GP, 0);
                v.GuestCr3 = value;
                cpu.InvalidateVpid(v.Vpid); // MOV CR3 flushes the guest's non-global translations
                // CR3-target list as an LRU of 4: the next loads of this value exit no more.
                ctx.Cr3Lru.Remove(value);
                ctx.Cr3Lru.Insert(0, value);
                if (ctx.Cr3Lru.Count > 4) ctx.Cr3Lru.RemoveAt(4);
                SyncCr3Targets(ctx);
                return Advance(ctx);
            default:
                cpu.Cr8 = value & 15;
                return Advance(ctx);
        }
    }

    /// <summary>
    /// MOV to CR0, as the CPU does it natively (SDM MOV CR, 9.8.5; the machine's Cpu.WriteCr0): bits 63:32, PG
    /// without PE, NW without CD are #GP. With "unrestricted guest" (docs/CPU-MODES.md: Linux's AP trampoline) the
    /// guest may clear PG: in 64-bit mode that is #GP, in compatibility mode it leaves IA-32e mode (EFER.LMA=0,
    /// which is the "IA-32e mode guest" entry control here); setting PG again with EFER.LME=1 needs CR4.PAE=1 and
    /// CS.L=0 (#GP) and activates IA-32e mode. Without it PE and PG stay 1 (#GP). Real mode (PE=0) and paging
    /// outside IA-32e mode are not modeled by the machine: the run stops with a report.
    /// </summary>
    private ExitAction WriteCr0(VcpuContext ctx, ulong value, bool mode64)
    {
        var v = ctx.Vmcs;
        const ulong Pe = Cpu.Cr0PE, Pg = Cpu.Cr0PG;
        if ((value >> 32) != 0 || ((value & Pg) != 0 && (value & Pe) == 0) || ((value & Cpu.Cr0NW) != 0 && (value & Cpu.Cr0CD) == 0))
            return Inject(ctx, Vectors.GP, 0);
        if (!v.Has2(Proc2Controls.UnrestrictedGuest) && (value & (Pe | Pg)) != (Pe | Pg)) return Inject(ctx, Vectors.GP, 0);
        if ((value & Pe) == 0) return Stop($"the guest on vCPU {ctx.Cpu.Id} entered real mode (CR0.PE=0), which the machine does not model");
        bool pg = (value & Pg) != 0, wasPg = (v.GuestCr0 & Pg) != 0;
        ulong efer = v.GuestEfer;
        if (wasPg && !pg)
        {
            if (mode64) return Inject(ctx, Vectors.GP, 0);
            efer &= ~Cpu.EferLMA;
        }
        if (!wasPg && pg)
        {
            if ((efer & Cpu.EferLME) == 0)
                return Stop($"the guest on vCPU {ctx.Cpu.Id} enabled paging outside IA-32e mode (EFER.LME=0), which the machine does not model");
            if ((v.GuestCr4 & Cpu.Cr4PAE) == 0 || (v.GuestSegs[(int)SegReg.CS].Attributes & (1u << 13)) != 0) return Inject(ctx, Vectors.GP, 0);
            efer |= Cpu.EferLMA;
        }
        v.GuestEfer = efer;
        v.Cr0ReadShadow = value;
        v.GuestCr0 = value | Cpu.Cr0NE | Cpu.Cr0ET;
        ctx.Cpu.InvalidateVpid(v.Vpid);
        return Advance(ctx);
    }

    /// <summary>IN/OUT passed through to the device on the kernel's behalf (qualification: SDM Table 27-5).</summary>
    private ExitAction Io(VcpuContext ctx)
    {
        ulong q = ctx.Vmcs.ExitQualification;
        int size = (int)(q & 7) + 1;
        bool isIn = (q & (1UL << 3)) != 0;
        if ((q & (1UL << 4)) != 0) return Stop("string I/O instructions are not emulated");
        ushort port = (ushort)(q >> 16);
        var cpu = ctx.Cpu;
        if (isIn)
        {
            ulong value = _machine.Io.In(cpu, port, size);
            ulong mask = size == 4 ? 0xffffffffUL : (1UL << (size * 8)) - 1;
            ulong rax = cpu.GetRegister(Cpu.RAX);
            cpu.SetRegister(Cpu.RAX, size == 4 ? value & mask : (rax & ~mask) | (value & mask));
        }
        else _machine.Io.Out(cpu, port, size, cpu.GetRegister(Cpu.RAX));
        return Advance(ctx);
    }

    private static ExitAction MovDr(VcpuContext ctx)
    {
        ulong q = ctx.Vmcs.ExitQualification;
        int dr = (int)(q & 7), gpr = (int)(q >> 8) & 15;
        bool fromDr = (q & (1UL << 4)) != 0;
        if (fromDr) SetGpr(ctx, gpr, dr == 7 ? ctx.Vmcs.GuestDr7 : ctx.Cpu.Dr[dr]);
        else if (dr == 7) ctx.Vmcs.GuestDr7 = GetGpr(ctx, gpr);
        else ctx.Cpu.Dr[dr] = GetGpr(ctx, gpr);
        return Advance(ctx);
    }

    /// <summary>HLT: the guest waits in the HLT activity state until an interrupt (no busy exit loop).</summary>
    private static ExitAction Hlt(VcpuContext ctx)
    {
        ctx.Vmcs.GuestActivityState = 1;
        return Advance(ctx);
    }

    /// <summary>An NMI exit: re-inject it as a virtual NMI, or wait for the NMI window if the guest blocks NMIs.</summary>
    private static ExitAction ExceptionOrNmi(VcpuContext ctx)
    {
        var v = ctx.Vmcs;
        uint type = (v.ExitInterruptionInfo >> 8) & 7;
        if (type != InterruptionInfo.TypeNmi)
            return Inject(ctx, (int)(v.ExitInterruptionInfo & 0xff),
                (v.ExitInterruptionInfo & InterruptionInfo.ErrorCodeValid) != 0 ? v.ExitInterruptionErrorCode : null);
        if ((v.GuestInterruptibility & 8) != 0)
        {
            v.ProcBased |= ProcControls.NmiWindowExiting;
            return ExitAction.Resume;
        }
        v.EntryInterruptionInfo = InterruptionInfo.Make(Vectors.NMI, InterruptionInfo.TypeNmi, false);
        return ExitAction.Resume;
    }

    /// <summary>The kernel can take interrupts again: inject the one a domain's violation interrupted.</summary>
    private static ExitAction InterruptWindow(VcpuContext ctx)
    {
        ctx.Vmcs.ProcBased &= ~ProcControls.InterruptWindowExiting;
        if (ctx.ReinjectVector >= 0)
        {
            ctx.Vmcs.EntryInterruptionInfo = InterruptionInfo.Make(ctx.ReinjectVector, InterruptionInfo.TypeExternal, false);
            ctx.Reinjected++;
        }
        ctx.ReinjectVector = -1;
        return ExitAction.Resume;
    }

    private static ExitAction NmiWindow(VcpuContext ctx)
    {
        ctx.Vmcs.ProcBased &= ~ProcControls.NmiWindowExiting;
        ctx.Vmcs.EntryInterruptionInfo = InterruptionInfo.Make(Vectors.NMI, InterruptionInfo.TypeNmi, false);
        return ExitAction.Resume;
    }
}
