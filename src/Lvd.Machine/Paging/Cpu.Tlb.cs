using Lvd.Machine.Memory;
using Lvd.Machine.Paging;

namespace Lvd.Machine.Execution;

/// <summary>
/// The TLBs (SDM 4.10): fills after a walk, flushes (MOV CR3, INVLPG, CR4.PGE), write
/// revocation for pages that hold code, and the translation contexts: one pair of TLBs (supervisor,
/// user) per (VPID, EPTP) in VMX non-root operation (SDM 28.3.1), (0, 0) otherwise.
/// </summary>
public sealed partial class Cpu
{
    private sealed class TlbSet(Tlb sup, Tlb user)
    {
        public readonly Tlb Sup = sup, User = user;
    }

    private readonly Dictionary<(ushort Vpid, ulong Eptp), TlbSet> _tlbSets = new();

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

    /// <summary>An EPT execute-only page: fetches may hit, data reads and writes must exit.</summary>
    private void FillTlbExecOnly(ulong la, ulong pa, bool user, bool userOk, bool exec, bool global, int pageShift)
    {
        FillTlb(la, pa, user, userOk, false, exec, false, global, pageShift);
        var tlb = user ? _tlbUser : _tlbSup;
        tlb.Entries[Tlb.IndexOf(la)].ReadTag = Tlb.Invalid;
        tlb.Entries[Tlb.IndexOf(la)].MmioReadTag = Tlb.Invalid;
    }

    private void FillTlb(ulong la, ulong pa, bool user, bool userOk, bool writable, bool exec, bool dirty, bool global, int pageShift)
    {
        var page = Memory.RamPage(pa);
        var tlb = user ? _tlbUser : _tlbSup;
        ulong tag = la & ~PhysicalMemory.PageMask;
        ulong physPage = pa & ~PhysicalMemory.PageMask;
        if (page == null)
        {
            // MMIO (or nothing): every access takes the slow path to the device, but finds its
            // translation here (Translate) instead of walking again; data accesses only.
            FillTlbMmio(tlb, la, physPage, user ? userOk : true, user ? userOk && writable : writable || (Cr0 & Cr0WP) == 0,
                dirty, global, pageShift);
            return;
        }
        tlb.Displace(Tlb.IndexOf(la), tag);
        ref var e = ref tlb.Entries[Tlb.IndexOf(la)];
        e.MmioReadTag = e.MmioWriteTag = Tlb.Invalid;
        if (e.PhysPage != physPage || e.ReadTag != tag)
        {
            e.ReadTag = e.WriteTag = e.ExecTag = Tlb.Invalid;
        }
        e.Addend = Tlb.AddendOf(page, tag);
        e.Ram = true;
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

    private static void FillTlbMmio(Tlb tlb, ulong la, ulong physPage, bool canRead, bool canWrite, bool dirty, bool global, int pageShift)
    {
        ulong tag = la & ~PhysicalMemory.PageMask;
        tlb.Displace(Tlb.IndexOf(la), tag);
        ref var e = ref tlb.Entries[Tlb.IndexOf(la)];
        e.ReadTag = e.WriteTag = e.ExecTag = Tlb.Invalid;
        e.Addend = 0;
        e.Ram = false;
        e.PhysPage = physPage;
        e.Global = global;
        e.PageShift = (byte)pageShift;
        if (pageShift > PhysicalMemory.PageShift) tlb.HasLargePages = true;
        e.MmioReadTag = canRead ? tag : Tlb.Invalid;
        e.MmioWriteTag = canWrite && dirty ? tag : Tlb.Invalid;
    }

    /// <summary>After a snapshot restore: the host addends of every TLB of this vCPU (<see cref="Tlb.RebuildAddends"/>).</summary>
    internal void RebuildTlbAddends()
    {
        foreach (var set in _tlbSets.Values) { set.Sup.RebuildAddends(Memory); set.User.RebuildAddends(Memory); }
        _tlbNone.RebuildAddends(Memory);
    }

    private TlbSet TlbSetFor(ushort vpid, ulong eptp)
    {
        var key = (vpid, eptp & ~0xfffUL);
        if (!_tlbSets.TryGetValue(key, out var set)) _tlbSets[key] = set = new TlbSet(new Tlb(), new Tlb());
        return set;
    }

    /// <summary>Selects the TLB context of the current mode: (VPID, EPTP) in non-root operation, (0, 0) otherwise.</summary>
    private void SelectTlbSet()
    {
        var v = Vmcs;
        bool nonRoot = NonRoot && v != null;
        _eptActive = nonRoot && v!.EptEnabled;
        var set = TlbSetFor(nonRoot && v!.VpidEnabled ? v.Vpid : (ushort)0, _eptActive ? v!.Eptp : 0);
        _tlbSup = set.Sup;
        _tlbUser = set.User;
        SelectTlb();
    }

    /// <summary>INVVPID semantics: drop every translation tagged with <paramref name="vpid"/> (all VPIDs if null).</summary>
    public void InvalidateVpid(ushort? vpid)
    {
        foreach (var kv in _tlbSets)
            if (vpid == null || kv.Key.Vpid == vpid) { kv.Value.Sup.FlushAll(); kv.Value.User.FlushAll(); }
    }

    /// <summary>INVEPT semantics: drop every combined translation derived from <paramref name="eptp"/> (all EPTPs if null).</summary>
    public void InvalidateEpt(ulong? eptp)
    {
        foreach (var kv in _tlbSets)
            if (kv.Key.Eptp != 0 && (eptp == null || kv.Key.Eptp == (eptp.Value & ~0xfffUL))) { kv.Value.Sup.FlushAll(); kv.Value.User.FlushAll(); }
    }

    private void FlushVpidZero()
    {
        // SDM 28.3.3.1: without VPIDs, VM entries and exits invalidate all mappings of VPID 0.
        foreach (var kv in _tlbSets)
            if (kv.Key.Vpid == 0) { kv.Value.Sup.FlushAll(); kv.Value.User.FlushAll(); }
    }
}
