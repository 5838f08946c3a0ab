using Lvd.Machine.Decoding;

namespace Lvd.Machine.Execution;

/// <summary>
/// The x87 and SSE architectural state of one vCPU (SDM Vol. 1 ch. 8 and 10) and its system
/// side: FXSAVE/FXRSTOR (SDM Vol. 1 10.5, Table 10-2), LDMXCSR/STMXCSR, the x87 control
/// instructions (FNINIT, FNSTSW, FNSTCW, FLDCW, FNCLEX, FWAIT) and the CR0.EM/TS/MP/NE and
/// CR4.OSFXSR/OSXMMEXCPT rules (SDM Vol. 3 Table 2-2, 13.1). The instructions that compute live
/// in Instructions/Cpu.Sse.cs and Instructions/Cpu.X87.cs; all of them come through
/// <see cref="ExecuteVector"/>.
/// </summary>
public sealed partial class Cpu
{
    /// <summary>XMM0-15, two 64-bit halves each: register i is Xmm[2i] (bits 63:0) and Xmm[2i+1] (127:64).</summary>
    internal readonly ulong[] Xmm = new ulong[32];

    /// <summary>MXCSR (SDM 10.2.3); power-up value 0x1F80: all exceptions masked, round to nearest.</summary>
    public uint Mxcsr = MxcsrDefault;
    public const uint MxcsrDefault = 0x1f80;
    /// <summary>The MXCSR bits this CPU implements (DAZ included), as FXSAVE reports it (SDM 11.6.6): Haswell's 0xFFFF.</summary>
    public const uint MxcsrMask = 0xffff;

    public const uint MxIE = 1, MxDE = 2, MxZE = 4, MxOE = 8, MxUE = 16, MxPE = 32, MxDAZ = 64, MxFTZ = 1 << 15;

    /// <summary>The eight x87 data registers by physical number (not stack position): 64-bit significand, sign+15-bit exponent.</summary>
    internal readonly ulong[] FpuSignificand = new ulong[8];
    internal readonly ushort[] FpuSignExp = new ushort[8];

    /// <summary>x87 control word; power-up value 0x0040 (SDM Vol. 3 Table 9-1), FNINIT sets 0x037F.</summary>
    public ushort Fcw = 0x0040;
    /// <summary>x87 status word with TOP in bits 13:11.</summary>
    public ushort Fsw;
    /// <summary>Full x87 tag word (two bits per physical register: 00 valid, 01 zero, 10 special, 11 empty); power-up 0x5555.</summary>
    public ushort Ftw = 0x5555;
    /// <summary>Last x87 non-control instruction: opcode (11 bits), instruction and data pointers.</summary>
    public ushort Fop;
    public ulong Fip, Fdp;

    public const ushort FswES = 1 << 7, FswB = 1 << 15;

    /// <summary>Whether any vector or x87 state differs from its power-up value (the crash report prints it then).</summary>
    public bool HasVectorState
    {
        get
        {
            foreach (ulong x in Xmm) if (x != 0) return true;
            return Mxcsr != MxcsrDefault || Fsw != 0 || Fcw != 0x0040 && Fcw != 0x037f;
        }
    }

    /// <summary>XMM register <paramref name="i"/> as (low, high) 64-bit halves.</summary>
    public (ulong Lo, ulong Hi) GetXmm(int i) => (Xmm[2 * i], Xmm[2 * i + 1]);

    public void SetXmm(int i, ulong lo, ulong hi) { Xmm[2 * i] = lo; Xmm[2 * i + 1] = hi; }

    /// <summary>
    /// SSE/SSE2 instruction availability (SDM Vol. 3 Table 2-2 and 13.1.4): CR0.EM or a clear
    /// CR4.OSFXSR make them #UD; then CR0.TS makes them #NM (the OS's lazy state switch).
    /// </summary>
    private void CheckSseAvailable()
    {
        if ((Cr0 & Cr0EM) != 0 || (Cr4 & Cr4OSFXSR) == 0) throw GuestFault.Ud();
        if ((Cr0 & Cr0TS) != 0) throw new GuestFault(Vectors.NM, 0, false);
    }

