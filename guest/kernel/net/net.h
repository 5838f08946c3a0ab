// net.h: the networking skeleton, shaped like Linux's: sk_buff (skbuff.c),
// net_device with its ops and stats (netdev.c), the UDP/IPv4 send path
// (udp.c).  The structures a driver sees are linux/netdevice.h's
// (guest/include), shared with the drivers wherever they run.
#pragma once
#include "kernel.h"
#include <linux/netdevice.h>

struct sk_buff *alloc_skb(unsigned int size);
void kfree_skb(struct sk_buff *skb);
void skb_reserve(struct sk_buff *skb, unsigned int n);   // empty skb: move data forward
void *skb_put(struct sk_buff *skb, unsigned int n);      // grow at the tail
void *skb_push(struct sk_buff *skb, unsigned int n);     // grow at the head
// consume_skb (linux/netdevice.h) is kfree_skb: Linux tells them apart only
// for the drop tracepoint.

// netdev.c
int register_netdev(struct net_device *dev);
int dev_open(struct net_device *dev);
int dev_close(struct net_device *dev);
int dev_queue_xmit(struct sk_buff *skb);
struct net_device *dev_default(void);   // the route for every destination: the first up device
struct net_device *dev_get_by_name(const char *name);   // NULL if none registered
struct net_device_stats dev_get_stats(struct net_device *dev);

// csum.c: the RFC 1071 sum of n bytes added to sum, folded to 16 bits, not complemented
uint32_t csum_add(uint32_t sum, const void *p, size_t n);

// udp.c
#define IP_HLEN  20
#define UDP_HLEN 8
long udp_send(struct proc *p, uint64_t ubuf, size_t len, uint32_t daddr, uint16_t dport);
uint16_t ip_checksum(const void *p, size_t n);
uint16_t udp_checksum(uint32_t saddr, uint32_t daddr, const void *udp, size_t n);

#ifdef CONFIG_IXGBE
// udp_rcv.c (the ixgbe configuration): the receive path's checks and counts.
struct udp_rx_stats {
	uint64_t datagrams, bytes, bad;
	uint64_t delivered;   // to the receive socket (udp_recv)
};
extern struct udp_rx_stats udp_rx;
int udp_rcv(const uint8_t *frame, unsigned int len);
// The NIC's receive poll (NAPI's, with a budget): the in-kernel driver's
// (main.c) or the isolated one's (lvd_ixgbe.c); what udp_recv polls.
extern int (*udp_rx_poll)(int budget);
long udp_recv(struct proc *p, uint64_t ubuf, size_t len, uint16_t port, uint64_t deadline);
// napi.c: the NIC's receive interrupt (T_NIC) wakes the thread that polls.
void napi_irq(void);
void napi_wait(void);          // until the next interrupt since the last wait
extern volatile uint64_t napi_irqs;
#endif
