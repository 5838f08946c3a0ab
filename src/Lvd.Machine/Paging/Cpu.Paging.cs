using Lvd.Machine.Decoding;
using Lvd.Machine.Memory;
using Lvd.Machine.Paging;

namespace Lvd.Machine.Execution;

/// <summary>
/// IA-32e paging (SDM 4.5): a TLB miss walks the 4-level page tables (4 KiB / 2 MiB / 1 GiB
/// pages, NX, U/S, R/W, CR0.WP, accessed/dirty bits) and charges each memory reference the
/// walk makes; canonical-address checks (SDM 3.3.7.1).
/// </summary>
public sealed partial class Cpu
{
    public long TlbMisses;
    public long PageWalkRefs;

    private const ulong PteP = PageWalker.PagingPresent, PteRW = 2, PteUS = 4, PteA = 1 << 5, PteD = 1 << 6;
    private const ulong PtePS = PageWalker.LargePage, PteG = 1 << 8, PteNX = 1UL << 63;
    private const uint PfP = 1, PfW = 2, PfU = 4, PfRsvd = 8, PfI = 16;

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
        if ((Cr0 & Cr0PG) == 0) return TranslateUnpaged(la, access, user);
        // The other way of the set first: a hit there is a TLB hit (no walk, no cycles).
        var way = user ? _tlbUser : _tlbSup;
        if (access != Access.Exec)
        {
            // A page without RAM (MMIO) never hits in the fast paths, but its translation is cached.
            ref var m = ref way.Entries[Tlb.IndexOf(la)];
            if ((access == Access.Read ? m.MmioReadTag : m.MmioWriteTag) == (la & ~PhysicalMemory.PageMask))
                return m.PhysPage | (la & PhysicalMemory.PageMask);
        }
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

        var walk = new PageWalker.Cursor(Cr3, la);
        bool writable = true, userOk = true, exec = true, global = false;
        Span<ulong> touched = stackalloc ulong[4];
        Span<ulong> touchedGpa = stackalloc ulong[4];
        int nTouched = 0;
        while (true)
        {
            int level = walk.Level;
            ulong entryAddr = walk.EntryAddress;
            ulong pteHpa = _eptActive ? EptTranslate(entryAddr, Access.Read, false, la) : entryAddr;
            ulong pte = Memory.Read64(pteHpa);
            PageWalkRefs++;
            Cycles += Costs.MemRef;
            if ((pte & PteP) == 0)
                throw GuestFault.Pf(la, (uint)(errUser | errAccess));
            bool leaf = walk.IsLeaf(pte);
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
                int shift = walk.Shift;
                ulong pa = walk.Output(pte);
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
            walk.Down(pte);
        }
    }


    /// <summary>
    /// Translates a guest-linear address through the guest's page tables and, in non-root
    /// mode with EPT, each table and the result through EPT: the walker's peek mode (no
    /// faults, no accessed/dirty bits, no cycles). For hypervisors decoding guest operands.
    /// </summary>
    public bool TryTranslateGuest(ulong la, out ulong hostPhys)
    {
        hostPhys = 0;
        if (!IsCanonical(la)) return false;
        if ((Cr0 & Cr0PG) == 0) return TryGuestPhysToHost(la, out hostPhys);
        var v = Vmcs;
        bool found = v != null && v.EptEnabled
            ? PageWalker.Peek(Memory, new PageWalker.EptTables(Memory, v.Eptp), Cr3, la, PteP, out ulong leaf, out var at)
            : PageWalker.Peek(Memory, default(PageWalker.HostTables), Cr3, la, PteP, out leaf, out at);
        return found && TryGuestPhysToHost(at.Output(leaf), out hostPhys);
    }
}
