using System.Buffers.Binary;
using Lvd.Machine.Devices.Nic;
using Lvd.Machine.Devices.Pci;
using MachineT = Lvd.Machine.Machine;
using N = Lvd.Machine.Devices.Nic.Ixgbe82599;

namespace Lvd.Tests.Devices;

/// <summary>
/// The 82599 model against its datasheet's register semantics as an ixgbe-style driver uses them:
/// PCI identity and MSI-X capability, reset, the MAC filter, transmit and receive rings with
/// wrap-around and write-back, statistics that clear on read, RSS, MSI-X with throttling, and
/// 10 Gb/s line-rate pacing in modeled time; the peer's checksums and determinism.
/// </summary>
public sealed class NicTests
{
    private static uint Config(NicBench b, int reg, int size = 4)
    {
        b.Machine.Io.Out(b.Cpu, 0xcf8, 4, 0x80000000u | (3u << 11) | (uint)(reg & 0xfc));
        return (uint)b.Machine.Io.In(b.Cpu, (ushort)(0xcfc + (reg & 3)), size);
    }

    [Fact]
    public void PciFunctionHasTheIdsBarsAndMsixCapabilityAnIxgbeDriverProbes()
    {
        var b = new NicBench();
        Assert.Equal(0x10fb8086u, Config(b, 0));
        Assert.Equal(0x020000u, Config(b, 8) >> 8);              // class: Ethernet controller
        Assert.Equal((uint)NicSpec.DefaultBar0 | 4, Config(b, 0x10)); // 64-bit memory BAR, placed by firmware
        Assert.Equal((uint)NicSpec.DefaultBar4 | 4, Config(b, 0x20));
        Assert.Equal((uint)PciFunction.CommandMemory, Config(b, 4) & 7);
        int cap = b.MsixCapability();
        Assert.NotEqual(0, cap);
        Assert.Equal(63u, Config(b, cap) >> 16 & 0x7ff);           // 64 vectors
        Assert.Equal(4u, Config(b, cap + 4));                       // table at BAR4 + 0
        Assert.Equal(0x2004u, Config(b, cap + 8));                   // PBA at BAR4 + 0x2000
        // Sizing BAR0 the standard way: all ones read back as the size mask.
        b.Machine.Io.Out(b.Cpu, 0xcf8, 4, 0x80000000u | (3u << 11) | 0x10);
        b.Machine.Io.Out(b.Cpu, 0xcfc, 4, 0xffffffff);
        Assert.Equal(~((uint)N.Bar0Size - 1) | 4, (uint)b.Machine.Io.In(b.Cpu, 0xcfc, 4));
    }

    [Fact]
    public void LvdMachineWithoutDevicesHasNoPciAndRegistersItsPlatformDevices()
    {
        var m = new MachineT(new MachineConfig { MemoryBytes = 16UL << 20 });
        Assert.Null(m.Pci);
        Assert.Equal(0xffffffffUL, m.Io.In(m.Cpus[0], 0xcfc, 4));
        Assert.Equal(["COM1", "exit port 0xf4"], m.Devices.Select(d => d.Name).ToArray());
        var b = new NicBench();
        Assert.NotNull(b.Machine.Pci);
        Assert.Same(b.Nic, b.Machine.Devices[^1]);
    }

