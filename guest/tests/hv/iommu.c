/*
 * iommu.c: the IOMMU hypercalls (docs/IOMMU.md) end to end, on a machine with the 82599 at
 * 00:03.0 (an echo peer on its cable) and a VT-d IOMMU, under the hypervisor.  CPL 0, identity
 * paging: a static array's address is its physical address.  The kernel's DMA domain lets the
 * NIC reach kernel memory; a domain of its own lets it reach only what is mapped there; a
 * descriptor pointing outside is blocked, reported, the device quarantined, memory unchanged.
 * Prints PASS/FAIL lines and "iommu: N passed, M failed".
 */
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <x86.h>
#include <lvd/hypercall.h>

#include "hvtest.h"

/* 82599 registers (datasheet 8.2.3) and legacy descriptors. */
#include <ixgbe_regs.h>
#include <inet_csum.h>
#include <pci_conf.h>
#define NIC_SID (3 << 3)
#define IOMMU_REGS 0xfed90000UL   /* the DMAR unit's register page (docs/IOMMU.md) */

struct desc {
	uint64_t addr;
	uint64_t word;
};

static struct desc txring[8] __attribute__((aligned(4096)));
static struct desc rxring[8] __attribute__((aligned(4096)));
static uint8_t txbuf[4096] __attribute__((aligned(4096)));
static uint8_t rxbuf[4096] __attribute__((aligned(4096)));
static uint8_t secret[4096] __attribute__((aligned(4096)));
static volatile uint32_t *nic;

static uint32_t cfg(int reg) { return pci_conf_read32(NIC_SID, (unsigned)reg); }
static void set_cfg(int reg, uint32_t v) { pci_conf_write32(NIC_SID, (unsigned)reg, v); }

static uint32_t rd(int r) { return nic[r / 4]; }
static void wr(int r, uint32_t v) { nic[r / 4] = v; }

/* A UDP datagram 10.0.0.2:4000 -> 10.0.0.1:7 (the echo peer) with a 64-byte payload; its length. */
static int udp_frame(uint8_t *f, uint8_t fill)
{
	static const uint8_t peer[6] = {2, 0, 0, 0, 0, 2}, self[6] = {2, 0, 0, 0, 0, 1};
	int payload = 64, udp = 8 + payload, ip = 20 + udp;
	memset(f, 0, 14 + ip);
	memcpy(f, peer, 6);
	memcpy(f + 6, self, 6);
	f[12] = 0x08;
	uint8_t *h = f + 14;
	h[0] = 0x45;
	h[2] = (uint8_t)(ip >> 8);
	h[3] = (uint8_t)ip;
	h[8] = 64;
	h[9] = 17;
	h[12] = 10, h[15] = 2, h[16] = 10, h[19] = 1;
	uint16_t c = inet_csum(h, 20, 0);
	h[10] = (uint8_t)(c >> 8), h[11] = (uint8_t)c;
	uint8_t *u = h + 20;
	u[0] = 4000 >> 8, u[1] = 4000 & 0xff, u[3] = 7, u[5] = (uint8_t)udp;
	for (int i = 0; i < payload; i++)
		u[8 + i] = (uint8_t)(fill + i);
	uint32_t pseudo = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + (uint32_t)udp;
	c = inet_csum(u, udp, pseudo);
	u[6] = (uint8_t)(c >> 8), u[7] = (uint8_t)c;
	return 14 + ip;
}

/* Rings at the given DMA addresses (kernel: physical; a domain: I/O virtual), one RX buffer posted. */
static void setup(uint64_t tx, uint64_t rx, uint64_t rxbuffer)
{
	wr(IXGBE_CTRL, 1u << 26); /* reset */
	memset(rxring, 0, sizeof rxring);
	rxring[0].addr = rxbuffer;
	wr(IXGBE_TDBAL0, (uint32_t)tx), wr(IXGBE_TDBAH0, (uint32_t)(tx >> 32)), wr(IXGBE_TDLEN0, sizeof txring), wr(IXGBE_TDH0, 0), wr(IXGBE_TDT0, 0);
	wr(IXGBE_TXDCTL0, IXGBE_QUEUE_ENABLE);
	wr(IXGBE_DMATXCTL, 1);
	wr(IXGBE_RDBAL0, (uint32_t)rx), wr(IXGBE_RDBAH0, (uint32_t)(rx >> 32)), wr(IXGBE_RDLEN0, sizeof rxring), wr(IXGBE_RDH0, 0);
	wr(IXGBE_RXDCTL0, IXGBE_QUEUE_ENABLE);
	wr(IXGBE_RDT0, 1);
	wr(IXGBE_RXCTRL, 1);
}

