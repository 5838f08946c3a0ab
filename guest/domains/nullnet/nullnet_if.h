// nullnet_if.h: the isolated nullnet's interface (function ids and message
// words), shared by the kernel glue (guest/kernel/lvd_net.c) and the
// domain glue (glue.c).  Hand-written in the shape idl/net_device.idl
// describes: the skb crosses as the kernel's reference plus the offset of its
// page in the shared pool; statistics come back as a projection.
#pragma once
#include <lvd/domain.h>

enum {
	NN_OPEN = LVD_FN_USER,  // w1 = mtu; reply w1 = 0
	NN_STOP,
	// w1 = skb reference, w2 = offset of skb->head in the pool, w3 = data - head,
	// w4 = len, w5 = protocol, w6 = 1: the domain calls consume_skb (two crossings)
	// reply w1 = NETDEV_TX_OK, w2 = tx_packets, w3 = tx_bytes, w4 = tx_dropped,
	//       w5 = 1 if the kernel must free the skb (one crossing)
	NN_XMIT,
	NN_LAST,                // reply w1..w6: the first 48 bytes of the last packet, w7 = its length
};

enum {
	NN_KFN_CONSUME_SKB = LVD_KFN_USER,   // w1 = skb reference
};
