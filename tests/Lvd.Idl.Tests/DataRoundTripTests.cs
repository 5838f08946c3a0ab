using System.Globalization;
using CsCheck;

namespace Lvd.Idl.Tests;

/// <summary>
/// idl/examples/data.idl through the generated glue, natively: random values cross the
/// real message layout (words, register page, pool) and must arrive intact, `out` values
/// must come back, and whatever is over its bound is refused before it crosses.
/// </summary>
public sealed class DataRoundTripTests
{
    private const int Iterations = 8;
    private const int PoolSize = 16384;

    private static string S(IFormattable v) => v.ToString(null, CultureInfo.InvariantCulture);

    /// <summary>Runs one batch of commands in a fresh harness and compares every line printed.</summary>
    internal static void RunBatch(Harness harness, IEnumerable<(string Command, string[] Expected)> cases)
    {
        var list = cases.ToList();
        var actual = harness.Run(list.Select(c => c.Command));
        Assert.Equal(list.SelectMany(c => c.Expected), actual);
    }

    [Fact]
    public void ScalarsOfEveryWidthArriveIntactAndOutValuesComeBack()
    {
        var gen = Gen.Select(Gen.Select(Gen.SByte, Gen.Short, Gen.Int, Gen.Long), Gen.Select(Gen.Byte, Gen.UShort, Gen.UInt, Gen.ULong), Gen.ULong);
        gen.Array[1, 40].Sample(cases => RunBatch(Harness.Data, cases.Select(c =>
        {
            var ((a, b, d, dd), (e, f, g, h), twice) = c;
            var sum = unchecked((ulong)a + (ulong)b + (ulong)d + (ulong)dd + e + f + g + h);
            var values = $"{S(a)} {S(b)} {S(d)} {S(dd)} {S(e)} {S(f)} {S(g)} {S(h)} {S(twice)}";
            return ($"scalars {values}", new[]
            {
                $"recv {values}",
                $"rc 0 ret {S(unchecked((long)sum))} sum_lo {S(unchecked((uint)sum))} twice {S(unchecked(twice * 2))}",
            });
        })), iter: Iterations, threads: 1);
    }

    [Fact]
    public void FixedAndLengthAnnotatedArraysCrossAndOnlyTheAnnotatedLengthComesBack()
    {
        var gen = Gen.Select(Gen.ULong.Array[4], Gen.UShort.Array[0, 32]);
        gen.Array[1, 30].Sample(cases => RunBatch(Harness.Data, cases.Select(c =>
        {
            var (fix, vals) = c;
            var fixedText = string.Join(" ", fix.Select(v => S(v)));
            var valsText = string.Concat(vals.Select(v => " " + S(v)));
            var doubled = string.Concat(vals.Select(v => " " + S(unchecked((ushort)(v * 2)))));
            var sum = unchecked(fix[0] + fix[1] + fix[2] + fix[3]);
            return ($"arrays {fixedText} {vals.Length}{valsText}", new[]
            {
                $"recv {fixedText} {vals.Length}{valsText}",
                $"rc 0 crossed 1 ret {S(sum)} doubled{doubled} guard eeee block 0104070a0d101316",
            });
        })), iter: Iterations, threads: 1);
    }

    private static uint Fnv1a(byte[] bytes)
    {
        var h = 2166136261u;
        foreach (var b in bytes)
            h = unchecked((h ^ b) * 16777619u);
        return h;
    }

