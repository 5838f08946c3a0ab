/*
 * nicpmd.c: a poll-mode ixgbe-style driver for the 82599 model (docs/NIC.md), as a bare-metal
 * program (CPL 0, identity paging: an address is its physical address), DPDK-like: probe on
 * PCI bus 0, reset, rings, transmit and receive by polling the descriptors' DD bits, the
 * modeled cycles of each phase by RDTSC.  Run with `lvd exec nicpmd.elf --nic sink -- tx N SIZE`
 * (N UDP datagrams of SIZE bytes to the peer, its checksums computed here and checked there) or
 * `--nic generator -- rx N` (N datagrams from the generator, each one's checksums and sequence
 * number checked here).  With `--hypervisor-on-request --iommu` and `iommu` as the last argument
 * it first launches the hypervisor and gives the NIC a DMA domain of its own that maps exactly
 * its rings and buffers (docs/IOMMU.md).  Prints one `nicpmd:` result line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <x86.h>
#include <lvd/hypercall.h>

#include <ixgbe_regs.h>
#include <inet_csum.h>
#include <pci_conf.h>

#define RING 256                  /* descriptors per ring (one page) */
#define BUF 2048

struct desc {
	uint64_t addr;
	uint64_t word;
};

static struct desc txring[RING] __attribute__((aligned(4096)));
static struct desc rxring[RING] __attribute__((aligned(4096)));
static uint8_t txbufs[RING][BUF] __attribute__((aligned(4096)));
static uint8_t rxbufs[RING][BUF] __attribute__((aligned(4096)));
static volatile uint32_t *regs;
static int devfn = -1;

static uint32_t cfg(int reg) { return pci_conf_read32((unsigned)devfn, (unsigned)reg); }
static void set_cfg(int reg, uint32_t v) { pci_conf_write32((unsigned)devfn, (unsigned)reg, v); }

static inline uint32_t rd(int r) { return regs[r / 4]; }
static inline void wr(int r, uint32_t v) { regs[r / 4] = v; }

static const uint8_t peer_mac[6] = {2, 0, 0, 0, 0, 2};
static uint8_t own_mac[6];

/* A UDP datagram 10.0.0.2:5000 -> 10.0.0.1:9 of `size` bytes with sequence number `seq`. */
static int build(uint8_t *f, int size, uint64_t seq)
{
	int ip = size - 14, udp = ip - 20;
	memcpy(f, peer_mac, 6);
	memcpy(f + 6, own_mac, 6);
	f[12] = 0x08, f[13] = 0;
	uint8_t *h = f + 14;
	memset(h, 0, 20);
	h[0] = 0x45, h[2] = (uint8_t)(ip >> 8), h[3] = (uint8_t)ip, h[8] = 64, h[9] = 17;
	h[12] = 10, h[15] = 2, h[16] = 10, h[19] = 1;
	uint16_t c = inet_csum(h, 20, 0);
	h[10] = (uint8_t)(c >> 8), h[11] = (uint8_t)c;
	uint8_t *u = h + 20;
	u[0] = 5000 >> 8, u[1] = 5000 & 0xff, u[2] = 0, u[3] = 9, u[4] = (uint8_t)(udp >> 8), u[5] = (uint8_t)udp, u[6] = u[7] = 0;
	memcpy(u + 8, &seq, 8);
	for (int i = 16; i < udp; i++)
		u[i] = (uint8_t)(seq + (uint64_t)i);
	c = inet_csum(u, udp, 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + (uint32_t)udp);
	if (c == 0)
		c = 0xffff;
	u[6] = (uint8_t)(c >> 8), u[7] = (uint8_t)c;
	return size;
}

