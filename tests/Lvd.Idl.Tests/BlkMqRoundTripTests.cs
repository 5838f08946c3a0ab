using System.Globalization;
using CsCheck;

namespace Lvd.Idl.Tests;

/// <summary>
/// nullblk's glue, generated from idl/blk_mq.idl: module init registering the tag set and
/// queue_rq, then I/O with three crossings each (queue_rq in, start and end out, nested),
/// the request call-scoped ([call]: a slot name, a reused shadow) for exactly that long, a
/// forged name refused during the call and the real one after its end, and module exit.
/// </summary>
public sealed class BlkMqRoundTripTests
{
    private static string S(IFormattable v) => v.ToString(null, CultureInfo.InvariantCulture);

    [Fact]
    public void RequestsCrossThreeTimesEachAndLeaveNothingBehind()
    {
        var io = Gen.Select(Gen.Select(Gen.UInt[0, 15], Gen.UInt[0, 15], Gen.ULong, Gen.UInt), Gen.Select(Gen.UInt, Gen.UInt, Gen.Byte[0, 1]));
        Gen.Select(Gen.UInt[1, 64], Gen.UInt[512, 4096], Gen.UInt[1, 1024], io.Array[1, 30]).Sample(c =>
        {
            var (queues, blockSize, depth, ios) = c;
            var commands = new List<string> { $"init {S(queues)} {S(blockSize)} {S(depth)}", "crossings" };
            var expected = new List<string> { $"tag_set queues {S(queues)} depth {S(depth)} cmd_size {S(blockSize)} flags 1", "rc 0 ret 0",
                "crossings 2" };
            var queueRequests = new ulong[16];
            var queueBytes = new ulong[16];
            foreach (var ((hwq, slot, sector, bytes), (flags, tag, last)) in ios)
            {
                var error = sector % 2 == 1 ? -5 : 0;
                queueRequests[hwq]++;
                queueBytes[hwq] += bytes;
                commands.Add($"io {S(hwq)} {S(slot)} {S(sector)} {S(bytes)} {S(flags)} {S(tag)} {S(last)}");
                expected.AddRange(
                [
                    $"queue_rq hwq {S(hwq)} sector {S(sector)} bytes {S(bytes)} flags {S(flags)} tag {S(tag)} last {S(last)}",
                    $"start {S(slot)}",
                    $"end {S(slot)} error {error}",
                    "refused forged -2 stale -2 local -9",
                    $"rc 0 ret 0 requests {S(queueRequests[hwq])} bytes {S(queueBytes[hwq])}",
                ]);
            }
            commands.AddRange(["crossings", "exit", "live", "caps"]);
            expected.AddRange([$"crossings {2 + 5 * ios.Length}", "free_tag_set same 1", "rc 0", "live 0", "caps kernel 0 domain 1"]);
            Assert.Equal(expected, Harness.BlkMq.Run(commands));
        }, iter: 6, threads: 1);
    }
}
