using Lvd.Experiments.Domains;
using Lvd.Machine.Diagnostics;
using Lvd.Machine.Loader;

namespace Lvd.Tests;

/// <summary>
/// Machine snapshots (docs/DEBUGGING.md, Snapshots): a snapshot taken at a checkpoint and restored into a fresh
/// machine of the same run goes on exactly as the original did — the same state (a digest of every object) at every
/// later checkpoint, the same output, cycles and instructions at the end — for a program and for a kernel on four
/// vCPUs under the hypervisor with an isolated driver.
/// </summary>
public sealed class SnapshotTests
{
    /// <summary>The snapshot program (JitTests uses it too).</summary>
    internal const string Program = """
        #include <stdio.h>
        #include <stdlib.h>
        static unsigned long mix(unsigned long x) { x ^= x >> 31; x *= 0x7fb5d329728ea185UL; return x ^ (x >> 27); }
        int main(void)
        {
            unsigned long acc = 1;
            unsigned char *buf = malloc(1 << 20);
            for (int round = 0; round < 12; round++)
            {
                for (int i = 0; i < (1 << 20); i += 64) { acc = mix(acc + buf[i]); buf[(acc >> 7) & ((1 << 20) - 1)] = (unsigned char)acc; }
                printf("round %d acc %016lx\n", round, acc);
            }
            return (int)(acc & 0x3f);
        }
        """;

    private sealed class Recording
    {
        public readonly List<MachineSnapshot> Snapshots = [];
        public readonly Dictionary<long, ulong> Digests = [];
        public bool Keep = true;

        public void At(Lvd.Machine.Machine m)
        {
            Digests[m.LatestClock] = MachineSnapshot.Digest(m);
            if (Keep) Snapshots.Add(MachineSnapshot.Take(m));
        }
    }

    private static void AssertSameRun(ProgramResult original, Recording before, ProgramResult restored, Recording after, MachineSnapshot from)
    {
        Assert.Equal(original.Run.Outcome, restored.Run.Outcome);
        Assert.Equal(original.ExitStatus, restored.ExitStatus);
        Assert.Equal(original.Run.Cycles, restored.Run.Cycles);
        Assert.Equal(original.Run.Instructions, restored.Run.Instructions);
        Assert.Equal(original.OutputText, restored.OutputText);
        Assert.NotEmpty(after.Digests);
        foreach (var (time, digest) in after.Digests)
        {
            Assert.True(time > from.Time, $"a checkpoint at {time} before the snapshot's {from.Time}");
            Assert.True(before.Digests.TryGetValue(time, out ulong expected), $"the restored run passed a checkpoint at {time} the original did not");
            Assert.True(expected == digest, $"the restored run's state at cycle {time} differs from the original's");
        }
        Assert.Equal(before.Digests.Keys.Count(t => t > from.Time), after.Digests.Count);
    }

    [Fact]
    public void AProgramRestoredFromASnapshotRunsOnExactlyAsTheOriginal()
    {
        string elf = Guest.BuildSource("snapshot_mix", Program, "-O1");
        const long interval = 500_000;
        var before = new Recording();
        var original = ProgramRunner.Run(elf, new RunOptions { CaptureSerial = true, Setup = m => m.SetCheckpoints(interval, before.At) });
        Assert.Equal(RunOutcome.Exited, original.Run.Outcome);
        Assert.True(before.Snapshots.Count >= 4, $"only {before.Snapshots.Count} checkpoints");
        Assert.Contains("round 11 acc", original.OutputText);
        foreach (var snap in new[] { before.Snapshots[0], before.Snapshots[before.Snapshots.Count / 2], before.Snapshots[^2] })
        {
            var after = new Recording { Keep = false };
            var restored = ProgramRunner.Run(elf, new RunOptions
            {
                CaptureSerial = true,
                Setup = m => { snap.RestoreInto(m); m.SetCheckpoints(interval, after.At); },
            });
            AssertSameRun(original, before, restored, after, snap);
        }
    }

    /// <summary>
    /// TLB entries hold host addresses of RAM pages (TlbEntry.Addend): a restore must give the pages it creates stable
    /// addresses and recompute the addends. A compacting collection right after the restore moves everything that can move.
    /// </summary>
    [Fact]
    public void ARestoredProgramRunsOnExactlyAsTheOriginalAfterTheCollectorCompactsTheHeap()
    {
        string elf = Guest.BuildSource("snapshot_mix", Program, "-O1");
        const long interval = 500_000;
        var before = new Recording();
        var original = ProgramRunner.Run(elf, new RunOptions { CaptureSerial = true, Setup = m => m.SetCheckpoints(interval, before.At) });
        Assert.True(before.Snapshots.Count >= 4, $"only {before.Snapshots.Count} checkpoints");
        var snap = before.Snapshots[before.Snapshots.Count / 2];
        var after = new Recording { Keep = false };
        var restored = ProgramRunner.Run(elf, new RunOptions
        {
            CaptureSerial = true,
            Setup = m =>
            {
                snap.RestoreInto(m);
                var garbage = new List<byte[]>();
                for (int i = 0; i < 2000; i++) garbage.Add(new byte[100 + i % 300]);
                garbage.Clear();
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                m.SetCheckpoints(interval, after.At);
            },
        });
        AssertSameRun(original, before, restored, after, snap);
    }

    [Fact]
    public void AKernelWithAnIsolatedDriverOnFourVcpusRestoredFromASnapshotRunsOnExactlyAsTheOriginal()
    {
        var spec = new LvdBootSpec { Cpus = 4, Isolate = ["nullnet"], Workload = "nullnet", Threads = 2, Duration = 2_000_000 };
        const long interval = 20_000_000;
        var before = new Recording();
        var original = LvdBoot.Run(spec, maxInstructions: 1_500_000_000, setup: m => m.SetCheckpoints(interval, before.At));
        Assert.Equal(0, original.ExitStatus);
        Assert.Contains("result: workload=nullnet", original.OutputText);
        Assert.True(before.Snapshots.Count >= 4, $"only {before.Snapshots.Count} checkpoints");
        // After the hypervisor's late launch (the kernel asks for it early) and in the middle of the workload.
        foreach (var snap in new[] { before.Snapshots[1], before.Snapshots[before.Snapshots.Count / 2], before.Snapshots[^2] })
        {
            var after = new Recording { Keep = false };
            var restored = LvdBoot.Run(spec, maxInstructions: 1_500_000_000,
                setup: m => { snap.RestoreInto(m); m.SetCheckpoints(interval, after.At); });
            AssertSameRun(original, before, restored, after, snap);
        }
    }

    [Fact]
    public void ASnapshotIsRefusedByAMachineOfAnotherShape()
    {
        string elf = Guest.BuildSource("snapshot_mix", Program, "-O1");
        MachineSnapshot? snap = null;
        ProgramRunner.Run(elf, new RunOptions { Setup = m => m.SetCheckpoints(1_000_000, mm => snap ??= MachineSnapshot.Take(mm)) });
        Assert.NotNull(snap);
        var e = Assert.Throws<SnapshotException>(() =>
            ProgramRunner.Run(elf, new RunOptions { CpuCount = 2, Setup = m => snap!.RestoreInto(m) }));
        Assert.Contains("cannot be restored", e.Message);
    }
}
