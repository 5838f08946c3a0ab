using Lvd.Machine.Execution;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Devices.Iommu;

/// <summary>A DMA the IOMMU blocked (a primary fault record, VT-d 3.x section 7.2.1).</summary>
public readonly record struct IommuFault(ushort SourceId, ulong Address, bool Write, VtdFaultReason Reason, ushort DomainId, long Time);

/// <summary>Fault reasons of DMA remapping (VT-d 3.x Appendix A, legacy mode).</summary>
public enum VtdFaultReason : byte
{
    RootNotPresent = 0x1,
    ContextNotPresent = 0x2,
    ContextInvalid = 0x3,
    AddressBeyondWidth = 0x4,
    WriteDenied = 0x5,
    ReadDenied = 0x6,
    TableNotInMemory = 0x7,
    RootTableNotInMemory = 0x8,
    ContextTableNotInMemory = 0x9,
    RootReserved = 0xa,
    ContextReserved = 0xb,
    EntryReserved = 0xc,
}

/// <summary>Places a VT-d remapping unit at <see cref="Base"/> that translates all of the machine's DMA.</summary>
public sealed record IommuSpec : DeviceSpec
{
    public const ulong DefaultBase = 0xfed90000;
    public ulong Base { get; init; } = DefaultBase;
    public override IMachineDevice Create(Machine machine) => new VtdIommu(machine, Base);
}

/// <summary>
/// One Intel VT-d DMA-remapping unit (VT-d architecture specification 3.x, chapters 3, 6, 7, 10,
/// 11), legacy translation mode: a root table indexed by bus, context tables indexed by
/// device/function (source ID), each present context entry naming a domain (DID) and the root of
/// its 4-level second-level page table (48-bit guest address width; 4 KiB, 2 MiB and 1 GiB pages;
/// read and write rights ANDed over the levels). Register-based invalidation only: the context
/// cache (CCMD: global, domain, device) and the IOTLB (IOTLB_REG with IVA_REG: global, domain,
/// page-selective with an address mask) keep translations until software invalidates them, as
/// hardware may; not-present entries are never cached (CAP.CM = 0). A blocked DMA is recorded in
/// the fault recording registers (FSTS, FRI, overflow), signalled by the fault-event interrupt
/// (FECTL/FEDATA/FEADDR) unless masked, and reported to VMX-root software through
/// <see cref="FaultReported"/> (the hypervisor owns this unit). With translation disabled (GCMD.TE
/// clear) DMA addresses are host-physical. Translation takes no modeled time.
/// </summary>
public sealed class VtdIommu : IMmioDevice, IDmaTranslator, IMachineDevice
{
    public const ulong Size = 0x1000;
    public const int Ver = 0x00, Cap = 0x08, Ecap = 0x10, Gcmd = 0x18, Gsts = 0x1c, Rtaddr = 0x20, Ccmd = 0x28;
    public const int Fsts = 0x34, Fectl = 0x38, Fedata = 0x3c, Feaddr = 0x40, Feuaddr = 0x44;
    /// <summary>Fault recording registers (CAP.FRO x 16) and IOTLB registers (ECAP.IRO x 16).</summary>
    public const int FaultRecords = 0x200, Iva = 0x300, IotlbReg = 0x308;
    public const int FaultRecordCount = 8;
    /// <summary>CAP.ND = 2: domain ids 0-255.</summary>
    public const int MaxDomainId = 255;
    public const uint GcmdTe = 1u << 31, GcmdSrtp = 1u << 30;
    public const uint FstsPfo = 1, FstsPpf = 2, FectlIm = 1u << 31, FectlIp = 1u << 30;
    public const ulong CcmdIcc = 1UL << 63, IotlbIvt = 1UL << 63;
    public const ulong SlRead = 1, SlWrite = 2, SlLarge = 1 << 7;
    /// <summary>Cached translations kept before the IOTLB is emptied and refilled (deterministic).</summary>
    public const int IotlbCapacity = 4096;

    private readonly PhysicalMemory _memory;
    private readonly IInterruptSink _interrupts;
    private ulong _rtaddr, _activeRoot, _ccmd, _iva, _iotlb;
    private uint _gsts, _fsts, _fectl = FectlIm, _fedata, _feaddr, _feuaddr;
    private readonly ulong[] _records = new ulong[FaultRecordCount * 2];
    private readonly Dictionary<ushort, (ulong Low, ulong High)> _contextCache = new();
    private readonly Dictionary<(ushort Did, ulong Page), ulong> _iotlbCache = new();
    private readonly List<IommuFault> _faults = new();

    public VtdIommu(Machine machine, ulong baseAddress)
    {
        _memory = machine.Memory;
        _interrupts = machine;
        Base = baseAddress;
        machine.Memory.AddMmio(baseAddress, Size, this);
        machine.Dma.Translator = this;
    }

