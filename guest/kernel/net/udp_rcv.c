// udp_rcv.c: the UDP/IPv4 receive path, from a driver's frame to the
// datagram's checks: Ethernet type, the IPv4 header checksum, the UDP
// checksum over the RFC 768 pseudo header.  Only in the kernel's ixgbe
// configuration (build.sh), where a NIC delivers frames; no sockets yet:
// received datagrams are counted (udp_rx), which the receive workload reports.

#include "net.h"

struct udp_rx_stats udp_rx;

// 0 if `frame` (len bytes, Ethernet II) holds a well-formed UDP/IPv4
// datagram with right checksums (counted in udp_rx), -1 otherwise (counted bad).
int
udp_rcv(const uint8_t *frame, unsigned int len)
{
	const uint8_t *ip = frame + 14;
	if (len < 14 + IP_HLEN + UDP_HLEN || frame[12] != 0x08 || frame[13] != 0x00 || ip[0] != 0x45 || ip[9] != 17)
		goto bad;
	unsigned int total = (unsigned int)ip[2] << 8 | ip[3];
	if (total < IP_HLEN + UDP_HLEN || 14 + total > len || ip_checksum(ip, IP_HLEN) != 0)
		goto bad;
	const uint8_t *udp = ip + IP_HLEN;
	unsigned int ulen = (unsigned int)udp[4] << 8 | udp[5];
	if (ulen < UDP_HLEN || ulen > total - IP_HLEN)
		goto bad;
	uint32_t saddr = (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 | (uint32_t)ip[14] << 8 | ip[15];
	uint32_t daddr = (uint32_t)ip[16] << 24 | (uint32_t)ip[17] << 16 | (uint32_t)ip[18] << 8 | ip[19];
	// A datagram that carries its checksum sums to 0 again (udp_checksum of the whole is 0xffff's complement).
	if ((udp[6] | udp[7]) != 0 && udp_checksum(saddr, daddr, udp, ulen) != 0xffff)
		goto bad;
	udp_rx.datagrams++;
	udp_rx.bytes += ulen - UDP_HLEN;
	return 0;
bad:
	udp_rx.bad++;
	return -1;
}
