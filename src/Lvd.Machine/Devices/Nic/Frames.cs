using System.Buffers.Binary;

namespace Lvd.Machine.Devices.Nic;

/// <summary>
/// Ethernet II / IPv4 / UDP frames as the peer builds and checks them (RFC 791, RFC 768): the
/// IPv4 header checksum and the UDP checksum over the pseudo-header, so traffic is verified end to end.
/// </summary>
public static class Frames
{
    public const int EthHeader = 14, IpHeader = 20, UdpHeader = 8, Headers = EthHeader + IpHeader + UdpHeader;
    /// <summary>The smallest frame without its CRC (64 bytes on the wire with it).</summary>
    public const int MinFrame = 60;
    /// <summary>The largest standard frame without its CRC (1518 with it).</summary>
    public const int MaxFrame = 1514;
    public const ushort EtherTypeIpv4 = 0x0800;
    public const byte ProtocolUdp = 17;

    /// <summary>
    /// Writes a UDP datagram of <paramref name="frameBytes"/> bytes (headers included, padded to 60) into <paramref name="f"/>; returns the
    /// length.
    /// </summary>
    public static int BuildUdp(Span<byte> f, ulong dstMac, ulong srcMac, uint srcIp, uint dstIp, ushort srcPort, ushort dstPort,
        int frameBytes, ReadOnlySpan<byte> payload)
    {
        int udpLength = UdpHeader + payload.Length;
        int length = Math.Max(MinFrame, EthHeader + IpHeader + udpLength);
        if (length > f.Length || frameBytes > f.Length) throw new ArgumentException("frame buffer too small");
        f[..length].Clear();
        PutMac(f, dstMac);
        PutMac(f[6..], srcMac);
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], EtherTypeIpv4);
        var ip = f[EthHeader..];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(IpHeader + udpLength));
        ip[8] = 64;
        ip[9] = ProtocolUdp;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], srcIp);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], dstIp);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip[..IpHeader], 0));
        var udp = ip[IpHeader..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        payload.CopyTo(udp[UdpHeader..]);
        ushort sum = Checksum(udp[..udpLength], PseudoHeader(srcIp, dstIp, udpLength));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], sum == 0 ? (ushort)0xffff : sum);
        return length;
    }

    public static ulong Mac(ReadOnlySpan<byte> at)
    {
        ulong m = 0;
        for (int i = 0; i < 6; i++) m = m << 8 | at[i];
        return m;
    }

    public static void PutMac(Span<byte> at, ulong mac)
    {
        for (int i = 0; i < 6; i++) at[i] = (byte)(mac >> (40 - 8 * i));
    }

    private static uint PseudoHeader(uint srcIp, uint dstIp, int udpLength) =>
        (srcIp >> 16) + (srcIp & 0xffff) + (dstIp >> 16) + (dstIp & 0xffff) + ProtocolUdp + (uint)udpLength;

    /// <summary>The Internet checksum (RFC 1071) of <paramref name="data"/> with <paramref name="sum"/> already added.</summary>
    public static ushort Checksum(ReadOnlySpan<byte> data, uint sum)
    {
        ulong s = sum;
        int i = 0;
        for (; i + 1 < data.Length; i += 2) s += (uint)(data[i] << 8 | data[i + 1]);
        if (i < data.Length) s += (uint)data[i] << 8;
        while (s >> 16 != 0) s = (s & 0xffff) + (s >> 16);
        return (ushort)~s;
    }

    /// <summary>What a received frame is, as the peer classifies it.</summary>
    public enum Kind { Udp, OtherIpv4, NotIpv4, BadIpChecksum, BadUdpChecksum, Truncated }

    /// <summary>Checks an IPv4/UDP frame's checksums and returns its UDP fields.</summary>
    public static Kind Parse(ReadOnlySpan<byte> f, out UdpView udp)
    {
        udp = default;
        if (f.Length < EthHeader + IpHeader) return Kind.Truncated;
        if (BinaryPrimitives.ReadUInt16BigEndian(f[12..]) != EtherTypeIpv4) return Kind.NotIpv4;
        var ip = f[EthHeader..];
        int ihl = (ip[0] & 0xf) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (ip[0] >> 4 != 4 || ihl < IpHeader || total < ihl || total > ip.Length) return Kind.Truncated;
        if (Checksum(ip[..ihl], 0) != 0) return Kind.BadIpChecksum;
        if (ip[9] != ProtocolUdp) return Kind.OtherIpv4;
        var u = ip[ihl..total];
        if (u.Length < UdpHeader) return Kind.Truncated;
        int udpLength = BinaryPrimitives.ReadUInt16BigEndian(u[4..]);
        if (udpLength < UdpHeader || udpLength > u.Length) return Kind.Truncated;
        uint src = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), dst = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        if (BinaryPrimitives.ReadUInt16BigEndian(u[6..]) != 0 && Checksum(u[..udpLength], PseudoHeader(src, dst, udpLength)) != 0)
            return Kind.BadUdpChecksum;
        udp = new UdpView(Mac(f), Mac(f[6..]), src, dst, BinaryPrimitives.ReadUInt16BigEndian(u), BinaryPrimitives.ReadUInt16BigEndian(u[2..]),
            EthHeader + ihl + UdpHeader, udpLength - UdpHeader);
        return Kind.Udp;
    }

    public readonly record struct UdpView(ulong DstMac, ulong SrcMac, uint SrcIp, uint DstIp, ushort SrcPort, ushort DstPort,
        int PayloadOffset, int PayloadLength);
}
