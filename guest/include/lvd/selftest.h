// selftest.h: function ids of the selftest domain (shared with the
// kernel's guest/kernel/tests/lvd_test.c).
#pragma once
#include <lvd/domain.h>
enum {
	ST_WRITE = LVD_FN_USER, ST_READ, ST_JUMP, ST_VMFUNC, ST_INT, ST_CLI_LOOP, ST_STI,
	ST_WRMSR, ST_MOVCR3, ST_LIDT, ST_OUT, ST_HLT, ST_STACK, ST_SWAPGS, ST_UD2, ST_SPIN,
	ST_GARBAGE, ST_GAPS, ST_TAMPER, ST_POOLIDX,
};
// The selftest domain's upcall (kernel service) for ST_POOLIDX: w1 = offset in
// the shared pool, w2 = length; the kernel checks both before touching it.
#define ST_KFN_POOL_SUM LVD_KFN_USER