    [Fact]
    public void ResetRestoresDefaultsAndTheEepromMac()
    {
        var b = new NicBench();
        Assert.Equal(N.LinkUpStatus, b.R(N.DeviceStatus) & N.LinkUpStatus);
        Assert.Equal(N.LinksUp | N.Links10G, b.R(N.Links) & (N.LinksUp | N.Links10G));
        Assert.Equal(0x00000002u, b.R(N.Ral0) & 0xffff);             // 02:00 first on the wire
        Assert.Equal(0x0100u | N.RahValid, b.R(N.Rah0));               // ...:00:01, address valid
        b.W(N.Eims, 0xffff);
        Assert.Equal(0xffffu, b.R(N.Eims));
        b.W(N.Eimc, 0x00ff);
        Assert.Equal(0xff00u, b.R(N.Eims));
        b.W(N.Rdlen0, 4096);
        b.W(N.Ctrl, N.CtrlRst);
        Assert.Equal(0u, b.R(N.Ctrl) & N.CtrlRst);                     // self-clearing
        Assert.Equal(0u, b.R(N.Eims));
        Assert.Equal(0u, b.R(N.Rdlen0));
        Assert.Equal(N.RahValid, b.R(N.Rah0) & N.RahValid);
        // EICS sets causes; EICR reads them and clears; write 1 clears.
        b.W(N.Eics, 0x5);
        Assert.Equal(0x5u, b.R(N.Eicr));
        Assert.Equal(0u, b.R(N.Eicr));
        b.W(N.Eics, 0x3);
        b.W(N.Eicr, 0x1);
        Assert.Equal(0x2u, b.R(N.Eicr));
        // TDLEN keeps multiples of 128 bytes; master disable clears STATUS.GIO master enable.
        b.W(N.Tdlen0, 1000);
        Assert.Equal(896u, b.R(N.Tdlen0));
        b.W(N.Ctrl, N.CtrlMasterDisable);
        Assert.Equal(0u, b.R(N.DeviceStatus) & N.MasterEnableStatus);
    }

    [Fact]
    public void TransmitRingSendsFramesWritesBackAndWrapsAround()
    {
        var peer = new SinkPeer();
        var b = new NicBench(peer);
        const uint count = 8;
        b.SetUpTx(0, NicBench.TxRing, count);
        var sent = new List<byte[]>();
        uint tail = 0;
        for (int round = 0; round < 5; round++)
        {
            for (int i = 0; i < 5; i++)
            {
                int seq = round * 5 + i;
                ulong buf = NicBench.TxBuffers + (ulong)seq * 2048;
                int n = b.PutFrame(buf, 100 + 55 * seq, seq);
                var frame = new byte[n];
                b.Machine.Memory.ReadBytes(buf, frame);
                sent.Add(frame);
                // Two descriptors per odd frame (a split buffer), one otherwise; RS on the last.
                if (seq % 2 == 1)
                {
                    b.TxDescriptor(NicBench.TxRing, tail, buf, 20, 0);
                    tail = (tail + 1) % count;
                    b.TxDescriptor(NicBench.TxRing, tail, buf + 20, n - 20, N.TxCmdEop | N.TxCmdIfcs | N.TxCmdRs);
                }
                else b.TxDescriptor(NicBench.TxRing, tail, buf, n, N.TxCmdEop | N.TxCmdIfcs | N.TxCmdRs);
                tail = (tail + 1) % count;
                b.W(N.Tdt0, tail);
                b.Advance(200_000);
            }
            Assert.Equal(tail, b.R(N.Tdh0));
        }
        Assert.Equal(25, peer.FramesHeard);
        Assert.Equal(0, peer.BadFrames);
        Assert.Equal(25u, b.R(N.Gptc));
        Assert.Equal(0u, b.R(N.Gptc));                                 // clear on read
        long octets = sent.Sum(f => (long)f.Length + 4);
        Assert.Equal((uint)octets, b.R(N.Gotcl));
        Assert.Equal(0u, b.R(N.Gotch));
        Assert.Equal(0u, b.R(N.Gotcl));                                // cleared by the GOTCH read
        // DD is written back in the status byte of the descriptors with RS.
        byte sta = (byte)b.Machine.Memory.Read(NicBench.TxRing + ((tail + count - 1) % count) * 16 + 12, 1);
        Assert.Equal(N.TxStaDd, sta & N.TxStaDd);
    }

