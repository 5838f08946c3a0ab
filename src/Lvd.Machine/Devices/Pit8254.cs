using Lvd.Machine.Execution;

namespace Lvd.Machine.Devices;

/// <summary>
/// The 8254 programmable interval timer (Intel 8254 datasheet) at ports 0x40-0x43, clocked at
/// 1.193182 MHz in modeled time. Three counters with the control word (modes 0-5, binary or
/// BCD, LSB/MSB/both), counter latch and read-back (count and status, null count), the
/// LSB/MSB flip-flops. Counter 0's OUT drives IRQ 0 (on the PC: I/O APIC pin 2 through the
/// ACPI override); its transitions are timed events. Counter 2's GATE and OUT are bits 0 and 5
/// of port 0x61 (<see cref="SystemControlPort"/>); counter 1 (DRAM refresh) has no output wired.
/// A counter is evaluated from its load time, never ticked. Simplifications: a count written
/// in mode 2 or 3 while counting restarts the period at once (the chip waits for the period's
/// end), and in mode 3 an odd count reads as the even count below it.
/// </summary>
public sealed class Pit8254 : IPortDevice
{
    public const ushort FirstPort = 0x40, ControlPort = 0x43;
    public const long InputHz = 1_193_182;

    private readonly long _clockHz;
    private readonly Channel[] _channels = [new(), new(), new()];
    private readonly Action<bool, long>? _irq0;
    private readonly TimedEvent _out0;
    /// <summary>The level last driven on IRQ 0: high at power-up, as a counter's OUT idles, so programming mode 2 or 3 is no edge.</summary>
    private bool _irqLevel = true;

    /// <param name="timers">The machine's timed events (counter 0's OUT transitions).</param>
    /// <param name="clockHz">Modeled cycles per second.</param>
    /// <param name="irq0">The IRQ 0 wire, or null when unconnected.</param>
    /// <param name="irq0CanWake">Whether an IRQ 0 edge can reach a CPU now (its pin is unmasked): idle time is skipped only to such edges.</param>
    public Pit8254(TimedEvents timers, long clockHz, Action<bool, long>? irq0, Func<bool>? irq0CanWake = null)
    {
        _clockHz = clockHz;
        _irq0 = irq0;
        _out0 = timers.Create("pit-out0", Out0Transition, irq0CanWake);
        _channels[2].Gate = false; // port 0x61 bit 0 resets to 0
    }

    /// <summary>The counter's input clock ticks completed by modeled time <paramref name="cycles"/>.</summary>
    public long Ticks(long cycles) => (long)((Int128)cycles * InputHz / _clockHz);

    /// <summary>The first modeled cycle at which <paramref name="tick"/> ticks have completed.</summary>
    public long CycleOfTick(long tick) => (long)(((Int128)tick * _clockHz + InputHz - 1) / InputHz);

    /// <summary>Counter 2's OUT at modeled time <paramref name="now"/> (port 0x61 bit 5).</summary>
    public bool Out2(long now) => _channels[2].Out(Ticks(now));

    /// <summary>Counter 2's GATE (port 0x61 bit 0).</summary>
    public void SetGate2(bool high, long now) => _channels[2].SetGate(high, Ticks(now));

    public bool Gate2 => _channels[2].Gate;

    /// <summary>Counter <paramref name="channel"/>'s count as a read would see it at <paramref name="now"/> (tests, reports).</summary>
    public int CountAt(int channel, long now) => _channels[channel].Value(Ticks(now));

    public ulong In(Cpu cpu, ushort port, int size)
    {
        if (port == ControlPort) return 0xff; // the control word register cannot be read
        return _channels[port - FirstPort].Read(Ticks(cpu.Cycles));
    }

