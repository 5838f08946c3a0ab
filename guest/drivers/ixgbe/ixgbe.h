// ixgbe.h: the in-kernel driver of the 82599 model (docs/NIC.md).
#pragma once
#include <stdint.h>

// Probes PCI bus 0 for an 82599, resets it and registers eth0 (down): 0, or
// -1 if there is no such device or it cannot be set up.
int ixgbe_init(void);

// Receive: enable the ring; poll up to `budget` frames, each handed to
// deliver (the kernel's udp_rcv); frames the NIC missed for want of a descriptor.
void ixgbe_rx_start(void);
int ixgbe_poll(int budget, int (*deliver)(const uint8_t *frame, unsigned int len));
uint64_t ixgbe_rx_missed(void);

// MSI-X for receive queue 0 (NAPI): its cause is vector 0, a message of
// `vector` to the x2APIC `apic`, auto-cleared and auto-masked when sent;
// the poll runs with it masked and ixgbe_irq_enable unmasks it.  0, or -1
// if the vector cannot be programmed (in an LVD domain the table is the kernel's).
int ixgbe_msix_rx(unsigned int vector, uint32_t apic);
void ixgbe_irq_enable(void);
