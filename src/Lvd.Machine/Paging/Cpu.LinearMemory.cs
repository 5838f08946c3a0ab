using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvd.Machine.Memory;
using Lvd.Machine.Paging;

namespace Lvd.Machine.Execution;

/// <summary>
/// Linear memory access: a TLB hit is one tag compare (an aligned access; unaligned ones inside a page a second test) and
/// a host load or store at the address plus the entry's addend; a miss translates (<see cref="Translate"/>) and takes the
/// slow path through physical memory.
/// </summary>
public sealed unsafe partial class Cpu
{
    public enum Access : byte { Read = 0, Write = 1, Exec = 2 }

    private Tlb _tlbSup;
    private Tlb _tlbUser;
    /// <summary>Never filled: selected while alignment checking forces the slow path.</summary>
    private readonly Tlb _tlbNone = new();
    private TlbEntry[] _tlb;
    private bool _alignCheck;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref TlbEntry TlbSlot(ulong la) => ref Unsafe.AddByteOffset(ref MemoryMarshal.GetArrayDataReference(_tlb), Tlb.OffsetOf(la));

    /// <summary>The host byte of a hit: <c>la + Addend</c> (the page is pinned; <see cref="TlbEntry.Addend"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref byte HostRef(ref TlbEntry e, ulong la) => ref *(byte*)((nint)la + e.Addend);

    // ---- reads ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte Read8(ulong la)
    {
        ref var e = ref TlbSlot(la);
        if (Hits(e.ReadTag, la, 1)) return HostRef(ref e, la);
        return (byte)ReadSlow(la, 1);
    }

    /// <summary>
    /// The mask of a hit test that is one compare (QEMU's softmmu way): the page bits of the address and its low bits below
    /// the access size. Tags are page-aligned, so <c>(la &amp; mask) == tag</c> holds only when the page matches and the
    /// access is aligned to its size, and an aligned access never crosses a page. An unaligned access inside the page must
    /// still hit (<see cref="ReadN{T}"/>): the slow path's <see cref="Translate"/> looks only at the other way of the set,
    /// so there it would walk, and cost modeled cycles.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong AlignedTagMask(int size) => ~PhysicalMemory.PageMask | (ulong)(size - 1);

    /// <summary>An access of <paramref name="size"/> bytes at <paramref name="la"/> stays inside its page.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool InPage(ulong la, int size) => (la & PhysicalMemory.PageMask) <= PhysicalMemory.PageSize - (ulong)size;

    /// <summary>
    /// The hit test of the interpreter's fast paths (compiled regions emit the same two tests as IL: RegionEmitter.Access):
    /// the entry's tag <paramref name="tag"/> for the access kind covers <paramref name="size"/> bytes at
    /// <paramref name="la"/>: the one compare of <see cref="AlignedTagMask"/>, or an unaligned access inside the tag's page.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Hits(ulong tag, ulong la, int size) =>
        tag == (la & AlignedTagMask(size)) || size > 1 && tag == (la & ~PhysicalMemory.PageMask) && InPage(la, size);