    public void Out(Cpu cpu, ushort port, int size, ulong value)
    {
        long now = cpu.Cycles;
        long tick = Ticks(now);
        byte b = (byte)value;
        if (port == ControlPort)
        {
            int sc = b >> 6;
            if (sc == 3)
            {
                // Read-back: bit 5 low latches counts, bit 4 low latches status, bits 3:1 select counters.
                for (int i = 0; i < 3; i++)
                {
                    if ((b & (2 << i)) == 0) continue;
                    if ((b & 0x10) == 0) _channels[i].LatchStatus(tick);
                    if ((b & 0x20) == 0) _channels[i].LatchCount(tick);
                }
                return;
            }
            if ((b & 0x30) == 0) _channels[sc].LatchCount(tick);
            else _channels[sc].Program(b, tick);
        }
        else _channels[port - FirstPort].Write(b, tick);
        if (port == FirstPort || (port == ControlPort && (b >> 6) == 0)) Schedule(now);
    }

    /// <summary>Drives IRQ 0 to counter 0's OUT and arms the event of its next transition.</summary>
    private void Schedule(long now)
    {
        long tick = Ticks(now);
        var c = _channels[0];
        bool level = c.Out(tick);
        if (level != _irqLevel)
        {
            _irqLevel = level;
            _irq0?.Invoke(level, now);
        }
        long next = c.NextTransition(tick);
        if (next == long.MaxValue) _out0.Cancel();
        else _out0.Arm(CycleOfTick(next));
    }

    private void Out0Transition(long now) => Schedule(now);

    /// <summary>One counter.</summary>
    private sealed class Channel
    {
        public bool Gate = true;
        private int _mode, _rw = 3;
        private bool _bcd, _loaded, _nullCount, _triggered;
        private int _count;        // the programmed count N (0 stands for the modulus)
        private long _load;         // the tick at which the count was in the counting element, counting from there
        private long _frozenAt = -1; // gate low since this tick (modes 0, 2, 3, 4 stop counting)
        private bool _writeMsb, _readMsb;
        private byte _lsb;
        private int _latched = -1, _status = -1;

        private int Modulus => _bcd ? 10000 : 65536;
        private int N => _count == 0 ? Modulus : _count;
        private bool GateTriggered => _mode is 1 or 5;

        public void Program(byte b, long tick)
        {
            _rw = (b >> 4) & 3;
            _mode = (b >> 1) & 7;
            if (_mode >= 6) _mode -= 4; // x1x: modes 2 and 3
            _bcd = (b & 1) != 0;
            _loaded = false;
            _nullCount = true;
            _writeMsb = _readMsb = false;
            _latched = _status = -1;
            _triggered = false;
        }

        public void Write(byte b, long tick)
        {
            if (_rw == 3 && !_writeMsb)
            {
                _lsb = b;
                _writeMsb = true;
                if (_mode == 0) _loaded = false; // mode 0: writing the first byte stops the count
                return;
            }
            int raw = _rw switch { 1 => b, 2 => b << 8, _ => _lsb | (b << 8) };
            _writeMsb = false;
            _count = _bcd ? FromBcd(raw) : raw;
            _loaded = true;
            _nullCount = false;
            _triggered = false;
            _load = tick + 1; // the count enters the counting element on the next clock
            if (_frozenAt >= 0) _frozenAt = _load;
        }

        public void SetGate(bool high, long tick)
        {
            if (high == Gate) return;
            Gate = high;
            if (!high) { _frozenAt = tick; return; }
            long stopped = _frozenAt < 0 ? 0 : tick - _frozenAt;
            _frozenAt = -1;
            if (!_loaded) return;
            if (_mode is 0 or 4) _load += stopped;                      // counting resumes where it stopped
            else { _load = tick + 1; _triggered = true; }               // 1, 5: trigger; 2, 3: reload
        }

        /// <summary>Ticks counted since the load at <paramref name="tick"/> (gate pauses included); negative: not yet counting.</summary>
        private long Elapsed(long tick)
        {
            if (_frozenAt >= 0 && _mode is 0 or 4 or 2 or 3) tick = Math.Min(tick, _frozenAt);
            return tick - _load;
        }

