// linux/netdevice.h: the network device API, shaped like Linux's, that a
// driver is written against (guest/drivers/nullnet): sk_buff, net_device and
// its ops and statistics, register_netdev, consume_skb.  One definition for
// both places a driver runs (docs/DOMAINS.md): built into the kernel, where
// the kernel's networking (guest/kernel/net) implements it, or into an LVD
// domain (LVD_DOMAIN, guest/flags), where the domain glue implements it over
// the glue generated from idl/net_device.idl.
//
// As in Linux, some members depend on the configuration: the kernel's own
// bookkeeping (transmit queue, locks, address) exists only in the kernel; a
// domain's copy carries instead the fields the IDL names that the kernel
// keeps elsewhere (LVD_STRUCT_* below tells the generated glue header not to
// define its own structs).  The driver touches only the common members.
#pragma once
#include <stddef.h>
#include <stdint.h>
#ifndef LVD_DOMAIN
#include "kernel.h"   // struct spinlock
#endif

struct net_device;

// A packet buffer: one page, the packet in [data, data + len).  Headers
// are prepended (skb_push) in front of data, so each layer reserves room
// for the ones below it (skb_reserve) instead of copying the payload.
// In a domain head and data point into the shared packet pool.
struct sk_buff {
	unsigned char *head;       // start of the page
	unsigned char *data;       // first byte of the packet
	unsigned int len;          // bytes from data
#ifdef LVD_DOMAIN
	uint16_t protocol;         // idl/net_device.idl's (skb_xmit)
	uint32_t queue_mapping;
#else
	unsigned int size;         // bytes from head (PGSIZE)
#endif
	struct net_device *dev;
#ifndef LVD_DOMAIN
	struct sk_buff *next;      // in a device's transmit queue
#endif
};

struct net_device_stats {
	uint64_t tx_packets, tx_bytes, tx_dropped;
};

typedef int netdev_tx_t;
#define NETDEV_TX_OK 0

struct net_device_ops {
	int (*ndo_open)(struct net_device *dev);
	int (*ndo_stop)(struct net_device *dev);
	// Takes the skb in every case (frees or queues it); returns NETDEV_TX_OK.
	// Called with tx_lock held, by the sender that runs the transmit queue.
	netdev_tx_t (*ndo_start_xmit)(struct sk_buff *skb, struct net_device *dev);
};

struct net_device {
	char name[16];
	const struct net_device_ops *netdev_ops;
	// Written by the driver, under tx_lock; the glue's projection names the
	// same words (tx_packets, tx_bytes).
	union {
		struct net_device_stats stats;
		struct {
			uint64_t tx_packets, tx_bytes, tx_dropped;
		};
	};
	unsigned int mtu;
#ifdef LVD_DOMAIN
	unsigned int tx_queue_len;       // what the driver asks for; the kernel's queue keeps its own (below)
	// idl/net_device.idl's: flags (NN_IFF_*, lvd/nullnet_if.h) set by the
	// kernel before ndo_open, the state open/stop report back.
	uint64_t flags;
	uint64_t features;
	uint64_t state;
#else
	uint32_t ip_addr;                // host order; the one address of the device
	int up;
	struct spinlock tx_lock;         // serializes ndo_start_xmit (Linux: the queue's xmit lock)
	struct net_device *next;

	// The transmit queue (Linux: the root qdisc, here a FIFO), netdev.c.
	// Guarded by txq_lock, never held together with tx_lock.  The sender
	// that finds the queue idle marks it running and drains it into
	// ndo_start_xmit (qdisc_run); senders arriving meanwhile only enqueue.
	struct spinlock txq_lock;
	struct sk_buff *txq_head, *txq_tail;
	unsigned int txq_len;
	unsigned int tx_queue_len;       // limit (0 at registration: 64, well inside the packet pool); senders wait beyond it
	int txq_running;                 // a sender is draining the queue
	uint64_t txq_bypassed;           // sent without queuing (queue idle and empty), for the stats
	uint64_t txq_enqueued;           // left queued for the running sender
#endif
};
#define LVD_STRUCT_SK_BUFF
#define LVD_STRUCT_NET_DEVICE

int register_netdev(struct net_device *dev);   // 0 or a negative error
void consume_skb(struct sk_buff *skb);         // the driver is done with the packet
void *(memcpy)(void *d, const void *s, size_t n);   // (not lvd_glue.h's macro)
