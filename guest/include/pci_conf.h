// pci_conf.h: PCI configuration mechanism #1 (ports 0xCF8/0xCFC; docs/PLATFORM.md), dword accesses to bus 0.
// One definition for the kernel's core/pci.c (which holds its lock around them) and the guest programs that drive
// the NIC themselves (guest/bench/nicpmd.c, guest/tests/hv/iommu.c).
#pragma once
#include <stdint.h>
#include "x86.h"

#define PCI_CONF_ADDR 0xcf8
#define PCI_CONF_DATA 0xcfc

// devfn: device << 3 | function; reg: the register's byte offset (dword aligned).
static inline uint32_t pci_conf_read32(unsigned devfn, unsigned reg)
{
	outl(PCI_CONF_ADDR, 0x80000000u | devfn << 8 | (reg & 0xfc));
	return inl(PCI_CONF_DATA);
}

static inline void pci_conf_write32(unsigned devfn, unsigned reg, uint32_t v)
{
	outl(PCI_CONF_ADDR, 0x80000000u | devfn << 8 | (reg & 0xfc));
	outl(PCI_CONF_DATA, v);
}
