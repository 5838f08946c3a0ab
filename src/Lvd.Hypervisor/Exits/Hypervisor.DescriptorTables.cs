using Lvd.Machine.Execution;
using Lvd.Machine.Vmx;

namespace Lvd.Hypervisor;

/// <summary>
/// LGDT/LIDT/SGDT/SIDT/LLDT/LTR/SLDT/STR, intercepted by descriptor-table exiting so that only
/// the hypervisor decides which tables the kernel uses (LVD Invariant 4). The operand comes
/// from the instruction-information field and the displacement in the qualification
/// (SDM Tables 27-10 and 27-11).
/// </summary>
public sealed partial class Hypervisor
{
    private ExitAction DescriptorTable(VcpuContext ctx)
    {
        var v = ctx.Vmcs;
        uint info = v.ExitInstructionInfo;
        int identity = (int)(info >> 28) & 3;
        bool gdtIdt = v.ExitReason == ExitReason.GdtrIdtrAccess;
        bool register = !gdtIdt && (info & (1u << 10)) != 0;
        ulong la = register ? 0 : OperandAddress(ctx, info, v.ExitQualification);
        // Outside 64-bit mode the table's base is 32 bits (24 with a 16-bit operand size, SDM LGDT).
        bool mode64 = (v.GuestEfer & Cpu.EferLMA) != 0 && (v.GuestSegs[(int)SegReg.CS].Attributes & (1u << 13)) != 0;
        int tableBytes = mode64 ? 10 : 6;
        ulong baseMask = mode64 ? ulong.MaxValue : (info & (1u << 11)) != 0 ? 0xffffffffUL : 0xffffffUL;
        switch (gdtIdt, identity)
        {
            case (true, 2): // LGDT
            case (true, 3): // LIDT
            {
                if (!ReadGuest(ctx, la, tableBytes, out var bytes)) return Inject(ctx, Vectors.GP, 0);
                ulong bas = mode64 ? BitConverter.ToUInt64(bytes, 2) : BitConverter.ToUInt32(bytes, 2) & baseMask;
                var table = new DescriptorTable { Limit = BitConverter.ToUInt16(bytes, 0), Base = bas };
                if (!Cpu.IsCanonicalAddress(table.Base)) return Inject(ctx, Vectors.GP, 0);
                if (identity == 2) v.GuestGdtr = table; else v.GuestIdtr = table;
                return Advance(ctx);
            }
            case (true, _): // SGDT, SIDT
            {
                var table = identity == 0 ? v.GuestGdtr : v.GuestIdtr;
                var bytes = new byte[tableBytes];
                BitConverter.TryWriteBytes(bytes.AsSpan(0, 2), table.Limit);
                if (mode64) BitConverter.TryWriteBytes(bytes.AsSpan(2, 8), table.Base);
                else BitConverter.TryWriteBytes(bytes.AsSpan(2, 4), (uint)table.Base);
                return WriteGuest(ctx, la, bytes) ? Advance(ctx) : Inject(ctx, Vectors.GP, 0);
            }
            case (false, 0): // SLDT
            case (false, 1): // STR
            {
                ushort sel = identity == 0 ? v.GuestLdtr.Selector : v.GuestTr.Selector;
                if (register) { SetGpr(ctx, (int)(info >> 3) & 15, sel); return Advance(ctx); }
                return WriteGuest(ctx, la, BitConverter.GetBytes(sel)) ? Advance(ctx) : Inject(ctx, Vectors.GP, 0);
            }
            default: // LLDT, LTR
            {
                ushort sel;
                if (register) sel = (ushort)GetGpr(ctx, (int)(info >> 3) & 15);
                else if (ReadGuest(ctx, la, 2, out var sb)) sel = BitConverter.ToUInt16(sb, 0);
                else return Inject(ctx, Vectors.GP, 0);
                return identity == 2 ? Lldt(ctx, sel) : Ltr(ctx, sel);
            }
        }
    }

