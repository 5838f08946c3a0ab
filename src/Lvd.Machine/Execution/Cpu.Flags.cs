using System.Numerics;
using System.Runtime.CompilerServices;

namespace Lvd.Machine.Execution;

/// <summary>
/// Lazy arithmetic flags: an instruction records its kind, operands and result; CF..OF are
/// computed only when something reads them. Conditional branches after CMP/SUB/TEST/logic
/// evaluate straight from the operands. Flags the SDM calls undefined take the values the
/// differential tests never look at (documented in docs/ARCHITECTURE.md).
/// </summary>
public sealed partial class Cpu
{
    private enum FlagOp : byte
    {
        /// <summary>Arithmetic flags are materialized in _rflags.</summary>
        None,
        Add, Adc, Sub, Sbb, Logic, Inc, Dec,
        /// <summary>SF/ZF/PF from result; CF = _lfCarry; OF = _lfB != 0; AF = 0 (shifts, multiplies).</summary>
        ResultCfOf,
    }

    private FlagOp _lfOp;
    private byte _lfSize = 8;
    /// <summary>Carry-in for ADC/SBB, preserved CF for INC/DEC, CF for ResultCfOf.</summary>
    private bool _lfCarry;
    private ulong _lfRes, _lfA, _lfB;

    /// <summary>Data in the image (no static base to fetch: methods compiled before the class is initialized call a helper for that).</summary>
    private static ReadOnlySpan<ulong> SizeMask => [0, 0xff, 0xffff, 0, 0xffffffff, 0, 0, 0, ulong.MaxValue];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Mask(int size) => SizeMask[size];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong SignBit(int size) => 1UL << (size * 8 - 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long SignExtend(ulong v, int size) => size switch
    {
        1 => (sbyte)v,
        2 => (short)v,
        4 => (int)v,
        _ => (long)v,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetLazy(FlagOp op, int size, ulong a, ulong b, ulong res)
    {
        _lfOp = op; _lfSize = (byte)size; _lfA = a; _lfB = b; _lfRes = res;
    }

    private static bool Parity(ulong v) => (BitOperations.PopCount(v & 0xff) & 1) == 0;

    /// <summary>CF, PF, AF, ZF, SF, OF as RFLAGS bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ulong ComputeArith()
    {
        int size = _lfSize;
        ulong m = Mask(size), sign = SignBit(size);
        ulong res = _lfRes & m, a = _lfA & m, b = _lfB & m;
        ulong f = 0;
        switch (_lfOp)
        {
            case FlagOp.None:
                return _rflags & ArithFlags;
            case FlagOp.Add:
                if (res < a) f |= FlagCF;
                if (((a ^ res) & (b ^ res) & sign) != 0) f |= FlagOF;
                f |= (a ^ b ^ res) & FlagAF;
                break;
            case FlagOp.Adc:
                if (_lfCarry ? res <= a : res < a) f |= FlagCF;
                if (((a ^ res) & (b ^ res) & sign) != 0) f |= FlagOF;
                f |= (a ^ b ^ res) & FlagAF;
                break;
            case FlagOp.Sub:
                if (a < b) f |= FlagCF;
                if (((a ^ b) & (a ^ res) & sign) != 0) f |= FlagOF;
                f |= (a ^ b ^ res) & FlagAF;
                break;
            case FlagOp.Sbb:
                if (_lfCarry ? a <= b : a < b) f |= FlagCF;
                if (((a ^ b) & (a ^ res) & sign) != 0) f |= FlagOF;
                f |= (a ^ b ^ res) & FlagAF;
                break;
            case FlagOp.Logic:
                break;
            case FlagOp.Inc:
                if (_lfCarry) f |= FlagCF;
                if (res == sign) f |= FlagOF;
                f |= (a ^ 1 ^ res) & FlagAF;
                break;
            case FlagOp.Dec:
                if (_lfCarry) f |= FlagCF;
                if (res == sign - 1) f |= FlagOF;
                f |= (a ^ 1 ^ res) & FlagAF;
                break;
            case FlagOp.ResultCfOf:
                if (_lfCarry) f |= FlagCF;
                if (_lfB != 0) f |= FlagOF;
                break;
        }
        if (res == 0) f |= FlagZF;
        if ((res & sign) != 0) f |= FlagSF;
        if (Parity(res)) f |= FlagPF;
        return f;
    }

    /// <summary>Folds the lazy state into _rflags.</summary>
    private void MaterializeFlags()
    {
        if (_lfOp == FlagOp.None) return;
        _rflags = (_rflags & ~ArithFlags) | ComputeArith();
        _lfOp = FlagOp.None;
    }

    internal ulong GetRflags() => (_rflags & ~ArithFlags) | ComputeArith() | 2;

    internal void SetRflags(ulong v)
    {
        bool acChanged = ((_rflags ^ v) & FlagAC) != 0;
        _rflags = (v & 0x3f7fd7) | 2;
        _lfOp = FlagOp.None;
        if (acChanged) SelectTlb();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool GetCF()
    {
        switch (_lfOp)
        {
            case FlagOp.None: return (_rflags & FlagCF) != 0;
            case FlagOp.Logic: return false;
            case FlagOp.Sub: { ulong m = Mask(_lfSize); return (_lfA & m) < (_lfB & m); }
            case FlagOp.Inc: case FlagOp.Dec: case FlagOp.ResultCfOf: return _lfCarry;
            default: return (ComputeArith() & FlagCF) != 0;
        }
    }

    /// <summary>Replaces the arithmetic flags in <paramref name="mask"/> with <paramref name="bits"/>.</summary>
    private void SetFlagBits(ulong mask, ulong bits)
    {
        MaterializeFlags();
        _rflags = (_rflags & ~mask) | (bits & mask);
    }

    /// <summary>Evaluates condition code 0-15 (O NO B AE E NE BE A S NS P NP L GE LE G).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Cond(int cc)
    {
        if (_lfOp == FlagOp.Sub)
        {
            int size = _lfSize;
            ulong m = Mask(size);
            ulong a = _lfA & m, b = _lfB & m;
            switch (cc)
            {
                case 2: return a < b;
                case 3: return a >= b;
                case 4: return a == b;
                case 5: return a != b;
                case 6: return a <= b;
                case 7: return a > b;
                case 12: return SignExtend(a, size) < SignExtend(b, size);
                case 13: return SignExtend(a, size) >= SignExtend(b, size);
                case 14: return SignExtend(a, size) <= SignExtend(b, size);
                case 15: return SignExtend(a, size) > SignExtend(b, size);
            }
        }
        else if (_lfOp == FlagOp.Logic)
        {
            ulong res = _lfRes & Mask(_lfSize);
            bool neg = (res & SignBit(_lfSize)) != 0;
            switch (cc)
            {
                case 2: return false;
                case 3: return true;
                case 4: case 6: return res == 0;
                case 5: case 7: return res != 0;
                case 8: case 12: return neg;
                case 9: case 13: return !neg;
                case 14: return res == 0 || neg;
                case 15: return res != 0 && !neg;
            }
        }
        ulong f = ComputeArith();
        bool r = (cc >> 1) switch
        {
            0 => (f & FlagOF) != 0,
            1 => (f & FlagCF) != 0,
            2 => (f & FlagZF) != 0,
            3 => (f & (FlagCF | FlagZF)) != 0,
            4 => (f & FlagSF) != 0,
            5 => (f & FlagPF) != 0,
            6 => ((f & FlagSF) != 0) != ((f & FlagOF) != 0),
            _ => (f & FlagZF) != 0 || (((f & FlagSF) != 0) != ((f & FlagOF) != 0)),
        };
        return r ^ ((cc & 1) != 0);
    }
}