/* The sequence number of a well-formed IPv4/UDP datagram with both checksums right, or -1. */
static int64_t check(const uint8_t *f, int len)
{
	if (len < 58 || f[12] != 0x08 || f[13] != 0 || f[14] != 0x45 || inet_csum(f + 14, 20, 0) != 0 || f[23] != 17)
		return -1;
	int udp = f[38] << 8 | f[39];
	if (udp < 16 || 34 + udp > len)
		return -1;
	uint32_t pseudo = (uint32_t)(f[26] << 8 | f[27]) + (uint32_t)(f[28] << 8 | f[29]) + (uint32_t)(f[30] << 8 | f[31]) +
			  (uint32_t)(f[32] << 8 | f[33]) + 17 + (uint32_t)udp;
	if ((f[40] | f[41]) != 0 && inet_csum(f + 34, udp, pseudo) != 0)
		return -1;
	int64_t s;
	memcpy(&s, f + 42, 8);
	return s;
}

static void probe(void)
{
	for (int dev = 1; dev < 32 && devfn < 0; dev++) {
		devfn = dev << 3;
		if (cfg(0) != 0x10fb8086)
			devfn = -1;
	}
	if (devfn < 0) {
		printf("nicpmd: no 82599 on PCI bus 0 (lvd exec --nic)\n");
		exit(3);
	}
	regs = (volatile uint32_t *)(uintptr_t)(cfg(0x10) & ~0xfu);
	set_cfg(4, cfg(4) | 4); /* bus master */
	wr(IXGBE_CTRL, 1u << 26);
	while (rd(IXGBE_CTRL) & (1u << 26))
		;
	while (!(rd(IXGBE_EEC) & (1u << 9)))
		;
	uint32_t ral = rd(IXGBE_RAL0), rah = rd(IXGBE_RAH0);
	for (int i = 0; i < 4; i++)
		own_mac[i] = (uint8_t)(ral >> (8 * i));
	own_mac[4] = (uint8_t)rah, own_mac[5] = (uint8_t)(rah >> 8);
}

/* A DMA domain of its own: rings and buffers at I/O virtual addresses equal to their physical ones. */
static void isolate(void)
{
	if (lvd_launch() != 0) {
		printf("nicpmd: iommu needs --hypervisor-on-request\n");
		exit(3);
	}
	struct lvd_hc_result r = lvd_hypercall(LVD_HC_IOMMU_DOMAIN_CREATE, 0, 0, 0, 0, 0);
	long s = r.status;
	unsigned long d = r.value;
	s |= lvd_hypercall(LVD_HC_IOMMU_MAP, d, (unsigned long)txring, (unsigned long)txring, sizeof txring, 3).status;
	s |= lvd_hypercall(LVD_HC_IOMMU_MAP, d, (unsigned long)rxring, (unsigned long)rxring, sizeof rxring, 3).status;
	s |= lvd_hypercall(LVD_HC_IOMMU_MAP, d, (unsigned long)txbufs, (unsigned long)txbufs, sizeof txbufs, 1).status;
	s |= lvd_hypercall(LVD_HC_IOMMU_MAP, d, (unsigned long)rxbufs, (unsigned long)rxbufs, sizeof rxbufs, 3).status;
	s |= lvd_hypercall(LVD_HC_IOMMU_ATTACH, (unsigned long)devfn, d, 0, 0, 0).status;
	if (s != 0) {
		printf("nicpmd: IOMMU hypercalls failed (--iommu?)\n");
		exit(3);
	}
}

static void tx_setup(void)
{
	wr(IXGBE_TDBAL0, (uint32_t)(uintptr_t)txring), wr(IXGBE_TDBAH0, 0), wr(IXGBE_TDLEN0, sizeof txring), wr(IXGBE_TDH0, 0), wr(IXGBE_TDT0, 0);
	wr(IXGBE_TXDCTL0, IXGBE_QUEUE_ENABLE);
	wr(IXGBE_DMATXCTL, 1);
}

