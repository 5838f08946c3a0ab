using Lvd.Machine.Execution;

namespace Lvd.Machine.Devices;

/// <summary>
/// One vCPU's local APIC (SDM Vol. 3A chapter 11) in its three states of IA32_APIC_BASE (SDM
/// 11.12.5): x2APIC mode (EN=1, EXTD=1), reached through MSRs 0x800-0x8ff, where the machine's
/// firmware leaves it; xAPIC mode (EN=1, EXTD=0), reached through the 4 KiB MMIO window at the
/// APIC base (<see cref="LocalApicWindow"/>, the PC platform's 0xFEE00000), with 8-bit IDs, the
/// LDR/DFR flat and cluster models and the split ICR; disabled (EN=0), where it takes no
/// interrupts and leaving it resets every register but the ID. Invalid transitions (x2APIC to
/// xAPIC, disabled to x2APIC, EN=0 with EXTD=1, reserved bits) are #GP; the x2APIC MSRs #GP
/// outside x2APIC mode. IA32_TSC_DEADLINE works in both enabled modes. Interrupts are accepted
/// by priority class against TPR and the highest in-service vector, so nesting works as on
/// hardware. The timer counts modeled cycles through the divide configuration; its next expiry
/// is a timed event the machine's scheduler honours (it caps a vCPU's slice there and skips idle
/// time to it).
/// </summary>
public sealed class LocalApic
{
    public const uint MsrApicBase = 0x1b, MsrTscDeadline = 0x6e0, MsrFirst = 0x800, MsrLast = 0x8ff;
    private const uint RegId = 0x802, RegVersion = 0x803, RegTpr = 0x808, RegPpr = 0x80a, RegEoi = 0x80b, RegLdr = 0x80d,
        RegSvr = 0x80f, RegIsr = 0x810, RegTmr = 0x818, RegIrr = 0x820, RegEsr = 0x828, RegIcr = 0x830,
        RegLvtTimer = 0x832, RegLvtThermal = 0x833, RegLvtPmc = 0x834, RegLvtLint0 = 0x835, RegLvtLint1 = 0x836,
        RegLvtError = 0x837, RegInitialCount = 0x838, RegCurrentCount = 0x839, RegDivide = 0x83e, RegSelfIpi = 0x83f;

    private const uint LvtMasked = 1u << 16;
    private readonly ulong[] _irr = new ulong[4], _isr = new ulong[4], _tmr = new ulong[4];
    private readonly Machine _machine;
    private readonly Cpu _cpu;

    private uint _tpr, _svr = 0xff, _esr, _lvtTimer = LvtMasked, _lvtLint0 = LvtMasked, _lvtLint1 = LvtMasked, _lvtError = LvtMasked;
    private uint _lvtThermal = LvtMasked, _lvtPmc = LvtMasked;
    private uint _initialCount, _divide;
    private ulong _tscDeadline;
    // xAPIC-mode state: the logical destination (bits 31:24), the destination format, ICR's halves.
    private uint _ldr, _dfr = 0xffffffff, _icrLow, _icrHigh;
    private ulong _base = DefaultBase;

    public const ulong DefaultBase = 0xfee00000;
    public const ulong BaseEnable = 1UL << 11, BaseExtd = 1UL << 10, BaseBsp = 1UL << 8;

    /// <summary>The state IA32_APIC_BASE selects (SDM 11.12.5).</summary>
    public ApicMode Mode { get; private set; } = ApicMode.X2Apic;

    /// <summary>The physical address of the xAPIC MMIO window (IA32_APIC_BASE bits 12 up).</summary>
    public ulong BaseAddress => _base;
    private long _timerStart, _timerFire = long.MaxValue;

    public int Id { get; }
    public long InterruptsRaised { get; private set; }

    public LocalApic(Machine machine, Cpu cpu)
    {
        _machine = machine;
        _cpu = cpu;
        Id = cpu.Id;
    }

