using Lvd.Machine.Memory;

namespace Lvd.Hypervisor;

/// <summary>
/// The hypervisor's own RAM: the top of guest-physical memory, never mapped in any EPT. EPT
/// tables, EPTP lists, MSR/I/O bitmaps and VMCS regions come from here, one zeroed page each.
/// </summary>
public sealed class HypervisorMemory
{
    private readonly PhysicalMemory _memory;
    private readonly Stack<ulong> _free = new();
    private ulong _next;

    public ulong Base { get; }
    public ulong End { get; }
    public int PagesInUse { get; private set; }

    public HypervisorMemory(PhysicalMemory memory, ulong baseAddress, ulong end)
    {
        _memory = memory;
        Base = _next = baseAddress;
        End = end;
    }

    public bool Contains(ulong pa) => pa >= Base && pa < End;

    /// <summary>True if [pa, pa+size) overlaps hypervisor memory.</summary>
    public bool Overlaps(ulong pa, ulong size) => pa < End && pa + size > Base;

    /// <summary>A zeroed 4 KiB page, or null when exhausted.</summary>
    public ulong? AllocPage()
    {
        ulong pa;
        if (_free.Count > 0) pa = _free.Pop();
        else if (_next + PhysicalMemory.PageSize <= End) { pa = _next; _next += PhysicalMemory.PageSize; }
        else return null;
        _memory.Fill(pa, PhysicalMemory.PageSize, 0);
        PagesInUse++;
        return pa;
    }

    public void FreePage(ulong pa)
    {
        _free.Push(pa);
        PagesInUse--;
    }
}
