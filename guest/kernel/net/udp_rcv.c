// udp_rcv.c: the UDP/IPv4 receive path, from a driver's frame to the
// datagram's checks: Ethernet type, the IPv4 header checksum, the UDP
// checksum over the RFC 768 pseudo header.  Only in the kernel's ixgbe
// configuration (build.sh), where a NIC delivers frames: received datagrams
// are counted (udp_rx), which the receive workload reports, and one receive
// socket (udp_recv, the recv system call) takes those to the port it waits on.

#include "net.h"
#include "syscall.h"
#include "x86.h"

struct udp_rx_stats udp_rx;
int (*udp_rx_poll)(int budget);

// The receive socket: the port a receiver waits on and one datagram's
// payload.  One receiver at a time (the request/response workload); the
// poll that fills it runs in that receiver's own system call.
static struct {
	uint16_t port;
	int full;
	unsigned int len;
	uint8_t data[2048];
} sock;

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
	if (sock.port != 0 && !sock.full && ((unsigned int)udp[2] << 8 | udp[3]) == sock.port) {
		sock.len = ulen - UDP_HLEN;
		memcpy(sock.data, udp + UDP_HLEN, sock.len);
		sock.full = 1;
		udp_rx.delivered++;
	}
	return 0;
bad:
	udp_rx.bad++;
	return -1;
}

// recv: the payload of the next datagram to port (0: the process's own
// source port, udp.c), at most len bytes of it; the NIC polled while none is
// there (busy polling, as netperf's UDP_RR with SO_BUSY_POLL), -ETIMEDOUT
// once RDTSC passes deadline.
long
udp_recv(struct proc *p, uint64_t ubuf, size_t len, uint16_t port, uint64_t deadline)
{
	if (udp_rx_poll == NULL)
		return -ENODEV;
	sock.port = port != 0 ? port : (uint16_t)(0x8000 | (p->pid & 0x7fff));
	while (!__atomic_load_n(&sock.full, __ATOMIC_ACQUIRE)) {
		if (udp_rx_poll(64) == 0) {
			if (rdtsc() >= deadline)
				return -ETIMEDOUT;
			pause();
		}
	}
	size_t n = sock.len < len ? sock.len : len;
	long r = copyout(p, ubuf, sock.data, n) != 0 ? -EFAULT : (long)n;
	__atomic_store_n(&sock.full, 0, __ATOMIC_RELEASE);
	return r;
}