    private bool Enabled => (_svr & 0x100) != 0 && Mode != ApicMode.Disabled;
    private int TimerMode => (int)(_lvtTimer >> 17) & 3;
    private long DivideBy => ((_divide & 3) | ((_divide >> 1) & 4)) switch { 0 => 2, 1 => 4, 2 => 8, 3 => 16, 4 => 32, 5 => 64, 6 => 128, _ => 1 };

    /// <summary>The modeled time at which the timer fires next (long.MaxValue: not armed).</summary>
    public long NextTimerEvent => _timerFire;

    /// <summary>
    /// When the timer would wake this vCPU from HLT (long.MaxValue: never): it is armed and
    /// unmasked, the vCPU takes interrupts (<paramref name="acceptsInterrupts"/>: IF, or external-
    /// interrupt exiting), and its vector's priority class is above TPR and the in-service vector
    /// (a halted vCPU changes neither). A timer that can never wake it is no reason to wait.
    /// </summary>
    public long NextWakeEvent(bool acceptsInterrupts)
    {
        if (_timerFire == long.MaxValue || !acceptsInterrupts || (_lvtTimer & LvtMasked) != 0 || !Enabled) return long.MaxValue;
        int vector = (int)(_lvtTimer & 0xff);
        int ppr = Math.Max((int)_tpr & 0xf0, Math.Max(Highest(_isr), 0) & 0xf0);
        return vector >= 16 && (vector & 0xf0) > ppr ? _timerFire : long.MaxValue;
    }

    /// <summary>The timer was (re)armed: the running slice must end by its expiry (SDM 11.5.4: it fires at its time).</summary>
    private void Armed()
    {
        if (_timerFire != long.MaxValue) _cpu.LimitSlice(_timerFire);
        _cpu.RequestAttention();
    }

    // ---------------- interrupt acceptance ----------------

    private static int Highest(ulong[] bits)
    {
        for (int w = 3; w >= 0; w--)
            if (bits[w] != 0) return w * 64 + 63 - System.Numerics.BitOperations.LeadingZeroCount(bits[w]);
        return -1;
    }

    private static void Set(ulong[] bits, int v) => bits[v >> 6] |= 1UL << (v & 63);
    private static void Clear(ulong[] bits, int v) => bits[v >> 6] &= ~(1UL << (v & 63));

    /// <summary>Fires the timer if its time has come (called before looking for a pending vector).</summary>
    public void UpdateTimer()
    {
        if (_timerFire == long.MaxValue || _cpu.Cycles < _timerFire) return;
        if ((_lvtTimer & LvtMasked) == 0) Raise((int)(_lvtTimer & 0xff));
        if (TimerMode == 1 && _initialCount != 0)
        {
            long period = _initialCount * DivideBy;
            long missed = (_cpu.Cycles - _timerFire) / period;
            _timerFire += (missed + 1) * period;
            _timerStart = _timerFire - period;
            _cpu.LimitSlice(_timerFire);
        }
        else
        {
            _timerFire = long.MaxValue;
            if (TimerMode == 2) _tscDeadline = 0;
        }
    }

    /// <summary>The vector the CPU should take now (SDM 11.8.3.1), or -1.</summary>
    public int PendingVector()
    {
        UpdateTimer();
        int v = Highest(_irr);
        if (v < 16) return -1;
        int ppr = Math.Max((int)_tpr & 0xf0, Math.Max(Highest(_isr), 0) & 0xf0);
        return (v & 0xf0) > ppr ? v : -1;
    }

    public void Accept(int vector)
    {
        Clear(_irr, vector);
        Set(_isr, vector);
    }

    /// <summary>An interrupt request to this APIC (IPI, timer, MSI).</summary>
    public void Raise(int vector) => Raise(vector, false);