    /// <summary>x87 instructions (and FXSAVE/FXRSTOR): #NM when CR0.EM or CR0.TS is set (SDM Vol. 3 Table 2-2).</summary>
    private void CheckX87Available()
    {
        if ((Cr0 & (Cr0EM | Cr0TS)) != 0) throw new GuestFault(Vectors.NM, 0, false);
    }

    /// <summary>
    /// A waiting x87 instruction first delivers a pending unmasked x87 exception (FSW.ES):
    /// #MF when CR0.NE is set (SDM Vol. 1 8.7). With NE clear a PC signals FERR# to an external
    /// interrupt controller, which this machine does not have: the exception stays pending.
    /// </summary>
    private void CheckPendingX87()
    {
        if ((Fsw & FswES) != 0 && (Cr0 & Cr0NE) != 0) throw new GuestFault(Vectors.MF, 0, false);
    }

    /// <summary>
    /// Raises the SIMD floating-point exception for unmasked flags <paramref name="flags"/> if
    /// any: the flags are recorded in MXCSR first; #XM with CR4.OSXMMEXCPT, else #UD (SDM 11.5.1).
    /// </summary>
    private void RaiseSimdIfUnmasked(uint flags)
    {
        Mxcsr |= flags & 0x3f;
        uint unmasked = flags & ~(Mxcsr >> 7) & 0x3f;
        if (unmasked == 0) return;
        if ((Cr4 & Cr4OSXMMEXCPT) == 0) throw GuestFault.Ud();
        throw new GuestFault(Vectors.XM, 0, false);
    }

    /// <summary>The one cold entry of every SSE, SSE2 and x87 instruction (Handler.Vector, the operation in Op.Sub).</summary>
    private void ExecuteVector(ref Op op, ulong next)
    {
        switch (op.Sub)
        {
            case VecOp.Fxsave: Fxsave(Ea(ref op, next), op.Size == 8); return;
            case VecOp.Fxrstor: Fxrstor(Ea(ref op, next), op.Size == 8); return;
            case VecOp.Ldmxcsr:
            {
                CheckSseAvailable();
                uint v = Read32(Ea(ref op, next));
                if ((v & ~MxcsrMask) != 0) throw GuestFault.Gp();
                Mxcsr = v;
                return;
            }
            case VecOp.Stmxcsr:
                CheckSseAvailable();
                Write32(Ea(ref op, next), Mxcsr);
                return;
            case VecOp.Fninit:
                CheckX87Available();
                if (op.Imm != 0) CheckPendingX87();
                Fcw = 0x037f; Fsw = 0; Ftw = 0xffff; Fop = 0; Fip = 0; Fdp = 0;
                return;
            case VecOp.Fnclex:
                CheckX87Available();
                if (op.Imm != 0) CheckPendingX87();
                Fsw &= 0x7f00;
                return;
            case VecOp.Fnstsw:
                CheckX87Available();
                if (op.Imm != 0) CheckPendingX87();
                if ((op.Form & OpForm.MemDst) != 0) Write16(Ea(ref op, next), Fsw);
                else SetReg(RAX, 2, Fsw);
                return;
            case VecOp.Fnstcw:
                CheckX87Available();
                if (op.Imm != 0) CheckPendingX87();
                Write16(Ea(ref op, next), Fcw);
                return;
            case VecOp.Fldcw:
            {
                CheckX87Available();
                CheckPendingX87();
                ushort cw = Read16(Ea(ref op, next));
                Fcw = (ushort)(cw | 0x40); // bit 6 reads as 1 (reserved)
                UpdateX87Summary();
                return;
            }
            case VecOp.Fwait:
                if ((Cr0 & (Cr0TS | Cr0MP)) == (Cr0TS | Cr0MP)) throw new GuestFault(Vectors.NM, 0, false);
                CheckPendingX87();
                return;
        }
        if (op.Sub >= VecOp.X87First) { ExecuteX87(ref op, next); return; }
        CheckSseAvailable();
        ExecuteSse(ref op, next);
    }