        private bool Counting => _loaded && (!GateTriggered || _triggered);

        public int Value(long tick)
        {
            if (!Counting) return _loaded || _count != 0 ? _count : 0;
            long e = Elapsed(tick);
            if (e < 0) return _count;
            long n = N;
            long v = _mode switch
            {
                2 => n - e % Math.Max(n, 2),
                3 => (n & ~1L) - 2 * ModeThreeOffset(e, n),
                _ => ((n - e) % Modulus + Modulus) % Modulus,
            };
            return (int)(v == Modulus ? 0 : v);
        }

        private static long ModeThreeOffset(long e, long n)
        {
            long phase = e % n, high = (n + 1) / 2;
            return phase < high ? phase : phase - high;
        }

        public bool Out(long tick)
        {
            if (!_loaded) return _mode != 0;
            if (GateTriggered && !_triggered) return true;
            if (_frozenAt >= 0 && _mode is 2 or 3) return true; // gate low forces OUT high
            long e = Elapsed(tick);
            long n = N;
            return _mode switch
            {
                0 or 1 => e >= n,
                2 => e < 0 || e % Math.Max(n, 2) != Math.Max(n, 2) - 1,
                3 => e < 0 || e % n < (n + 1) / 2,
                _ => e != n, // 4, 5: a one-clock strobe at terminal count
            };
        }

        /// <summary>The next tick after <paramref name="tick"/> at which OUT changes, or long.MaxValue.</summary>
        public long NextTransition(long tick)
        {
            if (!Counting || (_frozenAt >= 0 && _mode is 0 or 2 or 3 or 4)) return long.MaxValue;
            long e = tick - _load;
            long n = N;
            switch (_mode)
            {
                case 0: case 1: return e < n ? _load + n : long.MaxValue;
                case 4: case 5: return e < n ? _load + n : e == n ? _load + n + 1 : long.MaxValue;
                case 2:
                {
                    long p = Math.Max(n, 2);
                    if (e < 0) return _load + p - 1;
                    long k = e / p, phase = e % p;
                    return phase < p - 1 ? _load + k * p + p - 1 : _load + (k + 1) * p;
                }
                default:
                {
                    long high = (n + 1) / 2;
                    if (e < 0) return _load + high;
                    long k = e / n, phase = e % n;
                    return phase < high ? _load + k * n + high : _load + (k + 1) * n;
                }
            }
        }

        public void LatchCount(long tick)
        {
            if (_latched < 0) _latched = Value(tick);
        }

        public void LatchStatus(long tick)
        {
            if (_status >= 0) return;
            _status = (Out(tick) ? 0x80 : 0) | (_nullCount ? 0x40 : 0) | (_rw << 4) | (_mode << 1) | (_bcd ? 1 : 0);
        }

        public byte Read(long tick)
        {
            if (_status >= 0)
            {
                byte s = (byte)_status;
                _status = -1;
                return s;
            }
            int v = _latched >= 0 ? _latched : Value(tick);
            if (_bcd) v = ToBcd(v);
            byte result;
            if (_rw == 1) result = (byte)v;
            else if (_rw == 2) result = (byte)(v >> 8);
            else
            {
                result = _readMsb ? (byte)(v >> 8) : (byte)v;
                _readMsb = !_readMsb;
                if (_readMsb) return result; // the latch holds until both bytes are read
            }
            _latched = -1;
            return result;
        }

        private static int FromBcd(int raw) =>
            (raw & 0xf) + ((raw >> 4) & 0xf) * 10 + ((raw >> 8) & 0xf) * 100 + ((raw >> 12) & 0xf) * 1000;

        private static int ToBcd(int v) =>
            (v % 10) | ((v / 10 % 10) << 4) | ((v / 100 % 10) << 8) | ((v / 1000 % 10) << 12);
    }
}
