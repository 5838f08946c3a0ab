/*
 * hvtest.h: what the hypervisor ABI tests of this folder share: PASS/FAIL lines with a count, and
 * the raw hypercall.
 */
#pragma once
#include <stdio.h>
#include <lvd/hypercall.h>

static int passed, failed;

static void check(const char *name, long got, long want)
{
	if (got == want) {
		passed++;
		printf("PASS %s\n", name);
	} else {
		failed++;
		printf("FAIL %s: expected %ld got %ld\n", name, want, got);
	}
}

#define HC(nr, a0, a1, a2, a3, a4) lvd_hypercall((nr), (a0), (a1), (a2), (a3), (a4))
