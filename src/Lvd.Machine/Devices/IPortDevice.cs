using Lvd.Machine.Execution;

namespace Lvd.Machine.Devices;

/// <summary>
/// A device on the I/O-port bus. <paramref name="cpu"/> is the vCPU that executes the IN or OUT
/// (or for which VMX-root software emulates it); its clock is the modeled time of the access.
/// </summary>
public interface IPortDevice
{
    ulong In(Cpu cpu, ushort port, int size);
    void Out(Cpu cpu, ushort port, int size, ulong value);
}
