using Lvd.Machine.Execution;

namespace Lvd.Machine.Devices;

/// <summary>
/// The PC's cascaded 8259A pair (Intel 8259A datasheet): master at 0x20/0x21, slave at
/// 0xA0/0xA1 on the master's IR2, plus the edge/level control registers at 0x4D0/0x4D1.
/// ICW1-ICW4 initialization, OCW1 masks (read back through the data port), OCW2 EOIs
/// (non-specific, specific, rotations), OCW3 (IRR/ISR read, poll, special mask mode); IRR latches
/// edges (or levels with LTIM or ELCR), priority against ISR, INTA through <see cref="Acknowledge"/>.
/// The machine's local APICs are x2APICs whose LINT0 is not wired, so the master's INTR output
/// reaches no CPU: a guest must route interrupts through the I/O APIC, as Linux does after masking
/// this pair; requests that would reach INTR are counted (<see cref="UnwiredRequests"/>).
/// </summary>
public sealed class Pic8259 : IPortDevice
{
    public const ushort MasterCommand = 0x20, MasterData = 0x21, SlaveCommand = 0xa0, SlaveData = 0xa1, Elcr = 0x4d0;

    private readonly Chip _master = new(isMaster: true), _slave = new(isMaster: false);

    /// <summary>Times an unmasked request raised INTR, which is not wired to a CPU.</summary>
    public long UnwiredRequests { get; private set; }

    public byte MasterMask => _master.Imr;
    public byte SlaveMask => _slave.Imr;

    /// <summary>Drives IRQ line <paramref name="irq"/> (0-15) high or low.</summary>
    public void SetIrq(int irq, bool high)
    {
        bool before = Intr;
        if (irq < 8) _master.SetLine(irq, high);
        else
        {
            _slave.SetLine(irq - 8, high);
            _master.SetLine(2, _slave.Intr);
        }
        if (Intr && !before) UnwiredRequests++;
    }

    /// <summary>The master's INTR output: an unmasked request above the in-service priority.</summary>
    public bool Intr => _master.Intr;

    /// <summary>The INTA cycles: the vector of the highest request (moved from IRR to ISR), or the spurious IR7 vector.</summary>
    public int Acknowledge()
    {
        int irq = _master.AcknowledgeLine();
        if (irq == 2 && _master.Cascade)
        {
            int s = _slave.AcknowledgeLine();
            _master.SetLine(2, _slave.Intr);
            return _slave.VectorBase + (s < 0 ? 7 : s);
        }
        return _master.VectorBase + (irq < 0 ? 7 : irq);
    }

    public ulong In(Cpu cpu, ushort port, int size) => port switch
    {
        MasterCommand => _master.ReadCommand(),
        MasterData => _master.ReadData(),
        SlaveCommand => _slave.ReadCommand(),
        SlaveData => _slave.ReadData(),
        Elcr => _master.Elcr,
        _ => _slave.Elcr,
    };

    public void Out(Cpu cpu, ushort port, int size, ulong value)
    {
        byte b = (byte)value;
        switch (port)
        {
            case MasterCommand: _master.WriteCommand(b); break;
            case MasterData: _master.WriteData(b); break;
            case SlaveCommand: _slave.WriteCommand(b); _master.SetLine(2, _slave.Intr); break;
            case SlaveData: _slave.WriteData(b); _master.SetLine(2, _slave.Intr); break;
            case Elcr: _master.Elcr = (byte)(b & 0xf8); break; // IRQ 0-2 are always edge-triggered
            default: _slave.Elcr = (byte)(b & 0xde); break;    // and IRQ 8 and 13
        }
    }

    /// <summary>One 8259A.</summary>
    private sealed class Chip(bool isMaster)
    {
        public byte Irr, Isr, Imr, Elcr;
        public int VectorBase;
        private byte _lines, _icw3;
        private int _initStep; // 0: operational; 2, 3, 4: expecting that ICW
        private bool _needIcw3, _needIcw4, _ltim, _autoEoi, _readIsr, _poll, _specialMask, _rotateOnAutoEoi;
        private int _lowest = 7; // the lowest-priority IR (rotation)

        public bool Cascade => isMaster && (_icw3 & 4) != 0;

        private bool LevelMode(int irq) => _ltim || (Elcr & (1 << irq)) != 0;

