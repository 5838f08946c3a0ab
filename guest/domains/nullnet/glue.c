// glue.c: the domain side of the isolated nullnet's glue (LVD.md section 4).
//
// Shadow copies: the driver works on its own struct net_device and a shadow
// sk_buff per call; only the fields a call needs cross (a projection), and
// every word from the kernel is checked before use: the skb's page must lie
// in the shared pool, data and len inside that page.

#include "lvd_driver.h"
#include "nullnet_if.h"
#include "netdev.h"

static struct net_device shadow_dev;
static int two_crossings;
extern const struct net_device_ops nullnet_ops;

void
dev_consume_skb(struct sk_buff *skb)
{
	if (two_crossings) {
		struct lvd_msg m = { { lvd_msg_word0(NN_KFN_CONSUME_SKB, 0), skb->ref } };
		lvd_upcall_raw(&m);
	}
	skb->consumed = 1;
}

long
driver_init(unsigned int ncpu)
{
	memset(&shadow_dev, 0, sizeof shadow_dev);
	memcpy(shadow_dev.name, "null0", 6);
	shadow_dev.ops = &nullnet_ops;
	return 0;
}

long
driver_call(struct lvd_msg *m)
{
	switch (lvd_msg_fn(m)) {
	case NN_OPEN:
		shadow_dev.mtu = (unsigned int)m->w[1];
		shadow_dev.stats.tx_packets = m->w[2];   // the kernel's counters so far
		shadow_dev.stats.tx_bytes = m->w[3];
		shadow_dev.stats.tx_dropped = m->w[4];
		m->w[1] = (unsigned long)shadow_dev.ops->open(&shadow_dev);
		return 0;
	case NN_STOP:
		m->w[1] = (unsigned long)shadow_dev.ops->stop(&shadow_dev);
		return 0;
	case NN_XMIT: {
		unsigned long off = m->w[2], data = m->w[3], len = m->w[4];
		if (off >= lvd_info->pool_size || (off & 4095) != 0 || data > 4096 || len > 4096 - data)
			return -LVD_EINVAL;
		struct sk_buff skb = {
			.head = (unsigned char *)lvd_info->pool + off,
			.len = (unsigned int)len,
			.protocol = (unsigned short)m->w[5],
			.ref = m->w[1],
		};
		skb.data = skb.head + data;
		two_crossings = m->w[6] == 1;
		int r = shadow_dev.ops->start_xmit(&skb, &shadow_dev);
		m->w[1] = (unsigned long)r;
		m->w[2] = shadow_dev.stats.tx_packets;
		m->w[3] = shadow_dev.stats.tx_bytes;
		m->w[4] = shadow_dev.stats.tx_dropped;
		m->w[5] = !two_crossings && skb.consumed;
		return 0;
	}
	case NN_LAST:
		memcpy(&m->w[1], nullnet_last, 48);
		m->w[7] = nullnet_last_len;
		return 0;
	}
	return -LVD_ENOSYS;
}
