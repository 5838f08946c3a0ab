using System.Runtime.CompilerServices;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Paging;

/// <summary>
/// One translation: a guest-linear page mapped to a host page array. Each access type has
/// its own tag (the page-aligned linear address, or <see cref="Tlb.Invalid"/>), so a
/// permission check on a hit is a single compare. A write tag is only set once the walk has
/// set the dirty bit and the page holds no decoded code.
/// </summary>
internal struct TlbEntry
{
    public ulong ReadTag;
    public ulong WriteTag;
    public ulong ExecTag;
    /// <summary>
    /// The host address of the RAM page less the linear page (its tag): a hit reads or writes at <c>la + Addend</c>. RAM
    /// pages are allocated pinned (<see cref="PhysicalMemory"/>), so the address stays valid while the machine lives. Not
    /// machine state: a snapshot's value points into the memory it was copied from, so a restore recomputes it from
    /// <see cref="PhysPage"/> (<see cref="Tlb.RebuildAddends"/>), and digests leave it out.
    /// </summary>
    [Diagnostics.NotMachineState]
    public nint Addend;
    public ulong PhysPage;
    /// <summary>The page is RAM (<see cref="Addend"/> is valid); otherwise MMIO or nothing.</summary>
    public bool Ram;
    public bool Global;
    /// <summary>12, 21 or 30: the size of the page this 4 KiB piece came from (INVLPG drops all pieces).</summary>
    public byte PageShift;
    /// <summary>
    /// A page without RAM (MMIO, or nothing): <see cref="Ram"/> is false and the fast paths always
    /// miss, but the slow path finds the physical page here instead of walking the tables again.
    /// </summary>
    public ulong MmioReadTag;
    public ulong MmioWriteTag;
}

/// <summary>
/// A software TLB for one privilege level (CPL 0 or CPL 3 permissions) of one translation
/// context. The CPU keeps one per (context, privilege) so hits need no checks. Two ways per
/// set: the fast paths look at <see cref="Entries"/> only (the most recently used way); a miss
/// there looks at <see cref="Victims"/> (the other way) before walking, and swaps the two on a
/// hit, so two hot pages that share a set do not walk on every access (hardware TLBs are 4- to
/// 8-way; a direct-mapped one made a domain's code page and its info page walk on each call).
/// </summary>
internal sealed class Tlb
{
    public const int Bits = 10;
    public const int Size = 1 << Bits;
    public const int IndexMask = Size - 1;
    public const ulong Invalid = ulong.MaxValue;

    public readonly TlbEntry[] Entries = new TlbEntry[Size];
    /// <summary>The second way of each set: the entry a fill displaced from <see cref="Entries"/>.</summary>
    public readonly TlbEntry[] Victims = new TlbEntry[Size];

    /// <summary>Some entry came from a 2 MiB or 1 GiB page (INVLPG must then scan).</summary>
    public bool HasLargePages;

    /// <summary>log2 of the size of a <see cref="TlbEntry"/>: <see cref="OffsetOf"/> computes byte offsets with it.</summary>
    public const int EntryShift = 6;

    public Tlb()
    {
        if (Unsafe.SizeOf<TlbEntry>() != 1 << EntryShift)
            throw new InvalidOperationException($"a TlbEntry is {Unsafe.SizeOf<TlbEntry>()} bytes, Tlb.EntryShift says {1 << EntryShift}");
        FlushAll();
    }

    /// <summary>
    /// The slot of a page: the low bits of its page number folded with the next two groups of
    /// bits, so that pages 4 MiB, 1 GiB or 512 GiB apart (the same offset in different regions:
    /// a domain's code, heap, stacks and pool; the kernel image and the direct map) do not all
    /// land in one slot of this direct-mapped TLB and evict each other on every access.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int IndexOf(ulong linear)
    {
        ulong vpn = linear >> PhysicalMemory.PageShift;
        return (int)(vpn ^ (vpn >> Bits) ^ (vpn >> (2 * Bits))) & IndexMask;
    }

    /// <summary>
    /// The byte offset of <see cref="IndexOf"/>'s slot in <see cref="Entries"/> (the same slot), for the fast paths: the
    /// fold done on the address shifted 6 bits less, so that the masked result is already the index times the entry size
    /// (no widening and no scaling after it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint OffsetOf(ulong linear)
    {
        const int s = PhysicalMemory.PageShift - EntryShift;
        return (nuint)(((linear >> s) ^ (linear >> (s + Bits)) ^ (linear >> (s + 2 * Bits))) & ((ulong)IndexMask << EntryShift));
    }

    public void FlushAll()
    {
        for (int i = 0; i < Entries.Length; i++) { Clear(ref Entries[i]); Clear(ref Victims[i]); }
        HasLargePages = false;
    }