    /// <summary>
    /// An interrupt request with its trigger mode: TMR records it (SDM 11.8.4), so the EOI of a
    /// level-triggered vector is broadcast to the I/O APICs unless SVR bit 12 suppresses it.
    /// </summary>
    public void Raise(int vector, bool level)
    {
        if (vector < 16 || !Enabled) { _esr |= 1u << 6; return; } // illegal vector / disabled
        Set(_irr, vector);
        if (level) Set(_tmr, vector);
        else Clear(_tmr, vector);
        InterruptsRaised++;
        _cpu.RequestAttention();
    }

    /// <summary>Whether a logical destination (x2APIC: cluster in bits 31:16, member mask in 15:0; SDM 11.12.10.2) names this APIC.</summary>
    /// <remarks>
    /// In xAPIC mode the destination is 8 bits, compared with LDR bits 31:24 by the model of DFR
    /// bits 31:28 (SDM 11.6.2.2): flat (0xF) a bit mask, cluster (0x0) a cluster in the high
    /// nibble and a member mask in the low one; 0xFF is every APIC. A disabled APIC matches nothing.
    /// </remarks>
    public bool MatchesLogical(uint destination)
    {
        if (Mode == ApicMode.Disabled) return false;
        if (destination == 0xffffffff) return true;
        if (Mode == ApicMode.X2Apic) return (destination >> 16) == (uint)(Id >> 4) && (destination & (1u << (Id & 15))) != 0;
        uint d = destination & 0xff, logical = _ldr >> 24;
        if (d == 0xff) return true;
        if ((_dfr >> 28) == 0xf) return (d & logical) != 0;
        return (d >> 4) == (logical >> 4) && (d & logical & 0xf) != 0;
    }

    /// <summary>Whether a physical destination names this APIC: its ID, or the broadcast (x2APIC 0xFFFFFFFF, xAPIC 0xFF).</summary>
    public bool MatchesPhysical(uint destination)
    {
        if (Mode == ApicMode.Disabled) return false;
        if (destination == 0xffffffff) return true;
        return Mode == ApicMode.X2Apic ? destination == (uint)Id : (destination & 0xff) == 0xff || (destination & 0xff) == (uint)(Id & 0xff);
    }

    // ---------------- MSR interface ----------------

    public bool Handles(uint msr) => msr == MsrApicBase || msr == MsrTscDeadline || (msr >= MsrFirst && msr <= MsrLast);

    public ulong Read(uint msr)
    {
        if (msr == MsrApicBase)
            return _base | (Mode != ApicMode.Disabled ? BaseEnable : 0) | (Mode == ApicMode.X2Apic ? BaseExtd : 0) | (Id == 0 ? BaseBsp : 0);
        if (msr == MsrTscDeadline)
        {
            if (Mode == ApicMode.Disabled) throw GuestFault.Gp();
            return TimerMode == 2 ? _tscDeadline : 0;
        }
        if (Mode != ApicMode.X2Apic) throw GuestFault.Gp(); // SDM 11.12.1.2: x2APIC MSRs outside x2APIC mode
        return ReadRegister(msr);
    }

    /// <summary>A register by its x2APIC MSR number (0x800 + MMIO offset / 16), in the current mode's format.</summary>
    private ulong ReadRegister(uint msr)
    {
        switch (msr)
        {
            case RegId: return Mode == ApicMode.X2Apic ? (uint)Id : (uint)(Id & 0xff) << 24;
            case RegVersion: return 0x00050014; // version 0x14, 6 LVT entries
            case RegTpr: return _tpr;
            case RegPpr: return (uint)Math.Max((int)_tpr & 0xf0, Math.Max(Highest(_isr), 0) & 0xf0);
            case RegLdr: return Mode == ApicMode.X2Apic ? ((uint)(Id >> 4) << 16) | (1u << (Id & 15)) : _ldr;
            case RegSvr: return _svr;
            case RegEsr: return _esr;
            case RegIcr: return Mode == ApicMode.X2Apic ? 0 : _icrLow; // delivery status (bit 12): idle, sent at once
            case RegLvtTimer: return _lvtTimer;
            case RegLvtThermal: return _lvtThermal;
            case RegLvtPmc: return _lvtPmc;
            case RegLvtLint0: return _lvtLint0;
            case RegLvtLint1: return _lvtLint1;
            case RegLvtError: return _lvtError;
            case RegInitialCount: return _initialCount;
            case RegCurrentCount: return CurrentCount();
            case RegDivide: return _divide;
        }
        if (msr >= RegIsr && msr < RegIsr + 8) return Word(_isr, msr - RegIsr);
        if (msr >= RegTmr && msr < RegTmr + 8) return Word(_tmr, msr - RegTmr);
        if (msr >= RegIrr && msr < RegIrr + 8) { UpdateTimer(); return Word(_irr, msr - RegIrr); }
        throw GuestFault.Gp();
    }

