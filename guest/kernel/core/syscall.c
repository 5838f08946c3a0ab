// syscall.c: the system call table and the C half of a system call.
//
// syscall_entry (syscall.S) arrives here on the thread's kernel stack with
// a struct trapframe of the user registers and interrupts off.  A system
// call is ordinary kernel code of the calling thread: it may sleep, yield
// or be preempted, so interrupts go back on at once.

#include "kernel.h"
#include "blk.h"
#include "net.h"
#include "percpu.h"
#include "syscall.h"
#include "x86.h"

static long
sys_write(struct trapframe *tf)
{
	char buf[128];
	uint64_t src = tf->rdi, len = tf->rsi;

	if (len > 4096)
		return -EINVAL;
	// Copied in chunks, each printed as one printk so that a line from
	// user space is not interleaved with other CPUs' output.
	for (uint64_t done = 0; done < len; ) {
		uint64_t n = len - done < sizeof buf ? len - done : sizeof buf;
		if (copyin(curthread()->proc, buf, src + done, n) != 0)
			return -EFAULT;
		printk("%.*s", (int)n, buf);
		done += n;
	}
	return (long)len;
}

static long
sys_exit(struct trapframe *tf)
{
	proc_exit((int)tf->rdi);
}

static long
sys_yield(struct trapframe *tf)
{
	yield();
	return 0;
}

static long
sys_getcpu(struct trapframe *tf)
{
	return mycpu()->id;
}

static long
sys_sleep_ticks(struct trapframe *tf)
{
	if (tf->rdi > HZ)
		return -EINVAL;   // at most a second: nobody can interrupt a sleep yet
	sleep_ticks(tf->rdi);
	return 0;
}

// send(buf, len, dst_ip, dst_port): one UDP datagram (udp.c).
static long
sys_send(struct trapframe *tf)
{
	if (tf->rsi > PGSIZE || tf->rdx > 0xffffffffUL || tf->r10 > 0xffff)
		return -EINVAL;
	return udp_send(curthread()->proc, tf->rdi, tf->rsi, (uint32_t)tf->rdx, (uint16_t)tf->r10);
}

// io_submit(iocbs, n): queue n asynchronous reads (aio.c).
static long
sys_io_submit(struct trapframe *tf)
{
	return aio_submit(curthread()->proc, tf->rdi, tf->rsi);
}

// io_getevents(min, max, events): wait for min completions, reap up to max.
static long
sys_io_getevents(struct trapframe *tf)
{
	return aio_getevents(curthread()->proc, tf->rdi, tf->rsi, tf->rdx);
}

#ifdef CONFIG_IXGBE
// recv(buf, len, port, deadline): the next datagram to port (udp_rcv.c).
static long
sys_recv(struct trapframe *tf)
{
	if (tf->rsi > PGSIZE || tf->rdx > 0xffff)
		return -EINVAL;
	return udp_recv(curthread()->proc, tf->rdi, tf->rsi, (uint16_t)tf->rdx, tf->r10);
}
#endif

static long (*const systab[NSYSCALL])(struct trapframe *) = {
	[SYS_write] = sys_write,
	[SYS_exit] = sys_exit,
	[SYS_yield] = sys_yield,
	[SYS_getcpu] = sys_getcpu,
	[SYS_sleep_ticks] = sys_sleep_ticks,
	[SYS_send] = sys_send,
	[SYS_io_submit] = sys_io_submit,
	[SYS_io_getevents] = sys_io_getevents,
#ifdef CONFIG_IXGBE
	[SYS_recv] = sys_recv,
#endif
};

void
syscall(struct trapframe *tf)
{
	uint64_t n = tf->rax;

	sti();
	if (n < NSYSCALL && systab[n])
		tf->rax = (uint64_t)systab[n](tf);
	else
		tf->rax = (uint64_t)-ENOSYS;
}

// Every CPU: where SYSCALL goes and which selectors it loads (percpu.h).
void
syscall_init(void)
{
	wrmsr(MSR_STAR, (uint64_t)(SEG_UDATA - 8) << 48 | (uint64_t)SEG_KCODE << 32);
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	// Cleared on entry: IF (no interrupt before the stack switch), DF (the
	// C ABI), TF and AC (no single-stepping or alignment checks in the kernel).
	wrmsr(MSR_FMASK, 0x40000 | 0x400 | 0x200 | 0x100);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
}
