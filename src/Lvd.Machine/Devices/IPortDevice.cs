namespace Lvd.Machine.Devices;

/// <summary>A device on the I/O-port bus.</summary>
public interface IPortDevice
{
    ulong In(int cpu, ushort port, int size);
    void Out(int cpu, ushort port, int size, ulong value);
}
