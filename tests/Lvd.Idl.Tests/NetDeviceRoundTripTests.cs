using System.Globalization;
using CsCheck;

namespace Lvd.Idl.Tests;

/// <summary>
/// nullnet's glue, generated from idl/net_device.idl: registration with net_device_ops as
/// callback handles, open/stop, and transmit with the packet in the shared pool and the skb
/// consumed by a nested call back into the kernel. Nothing may leak: no shadow, no
/// capability-table entry.
/// </summary>
public sealed class NetDeviceRoundTripTests
{
    private static string S(IFormattable v) => v.ToString(null, CultureInfo.InvariantCulture);

    [Fact]
    public void PacketsCrossWithTheirDataInThePoolAndEverySkbIsConsumed()
    {
        var packet = Gen.Select(Gen.UInt, Gen.UShort, Gen.UInt, Gen.Byte.Array[0, 1500]);
        Gen.Select(Gen.UInt[68, 9000], Gen.ULong, Gen.UInt[0, 1 << 20].Select(f => (ulong)f * 2), packet.Array[1, 40]).Sample(c =>
        {
            var (mtu, features, flags, packets) = c;
            var commands = new List<string> { $"register 6e756c6c30 {S(mtu)} {S(features)} {S(flags)}", "open" };
            var expected = new List<string> { $"register name null0 mtu {S(mtu)} features {S(features)}", "rc 0 ret 0",
                $"rc 0 ret 0 state {S(flags | 1)}" };
            ulong bytes = 0;
            var offset = 0;
            for (var i = 0; i < packets.Length; i++)
            {
                var (len, protocol, queue, data) = packets[i];
                if (offset + data.Length > 16384)
                    offset = 0;
                bytes = unchecked(bytes + len);
                commands.Add($"xmit {S(len)} {S(protocol)} {S(queue)} {Harness.Hex(data)}");
                expected.AddRange(
                [
                    $"xmit len {S(len)} protocol {S(protocol)} head {offset}+{data.Length} sum {data.Sum(b => (long)b)}",
                    $"consume queue {S(queue)}",
                    $"rc 0 ret 0 tx_packets {i + 1} tx_bytes {S(bytes)}",
                ]);
                offset += (data.Length + 63) & ~63;
            }
            commands.AddRange(["stop", "unregister", "live", "caps"]);
            expected.AddRange(["rc 0 ret 0 state 0", "unregister same 1", "rc 0", "live 0", "caps kernel 0 domain 3"]);
            Assert.Equal(expected, Harness.NetDevice.Run(commands));
        }, iter: 6, threads: 1);
    }

    [Fact]
    public void TransmitFitsInTheSevenRegisterWordsAsInThePaper()
    {
        var path = Repo.Path("idl", "net_device.idl");
        var kernel = IdlCompiler.Compile("net_device.idl", File.ReadAllText(path)).GeneratedFiles["net_device_kernel.c"];

        Assert.Contains(" *   request: w0 function id | target, w1 function handle, w2 ref dev, w3 call-scoped skb, w4 skb->len, w5 skb->protocol, " +
            "w6 pool offset of data, w7 data_len\n", kernel, StringComparison.Ordinal);
        Assert.Contains(" *   register page: 0 bytes in, 0 bytes out\n", kernel, StringComparison.Ordinal);
        // The skb is call-scoped: no name of the domain's comes back for it.
        Assert.Contains(" *   reply:   w0 status, w1 dev->tx_packets, w2 dev->tx_bytes, w3 *ret\n", kernel, StringComparison.Ordinal);
    }
}
