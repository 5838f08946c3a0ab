// syscall.h: the system call numbers and the address-space layout of a
// user thread, shared by the kernel (C) and the embedded user programs
// (user.S).  Plain defines only, so that assembly can include it.
#pragma once

// ABI (the Linux x86-64 one): number in RAX, arguments in RDI, RSI, RDX,
// R10, R8, R9; result in RAX; SYSCALL itself clobbers RCX and R11.
// A negative result is an error.
#define SYS_write       1    // write(buf, len): console output, returns len
#define SYS_exit        2    // exit(status): never returns
#define SYS_yield       3    // yield(): give up the CPU
#define SYS_getcpu      4    // getcpu(): the CPU index this thread runs on
#define SYS_sleep_ticks 5    // sleep_ticks(n): sleep n timer ticks
#define SYS_send        6    // send(buf, len, dst_ip, dst_port): one UDP datagram
#define NSYSCALL        7

#define EFAULT 14             // returned as -EFAULT: a bad user pointer
#define EINVAL 22
#define ENOSYS 38
#define ENOMEM 12
#define EMSGSIZE 90
#define ENETDOWN 100

// User layout (all in PML4 slot 0, the user half): code at USER_TEXT,
// one stack page just below USER_STACK_TOP; everything else unmapped, so
// a NULL dereference faults.
#define USER_TEXT      0x400000
#define USER_STACK_TOP 0x800000