    /// <summary>
    /// A 2-, 4- or 8-byte read: a hit is the tag compare of <see cref="AlignedTagMask"/>; when that fails, an unaligned
    /// access inside the page is a hit too (the tag of the page and the offset test, on the compare's failing branch: the
    /// kernel workload makes one unaligned access every 6 instructions, and a call to the slow path for each cost 9%);
    /// anything else (a miss, a page-crossing access, alignment checking, MMIO) takes the slow path. The JIT compiles one
    /// copy per size.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private T ReadN<T>(ulong la) where T : unmanaged
    {
        ref var e = ref TlbSlot(la);
        if (Hits(e.ReadTag, la, Unsafe.SizeOf<T>())) return Unsafe.ReadUnaligned<T>(ref HostRef(ref e, la));
        ulong v = ReadSlow(la, Unsafe.SizeOf<T>());
        return Unsafe.As<ulong, T>(ref v);   // the low bytes (little-endian)
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ushort Read16(ulong la) => ReadN<ushort>(la);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint Read32(ulong la) => ReadN<uint>(la);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Read64(ulong la) => ReadN<ulong>(la);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong ReadMem(ulong la, int size) => size switch
    {
        8 => Read64(la),
        4 => Read32(la),
        2 => Read16(la),
        _ => Read8(la),
    };

    /// <summary>
    /// <see cref="ReadMem"/> as a call: for the executor's CMOVcc (any size), so that its hot switch does not inline four
    /// read paths there and run out of the JIT's inlining room for the hot handlers (docs/HOST-SPEED.md).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal ulong ReadSized(ulong la, int size) => ReadMem(la, size);

    // ---- writes ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write8(ulong la, byte v)
    {
        ref var e = ref TlbSlot(la);
        if (Hits(e.WriteTag, la, 1)) { HostRef(ref e, la) = v; return; }
        WriteSlow(la, 1, v);
    }

    /// <summary>A 2-, 4- or 8-byte write, with the hit test of <see cref="ReadN{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteN<T>(ulong la, T v) where T : unmanaged
    {
        ref var e = ref TlbSlot(la);
        if (Hits(e.WriteTag, la, Unsafe.SizeOf<T>()))
        {
            Unsafe.WriteUnaligned(ref HostRef(ref e, la), v);
            return;
        }
        ulong wide = 0;
        Unsafe.As<ulong, T>(ref wide) = v;
        WriteSlow(la, Unsafe.SizeOf<T>(), wide);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write16(ulong la, ushort v) => WriteN(la, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write32(ulong la, uint v) => WriteN(la, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write64(ulong la, ulong v) => WriteN(la, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteMem(ulong la, int size, ulong v)
    {
        switch (size)
        {
            case 8: Write64(la, v); break;
            case 4: Write32(la, (uint)v); break;
            case 2: Write16(la, (ushort)v); break;
            default: Write8(la, (byte)v); break;
        }
    }

    /// <summary>Checks that a write to [la, la+size) would succeed, without writing.</summary>
    internal void ProbeWrite(ulong la, int size)
    {
        Translate(la, Access.Write, Cpl == 3);
        if (((la + (ulong)size - 1) ^ la) > PhysicalMemory.PageMask) Translate(la + (ulong)size - 1, Access.Write, Cpl == 3);
    }

    // ---- slow paths ----

    private void CheckAlignment(ulong la, int size)
    {
        if (_alignCheck && size > 1 && (la & (ulong)(size - 1)) != 0) throw new GuestFault(Vectors.AC, 0, true);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ulong ReadSlow(ulong la, int size)
    {
        CheckAlignment(la, size);
        ulong off = la & PhysicalMemory.PageMask;
        if (off + (ulong)size > PhysicalMemory.PageSize)
        {
            // Crosses a page: both translations must succeed before anything is returned.
            ulong pa0 = Translate(la, Access.Read, Cpl == 3);
            ulong pa1 = Translate((la | PhysicalMemory.PageMask) + 1, Access.Read, Cpl == 3);
            ulong v = 0;
            for (int i = 0; i < size; i++)
            {
                ulong a = la + (ulong)i;
                ulong pa = (a & ~PhysicalMemory.PageMask) == (la & ~PhysicalMemory.PageMask) ? pa0 + (ulong)i : pa1 + (a & PhysicalMemory.PageMask);
                v |= Memory.Read(pa, 1, this) << (8 * i);
            }
            return v;
        }
        if (Caches != null)
        {
            // Detailed timing: the fast path's TLB lookup, then the caches.
            ulong pa = TranslateCached(la, Access.Read, Cpl == 3);
            if (Memory.IsRam(pa)) Cycles += Caches.Load(pa);
            return Memory.Read(pa, size, this);
        }
        ulong p = Translate(la, Access.Read, Cpl == 3);
        return Memory.Read(p, size, this);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WriteSlow(ulong la, int size, ulong v)
    {
        CheckAlignment(la, size);
        ulong off = la & PhysicalMemory.PageMask;
        if (off + (ulong)size > PhysicalMemory.PageSize)
        {
            ulong pa0 = Translate(la, Access.Write, Cpl == 3);
            ulong pa1 = Translate((la | PhysicalMemory.PageMask) + 1, Access.Write, Cpl == 3);
            for (int i = 0; i < size; i++)
            {
                ulong a = la + (ulong)i;
                ulong pa = (a & ~PhysicalMemory.PageMask) == (la & ~PhysicalMemory.PageMask) ? pa0 + (ulong)i : pa1 + (a & PhysicalMemory.PageMask);
                Memory.Write(pa, 1, v >> (8 * i), this);
            }
            return;
        }
        if (Caches != null)
        {
            ulong pa = TranslateCached(la, Access.Write, Cpl == 3);
            if (Memory.IsRam(pa)) Caches.Store(pa);
            Memory.Write(pa, size, v, this);
            return;
        }
        ulong p = Translate(la, Access.Write, Cpl == 3);
        Memory.Write(p, size, v, this);
    }

    /// <summary>
    /// Translation through the TLB of the given privilege (a hit costs nothing); a miss walks
    /// and fills it. Used by implicit supervisor accesses (IDT, GDT, TSS, interrupt frames).
    /// </summary>
    private ulong TranslateCached(ulong la, Access access, bool user)
    {
        var tlb = user ? _tlbUser : _tlbSup;
        ref var e = ref tlb.Entries[Tlb.IndexOf(la)];
        ulong tag = la & ~PhysicalMemory.PageMask;
        ulong hit = access switch { Access.Read => e.ReadTag, Access.Write => e.WriteTag, _ => e.ExecTag };
        if (hit == tag) return e.PhysPage | (la & PhysicalMemory.PageMask);
        return Translate(la, access, user);
    }

    /// <summary>Reads with supervisor privilege (IDT, GDT, TSS: implicit supervisor accesses).</summary>
    internal ulong ReadSupervisor(ulong la, int size)
    {
        if ((la & PhysicalMemory.PageMask) + (ulong)size <= PhysicalMemory.PageSize)
            return Memory.Read(TranslateCached(la, Access.Read, false), size);
        ulong v = 0;
        for (int i = 0; i < size; i++) v |= Memory.Read(TranslateCached(la + (ulong)i, Access.Read, false), 1) << (8 * i);
        return v;
    }

    /// <summary>Writes with supervisor privilege; both pages are checked before anything is written.</summary>
    internal void WriteSupervisor(ulong la, int size, ulong value)
    {
        ulong last = la + (ulong)size - 1;
        ulong pa0 = TranslateCached(la, Access.Write, false);
        if ((la ^ last) <= PhysicalMemory.PageMask) { Memory.Write(pa0, size, value); return; }
        ulong pa1 = TranslateCached(last & ~PhysicalMemory.PageMask, Access.Write, false);
        for (int i = 0; i < size; i++)
        {
            ulong a = la + (ulong)i;
            ulong pa = (a & ~PhysicalMemory.PageMask) == (la & ~PhysicalMemory.PageMask) ? pa0 + (ulong)i : pa1 + (a & PhysicalMemory.PageMask);
            Memory.Write(pa, 1, value >> (8 * i));
        }
    }

    // ---- code fetch ----

    /// <summary>The fetch's TLB hit, without side effects: the one test <see cref="FetchPhys"/> and compiled regions make.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool FetchHit(ulong la, out ulong pa)
    {
        ref var e = ref TlbSlot(la);
        pa = e.PhysPage | (la & PhysicalMemory.PageMask);
        return e.ExecTag == (la & ~PhysicalMemory.PageMask);
    }

    /// <summary>Physical address of an instruction byte (exec permission checked).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong FetchPhys(ulong la)
    {
        if (FetchHit(la, out ulong pa)) return pa;
        // Detailed timing points the fast path at an empty TLB: look at the real one before walking.
        return Caches != null ? TranslateCached(la, Access.Exec, Cpl == 3) : Translate(la, Access.Exec, Cpl == 3);
    }

    /// <summary>Debugger/report read: translates without faulting or touching A/D bits... best effort.</summary>
    public bool TryReadLinear(ulong la, out byte value)
    {
        value = 0;
        // Through the guest's page tables and, in non-root operation, its EPT.
        if (!TryTranslateGuest(la, out ulong pa) || !Memory.IsRam(pa)) return false;
        value = (byte)Memory.Read(pa, 1);
        return true;
    }
}