    public string Name => $"VT-d IOMMU at 0x{Base:x}";
    public ulong Base { get; }

    /// <summary>VMX-root software's fault handler: called at the fault's modeled time for each recorded fault.</summary>
    public Action<IommuFault>? FaultReported { get; set; }

    /// <summary>Every fault recorded (or overflowed), in order.</summary>
    public IReadOnlyList<IommuFault> Faults => _faults;

    public bool TranslationEnabled => (_gsts & GcmdTe) != 0;
    public int IotlbEntries => _iotlbCache.Count;
    public int ContextCacheEntries => _contextCache.Count;

    /// <summary>
    /// CAP_REG: ND=2 (256 domains), SAGAW 4-level, MGAW 48 bits, FRO, 2 MiB and 1 GiB pages,
    /// page-selective invalidation, NFR; ECAP_REG: coherent walks (C), IRO.
    /// </summary>
    public static ulong Capabilities => 2UL | (4UL << 8) | (47UL << 16) | ((ulong)(FaultRecords / 16) << 24) | (3UL << 34)
        | (1UL << 39) | ((ulong)(FaultRecordCount - 1) << 40) | (9UL << 48);
    public static ulong ExtendedCapabilities => 1UL | ((ulong)(Iva / 16) << 8);

    // ---- registers ----

    public ulong Read(Cpu? cpu, long now, ulong offset, int size)
    {
        ulong q = ReadQword(offset & ~7UL);
        if (size == 8) return q;
        q >>= (int)(offset & 4) * 8;
        return size == 4 ? (uint)q : q & ((1UL << (8 * size)) - 1);
    }

    private ulong ReadQword(ulong at) => at switch
    {
        Ver => 0x10,
        Cap => Capabilities,
        Ecap => ExtendedCapabilities,
        Gcmd => (ulong)_gsts << 32, // GCMD reads 0; GSTS is the upper half of this qword
        Rtaddr => _rtaddr,
        Ccmd => _ccmd,
        Fsts & ~7 => (ulong)_fsts << 32,
        Fectl => _fectl | (ulong)_fedata << 32,
        Feaddr => _feaddr | (ulong)_feuaddr << 32,
        Iva => _iva,
        IotlbReg => _iotlb,
        >= FaultRecords and < FaultRecords + FaultRecordCount * 16 => _records[(at - FaultRecords) / 8],
        _ => 0,
    };

    public void Write(Cpu? cpu, long now, ulong offset, int size, ulong value)
    {
        if (size == 8)
        {
            WriteDword(offset, (uint)value, now);
            WriteDword(offset + 4, (uint)(value >> 32), now);
        }
        else if (size == 4) WriteDword(offset, (uint)value, now);
        // narrower accesses to remapping registers are undefined (VT-d 10.2); dropped
    }

    private void WriteDword(ulong at, uint v, long now)
    {
        switch (at)
        {
            case Gcmd: Command(v); break;
            case Rtaddr: _rtaddr = (_rtaddr & ~0xffffffffUL) | (v & 0xfffff000u); break;
            case Rtaddr + 4: _rtaddr = (_rtaddr & 0xffffffffUL) | (ulong)v << 32; break;
            case Ccmd: _ccmd = (_ccmd & ~0xffffffffUL) | v; break;
            case Ccmd + 4:
                _ccmd = (_ccmd & 0xffffffffUL) | (ulong)v << 32;
                if ((_ccmd & CcmdIcc) != 0) InvalidateContext();
                break;
            case Fsts:
                _fsts &= ~(v & FstsPfo);
                UpdatePending();
                break;
            case Fectl:
                _fectl = (_fectl & ~FectlIm) | (v & FectlIm);
                if ((_fectl & (FectlIm | FectlIp)) == FectlIp) { _fectl &= ~FectlIp; SignalFault(now); }
                break;
            case Fedata: _fedata = v; break;
            case Feaddr: _feaddr = v & ~3u; break;
            case Feuaddr: _feuaddr = v; break;
            case Iva: _iva = (_iva & ~0xffffffffUL) | v; break;
            case Iva + 4: _iva = (_iva & 0xffffffffUL) | (ulong)v << 32; break;
            case IotlbReg: _iotlb = (_iotlb & ~0xffffffffUL) | v; break;
            case IotlbReg + 4:
                _iotlb = (_iotlb & 0xffffffffUL) | (ulong)v << 32;
                if ((_iotlb & IotlbIvt) != 0) InvalidateIotlb();
                break;
            default:
                // The F bit (127) of a fault record is write-1-to-clear; the rest of a record is read-only.
                if (at >= FaultRecords && at < FaultRecords + FaultRecordCount * 16 && (at & 0xf) == 0xc && (v & 0x80000000u) != 0)
                {
                    _records[(at - FaultRecords) / 8] &= ~(1UL << 63);
                    UpdatePending();
                }
                break;
        }
    }

