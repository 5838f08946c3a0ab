// ixgbe.h: the in-kernel driver of the 82599 model (docs/NIC.md).
#pragma once
#include <stdint.h>

// Probes PCI bus 0 for an 82599, resets it and registers eth0 (down): 0, or
// -1 if there is no such device or it cannot be set up.
int ixgbe_init(void);
