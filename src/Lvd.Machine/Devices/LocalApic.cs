using Lvd.Machine.Execution;

namespace Lvd.Machine.Devices;

/// <summary>
/// One vCPU's local APIC in x2APIC mode (SDM Vol. 3A chapter 11), reached through MSRs
/// 0x800-0x8ff, plus IA32_TSC_DEADLINE. Interrupts are accepted by priority class against
/// TPR and the highest in-service vector, so nesting works as on hardware. The timer counts
/// modeled cycles through the divide configuration; its next expiry is a timed event the
/// machine's scheduler honours (it caps a vCPU's slice there and skips idle time to it).
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
    private long _timerStart, _timerFire = long.MaxValue;

    public int Id { get; }
    public long InterruptsRaised { get; private set; }

    public LocalApic(Machine machine, Cpu cpu)
    {
        _machine = machine;
        _cpu = cpu;
        Id = cpu.Id;
    }

    private bool Enabled => (_svr & 0x100) != 0;
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
    public bool MatchesLogical(uint destination)
    {
        if (destination == 0xffffffff) return true;
        return (destination >> 16) == (uint)(Id >> 4) && (destination & (1u << (Id & 15))) != 0;
    }

    // ---------------- MSR interface ----------------

    public bool Handles(uint msr) => msr == MsrApicBase || msr == MsrTscDeadline || (msr >= MsrFirst && msr <= MsrLast);

    public ulong Read(uint msr)
    {
        if (msr == MsrApicBase) return 0xfee00000UL | (1UL << 11) | (1UL << 10) | (Id == 0 ? 1UL << 8 : 0);
        if (msr == MsrTscDeadline) return TimerMode == 2 ? _tscDeadline : 0;
        switch (msr)
        {
            case RegId: return (uint)Id;
            case RegVersion: return 0x00050014; // version 0x14, 6 LVT entries
            case RegTpr: return _tpr;
            case RegPpr: return (uint)Math.Max((int)_tpr & 0xf0, Math.Max(Highest(_isr), 0) & 0xf0);
            case RegLdr: return ((uint)(Id >> 4) << 16) | (1u << (Id & 15));
            case RegSvr: return _svr;
            case RegEsr: return _esr;
            case RegIcr: return 0;
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
            // x2APIC stays enabled (SDM 11.12.5: leaving x2APIC mode needs a reset first).
            if ((value & (1UL << 10)) == 0 || (value & (1UL << 11)) == 0) throw GuestFault.Gp();
            return;
        }
        if (msr == MsrTscDeadline)
        {
            if (TimerMode != 2) return;
            _tscDeadline = value;
            _timerFire = value == 0 ? long.MaxValue : Math.Max((long)(value - _cpu.TscOffset), _cpu.Cycles);
            Armed();
            return;
        }
        uint v = (uint)value;
        switch (msr)
        {
            case RegTpr: _tpr = v & 0xff; _cpu.RequestAttention(); return;
            case RegEoi:
            {
                if (value != 0) throw GuestFault.Gp(); // SDM 11.12.1.2: non-zero EOI writes #GP in x2APIC mode
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

    /// <summary>ICR write (SDM 11.6.1, x2APIC format: destination in bits 63:32).</summary>
    private void SendIpi(ulong icr)
    {
        int vector = (int)(icr & 0xff);
        int mode = (int)(icr >> 8) & 7;
        int shorthand = (int)(icr >> 18) & 3;
        uint dest = (uint)(icr >> 32);
        foreach (var target in _machine.Cpus)
        {
            bool hit = shorthand switch
            {
                0 => dest == 0xffffffff || target.Id == dest,
                1 => target.Id == Id,
                2 => true,
                _ => target.Id != Id,
            };
            if (hit) _machine.DeliverIpi(_cpu, target, mode, vector);
        }
    }
}
