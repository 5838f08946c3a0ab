using System.Collections.Concurrent;
using Lvd.Machine.Decoding;
using Lvd.Machine.Diagnostics;
using Lvd.Machine.Execution;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Translation;

/// <summary>
/// A compiled region: blocks of one physical page (an entry block and the blocks it reaches by direct branches)
/// as one <see cref="System.Reflection.Emit.DynamicMethod"/>, entered at any of its blocks (<see cref="Block.RegionIndex"/>:
/// a loop's blocks turn hot together, one compile serves them all). <see cref="Run"/> starts at block j (its Executions
/// already counted by the executor) and returns the last block it ran, leaving RIP, the instruction count, the cycles and
/// the lazy flags exactly as the interpreter leaves them at that block's end.
/// </summary>
[NotMachineState]
internal sealed class RegionCode(Block[] blocks, ulong[] rips)
{
    public readonly Block[] Blocks = blocks;
    /// <summary>The linear address of each block when the region was formed (RIP-relative operands, branch targets).</summary>
    public readonly ulong[] Rips = rips;
    /// <summary>Each block's ops when compiled: a block object given other state (a snapshot restore) runs interpreted.</summary>
    public readonly Op[][] OpsAt = Array.ConvertAll(blocks, b => b.Ops);
    public ulong EntryRip => Rips[0];
    public Func<Cpu, int, Block?> Run = null!;
}

/// <summary>
/// Tier 1 (docs/HOST-SPEED.md): hot blocks become compiled regions. The executor counts a block's runs; at
/// <see cref="HotThreshold"/> this forms the region on the vCPU's thread (the code cache is not thread-safe) and
/// compiles it on a background thread (or at once with <see cref="Synchronous"/>), while the interpreter goes on
/// running the block. Install is one reference store (<see cref="Block.Region"/>) the executor reads at block entry.
/// Modeled time does not depend on when a region is installed: a region does exactly what the interpreter does.
/// </summary>
[NotMachineState]
internal sealed class RegionJit(bool synchronous, long hotThreshold)
{
    /// <summary>The default of <see cref="MachineConfig.JitThreshold"/>.</summary>
    public const long DefaultHotThreshold = 1024;
    /// <summary>Runs of a block (in a chain) from which its region is formed: at the first power of two at or above it (and at
    /// the next ones while it is in no region: the executor asks again).</summary>
    public readonly long HotThreshold = hotThreshold;
    /// <summary>Most blocks in one region: at most 32, what the emitter's probe bits (two edges a block in one long) hold.</summary>
    public const int MaxBlocks = 32;

    public readonly bool Synchronous = synchronous;
    private long _compiled, _failed, _queued;
    public long Compiled => Interlocked.Read(ref _compiled);
    public long Failed => Interlocked.Read(ref _failed);
    public long Queued => Interlocked.Read(ref _queued);

    private static readonly BlockingCollection<(RegionJit Jit, RegionCode Code)> Queue = new();
    private static Thread? _worker;
    private static readonly object WorkerLock = new();

    /// <summary>Forms the region that starts at <paramref name="entry"/> (linear address <paramref name="rip"/>) and compiles it.</summary>
    public void NoteHot(Cpu cpu, Block entry, ulong rip)
    {
        if (entry.RegionQueued || !cpu.RegionsAllowed || entry.Mode32 || !entry.Valid || !RegionEmitter.CanTranslate(entry, rip)) return;
        var blocks = new List<Block> { entry };
        var rips = new List<ulong> { rip };
        var targets = new List<ulong>();
        for (int k = 0; k < blocks.Count && blocks.Count < MaxBlocks; k++)
        {
            targets.Clear();
            RegionEmitter.Successors(blocks[k], rips[k], targets);
            foreach (ulong t in targets)
            {
                if (((t ^ rip) & ~PhysicalMemory.PageMask) != 0 || rips.Contains(t) || blocks.Count >= MaxBlocks) continue;
                ulong pa = (entry.PhysAddr & ~PhysicalMemory.PageMask) | (t & PhysicalMemory.PageMask);
                var b = cpu.CachedBlock(pa);
                // Only blocks about as hot as the entry (a loop's body, not its exits): a small method, registers in registers.
                if (b == null || !b.Valid || b.Mode32 || b.Executions * 4 < entry.Executions || !RegionEmitter.CanTranslate(b, t)) continue;
                blocks.Add(b);
                rips.Add(t);
            }
        }
        // Regions without a cycle are compiled too: the kernel's paths between system instructions and indirect calls are
        // such regions, left after a few blocks; with the region code of the fourth step they pay (docs/HOST-SPEED.md).
        // Its blocks are not made entries of regions of their own while this one compiles.
        foreach (var b in blocks) b.RegionQueued = true;
        var code = new RegionCode([.. blocks], [.. rips]);
        Interlocked.Increment(ref _queued);
        if (Synchronous) { Compile(code); return; }
        EnsureWorker();
        Queue.Add((this, code));
    }

    /// <summary>Host seconds spent forming IL and compiling it (all threads).</summary>
    public double CompileSeconds => Interlocked.Read(ref _compileTicks) / (double)System.Diagnostics.Stopwatch.Frequency;
    private long _compileTicks;

    private void Compile(RegionCode code)
    {
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        try { CompileNow(code); }
        finally { Interlocked.Add(ref _compileTicks, System.Diagnostics.Stopwatch.GetTimestamp() - t0); }
    }

    private void CompileNow(RegionCode code)
    {
        Func<Cpu, int, Block?>? run;
        try { run = RegionEmitter.Emit(code); }
        catch (InvalidProgramException) { run = null; }
        if (run == null) { Interlocked.Increment(ref _failed); return; }
        // Compiles the method now, off the vCPU's thread: a null Cpu returns at once.
        run(null!, 0);
        code.Run = run;
        Interlocked.Increment(ref _compiled);
        // Every block becomes an entry (its index first: the executor reads Region, then the index, and checks both).
        for (int j = 0; j < code.Blocks.Length; j++)
        {
            var b = code.Blocks[j];
            if (b.Region != null) continue;
            b.RegionIndex = j;
            Volatile.Write(ref b.Region, code);
        }
    }

    private static void EnsureWorker()
    {
        if (_worker != null) return;
        lock (WorkerLock)
        {
            if (_worker != null) return;
            var t = new Thread(() =>
            {
                foreach (var (jit, code) in Queue.GetConsumingEnumerable()) jit.Compile(code);
            }) { IsBackground = true, Name = "lvd region compiler", Priority = ThreadPriority.BelowNormal };
            t.Start();
            _worker = t;
        }
    }
}
