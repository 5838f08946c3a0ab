// netdev.h: the kernel networking API as the isolated driver sees it, shaped
// like Linux's (and guest/kernel/net/net.h) so that the driver source reads like
// an in-kernel one.  glue.c implements it over the glue generated from
// idl/net_device.idl: these are the structs that glue shares, so they carry
// every field the IDL names (LVD_STRUCT_* below tells the generated header
// not to define its own).
#pragma once
#include <stdint.h>

struct net_device;

struct sk_buff {
	uint32_t len;
	uint16_t protocol;
	uint32_t queue_mapping;
	unsigned char *head, *data;    // in the shared pool
	struct net_device *dev;
};
#define LVD_STRUCT_SK_BUFF

struct net_device_stats {
	uint64_t tx_packets, tx_bytes, tx_dropped;
};

typedef int netdev_tx_t;
#define NETDEV_TX_OK 0

struct net_device_ops {
	int (*ndo_open)(struct net_device *dev);
	int (*ndo_stop)(struct net_device *dev);
	netdev_tx_t (*ndo_start_xmit)(struct sk_buff *skb, struct net_device *dev);
};

struct net_device {
	char name[16];
	uint64_t flags;
	uint64_t features;
	uint64_t state;
	uint32_t mtu;
	const struct net_device_ops *netdev_ops;
	// The driver counts in stats; the glue's projection names the same words.
	union {
		struct net_device_stats stats;
		struct {
			uint64_t tx_packets, tx_bytes, tx_dropped;
		};
	};
};
#define LVD_STRUCT_NET_DEVICE

int register_netdev(struct net_device *dev);   // 0 or a negative error
void consume_skb(struct sk_buff *skb);         // the driver is done with the packet

int nullnet_init(void);                        // the driver's module init (nullnet.c)
