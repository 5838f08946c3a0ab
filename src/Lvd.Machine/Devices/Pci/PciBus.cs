using Lvd.Machine.Execution;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Devices.Pci;

/// <summary>
/// PCI bus 0 through configuration mechanism #1 (PCI 3.0 section 3.2.2.3.2): a dword at 0xCF8
/// is CONFIG_ADDRESS (bit 31 enable, bus, device, function, register), 0xCFC-0xCFF the data
/// window, byte, word or dword. Byte and word accesses to 0xCF8-0xCFB are not the address
/// register and, like reads with the enable bit clear, another bus, or an empty slot, read all
/// ones (an absent function's vendor ID is 0xFFFF). Functions 1-7 of a device answer only if
/// function 0 says multi-function, as software probes it.
/// </summary>
public sealed class PciBus : IPortDevice
{
    public const ushort AddressPort = 0xcf8, DataPort = 0xcfc;

    private readonly PciFunction?[] _functions = new PciFunction?[256];
    private readonly PhysicalMemory _memory;
    private readonly IoBus _io;
    private uint _address;

    public PciBus(PhysicalMemory memory, IoBus io)
    {
        _memory = memory;
        _io = io;
    }

    /// <summary>Puts <paramref name="function"/> at 00:<paramref name="device"/>.<paramref name="fn"/>.</summary>
    public void Add(int device, int fn, PciFunction function)
    {
        if ((uint)device >= 32 || (uint)fn >= 8) throw new ArgumentOutOfRangeException(nameof(device), "device 0-31, function 0-7");
        int devfn = device << 3 | fn;
        if (_functions[devfn] != null) throw new InvalidOperationException($"PCI 00:{device:x2}.{fn} is taken");
        function.Attach(_memory, _io);
        _functions[devfn] = function;
    }

    public PciFunction? Function(int device, int fn) => _functions[device << 3 | fn];

    private PciFunction? Selected(out int register)
    {
        register = (int)(_address & 0xfc);
        if ((_address & 0x80000000) == 0 || ((_address >> 16) & 0xff) != 0) return null;
        int devfn = (int)(_address >> 8) & 0xff;
        if ((devfn & 7) != 0 && (_functions[devfn & ~7]?.Config[0x0e] & 0x80) == 0) return null;
        return _functions[devfn];
    }

    public ulong In(Cpu cpu, ushort port, int size)
    {
        if (port < DataPort)
        {
            if (port == AddressPort && size == 4) return _address;
            _io.Unclaimed.Note(UnclaimedAccesses.Space.Port, port, write: false);
            return IoBus.AllOnes(size);
        }
        var f = Selected(out int register);
        return f == null ? IoBus.AllOnes(size) : f.Read(register + (port - DataPort), size);
    }

    public void Out(Cpu cpu, ushort port, int size, ulong value)
    {
        if (port < DataPort)
        {
            if (port == AddressPort && size == 4) _address = (uint)value & 0x80fffffc;
            else _io.Unclaimed.Note(UnclaimedAccesses.Space.Port, port, write: true);
            return;
        }
        Selected(out int register)?.Write(register + (port - DataPort), size, (uint)value);
    }
}