    /// <summary>FSW.ES and B: set while an exception flag (bits 5:0) is unmasked in FCW (SDM Vol. 1 8.1.3.4).</summary>
    private void UpdateX87Summary()
    {
        if ((Fsw & ~Fcw & 0x3f) != 0) Fsw |= FswES | FswB;
        else Fsw &= unchecked((ushort)~(FswES | FswB));
    }

    /// <summary>The x87 tag of a physical register from its contents (SDM Vol. 1 8.1.7).</summary>
    private ushort TagOf(int phys)
    {
        ushort se = FpuSignExp[phys];
        ulong sig = FpuSignificand[phys];
        int exp = se & 0x7fff;
        if (exp == 0x7fff) return 2;
        if (exp == 0) return (ushort)(sig == 0 ? 1 : 2);
        return (ushort)((sig >> 63) != 0 ? 0 : 2);
    }

    private int X87Top => (Fsw >> 11) & 7;

    /// <summary>FXSAVE / FXSAVE64 (SDM Vol. 2 FXSAVE, Table 3-53/3-56): 512 bytes at a 16-byte aligned address.</summary>
    private void Fxsave(ulong ea, bool rexW)
    {
        CheckX87Available();
        if ((ea & 15) != 0) throw GuestFault.Gp();
        ProbeWrite(ea, 512);
        byte abridged = 0;
        for (int i = 0; i < 8; i++) if (((Ftw >> (2 * i)) & 3) != 3) abridged |= (byte)(1 << i);
        Write64(ea, Fcw | ((ulong)Fsw << 16) | ((ulong)abridged << 32) | ((ulong)(Fop & 0x7ff) << 48));
        // Without REX.W the pointers are 32-bit offsets with a segment selector (stored as 0:
        // Haswell deprecates FCS/FDS, CPUID.7.0:EBX[13]).
        Write64(ea + 8, rexW ? Fip : (uint)Fip);
        Write64(ea + 16, rexW ? Fdp : (uint)Fdp);
        Write64(ea + 24, Mxcsr | ((ulong)MxcsrMask << 32));
        int top = X87Top;
        for (int i = 0; i < 8; i++)
        {
            int phys = (top + i) & 7;
            Write64(ea + 32 + 16 * (ulong)i, FpuSignificand[phys]);
            Write64(ea + 40 + 16 * (ulong)i, FpuSignExp[phys]);
        }
        for (int i = 0; i < 16; i++)
        {
            Write64(ea + 160 + 16 * (ulong)i, Xmm[2 * i]);
            Write64(ea + 168 + 16 * (ulong)i, Xmm[2 * i + 1]);
        }
    }

    /// <summary>FXRSTOR / FXRSTOR64: reads the whole image before changing any state; reserved MXCSR bits are #GP.</summary>
    private void Fxrstor(ulong ea, bool rexW)
    {
        CheckX87Available();
        if ((ea & 15) != 0) throw GuestFault.Gp();
        Span<ulong> img = stackalloc ulong[52];
        for (int i = 0; i < 52; i++) img[i] = Read64(ea + 8 * (ulong)i);
        uint mxcsr = (uint)img[3];
        if ((mxcsr & ~MxcsrMask) != 0) throw GuestFault.Gp();
        Fcw = (ushort)img[0];
        Fsw = (ushort)(img[0] >> 16);
        byte abridged = (byte)(img[0] >> 32);
        Fop = (ushort)((img[0] >> 48) & 0x7ff);
        Fip = rexW ? img[1] : (uint)img[1];
        Fdp = rexW ? img[2] : (uint)img[2];
        Mxcsr = mxcsr;
        int top = X87Top;
        for (int i = 0; i < 8; i++)
        {
            int phys = (top + i) & 7;
            FpuSignificand[phys] = img[4 + 2 * i];
            FpuSignExp[phys] = (ushort)img[5 + 2 * i];
        }
        ushort ftw = 0;
        for (int p = 0; p < 8; p++) ftw |= (ushort)(((abridged >> p) & 1) != 0 ? TagOf(p) << (2 * p) : 3 << (2 * p));
        Ftw = ftw;
        for (int i = 0; i < 32; i++) Xmm[i] = img[20 + i];
    }
}