    [Fact]
    public void TransmitIsPacedAtTenGigabitLineRate()
    {
        foreach (int bytes in new[] { 60, 1514 })
        {
            var peer = new SinkPeer();
            var b = new NicBench(peer);
            const uint count = 512;
            b.SetUpTx(0, NicBench.TxRing, count);
            int n = b.PutFrame(NicBench.TxBuffers, bytes, 0);
            for (uint i = 0; i < count - 1; i++) b.TxDescriptor(NicBench.TxRing, i, NicBench.TxBuffers, n, N.TxCmdEop | N.TxCmdRs);
            long start = b.Now;
            b.W(N.Tdt0, count - 1);
            b.Advance(b.Hz / 100);
            Assert.Equal(count - 1, peer.FramesHeard);
            // 10 Gb/s: (frame + CRC + preamble + gap) x 8 bits per frame; 14.88 Mpps at 64 bytes, 812.7 Kpps at 1518.
            double seconds = (double)(peer.LastHeard - start) / b.Hz;
            double pps = peer.FramesHeard / seconds;
            double line = 10e9 / ((bytes + N.WireOverhead) * 8);
            Assert.InRange(pps, line * 0.995, line * 1.0001);
            Assert.Equal(b.Nic.WireCycles(bytes), (peer.LastHeard - peer.FirstHeard) / (peer.FramesHeard - 1));
        }
    }

    [Fact]
    public void ReceiveRingFillsBuffersWritesBackDropsWhenFullAndWraps()
    {
        var gen = new GeneratorPeer { FrameBytes = 300, Count = 40, Start = 10_000, PacketsPerSecond = 1_000_000 };
        var b = new NicBench(gen);
        const uint count = 8;
        b.SetUpRx(0, NicBench.RxRing, count, NicBench.RxBuffers);
        uint next = 0;
        long seen = 0;
        // The driver takes every written-back descriptor each 3 us and gives it back; 40 frames at 1 Mpps.
        for (int step = 0; step < 40; step++)
        {
            b.Advance(b.Hz * 3 / 1_000_000);
            while (true)
            {
                ulong d = NicBench.RxRing + next * 16;
                byte status = (byte)b.Machine.Memory.Read(d + 12, 1);
                if ((status & N.RxStaDd) == 0) break;
                Assert.Equal(N.RxStaDd | N.RxStaEop, status);
                int length = (int)b.Machine.Memory.Read(d + 8, 2);
                Assert.Equal(300, length);
                var frame = new byte[length];
                b.Machine.Memory.ReadBytes(NicBench.RxBuffers + next * 2048, frame);
                Assert.Equal(Frames.Kind.Udp, Frames.Parse(frame, out var udp));
                Assert.Equal(seen, BinaryPrimitives.ReadInt64LittleEndian(frame.AsSpan(udp.PayloadOffset)));
                seen++;
                b.PostRx(NicBench.RxRing, next, NicBench.RxBuffers + next * 2048);
                b.W(N.Rdt0, next);
                next = (next + 1) % count;
            }
        }
        Assert.Equal(40, seen);
        Assert.Equal(40u, b.R(N.Gprc));
        Assert.Equal(0u, b.R(N.Mpc0));
        // Nobody takes descriptors: 7 are free (RDT one behind RDH), the rest are missed.
        var gen2 = new GeneratorPeer { FrameBytes = 300, Count = 20, Start = 10_000 };
        var c = new NicBench(gen2);
        c.SetUpRx(0, NicBench.RxRing, count, NicBench.RxBuffers);
        c.Advance(c.Hz / 1000);
        Assert.Equal(7u, c.R(N.Gprc));
        Assert.Equal(13u, c.R(N.Mpc0));
        Assert.Equal(13u, c.R(N.Qprdc0));
        Assert.Equal(7u, c.R(N.Rdh0));
    }

    [Fact]
    public void MacFilterDropsOtherDestinationsUnlessPromiscuous()
    {
        var gen = new GeneratorPeer { FrameBytes = 100, Count = 3, Start = 10_000, DestinationMac = 0x02aabbccddee };
        var b = new NicBench(gen);
        b.SetUpRx(0, NicBench.RxRing, 8, NicBench.RxBuffers);
        b.Advance(100_000);
        Assert.Equal(0u, b.R(N.Gprc));
        Assert.Equal(3, b.Nic.FilteredFrames);
        var gen2 = new GeneratorPeer { FrameBytes = 100, Count = 3, Start = 10_000, DestinationMac = 0x02aabbccddee };
        var c = new NicBench(gen2);
        c.W(N.Fctrl, N.FctrlUpe);
        c.SetUpRx(0, NicBench.RxRing, 8, NicBench.RxBuffers);
        c.Advance(100_000);
        Assert.Equal(3u, c.R(N.Gprc));
    }

