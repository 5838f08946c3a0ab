using System.Runtime.CompilerServices;
using Lvd.Machine.Diagnostics;

namespace Lvd.Machine.Execution;

/// <summary>
/// Sampling by modeled time (<see cref="Profiler"/>). The next sample point is folded into the
/// block chain's cycle limit, so the chain itself checks nothing new: it simply ends at the
/// block whose cycles crossed the point, and the run loop (once per chain, not per block)
/// charges the crossed periods. Without a profiler the sample point is long.MaxValue and the
/// checks below are never taken.
/// </summary>
public sealed partial class Cpu
{
    private VcpuProfile? _profile;
    private long _samplePeriod;
    private long _nextSample = long.MaxValue;
    /// <summary>CPL and non-root flag of the chain being run (they only change at its end).</summary>
    private byte _chainCpl;
    private bool _chainNonRoot;

    /// <summary>
    /// Samples this vCPU into <paramref name="profile"/> every <paramref name="period"/> modeled
    /// cycles, from the first sample point after cycle <paramref name="start"/>.
    /// </summary>
    internal void AttachProfile(VcpuProfile profile, long period, long start = 0)
    {
        _profile = profile;
        _samplePeriod = period;
        _nextSample = (Math.Max(start, Cycles) / period + 1) * period;
    }

    /// <summary>Charges every sample point the clock has crossed to this key.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ProfileCheck(SampleKind kind, ulong address, byte cpl, bool nonRoot)
    {
        if (Cycles >= _nextSample) TakeSamples(kind, address, cpl, nonRoot);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TakeSamples(SampleKind kind, ulong address, byte cpl, bool nonRoot)
    {
        long n = (Cycles - _nextSample) / _samplePeriod + 1;
        _nextSample += n * _samplePeriod;
        _profile!.Add(new ProfileKey(kind, address, cpl, nonRoot), n);
    }
}
