using Lvd.Machine.Execution;

namespace Lvd.Machine.Memory;

/// <summary>
/// A device that claims a range of guest-physical addresses (memory-mapped I/O). An access
/// gets the vCPU that makes it (null: a device's DMA, a loader or a debugger) and the modeled
/// time it happens at (the vCPU's clock, else the machine's current time).
/// </summary>
public interface IMmioDevice
{
    ulong Read(Cpu? cpu, long now, ulong offset, int size);
    void Write(Cpu? cpu, long now, ulong offset, int size, ulong value);
}
