using System.Buffers.Binary;
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
    /// <summary>The callers of the sample being taken (null: stacks are not recorded).</summary>
    private ulong[]? _stackScratch;

    /// <summary>
    /// Samples this vCPU into <paramref name="profile"/> every <paramref name="period"/> modeled
    /// cycles, from the first sample point after cycle <paramref name="start"/>.
    /// </summary>
    internal void AttachProfile(VcpuProfile profile, long period, long start = 0, int stackDepth = 0)
    {
        _profile = profile;
        _samplePeriod = period;
        _stackScratch = stackDepth > 0 ? new ulong[stackDepth] : null;
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
        var key = new ProfileKey(kind, address, cpl, nonRoot);
        _profile!.Add(key, n);
        if (_stackScratch is { } frames)
        {
            // The callers only mean something while the walked context is the sampled one.
            int depth = kind == SampleKind.Code && cpl == Cpl && nonRoot == NonRoot ? WalkFramePointers(frames) : 0;
            _profile.AddStack(new StackKey(key, frames, depth), n);
        }
    }

    /// <summary>
    /// The return addresses of the RBP chain ([RBP] = the caller's RBP, [RBP+8] = the return
    /// address), innermost first, read as the debugger reads memory (no fault, no A/D bit, no
    /// cycle). It stops at a frame that does not read, a return address that is 0 or not
    /// canonical, or an RBP that does not move up the stack (by less than 1 MiB): code built
    /// without frame pointers ends the walk early or shows callers skipped, as perf's
    /// frame-pointer unwinding does.
    /// </summary>
    private int WalkFramePointers(ulong[] frames)
    {
        Span<byte> frame = stackalloc byte[16];
        ulong rbp = R(RBP);
        int n = 0;
        while (n < frames.Length && (rbp & 7) == 0 && DebugRead(rbp, frame) == 16)
        {
            ulong next = BinaryPrimitives.ReadUInt64LittleEndian(frame);
            ulong ret = BinaryPrimitives.ReadUInt64LittleEndian(frame[8..]);
            if (ret == 0 || !IsCanonical(ret)) break;
            frames[n++] = ret;
            if (next <= rbp || next - rbp > (1UL << 20)) break;
            rbp = next;
        }
        return n;
    }
}
