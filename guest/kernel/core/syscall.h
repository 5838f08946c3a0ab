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
#define SYS_io_submit   7    // io_submit(iocbs, n): queue n reads (struct iocb below)
#define SYS_io_getevents 8   // io_getevents(min, max, events): reap completions
#ifdef CONFIG_IXGBE
// recv(buf, len, port, deadline): the payload of the next UDP datagram to
// port (0: this process's own source port), polling the NIC until one
// arrives or RDTSC passes deadline (-ETIMEDOUT); the kernel's ixgbe configuration.
#define SYS_recv        9
#define NSYSCALL        10
#else
#define NSYSCALL        9
#endif

#define EFAULT 14             // returned as -EFAULT: a bad user pointer
#define EINVAL 22
#define ENOSYS 38
#define ENOMEM 12
#define EMSGSIZE 90
#define ENETDOWN 100
#define EIO 5
#define EAGAIN 11
#define ENODEV 19
#define ETIMEDOUT 110

// Asynchronous block I/O (aio.c, blk.h).  struct iocb, 32 bytes: data
// (u64, echoed in the event), buf (u64, user buffer), sector (u64),
// nbytes (u32, 512), op (u32).  struct io_event, 16 bytes: data, res
// (nbytes or a negative error).  At most IO_MAX_INFLIGHT I/Os in flight per
// process.
#define IOCB_DATA      0
#define IOCB_BUF       8
#define IOCB_SECTOR    16
#define IOCB_NBYTES    24
#define IOCB_OP        28
#define IOCB_SIZE      32
#define IOCB_CMD_PREAD 0
#define IOEV_DATA      0
#define IOEV_RES       8
#define IOEV_SIZE      16
#define IO_MAX_INFLIGHT 256

// User layout (all in PML4 slot 0, the user half): code at USER_TEXT,
// one stack page just below USER_STACK_TOP; everything else unmapped, so
// a NULL dereference faults.
#define USER_TEXT      0x400000
#define USER_STACK_TOP 0x800000
// Optional data pages (proc_create_data), zeroed, RW, NX: at most
// USER_DATA_MAX_PAGES from USER_DATA.
#define USER_DATA      0x600000
#define USER_DATA_MAX_PAGES 256

// The fio-like workload's data area (workload.c, uprog_fio): parameters,
// then depth iocbs, depth events, and depth 512-byte buffers from FIO_BUFS.
#define FIO_DEADLINE   0      // u64: RDTSC value to stop at
#define FIO_DEPTH      8      // u64: I/Os kept in flight, 1..IO_MAX_INFLIGHT
#define FIO_STATE      16     // u64: xorshift64 state, nonzero
#define FIO_NSECT      24     // u64: device size in sectors
#define FIO_ERRORS     32     // u64: reads that completed with an error (the exit status)
#define FIO_IOCBS      64
#define FIO_EVENTS     (FIO_IOCBS + IO_MAX_INFLIGHT * IOCB_SIZE)
#define FIO_BUFS       16384  // page aligned, after the events
#define FIO_PAGES(depth) (FIO_BUFS / 4096 + ((depth) * 512 + 4095) / 4096)
