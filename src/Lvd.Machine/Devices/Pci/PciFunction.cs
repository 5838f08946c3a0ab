using System.Buffers.Binary;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Devices.Pci;

/// <summary>
/// One PCI function's type-0 configuration space (PCI Local Bus Specification 3.0, chapter 6):
/// 256 bytes with a writable mask per byte; IDs, class code and header type read-only; command,
/// latency timer, interrupt line and the BARs writable; status bits write-1-to-clear. BARs
/// (<see cref="AddMemoryBar"/>, <see cref="AddIoBar"/>) size themselves the standard way (write all
/// ones, read the mask) and are decoded while the command register enables memory or I/O
/// space: a memory BAR maps its device into physical memory at the programmed address, an I/O
/// BAR claims its ports. Capabilities (<see cref="AddCapability"/>) chain from offset 0x34.
/// </summary>
public sealed class PciFunction
{
    public const int CommandIo = 1, CommandMemory = 2, CommandBusMaster = 4, CommandIntxDisable = 0x400;
    private const int StatusCapabilities = 0x10;

    private readonly byte[] _config = new byte[256];
    private readonly byte[] _writable = new byte[256];
    private readonly byte[] _writeOneToClear = new byte[256];
    private readonly Bar?[] _bars = new Bar?[6];
    private int _nextCapability = 0x40;
    private PhysicalMemory? _memory;
    private IoBus? _io;

    public PciFunction(ushort vendorId, ushort deviceId, uint classCode, byte revision = 0, bool multiFunction = false)
    {
        Put16(0x00, vendorId);
        Put16(0x02, deviceId);
        _config[0x08] = revision;
        _config[0x09] = (byte)classCode;
        _config[0x0a] = (byte)(classCode >> 8);
        _config[0x0b] = (byte)(classCode >> 16);
        _config[0x0e] = (byte)(multiFunction ? 0x80 : 0x00);
        SetWritable(0x04, 0x07); // command: I/O, memory, bus master
        SetWritable(0x05, 0x04); // command: INTx disable
        _writeOneToClear[0x07] = 0xf9; // status: the error bits
        SetWritable(0x0c, 0xff); // cache line size
        SetWritable(0x0d, 0xff); // latency timer
        SetWritable(0x3c, 0xff); // interrupt line
    }

    /// <summary>The Intel host bridge at 00:00.0 (vendor 8086, device 29C0, class 060000: host bridge).</summary>
    public static PciFunction HostBridge() => new(0x8086, 0x29c0, 0x060000);

    public ushort VendorId => BinaryPrimitives.ReadUInt16LittleEndian(_config);
    public int Command => BinaryPrimitives.ReadUInt16LittleEndian(_config.AsSpan(0x04));

    /// <summary>Raw configuration bytes (the device model reads what the driver programmed, or sets read-only fields).</summary>
    public Span<byte> Config => _config;

    /// <summary>Makes the bits of <paramref name="mask"/> in byte <paramref name="offset"/> writable by software.</summary>
    public void SetWritable(int offset, byte mask) => _writable[offset] = mask;

    /// <summary>The interrupt pin (1 = INTA# ... 4 = INTD#; 0: none).</summary>
    public void SetInterruptPin(int pin) => _config[0x3d] = (byte)pin;

    /// <summary>A memory BAR of <paramref name="size"/> bytes (a power of two, at least 16) served by <paramref name="device"/>.</summary>
    public void AddMemoryBar(int index, ulong size, IMmioDevice device, bool is64Bit = false, bool prefetchable = false)
    {
        CheckBar(index, size, 16);
        if (is64Bit && index == 5) throw new ArgumentOutOfRangeException(nameof(index), "a 64-bit BAR needs two slots");
        var bar = new Bar(size, device, null, is64Bit);
        _bars[index] = bar;
        uint flags = (is64Bit ? 4u : 0u) | (prefetchable ? 8u : 0u);
        Put32(0x10 + 4 * index, flags);
        ulong mask = ~(size - 1);
        for (int i = 0; i < 4; i++) _writable[0x10 + 4 * index + i] = (byte)((mask & 0xfffffff0) >> (8 * i));
        if (is64Bit)
            for (int i = 0; i < 4; i++) _writable[0x14 + 4 * index + i] = (byte)(mask >> (32 + 8 * i));
    }

    /// <summary>An I/O BAR of <paramref name="size"/> ports (a power of two, at least 4) served by <paramref name="device"/>.</summary>
    public void AddIoBar(int index, int size, IPortDevice device)
    {
        CheckBar(index, (ulong)size, 4);
        _bars[index] = new Bar((ulong)size, null, device, false);
        Put32(0x10 + 4 * index, 1);
        uint mask = 0xffff & ~(uint)(size - 1) & 0xfffffffc;
        for (int i = 0; i < 4; i++) _writable[0x10 + 4 * index + i] = (byte)(mask >> (8 * i));
    }

