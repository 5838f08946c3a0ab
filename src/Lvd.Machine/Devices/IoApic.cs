using Lvd.Machine.Execution;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Devices;

/// <summary>
/// An I/O APIC (Intel 82093AA datasheet; ICH9 datasheet 13.5 for the version-0x20 EOI register)
/// at 0xFEC00000: IOREGSEL at +0x00, IOWIN at +0x10, EOI at +0x40; registers ID (0x00),
/// version (0x01: 0x20, 24 pins), arbitration ID (0x02) and 24 redirection entries (0x10 + 2n,
/// low then high dword). Each pin is a wire driven by a device; an edge-triggered pin sends its
/// message on the wire's transition to the active level (edges while masked are lost), a
/// level-triggered pin while the wire is active and Remote IRR is clear, and sets Remote IRR
/// until an EOI for its vector (the local APIC's broadcast or the EOI register). Messages go
/// to the local APICs as the machine's interrupt messages (x2APIC: 8-bit destination, 0xFF
/// broadcast; physical or logical).
/// </summary>
public sealed class IoApic : IMmioDevice
{
    public const ulong DefaultBase = 0xfec00000;
    public const ulong Size = 0x1000;
    public const int Pins = 24;
    public const uint Version = 0x20;

    private const ulong Vector = 0xff, Mode = 7 << 8, Logical = 1 << 11, ActiveLow = 1 << 13,
        RemoteIrr = 1 << 14, LevelTriggered = 1 << 15, Masked = 1 << 16;
    /// <summary>The bits of an entry software can write (delivery status and Remote IRR are read-only).</summary>
    private const ulong Writable = 0xff00_0000_0000_0000UL | Masked | LevelTriggered | ActiveLow | Logical | Mode | Vector;

    private readonly IInterruptSink _sink;
    private readonly ulong[] _entries = new ulong[Pins];
    private readonly bool[] _wire = new bool[Pins];
    private uint _select, _id;

    /// <summary>Messages sent, and those that found no target or had a delivery mode the machine does not model (ExtINT, SMI).</summary>
    public long Delivered { get; private set; }
    public long Undeliverable { get; private set; }

    public IoApic(IInterruptSink sink, int id)
    {
        _sink = sink;
        _id = (uint)id;
        for (int i = 0; i < Pins; i++) _entries[i] = Masked;
    }

    public ulong Entry(int pin) => _entries[pin];

    /// <summary>Whether a transition on <paramref name="pin"/> would send a message (it is unmasked).</summary>
    public bool Unmasked(int pin) => (_entries[pin] & Masked) == 0;

    private bool Active(int pin) => _wire[pin] ^ ((_entries[pin] & ActiveLow) != 0);

    /// <summary>A device drives the wire of <paramref name="pin"/> high or low at modeled time <paramref name="now"/>.</summary>
    public void SetWire(int pin, bool high, long now)
    {
        bool wasActive = Active(pin);
        _wire[pin] = high;
        bool active = Active(pin);
        if ((_entries[pin] & LevelTriggered) != 0) Evaluate(pin, now);
        else if (active && !wasActive && Unmasked(pin)) Send(pin, now);
    }

    /// <summary>A level-triggered pin sends while its wire is active, it is unmasked and no EOI is outstanding.</summary>
    private void Evaluate(int pin, long now)
    {
        ulong e = _entries[pin];
        if ((e & LevelTriggered) == 0 || (e & (Masked | RemoteIrr)) != 0 || !Active(pin)) return;
        int mode = (int)((e & Mode) >> 8);
        if (mode is 0 or 1) _entries[pin] |= RemoteIrr;
        Send(pin, now);
    }

    private void Send(int pin, long now)
    {
        ulong e = _entries[pin];
        uint dest = (uint)(e >> 56);
        if (dest == 0xff) dest = 0xffffffff; // the 8-bit broadcast of an xAPIC-format message
        int mode = (int)((e & Mode) >> 8);
        bool level = (e & LevelTriggered) != 0;
        int n = mode is 2 or 7 ? 0 : _sink.DeliverInterrupt(dest, (e & Logical) != 0, mode, (int)(e & Vector), level, now);
        if (n == 0)
        {
            Undeliverable++;
            _entries[pin] &= ~RemoteIrr; // nobody will send the EOI
        }
        else Delivered++;
    }

    /// <summary>An EOI for <paramref name="vector"/> (local APIC broadcast or the EOI register): clears Remote IRR of its level pins.</summary>
    public void EndOfInterrupt(int vector, long now)
    {
        for (int pin = 0; pin < Pins; pin++)
        {
            ulong e = _entries[pin];
            if ((e & RemoteIrr) == 0 || (int)(e & Vector) != vector) continue;
            _entries[pin] = e & ~RemoteIrr;
            Evaluate(pin, now);
        }
    }

    public ulong Read(Cpu? cpu, long now, ulong offset, int size)
    {
        ulong v = offset switch
        {
            0x00 => _select,
            0x10 => ReadRegister(_select),
            _ => 0,
        };
        return size >= 4 ? v : v & IoBus.AllOnes(size);
    }

    public void Write(Cpu? cpu, long now, ulong offset, int size, ulong value)
    {
        uint v = (uint)value;
        switch (offset)
        {
            case 0x00: _select = v & 0xff; break;
            case 0x10: WriteRegister(_select, v, now); break;
            case 0x40: EndOfInterrupt((int)(v & 0xff), now); break;
        }
    }

    private uint ReadRegister(uint index)
    {
        switch (index)
        {
            case 0x00: return _id << 24;
            case 0x01: return ((uint)(Pins - 1) << 16) | Version;
            case 0x02: return _id << 24;
        }
        if (index >= 0x10 && index < 0x10 + 2 * Pins)
        {
            ulong e = _entries[(index - 0x10) >> 1];
            return (index & 1) == 0 ? (uint)e : (uint)(e >> 32);
        }
        return 0xffffffff; // no register there: the window reads as an unclaimed bus
    }

    private void WriteRegister(uint index, uint v, long now)
    {
        if (index == 0x00) { _id = (v >> 24) & 0xf; return; }
        if (index < 0x10 || index >= 0x10 + 2 * Pins) return;
        int pin = (int)(index - 0x10) >> 1;
        ulong old = _entries[pin];
        ulong w = (index & 1) == 0 ? (old & 0xffffffff00000000UL) | v : (old & 0xffffffffUL) | ((ulong)v << 32);
        _entries[pin] = (old & ~Writable) | (w & Writable);
        if ((_entries[pin] & LevelTriggered) == 0) _entries[pin] &= ~RemoteIrr;
        Evaluate(pin, now);
    }
}

/// <summary>Where interrupt messages (I/O APIC, MSI) go: the machine's local APICs.</summary>
public interface IInterruptSink
{
    /// <summary>
    /// Sends an interrupt message at modeled time <paramref name="now"/>: a 32-bit x2APIC
    /// destination (0xFFFFFFFF broadcast), physical or logical, an SDM delivery mode (fixed,
    /// lowest priority, NMI, INIT), the vector and trigger mode. Returns how many APICs took it.
    /// </summary>
    int DeliverInterrupt(uint destination, bool logical, int deliveryMode, int vector, bool level, long now);
}
