using Lvd.Machine.Decoding;
using Lvd.Machine.Vmx;

namespace Lvd.Machine.Execution;

/// <summary>
/// Instructions that cause VM exits conditionally (SDM 25.1.3) and exits at a block boundary
/// (preemption timer, NMI window): the rules that decide whether an instruction in VMX
/// non-root operation exits, and the qualification it exits with (SDM 27.2.1).
/// </summary>
public sealed partial class Cpu
{
    /// <summary>Raises a VM exit from an instruction handler if in non-root operation.</summary>
    private void ExitIfNonRoot(ExitReason reason, ulong qualification = 0)
    {
        if (NonRoot) throw new VmExit(reason, qualification);
    }

    /// <summary>Preemption timer and NMI-window checks at a block boundary; true if an exit happened.</summary>
    private bool VmxBoundaryEvents()
    {
        var v = Vmcs!;
        if (Cycles >= _preemptDeadline)
        {
            _preemptDeadline = long.MaxValue;
            PerformVmExit(new VmExit(ExitReason.PreemptionTimer), 0);
            return true;
        }
        if ((v.ProcBased & ProcControls.NmiWindowExiting) != 0 && !_virtualNmiBlocked)
        {
            PerformVmExit(new VmExit(ExitReason.NmiWindow), 0);
            return true;
        }
        // SDM 25.2: interrupt-window exiting exits at the first instruction boundary where
        // RFLAGS.IF = 1 and nothing blocks interrupts (STI/MOV SS shadow), before any external
        // interrupt is delivered; a VMM uses it to inject an interrupt the guest could not take.
        if ((v.ProcBased & ProcControls.InterruptWindowExiting) != 0 && (_rflags & FlagIF) != 0 && !_interruptShadow)
        {
            PerformVmExit(new VmExit(ExitReason.InterruptWindow), 0);
            return true;
        }
        return false;
    }

    /// <summary>MOV from CR with VMX semantics: CR3/CR8 store exiting, CR0/CR4 read shadows (SDM 25.3).</summary>
    private ulong ReadCr(int cr, int gpr)
    {
        if (NonRoot)
        {
            var v = Vmcs!;
            ulong q = (uint)cr | (1UL << 4) | ((ulong)(uint)gpr << 8);
            if (cr == 3 && (v.ProcBased & ProcControls.Cr3StoreExiting) != 0) throw new VmExit(ExitReason.CrAccess, q);
            if (cr == 8 && (v.ProcBased & ProcControls.Cr8StoreExiting) != 0) throw new VmExit(ExitReason.CrAccess, q);
            if (cr == 0) return (Cr0 & ~v.Cr0GuestHostMask) | (v.Cr0ReadShadow & v.Cr0GuestHostMask);
            if (cr == 4) return (Cr4 & ~v.Cr4GuestHostMask) | (v.Cr4ReadShadow & v.Cr4GuestHostMask);
        }
        return cr switch { 0 => Cr0, 2 => Cr2, 3 => Cr3, 4 => Cr4, 8 => Cr8, _ => throw GuestFault.Ud() };
    }

    /// <summary>
    /// MOV to CR with VMX semantics (SDM 25.1.3): CR0/CR4 exit when a host-owned bit would differ
    /// from its read shadow (owned bits are otherwise left alone); CR3 exits unless the value is
    /// in the CR3-target list; CR8 per its control.
    /// </summary>
    private void WriteCrChecked(int cr, ulong value, int gpr)
    {
        if (NonRoot)
        {
            var v = Vmcs!;
            ulong q = (uint)cr | ((ulong)(uint)gpr << 8);
            switch (cr)
            {
                case 0:
                    if (((value ^ v.Cr0ReadShadow) & v.Cr0GuestHostMask) != 0) throw new VmExit(ExitReason.CrAccess, q);
                    value = (value & ~v.Cr0GuestHostMask) | (Cr0 & v.Cr0GuestHostMask);
                    break;
                case 4:
                    if (((value ^ v.Cr4ReadShadow) & v.Cr4GuestHostMask) != 0) throw new VmExit(ExitReason.CrAccess, q);
                    value = (value & ~v.Cr4GuestHostMask) | (Cr4 & v.Cr4GuestHostMask);
                    break;
                case 3:
                    if ((v.ProcBased & ProcControls.Cr3LoadExiting) != 0)
                    {
                        bool target = false;
                        for (int i = 0; i < v.Cr3TargetCount; i++) target |= v.Cr3Targets[i] == value;
                        if (!target) throw new VmExit(ExitReason.CrAccess, q);
                    }
                    break;
                case 8:
                    if ((v.ProcBased & ProcControls.Cr8LoadExiting) != 0) throw new VmExit(ExitReason.CrAccess, q);
                    break;
            }
        }
        WriteCr(cr, value);
    }

