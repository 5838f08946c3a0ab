using System.Collections.Concurrent;
using Lvd.Machine.Decoding;
using Lvd.Machine.Diagnostics;
using Lvd.Machine.Execution;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Translation;

/// <summary>
/// A compiled region: blocks of one physical page (an entry block and the blocks it reaches by direct branches)
/// as one <see cref="System.Reflection.Emit.DynamicMethod"/>. <see cref="Run"/> starts at the entry block (its
/// Executions already counted by the executor) and returns the last block it ran, leaving RIP, the instruction
/// count, the cycles and the lazy flags exactly as the interpreter leaves them at that block's end.
/// </summary>
[NotMachineState]
internal sealed class RegionCode(Block[] blocks, ulong[] rips)
{
    public readonly Block[] Blocks = blocks;
    /// <summary>The linear address of each block when the region was formed (RIP-relative operands, branch targets).</summary>
    public readonly ulong[] Rips = rips;
    public ulong EntryRip => Rips[0];
    /// <summary>The entry block's ops when compiled: a block object given other state (a snapshot restore) runs interpreted.</summary>
    public readonly Op[] EntryOps = blocks[0].Ops;
    public Func<Cpu, Block?> Run = null!;
}

/// <summary>
/// Tier 1 (docs/HOST-SPEED.md): hot blocks become compiled regions. The executor counts a block's runs; at
/// <see cref="HotThreshold"/> this forms the region on the vCPU's thread (the code cache is not thread-safe) and
/// compiles it on a background thread (or at once with <see cref="Synchronous"/>), while the interpreter goes on
/// running the block. Install is one reference store (<see cref="Block.Region"/>) the executor reads at block entry.
/// Modeled time does not depend on when a region is installed: a region does exactly what the interpreter does.
/// </summary>
[NotMachineState]
internal sealed class RegionJit(bool synchronous)
{
    /// <summary>Runs of a block (in a chain) after which its region is compiled.</summary>
    public const long HotThreshold = 256;
    /// <summary>Most blocks in one region.</summary>
    public const int MaxBlocks = 24;

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
        if (Environment.GetEnvironmentVariable("LVD_JIT_TRACE") == "1")
        {
            var sb = new System.Text.StringBuilder($"hot {rip:x} ok={RegionEmitter.CanTranslate(entry, rip)}:");
            foreach (var o in entry.Ops) sb.Append(' ').Append(o.H).Append('/').Append(o.Size);
            Console.Error.WriteLine(sb.ToString());
        }
        if (!cpu.RegionsAllowed || entry.Mode32 || !entry.Valid || !RegionEmitter.CanTranslate(entry, rip)) return;
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
                if (b == null || !b.Valid || b.Mode32 || !RegionEmitter.CanTranslate(b, t)) continue;
                blocks.Add(b);
                rips.Add(t);
            }
        }
        var code = new RegionCode([.. blocks], [.. rips]);
        Interlocked.Increment(ref _queued);
        if (Synchronous) { Compile(code); return; }
        EnsureWorker();
        Queue.Add((this, code));
    }

    private void Compile(RegionCode code)
    {
        Func<Cpu, Block?>? run;
        try { run = RegionEmitter.Emit(code); }
        catch (InvalidProgramException) { run = null; }
        if (run == null) { Interlocked.Increment(ref _failed); return; }
        // Compiles the method now, off the vCPU's thread: a null Cpu returns at once.
        run(null!);
        code.Run = run;
        Interlocked.Increment(ref _compiled);
        Volatile.Write(ref code.Blocks[0].Region, code);
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
