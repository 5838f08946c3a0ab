using System.Runtime.CompilerServices;

namespace Lvd.Machine.Memory;

/// <summary>
/// One translation: a guest-linear page mapped to a host page array. Each access type has
/// its own tag (the page-aligned linear address, or <see cref="Tlb.Invalid"/>), so a
/// permission check on a hit is a single compare. A write tag is only set once the walk has
/// set the dirty bit and the page holds no decoded code.
/// </summary>
public struct TlbEntry
{
    public ulong ReadTag;
    public ulong WriteTag;
    public ulong ExecTag;
    public byte[]? Page;
    public ulong PhysPage;
    public bool Global;
    /// <summary>12, 21 or 30: the size of the page this 4 KiB piece came from (INVLPG drops all pieces).</summary>
    public byte PageShift;
}

/// <summary>
/// A direct-mapped software TLB for one privilege level (CPL 0 or CPL 3 permissions) of one
/// translation context. The CPU keeps one per (context, privilege) so hits need no checks.
/// </summary>
public sealed class Tlb
{
    public const int Bits = 10;
    public const int Size = 1 << Bits;
    public const int IndexMask = Size - 1;
    public const ulong Invalid = ulong.MaxValue;

    public readonly TlbEntry[] Entries = new TlbEntry[Size];

    /// <summary>Some entry came from a 2 MiB or 1 GiB page (INVLPG must then scan).</summary>
    public bool HasLargePages;

    public Tlb() => FlushAll();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int IndexOf(ulong linear) => (int)(linear >> PhysicalMemory.PageShift) & IndexMask;

    public void FlushAll()
    {
        for (int i = 0; i < Entries.Length; i++) Clear(ref Entries[i]);
        HasLargePages = false;
    }

    public void FlushNonGlobal()
    {
        for (int i = 0; i < Entries.Length; i++)
            if (!Entries[i].Global) Clear(ref Entries[i]);
    }

    /// <summary>INVLPG: drops the translation of a page, all of it if it was a large page (SDM 4.10.4.1).</summary>
    public void FlushPage(ulong linear)
    {
        ref var e = ref Entries[IndexOf(linear)];
        ulong tag = linear & ~PhysicalMemory.PageMask;
        if (e.ReadTag == tag || e.WriteTag == tag || e.ExecTag == tag) Clear(ref e);
        if (!HasLargePages) return;
        for (int i = 0; i < Entries.Length; i++)
        {
            ref var x = ref Entries[i];
            if (x.PageShift <= PhysicalMemory.PageShift || x.Page == null) continue;
            ulong t = x.ReadTag != Invalid ? x.ReadTag : x.ExecTag != Invalid ? x.ExecTag : x.WriteTag;
            if (t != Invalid && (t >> x.PageShift) == (linear >> x.PageShift)) Clear(ref x);
        }
    }

    /// <summary>Drops write permission for every entry that maps the given physical page.</summary>
    public void RevokeWrite(ulong physPage)
    {
        for (int i = 0; i < Entries.Length; i++)
            if (Entries[i].PhysPage == physPage) Entries[i].WriteTag = Invalid;
    }

    private static void Clear(ref TlbEntry e)
    {
        e.ReadTag = Invalid;
        e.WriteTag = Invalid;
        e.ExecTag = Invalid;
        e.Page = null;
        e.PhysPage = Invalid;
        e.Global = false;
        e.PageShift = 0;
    }
}