    /// <summary>I/O exiting per the unconditional control or the I/O bitmaps (SDM 25.1.3).</summary>
    private bool IoExits(ushort port, int size)
    {
        var v = Vmcs!;
        if ((v.ProcBased & ProcControls.UseIoBitmaps) == 0) return (v.ProcBased & ProcControls.UnconditionalIoExiting) != 0;
        for (int p = port; p < port + size; p++)
        {
            if (p > 0xffff) return true;
            ulong bitmap = p < 0x8000 ? v.IoBitmapA : v.IoBitmapB;
            int bit = p & 0x7fff;
            if ((Memory.Read(bitmap + (ulong)(bit >> 3), 1) & (1UL << (bit & 7))) != 0) return true;
        }
        return false;
    }

    /// <summary>SDM Table 27-5: size-1, direction (1 = IN), string, REP, immediate operand, port.</summary>
    private static ulong IoQualification(ref Op op, ushort port, bool isIn) =>
        (uint)(op.Size - 1) | (isIn ? 1UL << 3 : 0) | ((op.Form & OpForm.PortDx) == 0 ? 1UL << 6 : 0) | ((ulong)port << 16);

    /// <summary>RDMSR/WRMSR exiting through the MSR bitmap (SDM 24.6.9); MSRs outside its ranges always exit.</summary>
    private bool MsrExits(uint msr, bool write)
    {
        var v = Vmcs!;
        if ((v.ProcBased & ProcControls.UseMsrBitmaps) == 0) return true;
        ulong offset;
        uint bit;
        if (msr <= 0x1fff) { offset = write ? 2048UL : 0; bit = msr; }
        else if (msr is >= 0xc0000000 and <= 0xc0001fff) { offset = write ? 3072UL : 1024; bit = msr - 0xc0000000; }
        else return true;
        return (Memory.Read(v.MsrBitmap + offset + (bit >> 3), 1) & (1UL << (int)(bit & 7))) != 0;
    }

    /// <summary>
    /// Descriptor-table exiting (SDM 25.1.3): LGDT/LIDT/SGDT/SIDT exit with reason 46 and
    /// LLDT/LTR/SLDT/STR with 47; the operand is described by the instruction-information field
    /// (SDM Tables 27-10, 27-11) and the displacement in the qualification.
    /// </summary>
    private void DescriptorTableExit(ref Op op, ulong next)
    {
        if (!NonRoot || !Vmcs!.Has2(Proc2Controls.DescriptorTableExiting)) return;
        bool gdtIdt = op.H is Handler.Lgdt or Handler.Lidt or Handler.Sgdt or Handler.Sidt;
        uint identity = op.H switch
        {
            Handler.Sgdt or Handler.Sldt => 0u,
            Handler.Sidt or Handler.Str => 1u,
            Handler.Lgdt or Handler.Lldt => 2u,
            _ => 3u,
        };
        uint info = identity << 28;
        ulong qual = 0;
        bool memory = (op.Form & (OpForm.MemSrc | OpForm.MemDst)) != 0 || gdtIdt;
        if (memory)
        {
            info |= op.Scale;
            info |= ((op.Form & OpForm.Addr32) != 0 ? 1u : 2u) << 7;
            if (gdtIdt && op.Size == 4) info |= 1u << 11; // operand size 32 (SDM: undefined in 64-bit mode; 0 here)
            uint seg = op.Seg == 1 ? 4u : op.Seg == 2 ? 5u : (op.Form & OpForm.StackSeg) != 0 ? 2u : 3u;
            info |= seg << 15;
            if (op.Index == Op.NoReg) info |= 1u << 22; else info |= (uint)op.Index << 18;
            if (op.Base == Op.NoReg || op.Base == Op.RipReg) info |= 1u << 27; else info |= (uint)op.Base << 23;
            qual = op.Base == Op.RipReg ? next + (ulong)op.Disp : (ulong)op.Disp;
        }
        else
        {
            info |= 1u << 10;
            info |= (uint)(op.H is Handler.Ltr or Handler.Lldt ? op.R2 : op.R1) << 3;
        }
        throw new VmExit(gdtIdt ? ExitReason.GdtrIdtrAccess : ExitReason.LdtrTrAccess, qual) { InstructionInfo = info };
    }
}