    private static ulong Word(ulong[] bits, uint i) => (bits[i >> 1] >> (int)((i & 1) * 32)) & 0xffffffff;

    private uint CurrentCount()
    {
        if (TimerMode == 2 || _timerFire == long.MaxValue || _initialCount == 0) return 0;
        long elapsed = (_cpu.Cycles - _timerStart) / DivideBy;
        return elapsed >= _initialCount ? 0 : (uint)(_initialCount - elapsed);
    }

    public void Write(uint msr, ulong value)
    {
        if (msr == MsrApicBase)
        {
            WriteBase(value);
            return;
        }
        if (msr == MsrTscDeadline)
        {
            if (Mode == ApicMode.Disabled) throw GuestFault.Gp();
            if (TimerMode != 2) return;
            _tscDeadline = value;
            _timerFire = value == 0 ? long.MaxValue : Math.Max((long)(value - _cpu.TscOffset), _cpu.Cycles);
            Armed();
            return;
        }
        if (Mode != ApicMode.X2Apic) throw GuestFault.Gp(); // SDM 11.12.1.2: x2APIC MSRs outside x2APIC mode
        WriteRegister(msr, value);
    }

    /// <summary>A register write by its x2APIC MSR number, in the current mode's format (ICR: x2APIC's 64 bits).</summary>
    private void WriteRegister(uint msr, ulong value)
    {
        uint v = (uint)value;
        switch (msr)
        {
            case RegTpr: _tpr = v & 0xff; _cpu.RequestAttention(); return;
            case RegEoi:
            {
                if (value != 0 && Mode == ApicMode.X2Apic) throw GuestFault.Gp(); // SDM 11.12.1.2: non-zero EOI writes #GP in x2APIC mode
                int s = Highest(_isr);
                if (s >= 0)
                {
                    Clear(_isr, s);
                    if ((_tmr[s >> 6] & (1UL << (s & 63))) != 0 && (_svr & 0x1000) == 0) _machine.BroadcastEoi(s, _cpu.Cycles);
                }
                _cpu.RequestAttention();
                return;
            }
            case RegSvr: _svr = v & 0x11ff; return;
            case RegEsr: _esr = 0; return;
            case RegIcr: SendIpi(value); return;
            case RegLvtTimer:
                _lvtTimer = v & 0x700ff;
                if (TimerMode == 2) _timerFire = _tscDeadline == 0 ? long.MaxValue : (long)(_tscDeadline - _cpu.TscOffset);
                else if (((v >> 17) & 3) != 2 && _initialCount == 0) _timerFire = long.MaxValue;
                Armed();
                return;
            case RegLvtThermal: _lvtThermal = v & 0x107ff; return;
            case RegLvtPmc: _lvtPmc = v & 0x107ff; return;
            case RegLvtLint0: _lvtLint0 = v & 0x1a7ff; return;
            case RegLvtLint1: _lvtLint1 = v & 0x1a7ff; return;
            case RegLvtError: _lvtError = v & 0x100ff; return;
            case RegInitialCount:
                _initialCount = v;
                if (TimerMode == 2) return;
                _timerStart = _cpu.Cycles;
                _timerFire = v == 0 ? long.MaxValue : _cpu.Cycles + v * DivideBy;
                Armed();
                return;
            case RegDivide: _divide = v & 0xb; return;
            case RegSelfIpi: Raise((int)(v & 0xff)); return;
            case RegId: case RegVersion: case RegPpr: case RegLdr: case RegCurrentCount:
                throw GuestFault.Gp(); // read-only in x2APIC mode
        }
        throw GuestFault.Gp();
    }