        public void SetLine(int irq, bool high)
        {
            byte bit = (byte)(1 << irq);
            bool was = (_lines & bit) != 0;
            if (high) _lines |= bit; else _lines &= (byte)~bit;
            if (LevelMode(irq)) { if (high) Irr |= bit; else Irr &= (byte)~bit; }
            else if (high && !was) Irr |= bit;
        }

        private int Priority(int irq) => (irq - _lowest - 1) & 7; // 0 = highest

        /// <summary>The highest-priority unmasked request that beats everything in service, or -1.</summary>
        private int HighestRequest()
        {
            int best = -1;
            for (int i = 0; i < 8; i++)
            {
                if ((Irr & ~Imr & (1 << i)) == 0) continue;
                if (best < 0 || Priority(i) < Priority(best)) best = i;
            }
            if (best < 0) return -1;
            for (int i = 0; i < 8; i++)
            {
                if ((Isr & (1 << i)) == 0 || (_specialMask && (Imr & (1 << i)) != 0)) continue;
                if (Priority(i) <= Priority(best)) return -1;
            }
            return best;
        }

        public bool Intr => _initStep == 0 && HighestRequest() >= 0;

        public int AcknowledgeLine()
        {
            int irq = HighestRequest();
            if (irq < 0) return -1;
            byte bit = (byte)(1 << irq);
            if (!LevelMode(irq) || (_lines & bit) == 0) Irr &= (byte)~bit;
            if (_autoEoi) { if (_rotateOnAutoEoi) _lowest = irq; }
            else Isr |= bit;
            return irq;
        }

        public byte ReadCommand()
        {
            if (_poll)
            {
                _poll = false;
                int irq = AcknowledgeLine();
                return irq < 0 ? (byte)0 : (byte)(0x80 | irq);
            }
            return _readIsr ? Isr : Irr;
        }

        public byte ReadData() => Imr;

        public void WriteCommand(byte b)
        {
            if ((b & 0x10) != 0)
            {
                // ICW1: clears the mask and in-service registers, IR7 lowest, special mask off, IRR read.
                _needIcw4 = (b & 1) != 0;
                _needIcw3 = (b & 2) == 0;
                _ltim = (b & 8) != 0;
                Imr = Isr = 0;
                Irr = _ltim ? _lines : (byte)0;
                _lowest = 7;
                _specialMask = _readIsr = _poll = _autoEoi = false;
                _initStep = 2;
                return;
            }
            if ((b & 0x08) == 0) Ocw2(b);
            else
            {
                // OCW3
                if ((b & 2) != 0) _readIsr = (b & 1) != 0;
                _poll = (b & 4) != 0;
                if ((b & 0x40) != 0) _specialMask = (b & 0x20) != 0;
            }
        }

        private void Ocw2(byte b)
        {
            int level = b & 7;
            switch (b >> 5)
            {
                case 1: // non-specific EOI
                case 5: // rotate on non-specific EOI
                {
                    int irq = HighestInService();
                    if (irq < 0) return;
                    Isr &= (byte)~(1 << irq);
                    if (b >> 5 == 5) _lowest = irq;
                    return;
                }
                case 3: Isr &= (byte)~(1 << level); return;                   // specific EOI
                case 7: Isr &= (byte)~(1 << level); _lowest = level; return; // rotate on specific EOI
                case 6: _lowest = level; return;                              // set priority
                case 4: _rotateOnAutoEoi = true; return;
                case 0: _rotateOnAutoEoi = false; return;
            }
        }

        private int HighestInService()
        {
            int best = -1;
            for (int i = 0; i < 8; i++)
                if ((Isr & (1 << i)) != 0 && (best < 0 || Priority(i) < Priority(best))) best = i;
            return best;
        }

        public void WriteData(byte b)
        {
            switch (_initStep)
            {
                case 2:
                    VectorBase = b & 0xf8;
                    _initStep = _needIcw3 ? 3 : _needIcw4 ? 4 : 0;
                    return;
                case 3:
                    _icw3 = b;
                    _initStep = _needIcw4 ? 4 : 0;
                    return;
                case 4:
                    _autoEoi = (b & 2) != 0;
                    _initStep = 0;
                    return;
                default:
                    Imr = b; // OCW1
                    return;
            }
        }
    }
}