static void rx_setup(void)
{
	for (int i = 0; i < RING; i++)
		rxring[i].addr = (uint64_t)(uintptr_t)rxbufs[i], rxring[i].word = 0;
	wr(IXGBE_RDBAL0, (uint32_t)(uintptr_t)rxring), wr(IXGBE_RDBAH0, 0), wr(IXGBE_RDLEN0, sizeof rxring), wr(IXGBE_RDH0, 0);
	wr(IXGBE_RXDCTL0, IXGBE_QUEUE_ENABLE);
	wr(IXGBE_RDT0, RING - 1);
	wr(IXGBE_RXCTRL, 1);
}

/* Transmit n frames: the frames are built once per ring slot (their checksums computed here,
 * checked by the peer); the timed loop only fills free descriptors, bumps the tail and reclaims
 * by DD, as a poll-mode driver does. */
static void tx(uint64_t n, int size)
{
	tx_setup();
	for (int i = 0; i < RING; i++)
		build(txbufs[i], size, (uint64_t)i);
	uint64_t sent = 0, done = 0, t0 = rdtsc();
	unsigned tail = 0, clean = 0;
	while (done < n) {
		unsigned posted = 0;
		while (sent < n && ((tail + 1) % RING) != clean) {
			txring[tail].addr = (uint64_t)(uintptr_t)txbufs[tail];
			txring[tail].word = (uint64_t)(uint16_t)size | (uint64_t)(0x01 | 0x02 | 0x08) << 24; /* EOP IFCS RS */
			tail = (tail + 1) % RING;
			sent++;
			posted++;
		}
		if (posted)
			wr(IXGBE_TDT0, tail);
		while (clean != tail && (((volatile struct desc *)&txring[clean])->word >> 32 & 1)) {
			txring[clean].word = 0;
			clean = (clean + 1) % RING;
			done++;
		}
	}
	uint64_t cycles = rdtsc() - t0;
	printf("nicpmd: tx packets=%lu bytes=%d cycles=%lu cycles_per_packet=%lu gptc=%u\n", n, size, cycles, cycles / n, rd(IXGBE_GPTC));
}

/* Receive n frames: take each descriptor with DD, check the datagram, give the descriptor back.
 * busy = the cycles spent on frames (the polling in between excluded); lost = sequence gaps
 * (frames the NIC missed while the ring was full). */
static void rx(uint64_t n)
{
	rx_setup();
	uint64_t got = 0, bad = 0, lost = 0, busy = 0, t0 = 0;
	int64_t expect = -1;
	unsigned next = 0;
	while (got < n) {
		volatile struct desc *d = &rxring[next];
		if (!(d->word >> 32 & 1))
			continue;
		uint64_t t = rdtsc();
		if (got == 0)
			t0 = t;
		int64_t s = check(rxbufs[next], (int)(d->word & 0xffff));
		if (s < 0)
			bad++;
		else {
			if (expect >= 0 && s > expect)
				lost += (uint64_t)(s - expect);
			expect = s + 1;
		}
		d->addr = (uint64_t)(uintptr_t)rxbufs[next];
		d->word = 0;
		wr(IXGBE_RDT0, next);
		next = (next + 1) % RING;
		got++;
		busy += rdtsc() - t;
	}
	uint64_t cycles = rdtsc() - t0;
	printf("nicpmd: rx packets=%lu bad=%lu lost=%lu cycles=%lu busy_cycles_per_packet=%lu missed=%u gprc=%u\n", n, bad, lost,
	       cycles, busy / n, rd(IXGBE_MPC), rd(IXGBE_GPRC));
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		printf("usage: nicpmd tx N SIZE [iommu] | rx N [iommu]\n");
		return 2;
	}
	probe();
	if (strcmp(argv[argc - 1], "iommu") == 0)
		isolate();
	uint64_t n = strtoul(argv[2], NULL, 10);
	if (strcmp(argv[1], "tx") == 0 && argc >= 4)
		tx(n, atoi(argv[3]));
	else if (strcmp(argv[1], "rx") == 0)
		rx(n);
	else
		return 2;
	return 0;
}
