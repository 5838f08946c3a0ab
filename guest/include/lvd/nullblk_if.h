// nullblk_if.h: what the isolated nullblk's two sides agree on beyond
// idl/blk_mq.idl, whose generated glue carries every call (the kernel side is
// guest/kernel/lvd/lvd_drivers.c and lvd_nullblk_glue.c, the domain side glue.c).
#pragma once
#include <lvd/domain.h>

// Generated function ids start at 1; on the trampolines they are offset past
// the ids every domain and the kernel serve themselves (lvd/domain.h).
#define NB_FN_BASE  LVD_FN_USER     // kernel -> domain
#define NB_KFN_BASE LVD_KFN_USER    // domain -> kernel

#define NB_MAX_QUEUES 64
