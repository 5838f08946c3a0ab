using Lvd.Machine.Devices.Iommu;
using Lvd.Machine.Memory;
using Lvd.Machine.Vmx;

namespace Lvd.Hypervisor;

/// <summary>
/// The IOMMU is the hypervisor's (docs/IOMMU.md): its registers are in no EPT, its root, context
/// and second-level tables are in hypervisor memory. At launch every PCI function is attached to
/// the kernel's DMA domain (<see cref="HypercallAbi.IommuKernelDomain"/>: guest RAM, identity,
/// hypervisor memory never mapped) and translation is turned on; the kernel then gives a device
/// to an isolated driver by attaching it to a domain of its own that maps only that driver's
/// DMA buffers (IOMMU_DOMAIN_CREATE, IOMMU_MAP, IOMMU_ATTACH). A blocked DMA is recorded by the
/// IOMMU and reported here at its modeled time: the device is detached at once (its context entry
/// cleared, so none of its DMA reaches memory any more), the fault is queued for IOMMU_FAULT, and
/// the IOMMU's fault event (the vector the kernel registered) tells the kernel to kill the owner.
/// </summary>
public sealed partial class Hypervisor
{
    private VtdIommu? _iommu;
    private ulong _iommuRoot, _iommuContext;
    private readonly Dictionary<int, EptTable> _iommuDomains = new();
    private readonly Dictionary<ushort, int> _iommuAttached = new();
    private readonly Queue<IommuFault> _iommuFaults = new();
    private int _nextIommuDomain = HypercallAbi.IommuKernelDomain + 1;

    /// <summary>The IOMMU faults reported so far (blocked DMAs), in order.</summary>
    public long IommuFaults { get; private set; }

    /// <summary>The IOMMU domain a PCI function (bus, device, function) is attached to; 0: none (blocked).</summary>
    public int IommuDomainOf(ushort sourceId) => _iommuAttached.TryGetValue(sourceId, out int d) ? d : 0;

    private bool IommuRegisters(ulong b) => _machine.Device<VtdIommu>() is { } u && u.Base == b;

    /// <summary>
    /// Whether host-physical [hpa, hpa+size) holds what only the hypervisor may touch: its own memory
    /// or the IOMMU's registers (whoever wrote those could undo every DMA domain). No EPT maps them.
    /// </summary>
    private bool HypervisorOwned(ulong hpa, ulong size) =>
        _memory.Overlaps(hpa, size) || (_machine.Device<VtdIommu>() is { } u && hpa < u.Base + VtdIommu.Size && u.Base < hpa + size);

    /// <summary>At launch: tables in hypervisor memory, the kernel's DMA domain, every PCI function attached to it, translation on.</summary>
    private bool LaunchIommu()
    {
        _iommu = _machine.Device<VtdIommu>();
        if (_iommu == null) return true;
        if (_memory.AllocPage() is not ulong root || _memory.AllocPage() is not ulong context) return false;
        _iommuRoot = root;
        _iommuContext = context;
        _machine.Memory.Write64(root, context | 1); // bus 0
        var kernel = EptTable.Create(_memory, _machine.Memory);
        if (kernel == null || !kernel.Map(0, 0, _machine.GuestRamTop, Ept.Read | Ept.Write)) return false;
        _iommuDomains[HypercallAbi.IommuKernelDomain] = kernel;
        if (_machine.Pci is { } pci)
            for (int devfn = 8; devfn < 256; devfn++) // 00:00.0 is the host bridge
                if (pci.Function(devfn >> 3, devfn & 7) != null) WriteContext((ushort)devfn, HypercallAbi.IommuKernelDomain);
        IommuWrite(VtdIommu.Rtaddr, root, 8);
        IommuWrite(VtdIommu.Gcmd, VtdIommu.GcmdSrtp, 4);
        IommuWrite(VtdIommu.Ccmd, VtdIommu.CcmdIcc | 1UL << 61, 8);
        IommuWrite(VtdIommu.IotlbReg, VtdIommu.IotlbIvt | 1UL << 60, 8);
        IommuWrite(VtdIommu.Gcmd, VtdIommu.GcmdTe, 4);
        _iommu.FaultReported = OnIommuFault;
        return true;
    }

    private void IommuWrite(int register, ulong value, int size) => _machine.Memory.Write(_iommu!.Base + (ulong)register, size, value);
    private ulong IommuRead(int register, int size) => _machine.Memory.Read(_iommu!.Base + (ulong)register, size);

    /// <summary>
    /// Context entry of <paramref name="sourceId"/>: present with the domain's table (AW 4-level), or cleared (domain 0); caches
    /// invalidated.
    /// </summary>
    private void WriteContext(ushort sourceId, int domain)
    {
        ulong at = _iommuContext + (ulong)(sourceId & 0xff) * 16;
        if (domain == 0)
        {
            _machine.Memory.Write64(at, 0);
            _machine.Memory.Write64(at + 8, 0);
            _iommuAttached.Remove(sourceId);
        }
        else
        {
            _machine.Memory.Write64(at + 8, 2 | (ulong)domain << 8);
            _machine.Memory.Write64(at, _iommuDomains[domain].Root | 1);
            _iommuAttached[sourceId] = domain;
        }
        if (_iommu == null || !Launched && (IommuRead(VtdIommu.Gsts, 4) & VtdIommu.GcmdTe) == 0) return;
        IommuWrite(VtdIommu.Ccmd, VtdIommu.CcmdIcc | 3UL << 61 | (ulong)sourceId << 16, 8);
        IommuWrite(VtdIommu.IotlbReg, VtdIommu.IotlbIvt | 1UL << 60, 8);
    }

