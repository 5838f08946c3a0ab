using System.Globalization;
using CsCheck;

namespace Lvd.Idl.Tests;

/// <summary>
/// idl/examples/devices.idl through the generated glue: capabilities, shadow copies kept in
/// sync, alloc/dealloc on both sides, callbacks, and references a hostile side could forge.
/// </summary>
public sealed class DevicesRoundTripTests
{
    private static string S(IFormattable v) => v.ToString(null, CultureInfo.InvariantCulture);

    private static string Fields(string line) => line[(line.IndexOf(' ', StringComparison.Ordinal) + 1)..];

    private sealed record Op(uint OpenFlags, uint Kind, byte[] Arm, uint Generation, uint Code, ulong Arg);

    [Fact]
    public void ShadowCopiesStayInSyncAcrossOpenConfigureAndEvents()
    {
        var arm = Gen.OneOf(Gen.Byte.Array[8].Select(b => (1u, b)), Gen.Byte.Array[6].Select(b => (2u, b)), Gen.Byte.Array[8].Select(b => (3u, b)));
        var op = Gen.Select(Gen.UInt, arm, Gen.UInt[0, uint.MaxValue - 1], Gen.UInt, Gen.ULong)
            .Select(t => new Op(t.Item1, t.Item2.Item1, t.Item2.Item2, t.Item3, t.Item4, t.Item5));
        Gen.Select(Gen.UInt, Gen.UInt[0, 0xfffffeff], Gen.Byte.Array[16], op.Array[1, 12]).Sample(c =>
        {
            var (id, flags, name, ops) = c;
            var commands = new List<string> { $"register {S(id)} {S(flags)} {Harness.Hex(name)}" };
            var expected = new List<string> { $"rc 0 ret 7 flags {S(flags | 0x100)} dcap 1 dfn 2" };
            for (var i = 0; i < ops.Length; i++)
            {
                var o = ops[i];
                var cfg = Harness.Hex([.. o.Arm, .. new byte[8 - o.Arm.Length]]);
                commands.AddRange([$"open {S(o.OpenFlags)}", $"configure {S(o.Kind)} {Harness.Hex(o.Arm)} {S(o.Generation)}",
                    $"event {S(o.Code)} {S(o.Arg)}"]);
                expected.AddRange(
                [
                    $"open same 1 flags {S(o.OpenFlags)}",
                    $"rc 0 ret 0 state {S(o.OpenFlags * 2UL + 1)} stats {i + 1}",
                    $"configure same 1 kind {S(o.Kind)} cfg {cfg} generation {S(o.Generation)}",
                    $"rc 0 ret {S(o.Kind)} state {S(o.Kind + 1000)} generation {S(o.Generation + 1)}",
                    $"event {S(o.Code)} {S(o.Arg)}",
                    "rc 0",
                ]);
            }
            commands.AddRange(["kshadow", "dshadow", "live"]);
            var lines = Harness.Devices.Run(commands);
            Assert.Equal(expected, lines[..^3]);
            var last = ops[^1];
            Assert.Equal($"id {S(id)} flags {S(last.OpenFlags)} state {S(last.Kind + 1000)} stats {ops.Length} kind {S(last.Kind)} name " +
                $"{Harness.Hex(name)} cfg {Harness.Hex([.. last.Arm, .. new byte[8 - last.Arm.Length]])}", Fields(lines[^3]));
            Assert.Equal(Fields(lines[^3]), Fields(lines[^2]));
            Assert.Equal("live 1", lines[^1]);
        }, iter: 8, threads: 1);
    }

    [Fact]
    public void OwnershipCreatesAndFreesExactlyTheShadowsItNames()
    {
        var lines = Harness.Devices.Run(
        [
            "register 5 3 6574683000", "live",   // alloc(callee): the kernel makes a shadow
            "lookup 6", "live",                  // alloc(caller): the driver makes one of a kernel device
            "put", "live",                       // dealloc(caller): the driver frees it again
            "unregister", "live",                // dealloc(callee): the kernel frees its shadow
            "reopen_stale",                      // the kernel has no name for the device any more
            "raw 2 1 0 0 0 0 0 0",               // nor does the driver: its old capability is dead
        ]);

        Assert.Equal(
        [
            "rc 0 ret 7 flags 259 dcap 1 dfn 2", "live 1",
            "rc 0 ret 2 distinct 1",
            "borrowed id 6 flags 83 state 0 stats 0 kind 0 name 64657636000000000000000000000000 cfg 0000000000000000",
            "live 2",
            "put index 2", "rc 0", "live 1",
            "unregister same 1", "rc 0", "live 0",
            "rc -9",
            "status -2 calls 4",
        ], lines);
    }

    [Fact]
    public void AReplyWithoutACapabilityForTheNewObjectCreatesNoShadow()
    {
        var lines = Harness.Devices.Run(["register 5 3 6574683000", "corrupt 1 0", "lookup 6", "live"]);

        Assert.Equal(["rc 0 ret 7 flags 259 dcap 1 dfn 2", "rc -2 ret -1 distinct 1", "live 1"], lines);
    }

    /// <summary>References a hostile kernel could forge, sent to the driver after a normal registration.</summary>
    [Theory]
    [InlineData("device_open with a capability never issued", "raw 2 12345 0", -2)]
    [InlineData("device_open with the driver's function capability (type confusion)", "raw 2 2 0", -2)]
    [InlineData("device_open with the right slot but a stale generation", "raw 2 4294967297 0", -2)]
    [InlineData("device_open with slot 0", "raw 2 0 0", -2)]
    [InlineData("device_event with the device's capability as its function", "raw 7 1 1 1", -2)]
    [InlineData("device_event with a handle never issued", "raw 7 99 1 1", -2)]
    [InlineData("device_configure with a kind that names no arm", "raw 3 1 9 0", -5)]
    public void ForgedReferencesAndBadUnionsFailAndTouchNothing(string what, string raw, int status)
    {
        var lines = Harness.Devices.Run(["register 5 3 6574683000", "dshadow", raw + " 0 0 0 0", "dshadow", "live"]);

        Assert.True(lines.Length == 5, what + ": " + string.Join(" | ", lines));
        Assert.Equal($"status {status} calls 1", lines[2]);
        Assert.Equal(lines[1], lines[3]);
        Assert.Equal("live 1", lines[4]);
    }
}
