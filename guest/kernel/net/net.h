// net.h: the networking skeleton, shaped like Linux's so that drivers
// moved into LVD domains later see familiar structures: sk_buff (skbuff.c),
// net_device with its ops and stats (netdev.c), the UDP/IPv4 send path
// (udp.c) and nullnet, a device that drops everything (nullnet.c).
#pragma once
#include "kernel.h"

// A packet buffer: one page, the packet in [data, data + len).  Headers
// are prepended (skb_push) in front of data, so each layer reserves room
// for the ones below it (skb_reserve) instead of copying the payload.
struct sk_buff {
	unsigned char *head;       // start of the page
	unsigned char *data;       // first byte of the packet
	unsigned int len;          // bytes from data
	unsigned int size;         // bytes from head (PGSIZE)
	struct net_device *dev;
	struct sk_buff *next;      // in a device's transmit queue
};

struct sk_buff *alloc_skb(unsigned int size);
void kfree_skb(struct sk_buff *skb);
void skb_reserve(struct sk_buff *skb, unsigned int n);   // empty skb: move data forward
void *skb_put(struct sk_buff *skb, unsigned int n);      // grow at the tail
void *skb_push(struct sk_buff *skb, unsigned int n);     // grow at the head

struct net_device_stats {
	uint64_t tx_packets, tx_bytes, tx_dropped;
};

struct net_device;
struct net_device_ops {
	int (*open)(struct net_device *dev);
	int (*stop)(struct net_device *dev);
	// Takes the skb in every case (frees or queues it); returns NETDEV_TX_OK.
	// Called with tx_lock held, by the sender that runs the transmit queue.
	int (*start_xmit)(struct sk_buff *skb, struct net_device *dev);
};
#define NETDEV_TX_OK 0

struct net_device {
	char name[16];
	const struct net_device_ops *ops;
	struct net_device_stats stats;   // written by the driver, under tx_lock
	unsigned int mtu;
	uint32_t ip_addr;                // host order; the one address of the device
	int up;
	struct spinlock tx_lock;         // serializes start_xmit (Linux: the queue's xmit lock)
	struct net_device *next;

	// The transmit queue (Linux: the root qdisc, here a FIFO), netdev.c.
	// Guarded by txq_lock, never held together with tx_lock.  The sender
	// that finds the queue idle marks it running and drains it into
	// start_xmit (qdisc_run); senders arriving meanwhile only enqueue.
	struct spinlock txq_lock;
	struct sk_buff *txq_head, *txq_tail;
	unsigned int txq_len;
	unsigned int tx_queue_len;       // limit (0 at registration: 64, well inside the packet pool); senders wait beyond it
	int txq_running;                 // a sender is draining the queue
	uint64_t txq_bypassed;           // sent without queuing (queue idle and empty), for the stats
	uint64_t txq_enqueued;           // left queued for the running sender
};

// netdev.c
int register_netdev(struct net_device *dev);
int dev_open(struct net_device *dev);
int dev_close(struct net_device *dev);
int dev_queue_xmit(struct sk_buff *skb);
struct net_device *dev_default(void);   // the route for every destination: the first up device
struct net_device_stats dev_get_stats(struct net_device *dev);

// csum.c: the RFC 1071 sum of n bytes added to sum, folded to 16 bits, not complemented
uint32_t csum_add(uint32_t sum, const void *p, size_t n);

// udp.c
#define IP_HLEN  20
#define UDP_HLEN 8
long udp_send(struct proc *p, uint64_t ubuf, size_t len, uint32_t daddr, uint16_t dport);
uint16_t ip_checksum(const void *p, size_t n);
uint16_t udp_checksum(uint32_t saddr, uint32_t daddr, const void *udp, size_t n);

// nullnet.c
extern struct net_device nullnet_dev;
extern uint8_t nullnet_last[64];      // first bytes of the last packet, under tx_lock
extern unsigned int nullnet_last_len;
void nullnet_init(void);
