using System.Runtime.CompilerServices;
using Lvd.Machine.Decoding;
using Lvd.Machine.Diagnostics;
using Lvd.Machine.Memory;
using Lvd.Machine.Translation;

namespace Lvd.Machine.Execution;

/// <summary>
/// The executor's side of tier 1 (Translation/): entering a compiled region at a block's start, noting hot blocks,
/// and the successor probe a region makes at each of its block boundaries.
/// </summary>
public sealed partial class Cpu
{
    /// <summary>The machine's region compiler; null with <see cref="ExecutionEngine.Interp"/> or detailed timing.</summary>
    [NotMachineState] internal RegionJit? Jit;

    /// <summary>A block's run count at which it is handed to <see cref="Jit"/> (never without one).</summary>
    [NotMachineState] private long _hotThreshold = long.MaxValue;

    internal void AttachJit(RegionJit jit)
    {
        Jit = jit;
        _hotThreshold = jit.HotThreshold;
    }

    /// <summary>Compiled regions this vCPU entered (host statistics, not machine state).</summary>
    [NotMachineState] public long RegionRuns;

    /// <summary>
    /// At the start of <paramref name="block"/> in a chain (its Executions already counted): runs its compiled region and
    /// returns the last block the region ran (RIP, instructions, cycles as the interpreter leaves them at that block's
    /// end), or null to interpret the block (no region, or it was compiled at another linear address). A block whose
    /// count reaches the threshold is handed to the compiler.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private Block? EnterRegion(Block block, ulong blockRip)
    {
        var region = block.Region;
        if (region == null)
        {
            Jit?.NoteHot(this, block, blockRip);
            return null;
        }
        int j = block.RegionIndex;
        if ((uint)j >= (uint)region.Rips.Length || region.Rips[j] != blockRip || region.OpsAt[j] != block.Ops || Jit == null) return null;
        RegionRuns++;
        return region.Run(this, j);
    }

    /// <summary>
    /// What <see cref="NextBlock"/> returns for RIP <paramref name="rip"/> after <paramref name="prev"/> when the fetch is a
    /// TLB hit and a successor slot matches; null otherwise (the interpreter then makes the real fetch: walk, fault, link).
    /// No side effects, nothing thrown.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Block? RegionNext(Block prev, ulong rip)
    {
        if (!FetchHit(rip, out ulong pa)) return null;
        var s = prev.Next0;
        if (s != null && s.PhysAddr == pa && s.Valid) return s;
        s = prev.Next1;
        if (s != null && s.PhysAddr == pa && s.Valid) return s;
        return null;
    }

    /// <summary>The code cache's block at a physical address (region selection, on the vCPU's thread).</summary>
    internal Block? CachedBlock(ulong pa) => _code.Lookup(pa);

    /// <summary>A 64-bit chain may run compiled code: no debugger, no detailed timing (branch predictor).</summary>
    internal bool RegionsAllowed => !_debugArmed && Branches == null && Caches == null;
}
