// nullnet_if.h: what the isolated nullnet's two sides agree on beyond
// idl/net_device.idl, whose generated glue carries every call (the kernel side
// is guest/kernel/lvd/lvd_nullnet*.c, the domain side glue.c).
#pragma once

// dev->flags, set by the kernel before ndo_open (the netdev_state projection).
#define NN_IFF_UP              0x1UL
// The driver's consume_skb crosses into the kernel (two crossings per packet);
// without it the domain frees its shadow skb itself and the kernel frees the
// packet after ndo_start_xmit returns (one crossing).
#define NN_IFF_CONSUME_CROSSES (1UL << 32)

// Generated function ids start at 1; on the trampolines they are offset past
// the ids every domain and the kernel serve themselves (lvd/domain.h).
#define NN_FN_BASE  LVD_FN_USER     // kernel -> domain
#define NN_KFN_BASE LVD_KFN_USER    // domain -> kernel
