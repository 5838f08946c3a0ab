using System.Runtime.InteropServices;

namespace Lvd.Machine.Diagnostics;

/// <summary>What a profile sample was spent on.</summary>
public enum SampleKind : byte
{
    /// <summary>Guest code: <see cref="ProfileKey.Address"/> is the RIP of the basic block (or faulting instruction) that ran.</summary>
    Code,
    /// <summary>Delivery of an interrupt or NMI through the IDT (the microcode part; the handler's instructions are Code).</summary>
    Interrupt,
    /// <summary>Delivery of an exception; the address is the vector.</summary>
    Exception,
    /// <summary>A VM exit, the hypervisor's handling and the VM entry; the address is the exit reason.</summary>
    VmExit,
    /// <summary>The vCPU was halted or not yet started.</summary>
    Idle,
}

/// <summary>One bucket of a profile: what ran, at which privilege level, in VMX non-root operation or not.</summary>
public readonly record struct ProfileKey(SampleKind Kind, ulong Address, byte Cpl, bool NonRoot);

/// <summary>The samples of one vCPU. Written only by its vCPU; read after the run.</summary>
public sealed class VcpuProfile
{
    private readonly Dictionary<ProfileKey, long> _samples = new(4096);

    public int CpuId { get; }
    public long TotalSamples { get; private set; }
    public IReadOnlyDictionary<ProfileKey, long> Samples => _samples;

    internal VcpuProfile(int cpuId) => CpuId = cpuId;

    internal void Add(in ProfileKey key, long count)
    {
        // No allocation per sample: the dictionary only grows (amortized) when a new key appears.
        ref long c = ref CollectionsMarshal.GetValueRefOrAddDefault(_samples, key, out _);
        c += count;
        TotalSamples += count;
    }
}

/// <summary>
/// A sampling profiler over modeled time: each vCPU takes a sample every <see cref="Period"/>
/// modeled cycles of its own clock and charges the whole period to what was running when its
/// clock crossed the sample point (the basic block that ran, the event delivered, the VM exit,
/// or idle time). A sample therefore stands for exactly <see cref="Period"/> cycles, and the
/// profile is as deterministic as the run. The machine only counts; naming the addresses
/// (symbols) is the caller's business.
/// </summary>
public sealed class Profiler
{
    public long Period { get; }
    public IReadOnlyList<VcpuProfile> Vcpus { get; }

    public Profiler(long period, int cpuCount)
    {
        if (period < 1) throw new ArgumentOutOfRangeException(nameof(period), "the sample period is at least one cycle");
        Period = period;
        var v = new VcpuProfile[cpuCount];
        for (int i = 0; i < cpuCount; i++) v[i] = new VcpuProfile(i);
        Vcpus = v;
    }

    public long TotalSamples => Vcpus.Sum(v => v.TotalSamples);

    /// <summary>Samples of all vCPUs merged by key.</summary>
    public Dictionary<ProfileKey, long> Merged()
    {
        var all = new Dictionary<ProfileKey, long>();
        foreach (var v in Vcpus)
            foreach (var kv in v.Samples) all[kv.Key] = all.GetValueOrDefault(kv.Key) + kv.Value;
        return all;
    }
}