    [Fact]
    public void ToeplitzHashMatchesTheRssSpecificationVectors()
    {
        // Microsoft's RSS verification suite: the default key, IPv4 with and without ports.
        byte[] key = Convert.FromHexString("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa");
        byte[] withPorts = [66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6];
        Assert.Equal(0x51ccc178u, N.Toeplitz(key, withPorts));
        Assert.Equal(0x323e8fc2u, N.Toeplitz(key, withPorts.AsSpan(0, 8)));
        byte[] second = [199, 92, 111, 2, 65, 69, 140, 83, 0x37, 0x96, 0x12, 0x83];
        Assert.Equal(0xc626b0eau, N.Toeplitz(key, second));
        Assert.Equal(0xd718262au, N.Toeplitz(key, second.AsSpan(0, 8)));
    }

    [Fact]
    public void RssSpreadsFlowsOverQueuesByTheRedirectionTable()
    {
        var gen = new GeneratorPeer { FrameBytes = 100, Count = 64, Flows = 16, Start = 10_000, PacketsPerSecond = 1_000_000 };
        var b = new NicBench(gen);
        byte[] key = Convert.FromHexString("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa");
        for (int i = 0; i < 10; i++) b.W(N.Rssrk0 + 4 * i, BinaryPrimitives.ReadUInt32LittleEndian(key.AsSpan(4 * i)));
        for (int i = 0; i < 32; i++) b.W(N.Reta0 + 4 * i, 0x03020100); // entry e -> queue e % 4
        b.W(N.Mrqc, 1);
        for (int q = 0; q < 4; q++) b.SetUpRx(q, NicBench.RxRing + (ulong)q * 0x1000, 32, NicBench.RxBuffers + (ulong)q * 0x10000);
        b.Advance(b.Hz / 10_000);
        var expected = new uint[4];
        for (int s = 0; s < 64; s++)
        {
            byte[] input = [10, 0, 0, 1, 10, 0, 0, 2, 0, 0, 0, 9];
            BinaryPrimitives.WriteUInt16BigEndian(input.AsSpan(8), (ushort)(10000 + s % 16));
            expected[N.Toeplitz(key, input) & 0x7f & 3]++;
        }
        var got = new uint[4];
        for (int q = 0; q < 4; q++) got[q] = b.R(N.Qprc0 + q * N.RxQueueStride);
        Assert.Equal(expected, got);
        Assert.True(got.Count(x => x > 0) >= 3, string.Join(",", got));
    }

