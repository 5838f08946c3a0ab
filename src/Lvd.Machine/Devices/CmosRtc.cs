using Lvd.Machine.Execution;

namespace Lvd.Machine.Devices;

/// <summary>
/// The CMOS real-time clock (Motorola MC146818A / DS12887 datasheets) at ports 0x70 (index;
/// bit 7 is the NMI mask) and 0x71 (data): seconds, minutes, hours (24- or 12-hour with the PM
/// bit), day of week, date, month, year, century (register 0x32, named by the FADT), their
/// alarms, registers A-D and NVRAM. The clock starts at a fixed date (deterministic) and runs
/// in modeled time, BCD or binary (register B bit 2). Update-in-progress (register A bit 7) is
/// set in the last 244 us before each second's update; register B's SET bit stops updates while
/// software writes the time, which then runs on from what was written. Register C's flags
/// (periodic at register A's rate, alarm, update-ended) are read-to-clear and drive IRQ 8 while
/// enabled (timed events). Simplification: the update happens at the second's boundary at
/// once (the chip's update cycle takes up to 1984 us more, during which UIP stays set).
/// </summary>
public sealed class CmosRtc : IPortDevice
{
    public const ushort IndexPort = 0x70, DataPort = 0x71;
    public const int Irq = 8;
    public const int CenturyRegister = 0x32;
    public const long UipCycleMicros = 244;
    /// <summary>The date the clock shows at modeled time zero unless configured otherwise.</summary>
    public static readonly DateTime DefaultStart = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private const byte BSet = 0x80, BPie = 0x40, BAie = 0x20, BUie = 0x10, BBinary = 0x04, B24Hour = 0x02;
    private const byte CIrqf = 0x80, CPf = 0x40, CAf = 0x20, CUf = 0x10;

    private readonly long _clockHz;
    private readonly byte[] _nvram = new byte[128];
    private readonly Action<bool, long>? _irq;
    private readonly TimedEvent _event;
    private DateTime _base;
    private long _baseCycle, _checkedTo;
    private byte _index, _a = 0x26, _b = B24Hour, _c;
    private byte[]? _setFields; // the time registers while SET stops the clock
    private bool _irqLevel;

    public bool NmiMasked { get; private set; }

    public CmosRtc(TimedEvents timers, long clockHz, DateTime start, Action<bool, long>? irq, Func<bool>? irqCanWake = null)
    {
        _clockHz = clockHz;
        _base = start;
        _irq = irq;
        _event = timers.Create("rtc", Fire, irqCanWake);
    }

    /// <summary>The clock's time at modeled time <paramref name="now"/> (whole seconds).</summary>
    public DateTime TimeAt(long now) => _base.AddSeconds((double)((now - _baseCycle) / _clockHz));

    private long SecondBoundaryAfter(long now) => _baseCycle + ((now - _baseCycle) / _clockHz + 1) * _clockHz;

    private bool Running => (_b & BSet) == 0 && ((_a >> 4) & 7) == 2;

    public ulong In(Cpu cpu, ushort port, int size)
    {
        if (port == IndexPort) return 0xff; // the index register is write-only
        return ReadRegister(_index, cpu.Cycles);
    }

    public void Out(Cpu cpu, ushort port, int size, ulong value)
    {
        byte b = (byte)value;
        if (port == IndexPort) { _index = (byte)(b & 0x7f); NmiMasked = (b & 0x80) != 0; return; }
        WriteRegister(_index, b, cpu.Cycles);
    }

    private byte ReadRegister(int reg, long now)
    {
        switch (reg)
        {
            case 0x0a:
            {
                bool uip = Running && (now - _baseCycle) % _clockHz >= _clockHz - _clockHz * UipCycleMicros / 1_000_000;
                return (byte)((_a & 0x7f) | (uip ? 0x80 : 0));
            }
            case 0x0b: return _b;
            case 0x0c:
            {
                CatchUp(now);
                byte c = _c;
                _c = 0;
                UpdateIrq(now);
                Schedule(now);
                return c;
            }
            case 0x0d: return 0x80; // valid RAM and time
        }
        if (IsTimeRegister(reg)) return (_setFields ?? Fields(TimeAt(now)))[FieldOf(reg)];
        return _nvram[reg];
    }

    private static bool IsTimeRegister(int reg) => reg is 0 or 2 or 4 or 6 or 7 or 8 or 9 or CenturyRegister;

    /// <summary>The index in <see cref="Fields"/> of a time register.</summary>
    private static int FieldOf(int reg) => reg switch { 0 => 0, 2 => 1, 4 => 2, 6 => 3, 7 => 4, 8 => 5, 9 => 6, _ => 7 };

    private void WriteRegister(int reg, byte v, long now)
    {
        switch (reg)
        {
            case 0x0a: CatchUp(now); _a = (byte)(v & 0x7f); Schedule(now); return;
            case 0x0b:
            {
                CatchUp(now);
                bool wasSet = (_b & BSet) != 0;
                if (!wasSet && (v & BSet) != 0) _setFields = Fields(TimeAt(now));
                byte oldFormat = (byte)(_b & (BBinary | B24Hour));
                _b = v; // SQWE is kept, though no square-wave pin is wired
                if ((v & BSet) != 0) _b &= unchecked((byte)~BUie); // SET clears UIE (datasheet)
                if (_setFields != null && oldFormat != (_b & (BBinary | B24Hour)))
                    _setFields = Fields(Decode(_setFields, oldFormat)); // the time stays, its encoding changes
                if (wasSet && (v & BSet) == 0)
                {
                    _base = Decode(_setFields!, (byte)(_b & (BBinary | B24Hour)));
                    _baseCycle = now;
                    _setFields = null;
                    _checkedTo = now;
                }
                UpdateIrq(now);
                Schedule(now);
                return;
            }
            case 0x0c: case 0x0d: return; // read-only
        }
        if (!IsTimeRegister(reg)) { _nvram[reg] = v; return; }
        int field = FieldOf(reg);
        if (_setFields != null) { _setFields[field] = v; return; }
        // Written while running: the clock goes on from the new value at the same point of its second.
        var fields = Fields(TimeAt(now));
        fields[field] = v;
        long fraction = (now - _baseCycle) % _clockHz;
        _base = Decode(fields, (byte)(_b & (BBinary | B24Hour)));
        _baseCycle = now - fraction;
    }