    /// <summary>GCMD (VT-d 10.4.4): one command per write; SRTP latches RTADDR; TE follows the written bit.</summary>
    private void Command(uint v)
    {
        if ((v & GcmdSrtp) != 0) { _activeRoot = _rtaddr & ~0xfffUL; _gsts |= GcmdSrtp; }
        if ((v & GcmdTe) != 0) _gsts |= GcmdTe; else _gsts &= ~GcmdTe;
    }

    /// <summary>CCMD (VT-d 10.4.7): CIRG 1 global, 2 domain (DID), 3 device (SID with the function mask); CAIG reports it.</summary>
    private void InvalidateContext()
    {
        int g = (int)(_ccmd >> 61) & 3;
        ushort did = (ushort)_ccmd, sid = (ushort)(_ccmd >> 16);
        int fm = (int)(_ccmd >> 32) & 3;
        ushort mask = (ushort)~((1 << fm) - 1);
        if (g == 1) _contextCache.Clear();
        else
        {
            List<ushort>? drop = null;
            foreach (var kv in _contextCache)
                if (g == 2 ? DomainOf(kv.Value.High) == did : (kv.Key & mask) == (sid & mask)) (drop ??= new()).Add(kv.Key);
            if (drop != null) foreach (var k in drop) _contextCache.Remove(k);
        }
        // Context invalidation also needs the IOTLB flushed by software (VT-d 6.5.3.3); it is not implied here.
        _ccmd = (_ccmd & ~(CcmdIcc | (3UL << 59))) | ((ulong)g << 59);
    }

    /// <summary>IOTLB_REG (VT-d 10.4.8.1): IIRG 1 global, 2 domain, 3 page-selective (IVA_REG address and AM); IAIG reports it.</summary>
    private void InvalidateIotlb()
    {
        int g = (int)(_iotlb >> 60) & 3;
        ushort did = (ushort)(_iotlb >> 32);
        int am = (int)(_iva & 0x3f);
        ulong first = (_iva & ~0xfffUL) >> 12 >> am << am, count = 1UL << am;
        if (g == 1) _iotlbCache.Clear();
        else if (g is 2 or 3)
        {
            List<(ushort, ulong)>? drop = null;
            foreach (var kv in _iotlbCache)
                if (kv.Key.Did == did && (g == 2 || kv.Key.Page - first < count)) (drop ??= new()).Add(kv.Key);
            if (drop != null) foreach (var k in drop) _iotlbCache.Remove(k);
        }
        _iotlb = (_iotlb & ~(IotlbIvt | (3UL << 57))) | ((ulong)g << 57);
    }

    private static ushort DomainOf(ulong contextHigh) => (ushort)(contextHigh >> 8);

    // ---- translation ----

    public bool Translate(ushort requester, ulong address, bool write, long now, out ulong physical)
    {
        physical = address;
        if (!TranslationEnabled) return true;
        if (!TryContext(requester, out var ctx, out var reason))
            return Fault(requester, address, write, reason, 0, fpd: false, now);
        ushort did = DomainOf(ctx.High);
        bool fpd = (ctx.Low & 2) != 0;
        ulong page = address >> 12;
        if (_iotlbCache.TryGetValue((did, page), out ulong cached))
        {
            if ((cached & (write ? SlWrite : SlRead)) != 0) { physical = (cached & ~0xfffUL) | (address & 0xfff); return true; }
            return Fault(requester, address, write, write ? VtdFaultReason.WriteDenied : VtdFaultReason.ReadDenied, did, fpd, now);
        }
        if (address >> 48 != 0) return Fault(requester, address, write, VtdFaultReason.AddressBeyondWidth, did, fpd, now);
        ulong table = ctx.Low & 0x000ffffffffff000UL;
        ulong rights = SlRead | SlWrite;
        for (int level = 4; ; level--)
        {
            int shift = 12 + 9 * (level - 1);
            ulong entryAt = table + ((address >> shift) & 0x1ff) * 8;
            if (!_memory.IsRam(entryAt)) return Fault(requester, address, write, VtdFaultReason.TableNotInMemory, did, fpd, now);
            ulong e = _memory.Read64(entryAt);
            var denied = write ? VtdFaultReason.WriteDenied : VtdFaultReason.ReadDenied;
            if ((e & (SlRead | SlWrite)) == 0) return Fault(requester, address, write, denied, did, fpd, now);
            bool leaf = level == 1 || (level <= 3 && (e & SlLarge) != 0);
            // Bits 51:MGAW and, for large pages, the unused low address bits are reserved.
            ulong reserved = 0x000f000000000000UL | (leaf && level > 1 ? ((1UL << shift) - 1) & ~0xfffUL : 0) | (level == 4 ? SlLarge : 0);
            if ((e & reserved) != 0) return Fault(requester, address, write, VtdFaultReason.EntryReserved, did, fpd, now);
            rights &= e;
            ulong next = e & 0x0000fffffffff000UL;
            if (!leaf) { table = next; continue; }
            ulong pa = (next & ~((1UL << shift) - 1)) | (address & ((1UL << shift) - 1));
            if ((rights & (write ? SlWrite : SlRead)) == 0) return Fault(requester, address, write, denied, did, fpd, now);
            if (_iotlbCache.Count >= IotlbCapacity) _iotlbCache.Clear();
            _iotlbCache[(did, page)] = (pa & ~0xfffUL) | (rights & (SlRead | SlWrite));
            physical = pa;
            return true;
        }
    }

