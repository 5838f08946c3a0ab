using Lvd.Machine.Execution;

namespace Lvd.Machine.Devices;

/// <summary>
/// The 64 Ki I/O-port space. Unclaimed ports read as all ones and ignore writes; each such
/// access is counted (<see cref="Unclaimed"/>).
/// </summary>
public sealed class IoBus(UnclaimedAccesses unclaimed)
{
    private readonly IPortDevice?[] _ports = new IPortDevice?[65536];

    public UnclaimedAccesses Unclaimed { get; } = unclaimed;

    public void Register(ushort first, int count, IPortDevice device)
    {
        for (int p = first; p < first + count; p++)
        {
            if (_ports[p] != null) throw new InvalidOperationException($"I/O port 0x{p:x} already claimed");
            _ports[p] = device;
        }
    }

    /// <summary>Claims the ports if all are free; false (nothing claimed) otherwise.</summary>
    public bool TryRegister(ushort first, int count, IPortDevice device)
    {
        for (int p = first; p < first + count; p++) if (p > 0xffff || _ports[p] != null) return false;
        Register(first, count, device);
        return true;
    }

    /// <summary>Releases ports <paramref name="device"/> claims (a PCI I/O BAR moved or was disabled).</summary>
    public void Unregister(ushort first, int count, IPortDevice device)
    {
        for (int p = first; p < first + count && p <= 0xffff; p++) if (_ports[p] == device) _ports[p] = null;
    }

    /// <summary>The device claiming <paramref name="port"/>, or null.</summary>
    public IPortDevice? DeviceAt(ushort port) => _ports[port];

    public ulong In(Cpu cpu, ushort port, int size)
    {
        var d = _ports[port];
        if (d != null) return d.In(cpu, port, size);
        Unclaimed.Note(UnclaimedAccesses.Space.Port, port, write: false);
        return AllOnes(size);
    }

    public void Out(Cpu cpu, ushort port, int size, ulong value)
    {
        var d = _ports[port];
        if (d != null) d.Out(cpu, port, size, value);
        else Unclaimed.Note(UnclaimedAccesses.Space.Port, port, write: true);
    }

    public static ulong AllOnes(int size) => size >= 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
}
