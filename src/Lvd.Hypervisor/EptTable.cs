using Lvd.Machine.Memory;
using Lvd.Machine.Paging;
using Lvd.Machine.Vmx;

namespace Lvd.Hypervisor;

/// <summary>
/// One extended page table (SDM 28.3) in hypervisor memory: 4 levels, 4 KiB and 2 MiB leaves.
/// Mapping splits 2 MiB leaves when a 4 KiB piece must differ; tables are freed on destroy.
/// </summary>
public sealed class EptTable
{
    private const ulong AddrMask = PageWalker.AddrMask;
    private const ulong Rwx = Ept.Read | Ept.Write | Ept.Exec;
    private readonly HypervisorMemory _hv;
    private readonly PhysicalMemory _mem;
    private readonly List<ulong> _tables = new();

    public ulong Root { get; }
    public ulong Eptp => Ept.MakeEptp(Root);

    private EptTable(HypervisorMemory hv, PhysicalMemory mem, ulong root)
    {
        _hv = hv;
        _mem = mem;
        Root = root;
        _tables.Add(root);
    }

    public static EptTable? Create(HypervisorMemory hv, PhysicalMemory mem) =>
        hv.AllocPage() is ulong root ? new EptTable(hv, mem, root) : null;

    public void Destroy()
    {
        foreach (var t in _tables) _hv.FreePage(t);
        _tables.Clear();
    }

    /// <summary>Maps [gpa, gpa+size) to [hpa, ...) with R/W/X bits; 2 MiB leaves where both sides allow. False if out of memory.</summary>
    public bool Map(ulong gpa, ulong hpa, ulong size, ulong perms, bool uncached = false)
    {
        ulong type = uncached ? 0 : Ept.WriteBack;
        ulong end = gpa + size;
        while (gpa < end)
        {
            const ulong Large = 2UL << 20;
            bool large = (gpa & (Large - 1)) == 0 && (hpa & (Large - 1)) == 0 && end - gpa >= Large;
            if (!SetLeaf(gpa, large ? 2 : 1, (hpa & AddrMask) | (perms & Rwx) | type | (large ? Ept.LargePage : 0))) return false;
            ulong step = large ? Large : PhysicalMemory.PageSize;
            gpa += step;
            hpa += step;
        }
        return true;
    }

    /// <summary>Removes the translations of [gpa, gpa+size) (splitting 2 MiB leaves as needed).</summary>
    public bool Unmap(ulong gpa, ulong size)
    {
        for (ulong a = gpa; a < gpa + size;)
        {
            const ulong Large = 2UL << 20;
            bool large = (a & (Large - 1)) == 0 && gpa + size - a >= Large;
            if (!SetLeaf(a, large ? 2 : 1, 0)) return false;
            a += large ? Large : PhysicalMemory.PageSize;
        }
        return true;
    }

    /// <summary>The leaf entry covering <paramref name="gpa"/> (0 if none): the machine's walker, peek mode.</summary>
    public ulong Lookup(ulong gpa) =>
        PageWalker.Peek(_mem, default(PageWalker.HostTables), Root, gpa, PageWalker.EptPresent, out ulong leaf, out _) ? leaf : 0;

    /// <summary>Writes a leaf at level 1 (4 KiB) or 2 (2 MiB), creating or splitting tables on the way.</summary>
    private bool SetLeaf(ulong gpa, int leafLevel, ulong entry)
    {
        var walk = new PageWalker.Cursor(Root, gpa);
        while (walk.Level > leafLevel)
        {
            ulong slot = walk.EntryAddress;
            ulong e = _mem.Read64(slot);
            if (walk.Level == 2 && (e & Ept.LargePage) != 0)
            {
                // Split a 2 MiB leaf into 512 4 KiB leaves with the same attributes.
                if (_hv.AllocPage() is not ulong pt) return false;
                _tables.Add(pt);
                ulong baseHpa = e & AddrMask & ~((2UL << 20) - 1);
                ulong attrs = e & ~AddrMask & ~Ept.LargePage;
                for (ulong i = 0; i < 512; i++) _mem.Write64(pt + i * 8, (baseHpa + i * PhysicalMemory.PageSize) | attrs);
                _mem.Write64(slot, pt | Rwx);
                e = pt | Rwx;
            }
            else if ((e & Rwx) == 0)
            {
                if (entry == 0) return true; // unmapping something never mapped
                if (_hv.AllocPage() is not ulong t) return false;
                _tables.Add(t);
                e = t | Rwx;
                _mem.Write64(slot, e);
            }
            walk.Down(e);
        }
        ulong leafSlot = walk.EntryAddress;
        ulong old = _mem.Read64(leafSlot);
        if (leafLevel == 2 && (old & Rwx) != 0 && (old & Ept.LargePage) == 0)
        {
            // Replacing a table of 4 KiB leaves by one 2 MiB leaf: free the table.
            ulong pt = old & AddrMask;
            if (_tables.Remove(pt)) _hv.FreePage(pt);
        }
        _mem.Write64(leafSlot, entry);
        return true;
    }
}