    /// <summary>
    /// IA32_APIC_BASE (SDM 11.4.4, 11.12.5): the base address and the EN/EXTD state. Valid
    /// transitions: xAPIC to x2APIC (the logical ID becomes the x2APIC one; the rest is kept),
    /// either enabled mode to disabled (every register but the ID back to its reset value, SDM
    /// 11.12.5.1), disabled to xAPIC; everything else, reserved bits and bits above MAXPHYADDR #GP.
    /// The BSP flag is read-only.
    /// </summary>
    private void WriteBase(ulong value)
    {
        ulong reserved = 0xffUL | (1UL << 9) | ~((1UL << Cpu.MaxPhysAddrBits) - 1);
        if ((value & reserved) != 0) throw GuestFault.Gp();
        bool en = (value & BaseEnable) != 0, extd = (value & BaseExtd) != 0;
        var next = en ? (extd ? ApicMode.X2Apic : ApicMode.XApic) : extd ? throw GuestFault.Gp() : ApicMode.Disabled;
        if (next != Mode)
        {
            bool valid = (Mode, next) switch
            {
                (ApicMode.XApic, ApicMode.X2Apic) => true,
                (_, ApicMode.Disabled) => true,
                (ApicMode.Disabled, ApicMode.XApic) => true,
                _ => false,
            };
            if (!valid) throw GuestFault.Gp();
            if (next == ApicMode.Disabled) ResetRegisters();
            Mode = next;
            _cpu.RequestAttention();
        }
        _base = value & ~0xfffUL & ((1UL << Cpu.MaxPhysAddrBits) - 1);
    }

    /// <summary>Every register but the ID to its power-up value (SDM 11.12.5.1); the timer disarmed.</summary>
    private void ResetRegisters()
    {
        Array.Clear(_irr);
        Array.Clear(_isr);
        Array.Clear(_tmr);
        _tpr = 0; _svr = 0xff; _esr = 0;
        _lvtTimer = _lvtThermal = _lvtPmc = _lvtLint0 = _lvtLint1 = _lvtError = LvtMasked;
        _initialCount = 0; _divide = 0; _tscDeadline = 0;
        _timerFire = long.MaxValue;
        _ldr = 0; _dfr = 0xffffffff; _icrLow = 0; _icrHigh = 0;
    }

    // ---------------- xAPIC MMIO interface (SDM 11.4.1, Table 11-1) ----------------

    private const ulong RegDfrOffset = 0xe0, RegLdrOffset = 0xd0, RegIcrLowOffset = 0x300, RegIcrHighOffset = 0x310;

    /// <summary>
    /// A read of the xAPIC window at <paramref name="offset"/>. Registers are 32 bits at 16-byte
    /// boundaries; a narrower or misaligned access reads the bytes of that register it covers, and
    /// bytes 4-15 of each slot read 0. Reserved or write-only registers read 0 and record an
    /// illegal register address in ESR (bit 7).
    /// </summary>
    public ulong ReadMmio(ulong offset, int size)
    {
        ulong slot = offset & ~0xfUL;
        int within = (int)(offset & 0xf);
        if (within >= 4) return 0;
        uint value;
        switch (slot)
        {
            case RegDfrOffset: value = _dfr; break;
            case RegIcrHighOffset: value = _icrHigh; break;
            case 0x90: case 0xc0: value = 0; break; // arbitration priority, remote read: no bus arbitration is modeled
            default:
            {
                uint msr = MsrFirst + (uint)(slot >> 4);
                if (msr == RegEoi || msr == RegSelfIpi || !Readable(msr)) { _esr |= 1u << 7; value = 0; break; }
                value = (uint)ReadRegister(msr);
                break;
            }
        }
        value >>= 8 * within;
        return size >= 4 ? value : value & ((1u << (8 * size)) - 1);
    }