    // Field order: seconds, minutes, hours, day of week, date, month, year, century (registers 0, 2, 4, 6, 7, 8, 9, 0x32).
    private byte[] Fields(DateTime t)
    {
        int hour = t.Hour;
        bool pm = false;
        if ((_b & B24Hour) == 0) { pm = hour >= 12; hour %= 12; if (hour == 0) hour = 12; }
        var f = new byte[8];
        f[0] = Encode(t.Second);
        f[1] = Encode(t.Minute);
        f[2] = (byte)(Encode(hour) | (pm ? 0x80 : 0));
        f[3] = Encode((int)t.DayOfWeek + 1);
        f[4] = Encode(t.Day);
        f[5] = Encode(t.Month);
        f[6] = Encode(t.Year % 100);
        f[7] = Encode(t.Year / 100);
        return f;
    }

    private byte Encode(int v) => (_b & BBinary) != 0 ? (byte)v : (byte)((v / 10 << 4) | (v % 10));

    private static int DecodeField(byte v, byte format) => (format & BBinary) != 0 ? v : (v >> 4) * 10 + (v & 0xf);

    private static DateTime Decode(byte[] f, byte format)
    {
        int hour = DecodeField((byte)(f[2] & 0x7f), format);
        if ((format & B24Hour) == 0) hour = hour % 12 + ((f[2] & 0x80) != 0 ? 12 : 0);
        int year = DecodeField(f[7], format) * 100 + DecodeField(f[6], format);
        int month = Math.Clamp(DecodeField(f[5], format), 1, 12);
        year = Math.Clamp(year, 1, 9999);
        int day = Math.Clamp(DecodeField(f[4], format), 1, DateTime.DaysInMonth(year, month));
        return new DateTime(year, month, day, Math.Clamp(hour, 0, 23), Math.Clamp(DecodeField(f[1], format), 0, 59),
            Math.Clamp(DecodeField(f[0], format), 0, 59), DateTimeKind.Utc);
    }

    // ---------------- register C and IRQ 8 ----------------

    private long PeriodCycles
    {
        get
        {
            int rate = _a & 0xf;
            if (rate == 0) return 0;
            long hz = rate <= 2 ? 256 >> (rate - 1) : 65536 >> (rate - 1);
            return _clockHz / hz;
        }
    }

    private bool AlarmMatches(DateTime t)
    {
        var f = Fields(t);
        return Matches(_nvram[1], f[0]) && Matches(_nvram[3], f[1]) && Matches(_nvram[5], f[2]);
        static bool Matches(byte alarm, byte value) => alarm >= 0xc0 || alarm == value;
    }

    /// <summary>Sets register C's flags for everything that happened from the last check to <paramref name="now"/>.</summary>
    private void CatchUp(long now)
    {
        if (now <= _checkedTo) return;
        long from = _checkedTo;
        _checkedTo = now;
        long period = PeriodCycles;
        if (((_a >> 4) & 7) == 2 && period > 0 && (now - _baseCycle) / period > (from - _baseCycle) / period) _c |= CPf;
        if (!Running) return;
        long firstSecond = (from - _baseCycle) / _clockHz + 1, lastSecond = (now - _baseCycle) / _clockHz;
        if (lastSecond < firstSecond) return;
        _c |= CUf;
        for (long s = firstSecond; s <= lastSecond && s < firstSecond + 86400; s++)
            if (AlarmMatches(_base.AddSeconds(s))) { _c |= CAf; break; }
    }

    private void UpdateIrq(long now)
    {
        if (((_c & CPf) != 0 && (_b & BPie) != 0) || ((_c & CAf) != 0 && (_b & BAie) != 0) || ((_c & CUf) != 0 && (_b & BUie) != 0))
            _c |= CIrqf;
        bool level = (_c & CIrqf) != 0;
        if (level == _irqLevel) return;
        _irqLevel = level;
        _irq?.Invoke(level, now);
    }

    /// <summary>Arms the event of the next flag an enabled interrupt waits for (none while IRQF is still set).</summary>
    private void Schedule(long now)
    {
        long next = long.MaxValue;
        if ((_c & CIrqf) == 0)
        {
            long period = PeriodCycles;
            if ((_b & BPie) != 0 && period > 0 && ((_a >> 4) & 7) == 2)
                next = _baseCycle + ((now - _baseCycle) / period + 1) * period;
            if ((_b & (BUie | BAie)) != 0 && Running) next = Math.Min(next, SecondBoundaryAfter(now));
        }
        if (next == long.MaxValue) _event.Cancel();
        else _event.Arm(next);
    }

    private void Fire(long now)
    {
        CatchUp(now);
        UpdateIrq(now);
        Schedule(now);
    }
}
