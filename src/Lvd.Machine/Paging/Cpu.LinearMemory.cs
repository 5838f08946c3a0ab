using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvd.Machine.Decoding;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Cpu;

/// <summary>
/// Linear memory access: a TLB hit is one tag compare and a direct array access; a miss
/// walks the 4-level page tables (4 KiB / 2 MiB / 1 GiB pages, NX, U/S, R/W, CR0.WP,
/// accessed/dirty bits) and charges each memory reference the walk makes.
/// </summary>
public sealed partial class Cpu
{
    public enum Access : byte { Read = 0, Write = 1, Exec = 2 }

    private Tlb _tlbSup;
    private Tlb _tlbUser;
    /// <summary>Never filled: selected while alignment checking forces the slow path.</summary>
    private readonly Tlb _tlbNone = new();
    private TlbEntry[] _tlb;
    private bool _alignCheck;

    public long TlbMisses;
    public long PageWalkRefs;

    private const ulong PteP = 1, PteRW = 2, PteUS = 4, PteA = 1 << 5, PteD = 1 << 6, PtePS = 1 << 7, PteG = 1 << 8;
    private const ulong PteNX = 1UL << 63;
    private const ulong PteAddr = ((1UL << MaxPhysAddrBits) - 1) & ~0xfffUL;
    private const uint PfP = 1, PfW = 2, PfU = 4, PfRsvd = 8, PfI = 16;

    /// <summary>Flushes the current translation context (MOV CR3, CR4.PGE changes: SDM 4.10.4.1).</summary>
    internal void FlushTlb(bool includingGlobal)
    {
        if (includingGlobal) { _tlbSup.FlushAll(); _tlbUser.FlushAll(); }
        else { _tlbSup.FlushNonGlobal(); _tlbUser.FlushNonGlobal(); }
    }

    internal void FlushTlbPage(ulong linear)
    {
        _tlbSup.FlushPage(linear);
        _tlbUser.FlushPage(linear);
    }