    private bool TryContext(ushort sid, out (ulong Low, ulong High) ctx, out VtdFaultReason reason)
    {
        reason = 0;
        if (_contextCache.TryGetValue(sid, out ctx)) return true;
        if ((_gsts & GcmdSrtp) == 0) { reason = VtdFaultReason.RootNotPresent; return false; }
        ulong rootAt = _activeRoot + (ulong)(sid >> 8) * 16;
        if (!_memory.IsRam(rootAt)) { reason = VtdFaultReason.RootTableNotInMemory; return false; }
        ulong root = _memory.Read64(rootAt);
        if ((root & 1) == 0) { reason = VtdFaultReason.RootNotPresent; return false; }
        if ((root & 0xffe) != 0 || _memory.Read64(rootAt + 8) != 0) { reason = VtdFaultReason.RootReserved; return false; }
        ulong ctxAt = (root & 0x000ffffffffff000UL) + (ulong)(sid & 0xff) * 16;
        if (!_memory.IsRam(ctxAt)) { reason = VtdFaultReason.ContextTableNotInMemory; return false; }
        ulong low = _memory.Read64(ctxAt), high = _memory.Read64(ctxAt + 8);
        if ((low & 1) == 0) { reason = VtdFaultReason.ContextNotPresent; return false; }
        if ((low & 0xff0) != 0 || (high & ~0xffff07UL) != 0) { reason = VtdFaultReason.ContextReserved; return false; }
        // Translation type 00 (untranslated requests through the second-level table) and a 4-level table (AW 2) only.
        if (((low >> 2) & 3) != 0 || (high & 7) != 2) { reason = VtdFaultReason.ContextInvalid; return false; }
        ctx = (low, high);
        _contextCache[sid] = ctx;
        return true;
    }

    /// <summary>Records a primary fault (VT-d 7.2.1) unless the context disables fault processing; the DMA is blocked either way.</summary>
    private bool Fault(ushort sid, ulong address, bool write, VtdFaultReason reason, ushort did, bool fpd, long now)
    {
        if (fpd) return false;
        var fault = new IommuFault(sid, address & ~0xfffUL, write, reason, did, now);
        _faults.Add(fault);
        int fri = (int)(_fsts >> 8) & 0xff;
        if ((_fsts & FstsPfo) != 0 || (_records[fri * 2 + 1] & (1UL << 63)) != 0) _fsts |= FstsPfo;
        else
        {
            _records[fri * 2] = address & ~0xfffUL;
            _records[fri * 2 + 1] = sid | (ulong)reason << 32 | (write ? 0 : 1UL << 62) | 1UL << 63;
            _fsts = (_fsts & ~0xff00u) | (uint)(((fri + 1) % FaultRecordCount) << 8);
        }
        UpdatePending();
        if ((_fectl & FectlIm) == 0) SignalFault(now); else _fectl |= FectlIp;
        FaultReported?.Invoke(fault);
        return false;
    }

    /// <summary>FSTS.PPF: some fault record has F set; its FRI field names the first (VT-d 10.4.9).</summary>
    private void UpdatePending()
    {
        bool any = false;
        for (int i = 0; i < FaultRecordCount; i++) any |= (_records[i * 2 + 1] & (1UL << 63)) != 0;
        _fsts = any ? _fsts | FstsPpf : _fsts & ~FstsPpf;
    }

    /// <summary>The fault-event interrupt: an MSI composed from FEADDR (destination bits 19:12, logical bit 2) and FEDATA.</summary>
    private void SignalFault(long now)
    {
        if ((_feaddr & 0xfff00000u) != 0xfee00000u) return;
        uint destination = (_feaddr >> 12) & 0xff;
        _interrupts.DeliverInterrupt(destination, (_feaddr & 4) != 0, (int)(_fedata >> 8) & 7, (int)(_fedata & 0xff), false, now);
    }
}
