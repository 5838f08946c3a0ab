// udp.c: the UDP/IPv4 send path, from a user buffer to a device.
//
// One routing decision (the first up device, dev_default), no ARP and no
// link-layer header: nullnet takes IP packets.  The payload is copied once,
// from the user's pages into the skb; the headers are then pushed in front
// of it, UDP first, IP last, each layer filling only its own.

#include "net.h"
#include "syscall.h"

struct iphdr {
	uint8_t ver_ihl, tos;
	uint16_t tot_len, id, frag_off;
	uint8_t ttl, protocol;
	uint16_t check;
	uint32_t saddr, daddr;
} __attribute__((packed));

struct udphdr {
	uint16_t source, dest, len, check;
} __attribute__((packed));

_Static_assert(sizeof(struct iphdr) == IP_HLEN, "iphdr");
_Static_assert(sizeof(struct udphdr) == UDP_HLEN, "udphdr");

#define IPPROTO_UDP 17
#define IP_DF       0x4000    // never fragmented: we refuse datagrams over the MTU
#define htons(x) __builtin_bswap16((uint16_t)(x))
#define htonl(x) __builtin_bswap32((uint32_t)(x))

static uint16_t ip_id;        // atomic: datagrams from all CPUs

// The checksum field value (network order in memory) for n bytes at p.
uint16_t
ip_checksum(const void *p, size_t n)
{
	return (uint16_t)~csum_add(0, p, n);
}

// The UDP checksum field for a datagram (header with check = 0, and
// payload) of n bytes: over the RFC 768 pseudo header (addresses,
// protocol, length) too.  A datagram that carries it sums to 0 again,
// which is how a receiver (and the self test) checks it.
uint16_t
udp_checksum(uint32_t saddr, uint32_t daddr, const void *udp, size_t n)
{
	uint32_t pseudo[3] = { htonl(saddr), htonl(daddr), htons(IPPROTO_UDP) << 16 | htons(n) };
	uint16_t c = (uint16_t)~csum_add(csum_add(0, pseudo, sizeof pseudo), udp, n);
	return c ? c : 0xffff;   // 0 means "no checksum" in UDP over IPv4
}

long
udp_send(struct proc *p, uint64_t ubuf, size_t len, uint32_t daddr, uint16_t dport)
{
	struct net_device *dev = dev_default();

	if (dev == NULL)
		return -ENETDOWN;
	if (len > dev->mtu - IP_HLEN - UDP_HLEN)
		return -EMSGSIZE;
	struct sk_buff *skb = alloc_skb(IP_HLEN + UDP_HLEN + len);
	if (skb == NULL)
		return -ENOMEM;
	skb_reserve(skb, IP_HLEN + UDP_HLEN);
	if (copyin(p, skb_put(skb, len), ubuf, len) != 0) {
		kfree_skb(skb);
		return -EFAULT;
	}

	uint32_t saddr = dev->ip_addr;
	struct udphdr *uh = skb_push(skb, UDP_HLEN);
	uh->source = htons(0x8000 | (p->pid & 0x7fff));   // one port per process
	uh->dest = htons(dport);
	uh->len = htons(UDP_HLEN + len);
	uh->check = 0;
	uh->check = udp_checksum(saddr, daddr, uh, skb->len);

	struct iphdr *iph = skb_push(skb, IP_HLEN);
	*iph = (struct iphdr){
		.ver_ihl = 0x45, .tot_len = htons(skb->len),
		.id = htons(__atomic_fetch_add(&ip_id, 1, __ATOMIC_RELAXED)),
		.frag_off = htons(IP_DF), .ttl = 64, .protocol = IPPROTO_UDP,
		.saddr = htonl(saddr), .daddr = htonl(daddr),
	};
	iph->check = ip_checksum(iph, IP_HLEN);

	skb->dev = dev;
	if (dev_queue_xmit(skb) != 0)
		return -ENETDOWN;
	return (long)len;
}
