// probe.h: the kernel state no domain may change (docs/THREAT-MODEL.md),
// taken before and after a call into a domain by the LVD self test
// (lvd_test.c) and by domain= (lvd_drivers.c, lvd fuzz-domains).
#pragma once
#include "kernel.h"

struct probe {
	uint64_t cr0, cr3, cr4, cr8, rflags, fs, gs, ufs, ugs, efer, lstar, star;
	uint8_t gdtr[10], idtr[10];
	uint16_t tr;
	uint64_t idt_hash, desc_hash, kernel_hash;
};

// The hypervisor's FNV-1a (HASH_MEMORY) over the kernel's text and rodata.
uint64_t probe_kernel_hash(void);
// Takes this CPU's state; hash is what the kernel_hash field holds
// (probe_kernel_hash, or a caller's hash over more memory).
void probe_take(struct probe *p, uint64_t (*hash)(void));
// The first field that differs, or NULL.
const char *probe_diff(const struct probe *a, const struct probe *b);