    private void CheckBar(int index, ulong size, ulong min)
    {
        if ((uint)index >= 6 || _bars[index] != null || (index > 0 && _bars[index - 1] is { Is64Bit: true }))
            throw new ArgumentOutOfRangeException(nameof(index), "BAR slot taken or out of range");
        if (size < min || (size & (size - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(size), "a power of two");
    }

    /// <summary>
    /// Appends a capability (<paramref name="id"/>, then <paramref name="body"/> after the next pointer) to
    /// the list; returns its offset. Bytes of the body are read-only unless made writable.
    /// </summary>
    public int AddCapability(byte id, ReadOnlySpan<byte> body)
    {
        int at = _nextCapability;
        if (at + 2 + body.Length > 256) throw new InvalidOperationException("configuration space full");
        _config[at] = id;
        _config[at + 1] = 0;
        body.CopyTo(_config.AsSpan(at + 2));
        if ((_config[0x06] & StatusCapabilities) == 0) { _config[0x06] |= StatusCapabilities; _config[0x34] = (byte)at; }
        else
        {
            int p = _config[0x34];
            while (_config[p + 1] != 0) p = _config[p + 1];
            _config[p + 1] = (byte)at;
        }
        _nextCapability = (at + 2 + body.Length + 3) & ~3;
        return at;
    }

    /// <summary>The address BAR <paramref name="index"/> is programmed to (0 for an empty slot).</summary>
    public ulong BarAddress(int index)
    {
        var bar = _bars[index];
        if (bar == null) return 0;
        uint low = BinaryPrimitives.ReadUInt32LittleEndian(_config.AsSpan(0x10 + 4 * index));
        if (bar.Port != null) return low & 0xfffffffc;
        ulong a = low & 0xfffffff0;
        if (bar.Is64Bit) a |= (ulong)BinaryPrimitives.ReadUInt32LittleEndian(_config.AsSpan(0x14 + 4 * index)) << 32;
        return a;
    }

    internal void Attach(PhysicalMemory memory, IoBus io)
    {
        _memory = memory;
        _io = io;
    }

    public uint Read(int offset, int size)
    {
        uint v = 0;
        for (int i = 0; i < size && offset + i < 256; i++) v |= (uint)_config[offset + i] << (8 * i);
        return v;
    }

    public void Write(int offset, int size, uint value)
    {
        for (int i = 0; i < size && offset + i < 256; i++)
        {
            int at = offset + i;
            byte b = (byte)(value >> (8 * i));
            _config[at] = (byte)((_config[at] & ~_writable[at]) | (b & _writable[at]));
            _config[at] &= (byte)~(b & _writeOneToClear[at]);
        }
        if (offset < 0x28 && offset + size > 0x04) UpdateDecoding();
    }

    /// <summary>Maps each BAR where the command register and the BAR say, and unmaps it elsewhere.</summary>
    private void UpdateDecoding()
    {
        if (_memory == null || _io == null) return;
        for (int i = 0; i < 6; i++)
        {
            var bar = _bars[i];
            if (bar == null) continue;
            ulong address = BarAddress(i);
            bool io = bar.Port != null;
            bool on = (Command & (io ? CommandIo : CommandMemory)) != 0 && address != 0 && address + bar.Size - 1 >= address;
            if (on && bar.MappedAt == address) continue;
            if (bar.MappedAt != null)
            {
                if (io) _io.Unregister((ushort)bar.MappedAt.Value, (int)bar.Size, bar.Port!);
                else _memory.RemoveMmio(bar.MappedAt.Value, bar.Mmio!);
                bar.MappedAt = null;
            }
            if (!on) continue;
            bool mapped = io
                ? address + bar.Size <= 0x10000 && _io.TryRegister((ushort)address, (int)bar.Size, bar.Port!)
                : _memory.TryAddMmio(address, bar.Size, bar.Mmio!);
            if (mapped) bar.MappedAt = address; // else it overlaps RAM or another claim: the BAR decodes nothing
        }
    }

    private void Put16(int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(at), v);
    private void Put32(int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(at), v);

    private sealed class Bar(ulong size, IMmioDevice? mmio, IPortDevice? port, bool is64Bit)
    {
        public ulong Size { get; } = size;
        public IMmioDevice? Mmio { get; } = mmio;
        public IPortDevice? Port { get; } = port;
        public bool Is64Bit { get; } = is64Bit;
        public ulong? MappedAt { get; set; }
    }
}