    /// <summary>LLDT as the machine does it natively (SDM LLDT): null, or a present LDT descriptor of the GDT.</summary>
    private ExitAction Lldt(VcpuContext ctx, ushort sel)
    {
        var v = ctx.Vmcs;
        if ((sel & ~3) == 0)
        {
            v.GuestLdtr = new Segment { Selector = sel, Attributes = Segment.Unusable };
            return Advance(ctx);
        }
        uint err = (uint)(sel & ~3);
        bool ia32e = (v.GuestEfer & Cpu.EferLMA) != 0;
        ulong index = (ulong)(sel & ~7);
        int bytes = ia32e ? 16 : 8;
        if ((sel & 4) != 0 || index + (ulong)bytes - 1 > v.GuestGdtr.Limit) return Inject(ctx, Vectors.GP, err);
        if (!ReadGuest(ctx, v.GuestGdtr.Base + index, bytes, out var d)) return Inject(ctx, Vectors.GP, 0);
        ulong lo = BitConverter.ToUInt64(d, 0), hi = ia32e ? BitConverter.ToUInt64(d, 8) : 0;
        uint attr = Segment.AttributesFromDescriptor(lo);
        if ((attr & 0x1f) != 0x02) return Inject(ctx, Vectors.GP, err);
        if ((attr & 0x80) == 0) return Inject(ctx, Vectors.NP, err);
        ulong bas = Segment.BaseFromDescriptor(lo) | ((hi & 0xffffffff) << 32);
        if (!Cpu.IsCanonicalAddress(bas)) return Inject(ctx, Vectors.GP, err);
        v.GuestLdtr = new Segment { Selector = sel, Base = bas, Limit = Segment.LimitFromDescriptor(lo), Attributes = attr };
        return Advance(ctx);
    }

    private ExitAction Ltr(VcpuContext ctx, ushort sel)
    {
        var v = ctx.Vmcs;
        ulong index = (ulong)(sel & ~7);
        if ((sel & ~3) == 0 || (sel & 4) != 0 || index + 15 > v.GuestGdtr.Limit) return Inject(ctx, Vectors.GP, (uint)(sel & ~3));
        ulong descAddr = v.GuestGdtr.Base + index;
        if (!ReadGuest(ctx, descAddr, 16, out var d)) return Inject(ctx, Vectors.GP, 0);
        ulong lo = BitConverter.ToUInt64(d, 0), hi = BitConverter.ToUInt64(d, 8);
        uint attr = Segment.AttributesFromDescriptor(lo);
        if ((attr & 0x1f) != 0x09) return Inject(ctx, Vectors.GP, (uint)(sel & ~3)); // available 64-bit TSS
        if ((attr & 0x80) == 0) return Inject(ctx, Vectors.NP, (uint)(sel & ~3));
        if (!WriteGuest(ctx, descAddr, BitConverter.GetBytes(lo | (2UL << 40)))) return Inject(ctx, Vectors.GP, 0);
        v.GuestTr = new Segment
        {
            Selector = sel,
            Base = Segment.BaseFromDescriptor(lo) | ((hi & 0xffffffff) << 32),
            Limit = Segment.LimitFromDescriptor(lo),
            Attributes = attr | 2,
        };
        return Advance(ctx);
    }

    /// <summary>Linear address of a memory operand from the instruction-information field.</summary>
    private static ulong OperandAddress(VcpuContext ctx, uint info, ulong displacement)
    {
        ulong a = displacement;
        if ((info & (1u << 27)) == 0) a += GetGpr(ctx, (int)(info >> 23) & 15);
        if ((info & (1u << 22)) == 0) a += GetGpr(ctx, (int)(info >> 18) & 15) << (int)(info & 3);
        int addrSize = (int)(info >> 7) & 7;
        if (addrSize == 1) a = (uint)a;
        int seg = (int)(info >> 15) & 7;
        if (seg is (int)SegReg.FS or (int)SegReg.GS) a += ctx.Vmcs.GuestSegs[seg].Base;
        return a;
    }

    /// <summary>Reads guest-linear memory through the guest's page tables and its EPT.</summary>
    private bool ReadGuest(VcpuContext ctx, ulong la, int length, out byte[] bytes)
    {
        bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            if (!ctx.Cpu.TryTranslateGuest(la + (ulong)i, out ulong hpa) || _memory.Contains(hpa)) return false;
            bytes[i] = (byte)_machine.Memory.Read(hpa, 1);
        }
        return true;
    }

    private bool WriteGuest(VcpuContext ctx, ulong la, byte[] bytes)
    {
        var hpas = new ulong[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
            if (!ctx.Cpu.TryTranslateGuest(la + (ulong)i, out hpas[i]) || _memory.Contains(hpas[i])) return false;
        for (int i = 0; i < bytes.Length; i++) _machine.Memory.Write(hpas[i], 1, bytes[i]);
        return true;
    }
}
