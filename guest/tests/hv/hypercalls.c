/*
 * hypercalls.c: the hypercall ABI seen from the kernel side, after a late launch.
 * Every bad call must fail with the documented status and change nothing; good calls must
 * have their effect (checked through VMFUNC into a domain EPT whose page differs).
 * Prints PASS/FAIL lines and "hypercalls: N passed, M failed".
 */
#include <stdio.h>
#include <lvd/hypercall.h>

#include "hvtest.h"

static volatile unsigned long probe[512] __attribute__((aligned(4096)));
static volatile unsigned long other[512] __attribute__((aligned(4096)));

static unsigned long read_in_domain(unsigned long slot, volatile unsigned long *p)
{
	unsigned long v;
	/* VMFUNC to the slot, read, VMFUNC back: code and stack are mapped in both EPTs. */
	__asm__ volatile("vmfunc\n\t"
			 "movq (%3), %0\n\t"
			 "xorl %%eax, %%eax\n\t"
			 "xorl %%ecx, %%ecx\n\t"
			 "vmfunc"
			 : "=&r"(v), "+a"((unsigned long){0}), "+c"(slot)
			 : "r"(p)
			 : "memory");
	return v;
}

int main(void)
{
	check("launch", lvd_launch(), 0);
	check("present", lvd_hypervisor_present(), 1);
	struct lvd_hc_result r = HC(LVD_HC_VERSION, 0, 0, 0, 0, 0);
	check("version.status", r.status, 0);
	check("version.value", (long)r.value, LVD_ABI_VERSION);
	check("unknown_call", HC(0x777, 0, 0, 0, 0, 0).status, LVD_HS_NO_SUCH_CALL);
	/* Counters: two reads of the exit count are one exit apart (the second read's own);
	 * no VMFUNC happens in between; an unknown counter is refused. */
	unsigned long e0 = lvd_counter(LVD_COUNTER_VM_EXITS), f0 = lvd_counter(LVD_COUNTER_VMFUNCS);
	unsigned long e1 = lvd_counter(LVD_COUNTER_VM_EXITS);
	check("counter.exits_positive", e0 > 0, 1);
	check("counter.exits_step", (long)(e1 - e0), 2);
	check("counter.vmfuncs", (long)(lvd_counter(LVD_COUNTER_VMFUNCS) - f0), 0);
	check("counter.unknown", HC(LVD_HC_COUNTER, 2, 0, 0, 0, 0).status, LVD_HS_INVALID);

	check("list_set_before_enable", HC(LVD_HC_EPTP_LIST_SET, 1, 1, 0, 0, 0).status, LVD_HS_NOT_ENABLED);
	check("enable_vmfunc", HC(LVD_HC_ENABLE_VMFUNC, 0, 0, 0, 0, 0).status, 0);
	r = HC(LVD_HC_EPT_CREATE, 0, 0, 0, 0, 0);
	check("ept_create", r.status, 0);
	unsigned long id = r.value;

	/* Bad EPT_MAP arguments: nothing may change. */
	const unsigned long RWX = LVD_EPT_R | LVD_EPT_W | LVD_EPT_X;
	check("map.unknown_id", HC(LVD_HC_EPT_MAP, id + 100, 0, 0, 4096, RWX).status, LVD_HS_INVALID);
	check("map.unaligned_gpa", HC(LVD_HC_EPT_MAP, id, 0x1001, 0x1000, 4096, RWX).status, LVD_HS_INVALID);
	check("map.unaligned_hpa", HC(LVD_HC_EPT_MAP, id, 0x1000, 0x1008, 4096, RWX).status, LVD_HS_INVALID);
	check("map.zero_size", HC(LVD_HC_EPT_MAP, id, 0x1000, 0x1000, 0, RWX).status, LVD_HS_INVALID);
	check("map.overflow", HC(LVD_HC_EPT_MAP, id, 0xfffffffffffff000UL, 0x1000, 0x2000, RWX).status, LVD_HS_INVALID);
	check("map.beyond_maxphys", HC(LVD_HC_EPT_MAP, id, 1UL << 46, 0x1000, 4096, RWX).status, LVD_HS_INVALID);
	check("map.write_without_read", HC(LVD_HC_EPT_MAP, id, 0x1000, 0x1000, 4096, LVD_EPT_W).status, LVD_HS_INVALID);
	check("map.no_permissions", HC(LVD_HC_EPT_MAP, id, 0x1000, 0x1000, 4096, 0).status, LVD_HS_INVALID);
	check("map.bad_permission_bits", HC(LVD_HC_EPT_MAP, id, 0x1000, 0x1000, 4096, 8 | LVD_EPT_R).status, LVD_HS_INVALID);

	/* Find the hypervisor's memory the only way the kernel can: it is denied. */
	unsigned long top = 0;
	for (unsigned long gpa = 0;; gpa += 2UL << 20) {
		r = HC(LVD_HC_EPT_MAP, id, gpa, gpa, 2UL << 20, RWX);
		if (r.status == LVD_HS_DENIED) {
			top = gpa;
			break;
		}
		if (r.status) {
			check("map.identity_chunk", r.status, 0);
			break;
		}
	}
	check("map.hypervisor_memory_denied", top != 0, 1);
	check("map.hypervisor_memory_denied_4k", HC(LVD_HC_EPT_MAP, id, 0x1000, top + 0x3000, 4096, LVD_EPT_R).status, LVD_HS_DENIED);
	check("remap.hypervisor_memory_denied", HC(LVD_HC_KERNEL_REMAP, (unsigned long)probe, top, 0, 0, 0).status, LVD_HS_DENIED);

	/* The domain EPT sees `other` where the kernel sees `probe`. */
	probe[0] = 0x1111;
	other[0] = 0x2222;
	check("map.alias_page", HC(LVD_HC_EPT_MAP, id, (unsigned long)probe, (unsigned long)other, 4096, LVD_EPT_R).status, 0);
	check("list.slot0_forbidden", HC(LVD_HC_EPTP_LIST_SET, 0, id, 0, 0, 0).status, LVD_HS_INVALID);
	check("list.slot512_invalid", HC(LVD_HC_EPTP_LIST_SET, 512, id, 0, 0, 0).status, LVD_HS_INVALID);
	check("list.unknown_id", HC(LVD_HC_EPTP_LIST_SET, 1, id + 100, 0, 0, 0).status, LVD_HS_INVALID);
	check("list.set", HC(LVD_HC_EPTP_LIST_SET, 1, id, 0, 0, 0).status, 0);
	check("domain.sees_alias", (long)read_in_domain(1, probe), 0x2222);
	check("kernel.sees_own", (long)probe[0], 0x1111);

	/* Per-CPU remap in the kernel EPT, then back. */
	check("remap", HC(LVD_HC_KERNEL_REMAP, (unsigned long)probe, (unsigned long)other, 0, 0, 0).status, 0);
	check("remap.kernel_sees_other", (long)probe[0], 0x2222);
	check("remap.restore", HC(LVD_HC_KERNEL_REMAP, (unsigned long)probe, (unsigned long)probe, 0, 0, 0).status, 0);
	check("remap.kernel_sees_own_again", (long)probe[0], 0x1111);

	check("unmap", HC(LVD_HC_EPT_UNMAP, id, (unsigned long)probe, 4096, 0, 0).status, 0);
	check("unmap.unaligned", HC(LVD_HC_EPT_UNMAP, id, 0x1234, 4096, 0, 0).status, LVD_HS_INVALID);
	check("destroy", HC(LVD_HC_EPT_DESTROY, id, 0, 0, 0, 0).status, 0);
	check("destroy.twice", HC(LVD_HC_EPT_DESTROY, id, 0, 0, 0, 0).status, LVD_HS_INVALID);

	check("devirtualize.bad_scope", HC(LVD_HC_DEVIRTUALIZE, 2, 0, 0, 0, 0).status, LVD_HS_INVALID);
	check("devirtualize.bad_scope.still_present", lvd_hypervisor_present(), 1);
	check("launch.again_this_cpu", lvd_launch_scope(LVD_SCOPE_THIS_CPU), 0);
	check("devirtualize", HC(LVD_HC_DEVIRTUALIZE, LVD_SCOPE_ALL_CPUS, 0, 0, 0, 0).status, 0);
	check("devirtualized.not_present", lvd_hypervisor_present(), 0);
	check("launch.bad_scope", lvd_launch_scope(2), LVD_HS_INVALID);
	check("launch.bad_scope.not_present", lvd_hypervisor_present(), 0);
	check("relaunch", lvd_launch(), 0);
	check("relaunched.present", lvd_hypervisor_present(), 1);
	check("relaunched.version", HC(LVD_HC_VERSION, 0, 0, 0, 0, 0).value, LVD_ABI_VERSION);
	check("devirtualize.this_cpu", lvd_devirtualize(LVD_SCOPE_THIS_CPU), 0);
	check("devirtualized.this_cpu.not_present", lvd_hypervisor_present(), 0);
	check("launch.this_cpu", lvd_launch_scope(LVD_SCOPE_THIS_CPU), 0);
	check("launched.this_cpu.present", lvd_hypervisor_present(), 1);

	printf("hypercalls: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
