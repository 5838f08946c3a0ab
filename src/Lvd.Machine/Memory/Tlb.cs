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

    public Tlb() => FlushAll();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int IndexOf(ulong linear) => (int)(linear >> PhysicalMemory.PageShift) & IndexMask;

    public void FlushAll()
    {
        for (int i = 0; i < Entries.Length; i++) Clear(ref Entries[i]);
    }

    public void FlushNonGlobal()
    {
        for (int i = 0; i < Entries.Length; i++)
            if (!Entries[i].Global) Clear(ref Entries[i]);
    }

    public void FlushPage(ulong linear)
    {
        ref var e = ref Entries[IndexOf(linear)];
        ulong tag = linear & ~PhysicalMemory.PageMask;
        if (e.ReadTag == tag || e.WriteTag == tag || e.ExecTag == tag) Clear(ref e);
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
    }
}
