using Lvd.Machine.Paging;

namespace Lvd.Tests;

/// <summary>
/// The TLB's fast paths (docs/HOST-SPEED.md, the addend TLB): the slot arithmetic of the hit path is the slot of
/// <see cref="Tlb.IndexOf"/> (which entries evict each other, so page walks and modeled cycles, must not change), and an
/// unaligned access inside a page, which fails the one-compare hit test of aligned accesses, is still a TLB hit (the slow
/// path would walk): the same modeled cycles as the aligned access. (Snapshots and the addends: SnapshotTests.)
/// </summary>
public sealed class TlbTests
{
    [Fact]
    public void TheHitPathsByteOffsetIsTheSlotOfIndexOfInBothTiers()
    {
        var rng = new Random(13);
        var addresses = new List<ulong> { 0, 0xfff, 0x1000, 0x7ffff000, 0x80000000, 0x3ff000, 0x400000, 0xffffffff80000000, ulong.MaxValue };
        for (int i = 0; i < 100_000; i++) addresses.Add((ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 33));
        // Compiled regions emit the same fold as IL (RegionEmitter.EmitTlbOffset): the same slot.
        var regionFold = Lvd.Machine.Translation.RegionEmitter.TlbOffsetFunction();
        foreach (ulong la in addresses)
        {
            Assert.True((nuint)Tlb.IndexOf(la) << Tlb.EntryShift == Tlb.OffsetOf(la), $"0x{la:x}");
            Assert.True(regionFold(la) == Tlb.OffsetOf(la), $"region fold of 0x{la:x}");
        }
    }

    private const string Program = """
        #include <stdio.h>
        #include <string.h>
        static unsigned char buf[8192] __attribute__((aligned(4096)));
        int main(void)
        {
            unsigned long acc = 0;
            for (int round = 0; round < 2000; round++)
                for (int i = 0; i < 4000; i += 64)
                {
                    unsigned long v; unsigned int w; unsigned short h;
                    unsigned char *p = buf + i + OFF;
                    memcpy(&v, p, 8); memcpy(&w, p + 16, 4); memcpy(&h, p + 32, 2);
                    acc = acc * 31 + v + w + h;
                    v = acc; w = (unsigned int)acc; h = (unsigned short)acc;
                    memcpy(p, &v, 8); memcpy(p + 16, &w, 4); memcpy(p + 32, &h, 2);
                }
            printf("acc %016lx\n", acc);
            return 0;
        }
        """;

    [Fact]
    public void UnalignedAccessesInsideAPageAreTlbHitsWithTheCyclesOfAlignedOnes()
    {
        var runs = new Dictionary<int, ProgramResult>();
        foreach (int off in new[] { 0, 1, 3 })
        {
            string elf = Guest.BuildSource($"tlb_unaligned_{off}", Program.Replace("OFF", off.ToString()), "-O2");
            var r = ProgramRunner.Run(elf, new RunOptions { CaptureSerial = true });
            Assert.Equal(RunOutcome.Exited, r.Run.Outcome);
            Assert.Contains("acc ", r.OutputText);
            runs[off] = r;
        }
        foreach (int off in new[] { 1, 3 })
        {
            Assert.Equal(runs[0].Run.Instructions, runs[off].Run.Instructions);
            Assert.Equal(runs[0].Machine.Cpus[0].TlbMisses, runs[off].Machine.Cpus[0].TlbMisses);
            Assert.Equal(runs[0].Machine.Cpus[0].PageWalkRefs, runs[off].Machine.Cpus[0].PageWalkRefs);
            Assert.Equal(runs[0].Run.Cycles, runs[off].Run.Cycles);
        }
    }
}
