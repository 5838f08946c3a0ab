namespace Lvd.Machine.Devices;

/// <summary>The 64 Ki I/O-port space. Unclaimed ports read as all ones and ignore writes.</summary>
public sealed class IoBus
{
    private readonly IPortDevice?[] _ports = new IPortDevice?[65536];

    public void Register(ushort first, int count, IPortDevice device)
    {
        for (int p = first; p < first + count; p++)
        {
            if (_ports[p] != null) throw new InvalidOperationException($"I/O port 0x{p:x} already claimed");
            _ports[p] = device;
        }
    }

    public ulong In(int cpu, ushort port, int size)
    {
        var d = _ports[port];
        return d != null ? d.In(cpu, port, size) : size == 4 ? 0xffffffffUL : size == 2 ? 0xffffUL : 0xffUL;
    }

    public void Out(int cpu, ushort port, int size, ulong value) => _ports[port]?.Out(cpu, port, size, value);
}
