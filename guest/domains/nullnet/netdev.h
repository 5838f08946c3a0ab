// netdev.h: the kernel networking structures as the isolated driver sees
// them: its shadow net_device and per-call shadow sk_buffs (glue.c).  The
// same shapes as guest/kernel/net.h, so the driver source reads like the
// in-kernel one.
#pragma once

struct sk_buff {
	unsigned char *head, *data;    // in the shared pool
	unsigned int len;
	unsigned short protocol;
	unsigned long ref;             // the kernel's reference (opaque)
	int consumed;
};

struct net_device_stats {
	unsigned long tx_packets, tx_bytes, tx_dropped;
};

struct net_device;
struct net_device_ops {
	int (*open)(struct net_device *dev);
	int (*stop)(struct net_device *dev);
	int (*start_xmit)(struct sk_buff *skb, struct net_device *dev);
};
#define NETDEV_TX_OK 0

struct net_device {
	char name[16];
	const struct net_device_ops *ops;
	struct net_device_stats stats;
	unsigned int mtu;
};

void dev_consume_skb(struct sk_buff *skb);   // glue.c: the kernel frees it

extern unsigned char nullnet_last[64];
extern unsigned int nullnet_last_len;
