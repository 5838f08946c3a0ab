/*
 * violation.c: what the hypervisor does with forbidden accesses, before domains exist.
 * Argument 1 (compile-time CASE) picks one; each must stop the run with a report.
 *   CASE 1: the kernel reads hypervisor memory (EPT violation).
 *   CASE 2: VMCALL from a domain EPT (only the kernel EPT may call).
 *   CASE 3: VMFUNC to an unused EPTP-list slot (invalid EPTP -> VM exit 59).
 */
#include <stdio.h>
#include <lvd/hypercall.h>

int main(void)
{
	if (lvd_launch() != 0)
		return 2;
	const unsigned long RWX = LVD_EPT_R | LVD_EPT_W | LVD_EPT_X;
	unsigned long top = 0, id = 0;
	lvd_hypercall(LVD_HC_ENABLE_VMFUNC, 0, 0, 0, 0, 0);
	id = lvd_hypercall(LVD_HC_EPT_CREATE, 0, 0, 0, 0, 0).value;
	for (unsigned long gpa = 0;; gpa += 2UL << 20) {
		if (lvd_hypercall(LVD_HC_EPT_MAP, id, gpa, gpa, 2UL << 20, RWX).status) {
			top = gpa;
			break;
		}
	}
	lvd_hypercall(LVD_HC_EPTP_LIST_SET, 1, id, 0, 0, 0);
	printf("hypervisor memory at 0x%lx\n", top);
#if CASE == 1
	printf("reading it\n");
	volatile unsigned long *p = (volatile unsigned long *)(top + 0x100);
	printf("read 0x%lx\n", *p);
#elif CASE == 2
	printf("vmcall from the domain EPT\n");
	__asm__ volatile("vmfunc\n\tmovl $0, %%eax\n\tvmcall" : : "a"(0), "c"(1) : "memory");
#else
	printf("vmfunc to slot 7\n");
	__asm__ volatile("vmfunc" : : "a"(0), "c"(7) : "memory");
#endif
	printf("still running: the hypervisor did not stop us\n");
	return 0;
}