    public void FlushNonGlobal()
    {
        for (int i = 0; i < Entries.Length; i++)
        {
            if (!Entries[i].Global) Clear(ref Entries[i]);
            if (!Victims[i].Global) Clear(ref Victims[i]);
        }
    }

    /// <summary>
    /// The slow path's first step: if the other way of the set holds the page with the wanted
    /// permission (0 read, 1 write, 2 execute), make it the primary entry and say so.
    /// </summary>
    public bool PromoteVictim(ulong linear, int kind)
    {
        int i = IndexOf(linear);
        ref var v = ref Victims[i];
        ulong tag = linear & ~PhysicalMemory.PageMask;
        ulong t = kind == 0 ? v.ReadTag : kind == 1 ? v.WriteTag : v.ExecTag;
        if (t != tag) return false;
        (Entries[i], Victims[i]) = (Victims[i], Entries[i]);
        return true;
    }

    /// <summary>Before a fill replaces the primary entry of a set with another page: keep the old one as the victim.</summary>
    public void Displace(int index, ulong newTag)
    {
        ref var e = ref Entries[index];
        if (!e.Ram) return;
        ulong t = e.ReadTag != Invalid ? e.ReadTag : e.ExecTag != Invalid ? e.ExecTag : e.WriteTag;
        if (t == Invalid || t == newTag) return;
        Victims[index] = e;
        Clear(ref e);
    }

    /// <summary>INVLPG: drops the translation of a page, all of it if it was a large page (SDM 4.10.4.1).</summary>
    public void FlushPage(ulong linear)
    {
        ulong tag = linear & ~PhysicalMemory.PageMask;
        ref var e = ref Entries[IndexOf(linear)];
        if (Holds(ref e, tag)) Clear(ref e);
        ref var v = ref Victims[IndexOf(linear)];
        if (Holds(ref v, tag)) Clear(ref v);
        if (!HasLargePages) return;
        for (int i = 0; i < Entries.Length; i++)
        {
            FlushLargePiece(ref Entries[i], linear);
            FlushLargePiece(ref Victims[i], linear);
        }
    }

    private static bool Holds(ref TlbEntry e, ulong tag) =>
        e.ReadTag == tag || e.WriteTag == tag || e.ExecTag == tag || e.MmioReadTag == tag || e.MmioWriteTag == tag;

    private static void FlushLargePiece(ref TlbEntry x, ulong linear)
    {
        if (x.PageShift <= PhysicalMemory.PageShift) return;
        ulong t = !x.Ram ? (x.MmioReadTag != Invalid ? x.MmioReadTag : x.MmioWriteTag)
            : x.ReadTag != Invalid ? x.ReadTag : x.ExecTag != Invalid ? x.ExecTag : x.WriteTag;
        if (t != Invalid && (t >> x.PageShift) == (linear >> x.PageShift)) Clear(ref x);
    }

    /// <summary>Drops write permission for every entry that maps the given physical page.</summary>
    public void RevokeWrite(ulong physPage)
    {
        for (int i = 0; i < Entries.Length; i++)
        {
            if (Entries[i].PhysPage == physPage) Entries[i].WriteTag = Invalid;
            if (Victims[i].PhysPage == physPage) Victims[i].WriteTag = Invalid;
        }
    }

    /// <summary>
    /// After a snapshot restore: every RAM entry's <see cref="TlbEntry.Addend"/> from its physical page and its linear page
    /// (the tag of any access it allows; an entry that allows none is never hit, and gets the address of its page).
    /// </summary>
    public void RebuildAddends(PhysicalMemory memory)
    {
        for (int i = 0; i < Entries.Length; i++)
        {
            RebuildAddend(ref Entries[i], memory);
            RebuildAddend(ref Victims[i], memory);
        }
    }

    private static void RebuildAddend(ref TlbEntry e, PhysicalMemory memory)
    {
        if (!e.Ram) { e.Addend = 0; return; }
        ulong tag = e.ReadTag != Invalid ? e.ReadTag : e.WriteTag != Invalid ? e.WriteTag : e.ExecTag != Invalid ? e.ExecTag : 0;
        e.Addend = AddendOf(memory.RamPage(e.PhysPage) ?? throw new InvalidOperationException("a TLB entry maps RAM that is not there"), tag);
    }

    /// <summary>The addend of a RAM page (pinned) mapped at linear page <paramref name="tag"/>.</summary>
    public static unsafe nint AddendOf(byte[] page, ulong tag) =>
        (nint)Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(page)) - (nint)tag;

    private static void Clear(ref TlbEntry e)
    {
        e.ReadTag = Invalid;
        e.WriteTag = Invalid;
        e.ExecTag = Invalid;
        e.MmioReadTag = Invalid;
        e.MmioWriteTag = Invalid;
        e.Addend = 0;
        e.Ram = false;
        e.PhysPage = Invalid;
        e.Global = false;
        e.PageShift = 0;
    }
}