    [Fact]
    public void MsixMessagesFollowIvarMaskAndThrottling()
    {
        // Line-rate 1514-byte frames (1.23 us apart) into queue 0, whose cause goes to MSI-X vector 2.
        var gen = new GeneratorPeer { FrameBytes = 1514, Start = 10_000 };
        var b = new NicBench(gen);
        b.SetUpRx(0, NicBench.RxRing, 512, NicBench.RxBuffers);
        b.Msix(2, 0x41);
        b.Ivar(0, 2);
        b.W(N.Eiac, 1u << 2);
        b.W(N.Eims, 1u << 2);
        // Without throttling every frame interrupts (EIAC clears the cause; the mask stays).
        b.Advance(b.Hz / 50_000);                         // 20 us: 12 frames after the first at 10,000 cycles
        long frames = b.Nic.FramesReceived;
        Assert.Equal((b.Now - 10_000) / b.Nic.WireCycles(1514), frames);
        Assert.Equal(frames, b.Nic.InterruptsSent);
        Assert.Equal(frames, b.Machine.Apics[0].InterruptsRaised);     // each message reached the APIC
        Assert.Equal(0x41, b.Machine.Apics[0].PendingVector());
        // EITR: one message per interval at most.
        b.W(N.Eitr0 + 4 * 2, 10 << 3);                   // 10 x 2.048 us = 20.48 us
        long sent0 = b.Nic.InterruptsSent, t0 = b.Now;
        b.Advance(b.Hz / 2000);                           // 0.5 ms (the 511 free descriptors last 0.63 ms)
        long messages = b.Nic.InterruptsSent - sent0;
        Assert.InRange(messages, 24, 25);                // 500 / 20.48
        Assert.Equal(0u, b.R(N.Mpc0));
        Assert.True(b.Nic.FramesReceived - frames > 400); // the frames keep coming; only interrupts are moderated
        b.W(N.Rdt0, (b.R(N.Rdh0) + 511) % 512);         // the driver gives all descriptors back
        // A masked vector (EIMC) sends nothing; unmasking with a cause pending sends at once.
        b.W(N.Eimc, 1u << 2);
        long before = b.Nic.InterruptsSent;
        b.Advance(b.Hz / 10_000);
        Assert.Equal(before, b.Nic.InterruptsSent);
        b.W(N.Eims, 1u << 2);
        Assert.Equal(before + 1, b.Nic.InterruptsSent);
        // A masked MSI-X table entry sets its PBA bit; clearing the entry's mask sends the message.
        b.W(N.Eitr0 + 4 * 2, 0);
        b.Machine.Memory.Write(b.Bar4 + 2 * 16 + 12, 4, 1, b.Cpu);
        b.Advance(b.Hz / 100_000);
        Assert.Equal(1u << 2, (uint)b.Machine.Memory.Read(b.Bar4 + 0x2000, 4, b.Cpu) & (1u << 2));
        long pending = b.Nic.InterruptsSent;
        b.Machine.Memory.Write(b.Bar4 + 2 * 16 + 12, 4, 0, b.Cpu);
        Assert.Equal(pending + 1, b.Nic.InterruptsSent);
        Assert.Equal(0u, (uint)b.Machine.Memory.Read(b.Bar4 + 0x2000, 4, b.Cpu) & (1u << 2));
        _ = t0;
    }

    [Fact]
    public void EchoPeerAnswersEachDatagramWithValidChecksums()
    {
        var echo = new EchoPeer { TurnaroundCycles = 1000 };
        var b = new NicBench(echo);
        b.SetUpTx(0, NicBench.TxRing, 16);
        b.SetUpRx(0, NicBench.RxRing, 16, NicBench.RxBuffers);
        for (uint i = 0; i < 5; i++)
        {
            int n = b.PutFrame(NicBench.TxBuffers + i * 2048, 200, i, (ushort)(5000 + i));
            b.TxDescriptor(NicBench.TxRing, i, NicBench.TxBuffers + i * 2048, n, N.TxCmdEop | N.TxCmdRs);
        }
        b.W(N.Tdt0, 5);
        b.Advance(b.Hz / 10_000);
        Assert.Equal(5, echo.Echoed);
        Assert.Equal(5u, b.R(N.Gprc));
        for (uint i = 0; i < 5; i++)
        {
            var frame = new byte[(int)b.Machine.Memory.Read(NicBench.RxRing + i * 16 + 8, 2)];
            b.Machine.Memory.ReadBytes(NicBench.RxBuffers + i * 2048, frame);
            Assert.Equal(Frames.Kind.Udp, Frames.Parse(frame, out var udp));
            Assert.Equal((ushort)(5000 + i), udp.DstPort);
            Assert.Equal(NetworkPeer.MachineIp, udp.DstIp);
            Assert.Equal((long)i, BinaryPrimitives.ReadInt64LittleEndian(frame.AsSpan(udp.PayloadOffset)));
        }
    }