    internal void RevokeWrite(ulong physPage)
    {
        foreach (var set in _tlbSets.Values) { set.Sup.RevokeWrite(physPage); set.User.RevokeWrite(physPage); }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref TlbEntry TlbSlot(ulong la) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_tlb), Tlb.IndexOf(la));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref byte PageRef(byte[] page, ulong la) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(page), (int)(la & PhysicalMemory.PageMask));

    // ---- reads ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte Read8(ulong la)
    {
        ref var e = ref TlbSlot(la);
        if (e.ReadTag == (la & ~PhysicalMemory.PageMask)) return PageRef(e.Page!, la);
        return (byte)ReadSlow(la, 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ushort Read16(ulong la)
    {
        ref var e = ref TlbSlot(la);
        if (e.ReadTag == (la & ~PhysicalMemory.PageMask) && (la & PhysicalMemory.PageMask) <= PhysicalMemory.PageSize - 2)
            return Unsafe.ReadUnaligned<ushort>(ref PageRef(e.Page!, la));
        return (ushort)ReadSlow(la, 2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint Read32(ulong la)
    {
        ref var e = ref TlbSlot(la);
        if (e.ReadTag == (la & ~PhysicalMemory.PageMask) && (la & PhysicalMemory.PageMask) <= PhysicalMemory.PageSize - 4)
            return Unsafe.ReadUnaligned<uint>(ref PageRef(e.Page!, la));
        return (uint)ReadSlow(la, 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Read64(ulong la)
    {
        ref var e = ref TlbSlot(la);
        if (e.ReadTag == (la & ~PhysicalMemory.PageMask) && (la & PhysicalMemory.PageMask) <= PhysicalMemory.PageSize - 8)
            return Unsafe.ReadUnaligned<ulong>(ref PageRef(e.Page!, la));
        return ReadSlow(la, 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong ReadMem(ulong la, int size) => size switch
    {
        8 => Read64(la),
        4 => Read32(la),
        2 => Read16(la),
        _ => Read8(la),
    };

    // ---- writes ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write8(ulong la, byte v)
    {
        ref var e = ref TlbSlot(la);
        if (e.WriteTag == (la & ~PhysicalMemory.PageMask)) { PageRef(e.Page!, la) = v; return; }
        WriteSlow(la, 1, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write16(ulong la, ushort v)
    {
        ref var e = ref TlbSlot(la);
        if (e.WriteTag == (la & ~PhysicalMemory.PageMask) && (la & PhysicalMemory.PageMask) <= PhysicalMemory.PageSize - 2)
        { Unsafe.WriteUnaligned(ref PageRef(e.Page!, la), v); return; }
        WriteSlow(la, 2, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write32(ulong la, uint v)
    {
        ref var e = ref TlbSlot(la);
        if (e.WriteTag == (la & ~PhysicalMemory.PageMask) && (la & PhysicalMemory.PageMask) <= PhysicalMemory.PageSize - 4)
        { Unsafe.WriteUnaligned(ref PageRef(e.Page!, la), v); return; }
        WriteSlow(la, 4, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write64(ulong la, ulong v)
    {
        ref var e = ref TlbSlot(la);
        if (e.WriteTag == (la & ~PhysicalMemory.PageMask) && (la & PhysicalMemory.PageMask) <= PhysicalMemory.PageSize - 8)
        { Unsafe.WriteUnaligned(ref PageRef(e.Page!, la), v); return; }
        WriteSlow(la, 8, v);
    }

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
                v |= Memory.Read(pa, 1) << (8 * i);
            }
            return v;
        }
        ulong p = Translate(la, Access.Read, Cpl == 3);
        return Memory.Read(p, size);
    }

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
                Memory.Write(pa, 1, v >> (8 * i));
            }
            return;
        }
        ulong p = Translate(la, Access.Write, Cpl == 3);
        Memory.Write(p, size, v);
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

    /// <summary>
    /// SDM 6.15 / 3.3.7.1: a non-canonical address is #SS(0) when the reference uses SS (an
    /// RSP/RBP-based operand or an implicit stack access), else #GP(0). Decided from the
    /// executing op only here, on the slow path, so the fast path pays nothing.
    /// </summary>
    private GuestFault NonCanonical(ulong la)
    {
        var b = _currentBlock;
        if (b != null && _opIndex < b.Ops.Length)
        {
            ref Op op = ref b.Ops[_opIndex];
            bool explicitStack = (op.Form & OpForm.StackSeg) != 0;
            bool implicitStack = op.H is Handler.PushR64 or Handler.PopR64 or Handler.Push or Handler.Pop or Handler.Call
                or Handler.CallInd or Handler.Ret or Handler.Enter or Handler.Leave or Handler.Pushf or Handler.Popf;
            bool operandIsNonStack = (op.Form & (OpForm.MemSrc | OpForm.MemDst)) != 0 && !explicitStack;
            if (explicitStack || (implicitStack && !(operandIsNonStack && IsOperandAddress(ref op, la))))
                return new GuestFault(Vectors.SS, 0, true);
        }
        return GuestFault.Gp();
    }

    private bool IsOperandAddress(ref Op op, ulong la)
    {
        ulong ea = Ea(ref op, 0);
        return la >= ea && la < ea + 16;
    }

    internal static bool IsCanonical(ulong la) => (ulong)(((long)la << 16) >> 16) == la;

    /// <summary>48-bit canonical form (bits 63:47 equal).</summary>
    public static bool IsCanonicalAddress(ulong la) => IsCanonical(la);

    /// <summary>
    /// Translates a linear address for an access, raising #PF/#GP as the architecture says,
    /// and fills the TLB of the privilege level the access was made at.
    /// </summary>
    internal ulong Translate(ulong la, Access access, bool user)
    {
        if (!IsCanonical(la)) throw NonCanonical(la);
        // The other way of the set first: a hit there is a TLB hit (no walk, no cycles).
        var way = user ? _tlbUser : _tlbSup;
        if (way.PromoteVictim(la, access == Access.Read ? 0 : access == Access.Write ? 1 : 2))
            return way.Entries[Tlb.IndexOf(la)].PhysPage | (la & PhysicalMemory.PageMask);
        TlbMisses++;
        ulong pageBase = la & ~PhysicalMemory.PageMask;
        ulong errUser = user ? PfU : 0;
        ulong errAccess = access == Access.Write ? PfW : access == Access.Exec && (Efer & EferNXE) != 0 ? PfI : 0;
        bool nxe = (Efer & EferNXE) != 0;
        // SDM Tables 4-14..4-19: bits 51:MAXPHYADDR are reserved, 62:52 ignored (CR4.PKE=0),
        // bit 63 reserved unless EFER.NXE.
        ulong rsvdHigh = ((1UL << 52) - 1) & ~((1UL << MaxPhysAddrBits) - 1);
        if (!nxe) rsvdHigh |= PteNX;

        ulong table = Cr3 & PteAddr;
        bool writable = true, userOk = true, exec = true, global = false;
        ulong entryAddr = 0, pa = 0;
        int level = 4;
        Span<ulong> touched = stackalloc ulong[4];
        Span<ulong> touchedGpa = stackalloc ulong[4];
        int nTouched = 0;
        while (true)
        {
            int shift = 12 + 9 * (level - 1);
            entryAddr = table + (((la >> shift) & 0x1ff) << 3);
            ulong pteHpa = _eptActive ? EptTranslate(entryAddr, Access.Read, false, la) : entryAddr;
            ulong pte = Memory.Read64(pteHpa);
            PageWalkRefs++;
            Cycles += Costs.MemRef;
            if ((pte & PteP) == 0)
                throw GuestFault.Pf(la, (uint)(errUser | errAccess));
            bool leaf = level == 1 || (level <= 3 && (pte & PtePS) != 0);
            ulong rsvd = rsvdHigh;
            if (level == 4 && (pte & PtePS) != 0) rsvd |= PtePS;
            if (leaf && level == 3) rsvd |= 0x3fffe000UL;
            if (leaf && level == 2) rsvd |= 0x1fe000UL;
            if ((pte & rsvd) != 0)
                throw GuestFault.Pf(la, (uint)(PfP | PfRsvd | errUser | errAccess));
            writable &= (pte & PteRW) != 0;
            userOk &= (pte & PteUS) != 0;
            if (nxe && (pte & PteNX) != 0) exec = false;
            touchedGpa[nTouched] = entryAddr;
            touched[nTouched++] = pteHpa;
            if (leaf)
            {
                global = (pte & PteG) != 0 && (Cr4 & Cr4PGE) != 0;
                ulong pageSize = 1UL << shift;
                pa = (pte & PteAddr & ~(pageSize - 1)) | (la & (pageSize - 1));
                // Permission check (SDM 4.6).
                bool ok = access switch
                {
                    Access.Read => !user || userOk,
                    Access.Write => user ? userOk && writable : writable || (Cr0 & Cr0WP) == 0,
                    _ => exec && (!user || userOk),
                };
                if (!ok) throw GuestFault.Pf(la, (uint)(PfP | errUser | errAccess));
                // Accessed bits on every level; dirty on the leaf for writes. Under EPT such an
                // update is a write to the paging structure (SDM 28.3.3.2).
                for (int i = 0; i < nTouched; i++)
                {
                    ulong e = Memory.Read64(touched[i]);
                    ulong want = e | PteA;
                    if (i == nTouched - 1 && access == Access.Write) want |= PteD;
                    if (want == e) continue;
                    if (_eptActive) EptTranslate(touchedGpa[i], Access.Write, false, la);
                    Memory.Write64(touched[i], want);
                }
                bool dirty = access == Access.Write || (Memory.Read64(pteHpa) & PteD) != 0;
                if (_eptActive)
                {
                    // Two-dimensional walk: the final guest-physical address through EPT; the TLB
                    // keeps the combined permissions (SDM 28.3.1).
                    pa = EptTranslate(pa, access, true, la, out ulong eptPerms);
                    writable &= (eptPerms & Vmx.Ept.Write) != 0;
                    exec &= (eptPerms & Vmx.Ept.Exec) != 0;
                    if ((eptPerms & Vmx.Ept.Read) == 0) { FillTlbExecOnly(la, pa, user, userOk, exec, global, shift); return pa; }
                }
                FillTlb(la, pa, user, userOk, writable, exec, dirty, global, shift);
                return pa;
            }
            table = pte & PteAddr;
            level--;
        }
    }

    /// <summary>An EPT execute-only page: fetches may hit, data reads and writes must exit.</summary>
    private void FillTlbExecOnly(ulong la, ulong pa, bool user, bool userOk, bool exec, bool global, int pageShift)
    {
        FillTlb(la, pa, user, userOk, false, exec, false, global, pageShift);
        var tlb = user ? _tlbUser : _tlbSup;
        tlb.Entries[Tlb.IndexOf(la)].ReadTag = Tlb.Invalid;
    }

    private void FillTlb(ulong la, ulong pa, bool user, bool userOk, bool writable, bool exec, bool dirty, bool global, int pageShift)
    {
        var page = Memory.RamPage(pa);
        if (page == null) return; // MMIO and unbacked addresses always take the slow path
        var tlb = user ? _tlbUser : _tlbSup;
        ulong tag = la & ~PhysicalMemory.PageMask;
        tlb.Displace(Tlb.IndexOf(la), tag);
        ref var e = ref tlb.Entries[Tlb.IndexOf(la)];
        ulong physPage = pa & ~PhysicalMemory.PageMask;
        if (e.PhysPage != physPage || e.ReadTag != tag)
        {
            e.ReadTag = e.WriteTag = e.ExecTag = Tlb.Invalid;
        }
        e.Page = page;
        e.PhysPage = physPage;
        e.Global = global;
        e.PageShift = (byte)pageShift;
        if (pageShift > PhysicalMemory.PageShift) tlb.HasLargePages = true;
        bool canRead = !user || userOk;
        e.ReadTag = canRead ? tag : Tlb.Invalid;
        bool canWrite = user ? userOk && writable : writable || (Cr0 & Cr0WP) == 0;
        e.WriteTag = canWrite && dirty && !Memory.IsCodePage(pa >> PhysicalMemory.PageShift) ? tag : Tlb.Invalid;
        e.ExecTag = exec && canRead ? tag : Tlb.Invalid;
    }

    // ---- effective addresses ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Ea(ref Op op, ulong next)
    {
        ulong a = (ulong)op.Disp;
        if (op.Base != Op.NoReg) a += op.Base == Op.RipReg ? next : R(op.Base);
        if (op.Index != Op.NoReg) a += R(op.Index) << op.Scale;
        if ((op.Form & OpForm.Addr32) != 0) a = (uint)a;
        if (op.Seg != 0) a += Segs[op.Seg == 1 ? (int)SegReg.FS : (int)SegReg.GS].Base;
        return a;
    }

    // ---- stack ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Push64(ulong v)
    {
        ulong sp = R(RSP) - 8;
        Write64(sp, v);
        R(RSP) = sp;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Pop64()
    {
        ulong sp = R(RSP);
        ulong v = Read64(sp);
        R(RSP) = sp + 8;
        return v;
    }

    // ---- code fetch ----

    /// <summary>Physical address of an instruction byte (exec permission checked).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong FetchPhys(ulong la)
    {
        ref var e = ref TlbSlot(la);
        if (e.ExecTag == (la & ~PhysicalMemory.PageMask)) return e.PhysPage | (la & PhysicalMemory.PageMask);
        return Translate(la, Access.Exec, Cpl == 3);
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