static void send(uint64_t buffer, int len)
{
	uint32_t t = rd(IXGBE_TDT0);
	txring[t].addr = buffer;
	txring[t].word = (uint64_t)(uint16_t)len | (uint64_t)(0x01 | 0x02 | 0x08) << 24; /* EOP IFCS RS */
	wr(IXGBE_TDT0, (t + 1) % 8);
}

/* Spins until the echo has had time to come back (the peer answers at once; 10 Gb/s). */
static void wait_a_little(void)
{
	for (volatile int i = 0; i < 20000; i++)
		;
}

int main(void)
{
	check("launch", lvd_launch(), 0);
	check("nic.ids", (long)cfg(0), 0x10fb8086);
	nic = (volatile uint32_t *)(uintptr_t)(cfg(0x10) & ~0xfu);
	set_cfg(4, cfg(4) | 4); /* bus master */

	/* The kernel's DMA domain (1): the NIC reaches kernel memory at physical addresses. */
	setup((uint64_t)(uintptr_t)txring, (uint64_t)(uintptr_t)rxring, (uint64_t)(uintptr_t)rxbuf);
	int n = udp_frame(txbuf, 0x30);
	send((uint64_t)(uintptr_t)txbuf, n);
	wait_a_little();
	check("kernel.sent", (long)rd(IXGBE_TDH0), 1);
	check("kernel.echo_received", (long)(rxring[0].word >> 32 & 0xff), 3); /* DD | EOP */
	check("kernel.echo_payload", rxbuf[42] == 0x30 && rxbuf[42 + 63] == 0x30 + 63, 1);
	check("kernel.fault_none", (long)HC(LVD_HC_IOMMU_FAULT, 0, 0, 0, 0, 0).value, 0);

	/* Argument checks: nothing may change. */
	struct lvd_hc_result r = HC(LVD_HC_IOMMU_DOMAIN_CREATE, 0, 0, 0, 0, 0);
	check("domain.create", r.status, 0);
	unsigned long d = r.value;
	check("domain.id_above_kernel", d >= 2, 1);
	unsigned long iova = 0x40000000;
	check("map.kernel_domain", HC(LVD_HC_IOMMU_MAP, 1, iova, (unsigned long)txbuf, 4096, 3).status, LVD_HS_INVALID);
	check("map.unknown_domain", HC(LVD_HC_IOMMU_MAP, d + 50, iova, (unsigned long)txbuf, 4096, 3).status, LVD_HS_INVALID);
	check("map.unaligned", HC(LVD_HC_IOMMU_MAP, d, iova + 8, (unsigned long)txbuf, 4096, 3).status, LVD_HS_INVALID);
	check("map.write_only", HC(LVD_HC_IOMMU_MAP, d, iova, (unsigned long)txbuf, 4096, 2).status, LVD_HS_INVALID);
	check("map.exec_bit", HC(LVD_HC_IOMMU_MAP, d, iova, (unsigned long)txbuf, 4096, 5).status, LVD_HS_INVALID);
	check("map.mmio", HC(LVD_HC_IOMMU_MAP, d, iova, (unsigned long)nic, 4096, 3).status, LVD_HS_INVALID);
	check("attach.no_device", HC(LVD_HC_IOMMU_ATTACH, 9 << 3, d, 0, 0, 0).status, LVD_HS_INVALID);
	check("attach.unknown_domain", HC(LVD_HC_IOMMU_ATTACH, NIC_SID, d + 50, 0, 0, 0).status, LVD_HS_INVALID);
	check("vector.too_low", HC(LVD_HC_IOMMU_FAULT_VECTOR, 20, 0, 0, 0, 0).status, LVD_HS_INVALID);
	check("vector.no_cpu", HC(LVD_HC_IOMMU_FAULT_VECTOR, 0x60, 7, 0, 0, 0).status, LVD_HS_INVALID);
	/* The IOMMU's registers are the hypervisor's: no EPT may map them, the kernel's neither. */
	r = HC(LVD_HC_EPT_CREATE, 0, 0, 0, 0, 0);
	check("ept.create", r.status, 0);
	check("ept_map.iommu_registers_denied", HC(LVD_HC_EPT_MAP, r.value, 0x100000, IOMMU_REGS, 4096, 3).status, LVD_HS_DENIED);
	check("ept_map.iommu_registers_in_a_range_denied",
	      HC(LVD_HC_EPT_MAP, r.value, 0x100000, IOMMU_REGS - 0x10000, 0x20000, 3).status, LVD_HS_DENIED);
	check("kernel_remap.iommu_registers_denied", HC(LVD_HC_KERNEL_REMAP, (unsigned long)txbuf, IOMMU_REGS, 0, 0, 0).status,
	      LVD_HS_DENIED);
	check("ept.destroy", HC(LVD_HC_EPT_DESTROY, r.value, 0, 0, 0, 0).status, 0);
	/* Find the hypervisor's memory: mapping it is denied. */
	unsigned long top = 0;
	for (unsigned long gpa = 16UL << 20;; gpa += 2UL << 20) {
		r = HC(LVD_HC_IOMMU_MAP, d, 0x80000000UL + gpa, gpa, 2UL << 20, 1);
		if (r.status) {
			top = r.status == LVD_HS_DENIED ? gpa : 0;
			break;
		}
	}
	check("map.hypervisor_memory_denied", top != 0, 1);
	check("unmap.probe", HC(LVD_HC_IOMMU_UNMAP, d, 0x80000000UL + (16UL << 20), top - (16UL << 20), 0, 0).status, 0);

	/* A domain of its own: rings at IOVA 0x40000000.., one TX and one RX buffer, nothing else. */
	check("map.txring", HC(LVD_HC_IOMMU_MAP, d, iova, (unsigned long)txring, 4096, 3).status, 0);
	check("map.rxring", HC(LVD_HC_IOMMU_MAP, d, iova + 0x1000, (unsigned long)rxring, 4096, 3).status, 0);
	check("map.txbuf_readonly", HC(LVD_HC_IOMMU_MAP, d, iova + 0x2000, (unsigned long)txbuf, 4096, 1).status, 0);
	check("map.rxbuf", HC(LVD_HC_IOMMU_MAP, d, iova + 0x3000, (unsigned long)rxbuf, 4096, 3).status, 0);
	check("attach", HC(LVD_HC_IOMMU_ATTACH, NIC_SID, d, 0, 0, 0).status, 0);
	memset(rxbuf, 0, sizeof rxbuf);
	setup(iova, iova + 0x1000, iova + 0x3000);
	n = udp_frame(txbuf, 0x50);
	send(iova + 0x2000, n);
	wait_a_little();
	check("domain.sent", (long)rd(IXGBE_TDH0), 1);
	check("domain.echo_received", (long)(rxring[0].word >> 32 & 0xff), 3);
	check("domain.echo_payload", rxbuf[42] == 0x50, 1);
	check("domain.fault_none", (long)HC(LVD_HC_IOMMU_FAULT, 0, 0, 0, 0, 0).value, 0);

	/* The attack: a receive descriptor pointing at kernel memory (its physical address, which the
	 * kernel's domain would have allowed).  The echo's DMA is blocked, reported, the NIC quarantined. */
	memset(secret, 0x5a, sizeof secret);
	setup(iova, iova + 0x1000, (uint64_t)(uintptr_t)secret);
	send(iova + 0x2000, n);
	wait_a_little();
	unsigned long f = HC(LVD_HC_IOMMU_FAULT, 0, 0, 0, 0, 0).value;
	check("attack.fault_domain", (long)(f >> 32), (long)d);
	check("attack.fault_source", (long)(f >> 16 & 0xffff), NIC_SID);
	check("attack.fault_reason_read_or_write_denied", (long)(f & 0xff) == 5 || (long)(f & 0xff) == 6, 1);
	int intact = 1;
	for (int i = 0; i < 4096; i++)
		intact &= secret[i] == 0x5a;
	check("attack.kernel_memory_unchanged", intact, 1);
	check("attack.rx_queue_stopped", (long)(rd(IXGBE_RXDCTL0) & IXGBE_QUEUE_ENABLE), 0);
	/* Quarantined: even the domain's own buffers are out of reach now. */
	setup(iova, iova + 0x1000, iova + 0x3000);
	send(iova + 0x2000, n);
	wait_a_little();
	f = HC(LVD_HC_IOMMU_FAULT, 0, 0, 0, 0, 0).value;
	check("quarantine.fault_context_not_present", (long)(f & 0xff), 2);
	check("quarantine.nothing_sent", (long)rd(IXGBE_TDH0), 0);

	/* The kernel takes the device back; the domain is destroyed. */
	check("attach.kernel", HC(LVD_HC_IOMMU_ATTACH, NIC_SID, 1, 0, 0, 0).status, 0);
	check("domain.destroy", HC(LVD_HC_IOMMU_DOMAIN_DESTROY, d, 0, 0, 0, 0).status, 0);
	check("domain.destroy_twice", HC(LVD_HC_IOMMU_DOMAIN_DESTROY, d, 0, 0, 0, 0).status, LVD_HS_INVALID);
	check("domain.destroy_kernel", HC(LVD_HC_IOMMU_DOMAIN_DESTROY, 1, 0, 0, 0, 0).status, LVD_HS_INVALID);
	memset(rxbuf, 0, sizeof rxbuf);
	setup((uint64_t)(uintptr_t)txring, (uint64_t)(uintptr_t)rxring, (uint64_t)(uintptr_t)rxbuf);
	n = udp_frame(txbuf, 0x70);
	send((uint64_t)(uintptr_t)txbuf, n);
	wait_a_little();
	check("kernel_again.echo_payload", rxbuf[42] == 0x70, 1);

	printf("iommu: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