    [Fact]
    public void TransmitChecksumInsertionIsRightAndBadChecksumsAreCaught()
    {
        var peer = new SinkPeer();
        var b = new NicBench(peer);
        b.SetUpTx(0, NicBench.TxRing, 8);
        int n = b.PutFrame(NicBench.TxBuffers, 200, 1);
        // Corrupt the IPv4 header checksum, then let the NIC insert it (legacy IC: CSS 14, CSO 24).
        b.Machine.Memory.Write(NicBench.TxBuffers + 24, 2, 0x1234);
        b.TxDescriptor(NicBench.TxRing, 0, NicBench.TxBuffers, n, N.TxCmdEop | N.TxCmdRs, cso: 0, css: 0);
        b.W(N.Tdt0, 1);
        b.Advance(50_000);
        Assert.Equal(1, peer.BadFrames);
        // A driver's offload: the UDP checksum field seeded with the pseudo-header sum, IC from the UDP header (CSS 34, CSO 40).
        ulong second = NicBench.TxBuffers + 0x1000;
        n = b.PutFrame(second, 300, 2);
        int udpLength = 300 - 34;
        uint src = NetworkPeer.MachineIp, dst = NetworkPeer.DefaultIp;
        uint sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 17 + (uint)udpLength;
        while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
        b.Machine.Memory.Write(second + 40, 2, BinaryPrimitives.ReverseEndianness((ushort)sum));
        b.TxDescriptor(NicBench.TxRing, 1, second, n, N.TxCmdEop | N.TxCmdIc | N.TxCmdRs, cso: 40, css: 34);
        b.W(N.Tdt0, 2);
        b.Advance(50_000);
        // And the same frame with a wrong seed is caught by the peer.
        b.Machine.Memory.Write(second + 40, 2, 0x1111);
        b.TxDescriptor(NicBench.TxRing, 2, second, n, N.TxCmdEop | N.TxCmdIc | N.TxCmdRs, cso: 40, css: 34);
        b.W(N.Tdt0, 3);
        b.Advance(50_000);
        Assert.Equal(3, peer.FramesHeard);
        Assert.Equal(1, peer.UdpHeard);   // the offloaded checksum is right
        Assert.Equal(2, peer.BadFrames);  // the corrupt header and the wrong seed
    }

    [Fact]
    public void AdvancedDescriptorsAreSkippedAndCountedNotSentWrong()
    {
        var peer = new SinkPeer();
        var b = new NicBench(peer);
        b.SetUpTx(0, NicBench.TxRing, 8);
        int n = b.PutFrame(NicBench.TxBuffers, 200, 1);
        b.TxDescriptor(NicBench.TxRing, 0, NicBench.TxBuffers, n, N.TxCmdEop | N.TxCmdRs | N.TxCmdDext);
        b.W(N.Tdt0, 1);
        b.Advance(50_000);
        Assert.Equal(0, peer.FramesHeard);
        Assert.Equal(1, b.Nic.UnsupportedDescriptors);
        Assert.Equal(1u, b.R(N.Tdh0));
    }

    [Fact]
    public void WithoutBusMasteringNothingMoves()
    {
        var peer = new SinkPeer();
        var b = new NicBench(peer);
        b.SetUpTx(0, NicBench.TxRing, 8);
        b.Nic.Function.Write(0x04, 2, PciFunction.CommandMemory);
        int n = b.PutFrame(NicBench.TxBuffers, 200, 1);
        b.TxDescriptor(NicBench.TxRing, 0, NicBench.TxBuffers, n, N.TxCmdEop | N.TxCmdRs);
        b.W(N.Tdt0, 1);
        b.Advance(50_000);
        Assert.Equal(0, peer.FramesHeard);
        b.BusMaster();
        b.W(N.Tdt0, 1);
        b.Advance(50_000);
        Assert.Equal(1, peer.FramesHeard);
    }

    [Fact]
    public void SameInputsGiveTheSameTrafficBitForBit()
    {
        (ulong, long, long) Run()
        {
            var echo = new EchoPeer { TurnaroundCycles = 777 };
            var b = new NicBench(echo);
            b.SetUpTx(0, NicBench.TxRing, 64);
            b.SetUpRx(0, NicBench.RxRing, 64, NicBench.RxBuffers);
            for (uint i = 0; i < 60; i++)
            {
                int n = b.PutFrame(NicBench.TxBuffers + i * 2048, 64 + (int)(i * 23 % 1400), i);
                b.TxDescriptor(NicBench.TxRing, i, NicBench.TxBuffers + i * 2048, n, N.TxCmdEop | N.TxCmdRs);
            }
            b.W(N.Tdt0, 60);
            b.Advance(b.Hz / 1000);
            return (echo.Digest, echo.LastHeard, b.Nic.FramesReceived);
        }
        var first = Run();
        Assert.Equal(first, Run());
        Assert.Equal(60, first.Item3);
    }
}
