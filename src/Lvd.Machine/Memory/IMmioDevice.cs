namespace Lvd.Machine.Memory;

/// <summary>A device that claims a range of guest-physical addresses (memory-mapped I/O).</summary>
public interface IMmioDevice
{
    ulong Read(ulong offset, int size);
    void Write(ulong offset, int size, ulong value);
}
