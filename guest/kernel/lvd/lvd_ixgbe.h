// lvd_ixgbe.h: between the two halves of the isolated ixgbe's kernel side (the
// kernel's ixgbe configuration).  lvd_ixgbe.c works with the kernel's own
// sk_buff and net_device (net.h); lvd_ixgbe_glue.c with the generated glue of
// idl/ixgbe.idl, whose structs of the same names are the interface's
// shadows, so the two never share a translation unit (as lvd_nullnet.h).
#pragma once
#include <stdint.h>

struct lvd_msg;
struct lvd_domain;

// lvd_ixgbe_glue.c
int ix_glue_init(uint8_t *pool, uint64_t pool_size, int ncpu);
int ix_glue_upcall(int cpu, struct lvd_msg *m);           // the domain's calls; a status
int ix_glue_registered(char name[16], uint32_t *mtu);    // 0 once the driver registered
int ix_glue_open(int cpu);                                // the driver's ndo_open result, or a status
int ix_glue_stop(int cpu);
// The packet [data, data + len) is copied into the CPU's staging page of the pool.
int ix_glue_xmit(int cpu, const void *data, uint32_t len, uint64_t *tx_packets, uint64_t *tx_bytes);
int ix_glue_rx_start(int cpu);
int ix_glue_rx_poll(int cpu, int budget);                 // frames delivered (0..budget), or a status
int ix_glue_rx_missed(int cpu, uint64_t *missed);
int ix_glue_rx_msix(int cpu);                             // the driver's MSI-X set-up (it asks for the table entry)
int ix_glue_rx_irq_enable(int cpu);
// Restart: drop what the dead instance held; replay ndo_open and rx_start if they were made.
void ix_glue_reset(void);
int ix_glue_replay(int cpu);

// lvd_ixgbe.c
int ix_to_domain(struct lvd_msg *m);                      // the kernel's transport
int ix_deliver(const uint8_t *frame, unsigned int len);   // a received frame: udp_rcv
int ix_msix_vector(uint32_t entry);                       // the driver asks for a table entry: the kernel's T_NIC
void lvd_isolate_ixgbe(void);                             // isolate=ixgbe (lvd_drivers.c)
struct lvd_domain *lvd_ixgbe_domain(void);                // NULL unless isolated
// The receive workload's driver calls (workload.c), through the domain.
void lvd_ixgbe_rx_start(void);
int lvd_ixgbe_poll(int budget);
uint64_t lvd_ixgbe_rx_missed(void);
int lvd_ixgbe_rx_msix(void);        // NAPI on the kernel's vector (T_NIC, this CPU): 0, or -1
void lvd_ixgbe_irq_enable(void);
