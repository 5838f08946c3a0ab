// lvd_nullnet.h: between the two halves of the isolated nullnet's kernel side.
// lvd_nullnet.c works with the kernel's own sk_buff and net_device (net.h);
// lvd_nullnet_glue.c with the generated glue of idl/net_device.idl, whose
// structs of the same names are the interface's shadows, so the two never
// share a translation unit and meet only through these functions.
#pragma once
#include <stdint.h>

struct lvd_msg;

// lvd_nullnet_glue.c
int nn_glue_init(uint8_t *pool, uint64_t pool_size, int ncpu);
int nn_glue_upcall(int cpu, struct lvd_msg *m);           // the domain's calls; a status
int nn_glue_registered(char name[16], uint32_t *mtu);    // 0 once the driver registered
int nn_glue_open(int cpu, uint64_t flags);                // the driver's ndo_open result, or a status
int nn_glue_stop(int cpu);
// Restart (docs/DOMAINS.md): drop everything the dead instance held (its
// device's shadow, capabilities, call-scoped shadows, handles); replay the
// recorded configuration calls (ndo_open with its flags) into the new one.
void nn_glue_reset(void);
int nn_glue_replay(int cpu);
// Leak accounting: capabilities and shadow objects the kernel side holds now.
void nn_glue_accounting(uint64_t *caps, uint64_t *shadows);
uint64_t lvd_glue_shadows_live(void);   // the kernel side's shadow objects, both drivers
// The fault injector (guest/kernel/tests/faults.c): the transport of every
// channel (nn_to_domain unless swapped).
void nn_glue_set_transport(int (*t)(struct lvd_msg *m));
// The packet is [data, data + len) in the pool; kskb is the kernel's sk_buff,
// freed (nn_free_skb) by the domain's consume_skb or after the reply.
int nn_glue_xmit(int cpu, void *kskb, void *data, uint32_t len, uint64_t *tx_packets,
		 uint64_t *tx_bytes);

// lvd_nullnet.c
void lvd_isolate_nullnet(int crossings);                // isolate=nullnet (lvd_drivers.c)
int nn_to_domain(struct lvd_msg *m);                      // the kernel's transport
void nn_free_skb(void *kskb);
void *nn_zalloc(uint64_t size);
void nn_free(void *p);
struct lvd_domain *lvd_nullnet_domain(void);            // NULL unless isolated
uint64_t lvd_nullnet_dropped(void);                      // null0's tx_dropped