    [Fact]
    public void BoundedStringsArriveIntactAndLongerOnesAreRefusedBeforeCrossing()
    {
        var text = Gen.Byte[1, 255].Array[0, 64];
        var tooLong = Gen.Byte[1, 255].Array[65, 300];
        Gen.Select(text.Array[1, 20], tooLong.Array[1, 5]).Sample(c =>
        {
            var (good, bad) = c;
            RunBatch(Harness.Data,
                good.Select(t => ($"hash {Harness.Hex(t)}", new[] { $"recv {Harness.Hex(t)}", $"rc 0 crossed 1 ret {S(Fnv1a(t))}" }))
                    .Concat(bad.Select(t => ($"hash {Harness.Hex(t)}", new[] { "rc -4 crossed 0 ret 0" }))));
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public void BuffersCrossByOffsetIntoThePoolAndTheCalleesWritesAreShared()
    {
        var gen = Gen.Byte.Array[0, 512].SelectMany(bytes => Gen.Int[0, PoolSize - bytes.Length].Select(off => (off, bytes)));
        gen.Array[1, 20].Sample(cases => RunBatch(Harness.Data, cases.Select(c =>
        {
            var (off, bytes) = c;
            ulong sum = 0;
            for (var i = 0; i < bytes.Length; i++)
                sum = unchecked(sum + bytes[i] * (ulong)(i + 1));
            var after = bytes.Select(b => (byte)(b ^ 0xff)).ToArray();
            return ($"checksum {off} {Harness.Hex(bytes)}", new[]
            {
                $"recv off {off} len {bytes.Length}",
                $"rc 0 ret {S(sum)} after {Harness.Hex(after)}",
            });
        })), iter: Iterations, threads: 1);
    }

    private sealed record Sample(sbyte A, short B, int C, long D, byte E, ushort F, uint G, ulong H, uint Tag, byte[] Arm)
    {
        public string Fields => $"{S(A)} {S(B)} {S(C)} {S(D)} {S(E)} {S(F)} {S(G)} {S(H)} {S(Tag)}";

        public Sample Mutated()
        {
            var arm = Tag switch
            {
                0 => Arm.Select(b => (byte)~b).ToArray(),
                1 => Arm.Reverse().ToArray(),
                _ => [.. Arm[4..], .. Arm[..4]],
            };
            return unchecked(new Sample((sbyte)(A * 3 + 1), (short)(B * 3 + 1), C * 3 + 1, D * 3 + 1, (byte)(E * 3 + 1), (ushort)(F * 3 + 1),
                G * 3 + 1, H * 3 + 1, Tag, arm));
        }
    }

    [Fact]
    public void CopiedStructsWithUnionsGoInAndComeBackModified()
    {
        var arm = Gen.OneOf(Gen.Byte.Array[8].Select(b => (0u, b)), Gen.Byte.Array[24].Select(b => (1u, b)), Gen.Byte.Array[8].Select(b => (7u, b)));
        var gen = Gen.Select(Gen.Select(Gen.SByte, Gen.Short, Gen.Int, Gen.Long), Gen.Select(Gen.Byte, Gen.UShort, Gen.UInt, Gen.ULong), arm)
            .Select(t => new Sample(t.Item1.Item1, t.Item1.Item2, t.Item1.Item3, t.Item1.Item4, t.Item2.Item1, t.Item2.Item2, t.Item2.Item3,
                t.Item2.Item4, t.Item3.Item1, t.Item3.Item2));
        gen.Array[1, 20].Sample(cases => RunBatch(Harness.Data, cases.Select(s =>
        {
            var back = s.Mutated();
            return ($"mutate {s.Fields} {Harness.Hex(s.Arm)}", new[]
            {
                $"recv {s.Fields} {Harness.Hex(s.Arm)}",
                "rc 0",
                $"back {back.Fields} {Harness.Hex(back.Arm)}",
            });
        })), iter: Iterations, threads: 1);
    }

    [Fact]
    public void ListsUpToTheirDepthArriveIntactAndLongerOrCyclicOnesAreRefused()
    {
        var node = Gen.Select(Gen.UInt, Gen.ULong);
        Gen.Select(node.Array[1, 8].Array[1, 10], node.Array[9, 20], Gen.Int[1, 20]).Sample(c =>
        {
            var (lists, tooLong, cycle) = c;
            static string Nodes((uint K, ulong V)[] l) => $"{l.Length}{string.Concat(l.Select(n => $" {S(n.K)} {S(n.V)}"))}";
            RunBatch(Harness.Data, lists
                .Select(l => ($"list {Nodes(l)}", new[] { $"recv {Nodes(l)}",
                    $"rc 0 crossed 1 ret {S(l.Aggregate(0UL, (sum, n) => unchecked(sum + n.Item1 * n.Item2)))}" }))
                .Append(($"list {Nodes(tooLong)}", ["rc -6 crossed 0 ret 0"]))
                .Append(($"cycle {cycle}{string.Concat(Enumerable.Repeat(" 1 1", cycle))}", ["rc -6 crossed 0 ret 0"])));
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public void TheDomainCanCallTheKernel()
    {
        RunBatch(Harness.Data, [("ping", ["ping", "rc 0"])]);
    }

    [Fact]
    public void CallersRefuseOutOfBoundDataWithoutCrossing()
    {
        RunBatch(Harness.Data,
        [
            ($"arrays 1 2 3 4 33{string.Concat(Enumerable.Repeat(" 5", 33))}",
                [$"rc -4 crossed 0 ret 0 doubled{string.Concat(Enumerable.Repeat(" 61166", 32))} guard eeee block 0000000000000000"]),
            ("checksum_outside 18446744073709551615 4", ["rc -3 crossed 0"]),   // a buffer that is not in the pool
            ($"checksum_outside {PoolSize - 4} 8", ["rc -3 crossed 0"]),      // one that runs off its end
            ("count_bytes -1", ["rc -4 ret 0"]),                               // a negative signed length
            ("fill 9", ["rc -4 buf eeeeeeeeeeeeeeeeeeee"]),                    // an out array over its bound
            ("fill 3", ["rc 0 buf a0a1a2eeeeeeeeeeeeee"]),                     // and one within it: only n bytes come back
        ]);
    }

    /// <summary>Hand-made requests, as a hostile kernel or driver could send them: each fails with its code and runs nothing.</summary>
    [Theory]
    [InlineData("hash: string length over its bound", "raw 3 65", -4)]
    [InlineData("arrays: length over its bound", "raw 2 33", -4)]
    [InlineData("arrays: length near 2^32", "raw 2 4294967295", -4)]
    [InlineData("checksum: offset past the pool", "raw 4 16385 0", -3)]
    [InlineData("checksum: offset + length past the pool", "raw 4 16383 2", -3)]
    [InlineData("checksum: length that wraps the sum", "raw 4 1 18446744073709551615", -3)]
    [InlineData("checksum: offset that wraps the sum", "raw 4 18446744073709551615 2", -3)]
    [InlineData("sum_list: empty list", "raw 6 0", -6)]
    [InlineData("sum_list: one node over the depth", "raw 6 9", -6)]
    [InlineData("sum_list: huge count", "raw 6 18446744073709551615", -6)]
    [InlineData("unknown function 0", "raw 0", -1)]
    [InlineData("count_bytes: a negative signed length", "raw 8 18446744073709551615", -4)]
    [InlineData("count_bytes: a length whose declared 16 bits say 17", "raw 8 0xffffffff80000011", -4)]
    [InlineData("fill: the length of an out array over its bound", "raw 9 1000", -4)]
    [InlineData("unknown function past the table", "raw 10", -1)]
    [InlineData("unknown function 2^32-1", "raw 4294967295", -1)]
    public void HostileRequestsAreRejectedBeforeTheDriverRuns(string what, string raw, int status)
    {
        var lines = Harness.Data.Run([raw + " 0 0 0 0 0 0 0"]);
        Assert.True(lines.SequenceEqual([$"status {status} calls 0"]), $"{what}: {string.Join(" | ", lines)}");
    }

    [Theory]
    [InlineData(3u)]
    [InlineData(2u)]
    [InlineData(0xffffffffu)]
    public void AUnionWhoseDiscriminatorNamesNoArmIsRejected(uint tag)
    {
        // mutate's discriminator travels at register-page offset 8 (see its layout comment).
        var tagBytes = Harness.Hex(BitConverter.GetBytes(tag));
        Assert.Equal(["status -5 calls 0"], Harness.Data.Run([$"page 8 {tagBytes}", "raw 5 0 0 0 0 0 0 0"]));
    }

    [Fact]
    public void AHostileReplyIsRefusedAndLeavesTheCallersDataAlone()
    {
        var lines = Harness.Data.Run(
        [
            "corrupt 0 42", "scalars 1 2 3 4 5 6 7 8 21",                      // a status that is no status code
            "corrupt 0 18446744073709551614", "scalars 1 2 3 4 5 6 7 8 21",    // a genuine error passes through
            "corrupt_page 8 09000000", "mutate 1 2 3 4 5 6 7 8 0 0102030405060708", // the reply's union tag names no arm
        ]);

        Assert.Equal(
        [
            "recv 1 2 3 4 5 6 7 8 21", "rc -8 ret 0 sum_lo 0 twice 21",
            "recv 1 2 3 4 5 6 7 8 21", "rc -2 ret 0 sum_lo 0 twice 21",
            "recv 1 2 3 4 5 6 7 8 0 0102030405060708", "rc -5", "back 1 2 3 4 5 6 7 8 0 0102030405060708",
        ], lines);
    }

    [Fact]
    public void ABufferEndingExactlyAtThePoolsEndIsAccepted()
    {
        Assert.Equal([$"recv off {PoolSize} len 0", "status 0 calls 1"], Harness.Data.Run([$"raw 4 {PoolSize} 0 0 0 0 0 0"]));
    }
}
