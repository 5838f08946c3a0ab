using System.Runtime.CompilerServices;
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

/// <summary>
/// A sampled call stack: the sample's key and the return addresses of the frame-pointer chain
/// above it, innermost first. Equal by content; the lookup form wraps a scratch buffer, the
/// stored form a copy, so a sample of a known stack allocates nothing.
/// </summary>
public readonly struct StackKey : IEquatable<StackKey>
{
    private readonly ulong[] _frames;
    private readonly int _length;
    private readonly int _hash;

    public ProfileKey Leaf { get; }
    /// <summary>Return addresses, innermost (the leaf's caller) first.</summary>
    public ReadOnlySpan<ulong> Callers => _frames.AsSpan(0, _length);

    internal StackKey(in ProfileKey leaf, ulong[] frames, int length)
    {
        Leaf = leaf;
        _frames = frames;
        _length = length;
        var h = new HashCode();
        h.Add(leaf);
        for (int i = 0; i < length; i++) h.Add(frames[i]);
        _hash = h.ToHashCode();
    }

    internal StackKey Copy() => new(Leaf, _frames.AsSpan(0, _length).ToArray(), _length);

    public bool Equals(StackKey other) => _hash == other._hash && Leaf == other.Leaf && Callers.SequenceEqual(other.Callers);
    public override bool Equals(object? obj) => obj is StackKey k && Equals(k);
    public override int GetHashCode() => _hash;
}

/// <summary>The samples of one vCPU. Written only by its vCPU; read after the run.</summary>
public sealed class VcpuProfile
{
    private readonly Dictionary<ProfileKey, long> _samples = new(4096);
    private readonly Dictionary<StackKey, long> _stacks = new();

    public int CpuId { get; }
    public long TotalSamples { get; private set; }
    public IReadOnlyDictionary<ProfileKey, long> Samples => _samples;
    /// <summary>Samples by call stack (only when the profiler records stacks, <see cref="Profiler.StackDepth"/>).</summary>
    public IReadOnlyDictionary<StackKey, long> Stacks => _stacks;

    internal VcpuProfile(int cpuId) => CpuId = cpuId;

    internal void Add(in ProfileKey key, long count)
    {
        // No allocation per sample: the dictionary only grows (amortized) when a new key appears.
        ref long c = ref CollectionsMarshal.GetValueRefOrAddDefault(_samples, key, out _);
        c += count;
        TotalSamples += count;
    }

    /// <summary>Counts a stack (its frames in a scratch buffer the caller reuses: stored as a copy when new).</summary>
    internal void AddStack(in StackKey scratch, long count)
    {
        ref long c = ref CollectionsMarshal.GetValueRefOrNullRef(_stacks, scratch);
        if (Unsafe.IsNullRef(ref c)) _stacks.Add(scratch.Copy(), count);
        else c += count;
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
[NotMachineState]
public sealed class Profiler
{
    public long Period { get; }
    /// <summary>
    /// Non-zero: each sample of guest code also records up to this many callers, read from the
    /// frame-pointer chain (RBP) without side effects (no fault, no A/D bit, no cycle).
    /// </summary>
    public int StackDepth { get; }
    public IReadOnlyList<VcpuProfile> Vcpus { get; }

    public Profiler(long period, int cpuCount, int stackDepth = 0)
    {
        if (period < 1) throw new ArgumentOutOfRangeException(nameof(period), "the sample period is at least one cycle");
        if (stackDepth < 0) throw new ArgumentOutOfRangeException(nameof(stackDepth), "the stack depth is not negative");
        Period = period;
        StackDepth = stackDepth;
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