    private void FlushDomain(int domain) =>
        IommuWrite(VtdIommu.IotlbReg, VtdIommu.IotlbIvt | 2UL << 60 | (ulong)domain << 32, 8);

    /// <summary>The IOMMU's report of a blocked DMA (at its modeled time): quarantine the device, queue the fault, clear the record.</summary>
    private void OnIommuFault(IommuFault fault)
    {
        IommuFaults++;
        int owner = IommuDomainOf(fault.SourceId);
        if (owner != 0 && owner != HypercallAbi.IommuKernelDomain) WriteContext(fault.SourceId, 0);
        if (_iommuFaults.Count < 64) _iommuFaults.Enqueue(fault);
        // Free the fault recording registers for the next fault: F bits and overflow.
        for (int i = 0; i < VtdIommu.FaultRecordCount; i++) IommuWrite(VtdIommu.FaultRecords + 16 * i + 12, 0x80000000, 4);
        IommuWrite(VtdIommu.Fsts, VtdIommu.FstsPfo, 4);
    }

    private bool IommuReady(out HypercallStatus status)
    {
        status = _iommu == null ? HypercallStatus.NoDevice : HypercallStatus.Ok;
        return _iommu != null;
    }

    private HypercallStatus IommuDomainCreate(out ulong id)
    {
        id = 0;
        if (!IommuReady(out var s)) return s;
        if (_nextIommuDomain > VtdIommu.MaxDomainId) return HypercallStatus.NoMemory;
        var table = EptTable.Create(_memory, _machine.Memory);
        if (table == null) return HypercallStatus.NoMemory;
        int n = _nextIommuDomain++;
        _iommuDomains[n] = table;
        id = (ulong)n;
        return HypercallStatus.Ok;
    }

    private HypercallStatus IommuDomainDestroy(int id)
    {
        if (!IommuReady(out var s)) return s;
        if (id == HypercallAbi.IommuKernelDomain || !_iommuDomains.TryGetValue(id, out var table)) return HypercallStatus.Invalid;
        var attached = new List<ushort>();
        foreach (var (sid, d) in _iommuAttached) if (d == id) attached.Add(sid);
        foreach (var sid in attached) WriteContext(sid, 0);
        _iommuDomains.Remove(id);
        FlushDomain(id);
        table.Destroy();
        return HypercallStatus.Ok;
    }

    private HypercallStatus IommuMap(int id, ulong iova, ulong gpa, ulong size, ulong perms)
    {
        if (!IommuReady(out var s)) return s;
        if (id == HypercallAbi.IommuKernelDomain || !_iommuDomains.TryGetValue(id, out var table)) return HypercallStatus.Invalid;
        if (!ValidRange(iova, size) || !ValidRange(gpa, size) || iova + size > 1UL << 48) return HypercallStatus.Invalid;
        if ((perms & ~(Ept.Read | Ept.Write)) != 0 || (perms & Ept.Read) == 0) return HypercallStatus.Invalid;
        // Only guest RAM: never hypervisor memory, never another device's registers.
        if (_memory.Overlaps(gpa, size)) return HypercallStatus.Denied;
        if (gpa + size > _machine.GuestRamTop) return HypercallStatus.Invalid;
        if (!table.Map(iova, gpa, size, perms)) return HypercallStatus.NoMemory;
        FlushDomain(id);
        return HypercallStatus.Ok;
    }

    private HypercallStatus IommuUnmap(int id, ulong iova, ulong size)
    {
        if (!IommuReady(out var s)) return s;
        if (id == HypercallAbi.IommuKernelDomain || !_iommuDomains.TryGetValue(id, out var table)) return HypercallStatus.Invalid;
        if (!ValidRange(iova, size) || iova + size > 1UL << 48) return HypercallStatus.Invalid;
        if (!table.Unmap(iova, size)) return HypercallStatus.NoMemory;
        FlushDomain(id);
        return HypercallStatus.Ok;
    }

    private HypercallStatus IommuAttach(ulong sourceId, long id)
    {
        if (!IommuReady(out var s)) return s;
        if (sourceId is 0 or > 0xff || _machine.Pci?.Function((int)sourceId >> 3, (int)sourceId & 7) == null) return HypercallStatus.Invalid;
        if (id != 0 && !_iommuDomains.ContainsKey((int)id)) return HypercallStatus.Invalid;
        WriteContext((ushort)sourceId, (int)id);
        return HypercallStatus.Ok;
    }

    /// <summary>RDX = the oldest fault not yet read: IOMMU domain (bits 63:32), source ID (31:16), reason (7:0); 0: none.</summary>
    private HypercallStatus IommuFault(out ulong value)
    {
        value = 0;
        if (!IommuReady(out var s)) return s;
        if (_iommuFaults.TryDequeue(out var f))
        {
            int owner = f.DomainId;
            value = (ulong)owner << 32 | (ulong)f.SourceId << 16 | (byte)f.Reason;
        }
        return HypercallStatus.Ok;
    }

    /// <summary>The IOMMU's fault event: fixed <paramref name="vector"/> to the x2APIC <paramref name="apicId"/> (0..255), unmasked.</summary>
    private HypercallStatus IommuFaultVector(ulong vector, ulong apicId)
    {
        if (!IommuReady(out var s)) return s;
        if (vector is < 32 or > 255 || apicId >= (ulong)_machine.Cpus.Length || apicId > 255) return HypercallStatus.Invalid;
        IommuWrite(VtdIommu.Fedata, vector, 4);
        IommuWrite(VtdIommu.Feaddr, 0xfee00000 | apicId << 12, 4);
        IommuWrite(VtdIommu.Fectl, 0, 4);
        return HypercallStatus.Ok;
    }
}
