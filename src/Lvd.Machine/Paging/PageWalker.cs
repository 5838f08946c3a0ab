using Lvd.Machine.Memory;

namespace Lvd.Machine.Paging;

/// <summary>
/// The one 4-level radix walk of the machine. IA-32e paging (SDM 4.5) and EPT (SDM 28.3.2)
/// share its shape: a 4 KiB table of 512 8-byte entries per level, indexed by 9 address bits
/// from bit 39 down, bit 7 marking a 2 MiB (level 2) or 1 GiB (level 3) leaf, and the next
/// table or the page frame in bits MAXPHYADDR-1:12. They differ only in what makes an entry
/// present (P, bit 0; EPT: any of R/W/X, bits 2:0).
/// <para>
/// Two modes. The strict mode is the processor's: <c>Cpu.Translate</c> (guest paging, with
/// each table address through EPT) and <c>Cpu.EptTranslate</c> step with <see cref="Cursor"/>
/// and add the architectural checks, fault or exit, accessed/dirty updates and the
/// per-reference cost. The peek mode, <see cref="Peek{TTables}"/>, has no side effects:
/// no faults, no bits set, no cycles; hypervisors and the crash report use it to look
/// at guest state, the hypervisor's EPT builder to find a leaf.
/// </para>
/// </summary>
public static class PageWalker
{
    /// <summary>The page frame / next-table field: bits MAXPHYADDR-1:12 (SDM Tables 4-14..4-19, 28-1..28-6).</summary>
    public const ulong AddrMask = ((1UL << Execution.Cpu.MaxPhysAddrBits) - 1) & ~0xfffUL;
    /// <summary>PS (paging) and "large page" (EPT): the entry maps a page, bit 7 in both formats.</summary>
    public const ulong LargePage = 1UL << 7;
    /// <summary>Present: P for IA-32e paging.</summary>
    public const ulong PagingPresent = 1;
    /// <summary>Present: any of read, write, execute for EPT.</summary>
    public const ulong EptPresent = 7;

    /// <summary>One level of a walk: the table being read and the address being translated.</summary>
    public struct Cursor(ulong root, ulong address)
    {
        public ulong Table = root & AddrMask;
        public int Level = 4;
        public readonly ulong Address = address;

        /// <summary>Address bits a leaf at this level passes through: 12, 21 or 30.</summary>
        public readonly int Shift => 12 + 9 * (Level - 1);
        /// <summary>The entry of this level's table that <see cref="Address"/> selects.</summary>
        public readonly ulong EntryAddress => Table + (((Address >> Shift) & 0x1ff) << 3);
        /// <summary>True if <paramref name="entry"/> (present) maps a page at this level rather than a table.</summary>
        public readonly bool IsLeaf(ulong entry) => Level == 1 || (Level <= 3 && (entry & LargePage) != 0);
        /// <summary>The translated address through the leaf <paramref name="entry"/>.</summary>
        public readonly ulong Output(ulong entry)
        {
            ulong size = 1UL << Shift;
            return (entry & AddrMask & ~(size - 1)) | (Address & (size - 1));
        }
        /// <summary>Steps into the table that the non-leaf <paramref name="entry"/> points to.</summary>
        public void Down(ulong entry)
        {
            Table = entry & AddrMask;
            Level--;
        }
    }

    /// <summary>Where a walk reads its tables from: table addresses are host-physical, or guest-physical through EPT.</summary>
    public interface ITableSpace
    {
        bool TryHost(ulong tableAddress, out ulong hostAddress);
    }

    /// <summary>Tables addressed host-physically (EPT itself; guest paging without EPT).</summary>
    public readonly struct HostTables : ITableSpace
    {
        public bool TryHost(ulong tableAddress, out ulong hostAddress)
        {
            hostAddress = tableAddress;
            return true;
        }
    }

    /// <summary>Guest tables addressed guest-physically, each through the EPT rooted at <paramref name="eptRoot"/> (peeked).</summary>
    public readonly struct EptTables(PhysicalMemory memory, ulong eptRoot) : ITableSpace
    {
        public bool TryHost(ulong tableAddress, out ulong hostAddress) =>
            TryTranslate(memory, eptRoot, tableAddress, EptPresent, out hostAddress);
    }

    /// <summary>
    /// The side-effect-free walk: the leaf entry mapping <paramref name="address"/> and its
    /// level, or false at the first non-present entry (or a table the space cannot reach).
    /// </summary>
    public static bool Peek<TTables>(PhysicalMemory memory, in TTables tables, ulong root, ulong address, ulong presentMask,
        out ulong leaf, out Cursor at) where TTables : struct, ITableSpace
    {
        at = new Cursor(root, address);
        leaf = 0;
        while (true)
        {
            if (!tables.TryHost(at.EntryAddress, out ulong entryHost) || !memory.IsRam(entryHost)) return false;
            ulong e = memory.Read64(entryHost);
            if ((e & presentMask) == 0) return false;
            if (at.IsLeaf(e))
            {
                leaf = e;
                return true;
            }
            at.Down(e);
        }
    }

    /// <summary>Peeks the translation of <paramref name="address"/> through host-addressed tables.</summary>
    public static bool TryTranslate(PhysicalMemory memory, ulong root, ulong address, ulong presentMask, out ulong output)
    {
        output = 0;
        if (!Peek(memory, default(HostTables), root, address, presentMask, out ulong leaf, out var at)) return false;
        output = at.Output(leaf);
        return true;
    }
}