    private static bool Readable(uint msr) => msr is RegId or RegVersion or RegTpr or RegPpr or RegLdr or RegSvr or RegEsr or RegIcr
        or RegLvtTimer or RegLvtThermal or RegLvtPmc or RegLvtLint0 or RegLvtLint1 or RegLvtError or RegInitialCount or RegCurrentCount
        or RegDivide || (msr >= RegIsr && msr < RegIsr + 8) || (msr >= RegTmr && msr < RegTmr + 8) || (msr >= RegIrr && msr < RegIrr + 8);

    /// <summary>
    /// A write to the xAPIC window: a 32-bit store at a register's offset (others are ignored, the
    /// SDM leaves them undefined). Read-only registers ignore writes; ICR low sends the IPI with
    /// the destination of ICR high; EOI takes any value.
    /// </summary>
    public void WriteMmio(ulong offset, int size, ulong value)
    {
        if (size != 4 || (offset & 0xf) != 0) return;
        uint v = (uint)value;
        switch (offset)
        {
            case RegLdrOffset: _ldr = v & 0xff000000; return;
            case RegDfrOffset: _dfr = v | 0x0fffffff; return;
            case RegIcrHighOffset: _icrHigh = v & 0xff000000; return;
            case RegIcrLowOffset:
                _icrLow = v & 0x000ccfff;
                SendIpi(((ulong)_icrHigh << 32) | _icrLow);
                return;
        }
        uint msr = MsrFirst + (uint)(offset >> 4);
        switch (msr)
        {
            case RegId: case RegVersion: case RegPpr: case RegCurrentCount: return; // read-only
            case RegEoi: WriteRegister(RegEoi, 0); return;
            case RegSelfIpi: _esr |= 1u << 7; return;                               // x2APIC only
            case RegTpr: case RegSvr: case RegEsr: case RegLvtTimer: case RegLvtThermal: case RegLvtPmc: case RegLvtLint0:
            case RegLvtLint1: case RegLvtError: case RegInitialCount: case RegDivide:
                WriteRegister(msr, v);
                return;
        }
        if (!Readable(msr)) _esr |= 1u << 7; // ISR, TMR, IRR are read-only; the rest is reserved
    }

    /// <summary>
    /// ICR write (SDM 11.6.1): x2APIC format, destination in bits 63:32; in xAPIC mode the
    /// destination is bits 63:56 (ICR high). Bit 11 selects a logical destination, matched by
    /// each target APIC in its own mode.
    /// </summary>
    private void SendIpi(ulong icr)
    {
        int vector = (int)(icr & 0xff);
        int mode = (int)(icr >> 8) & 7;
        int shorthand = (int)(icr >> 18) & 3;
        bool logical = (icr & (1UL << 11)) != 0;
        uint dest = Mode == ApicMode.X2Apic ? (uint)(icr >> 32) : (uint)(icr >> 56);
        if (Mode == ApicMode.XApic && dest == 0xff) dest = 0xffffffff;
        foreach (var target in _machine.Cpus)
        {
            var apic = _machine.Apics[target.Id];
            bool hit = shorthand switch
            {
                0 => logical ? apic.MatchesLogical(dest) : dest == 0xffffffff || target.Id == dest,
                1 => target.Id == Id,
                2 => true,
                _ => target.Id != Id,
            };
            if (hit) _machine.DeliverIpi(_cpu, target, mode, vector);
        }
    }
}
