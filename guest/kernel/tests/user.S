// user.S: the user programs the boot self tests run in ring 3.
//
// There is no file system yet, so user code is embedded in the kernel
// image: proc.c copies the bytes between user_image and user_image_end
// into a fresh user page at USER_TEXT.  That is why this is assembly and
// every reference is RIP-relative: the bytes run at another address than
// the one they were linked at.  They sit in rodata: the kernel never
// executes them at their link address.
#include "syscall.h"

.macro sys n
	movl $\n, %eax
	syscall
.endm

// One datagram of len bytes (the zeroed stack page) to 10.0.0.1 port `port`
// (len32 and len64: the length as a 32-bit source and as a 64-bit compare
// operand); jump to `fail` unless the kernel took all of it.
.macro udp_send len32, len64, port, fail
	movl $(USER_STACK_TOP - 4096), %edi
	movl \len32, %esi
	movl $0x0a000001, %edx
	movl $\port, %r10d
	sys SYS_send
	cmpq \len64, %rax
	jne \fail
.endm

// Back to `again` until RDTSC passes the deadline in r12.
.macro until_deadline again
	rdtsc
	shlq $32, %rdx
	orq %rdx, %rax
	cmpq %r12, %rax
	jb \again
.endm

.section .rodata.user, "a"
.balign 16
.globl user_image
user_image:

// hello: every system call once, checking each result; exit(0x40 + cpu).
.globl uprog_hello
uprog_hello:
	leaq hello_msg(%rip), %rdi
	movl $(hello_end - hello_msg), %esi
	sys SYS_write
	cmpq $(hello_end - hello_msg), %rax
	jne 1f
	sys SYS_getcpu
	movq %rax, %rbx               // callee-saved: the kernel keeps it
	sys SYS_yield
	movl $2, %edi
	sys SYS_sleep_ticks
	movl $0x1000, %edi            // unmapped: write must fail, not fault
	movl $8, %esi
	sys SYS_write
	cmpq $-EFAULT, %rax
	jne 1f
	movl $99, %eax                // no such call
	syscall
	cmpq $-ENOSYS, %rax
	jne 1f
	leaq 0x40(%rbx), %rdi
	sys SYS_exit
1:	movl $1, %edi
	sys SYS_exit

// loop: 20 rounds of yield / getcpu / sleep, then exit(7).  Runs next to
// the faulting program to show the kill touches nobody else.
.globl uprog_loop
uprog_loop:
	movl $20, %ebx
1:	sys SYS_yield
	sys SYS_getcpu
	movl $1, %edi
	sys SYS_sleep_ticks
	decl %ebx
	jnz 1b
	movl $7, %edi
	sys SYS_exit

// fault: a NULL write.  The kernel kills the thread (status -1).
.globl uprog_fault
uprog_fault:
	sys SYS_yield
	xorl %eax, %eax
	movq $1, (%rax)
	movl $3, %edi                 // not reached
	sys SYS_exit

// send: SEND_N UDP datagrams of the payload below to 10.0.0.1:9, each
// returning its length; then one from an unmapped buffer (-EFAULT); exit(0).
#define SEND_N 32
.globl uprog_send
uprog_send:
	movl $SEND_N, %ebx
1:	leaq payload(%rip), %rdi
	movl $(payload_end - payload), %esi
	movl $0x0a000001, %edx
	movl $9, %r10d
	sys SYS_send
	cmpq $(payload_end - payload), %rax
	jne 2f
	decl %ebx
	jnz 1b
	movl $0x1000, %edi
	movl $16, %esi
	sys SYS_send
	cmpq $-EFAULT, %rax
	jne 2f
	xorl %edi, %edi
	sys SYS_exit
2:	movl $1, %edi
	sys SYS_exit

// nullnet: the measured workload (workload.c).  RDI = the deadline in
// modeled cycles.  Sends MTU-sized datagrams (1472 bytes: 1500 - IP - UDP,
// what iperf2 sends with MTU packets) through the real send system call
// until RDTSC passes the deadline, then exit(0); exit(1) if a send fails.
// The payload is the (zeroed) stack page: the code page is too small for
// 1472 bytes next to the other programs, and nothing here uses the stack.
#define NULLNET_PAYLOAD 1472
.globl uprog_nullnet
uprog_nullnet:
	movq %rdi, %r12               // callee-saved: the kernel keeps it
1:	udp_send $NULLNET_PAYLOAD, $NULLNET_PAYLOAD, 9, 2f
	until_deadline 1b
	xorl %edi, %edi
	sys SYS_exit
2:	movl $1, %edi
	sys SYS_exit

// blk: the block self test (main.c), with 2 data pages at USER_DATA.
// Reads BLKT_N sectors (k * 1000) asynchronously into buffers filled with
// 0xa5 and checks each event and that the buffers now hold the device's
// data (nullblk: zeros).  Bad calls first: an unmapped iocb array, a
// buffer in the read-only code page, an unmapped buffer and an unmapped
// events array are -EFAULT; a sector past the end, and waiting for more
// than are in flight, -EINVAL.  Then a batch whose second iocb is bad
// queues only the first (returns 1).  exit(0); exit(10 + step) on a failure.
#define BLKT_N      8
#define BLKT_IOCBS  0
#define BLKT_EVENTS 512
#define BLKT_BUFS   1024
.macro blkt_expect val, step
	movl $\step, %r12d
	cmpq $\val, %rax
	jne 9f
.endm
.globl uprog_blk
uprog_blk:
	movl $USER_DATA, %ebp
	movabsq $0xa5a5a5a5a5a5a5a5, %rax
	leaq BLKT_BUFS(%rbp), %rdi
	movl $(BLKT_N * 512 / 8), %ecx
1:	movq %rax, (%rdi)
	addq $8, %rdi
	decl %ecx
	jnz 1b
	xorl %ebx, %ebx                // iocb k: data 0x100 + k, buffer k, sector k * 1000
1:	movq %rbx, %rax
	shlq $5, %rax
	leaq BLKT_IOCBS(%rbp,%rax), %rcx
	leaq 0x100(%rbx), %rax
	movq %rax, IOCB_DATA(%rcx)
	movq %rbx, %rax
	shlq $9, %rax
	leaq BLKT_BUFS(%rbp,%rax), %rax
	movq %rax, IOCB_BUF(%rcx)
	imulq $1000, %rbx, %rax
	movq %rax, IOCB_SECTOR(%rcx)
	movl $512, IOCB_NBYTES(%rcx)
	movl $IOCB_CMD_PREAD, IOCB_OP(%rcx)
	incl %ebx
	cmpl $(BLKT_N + 1), %ebx       // one spare iocb (index BLKT_N) for the bad cases
	jb 1b
	leaq (BLKT_IOCBS + BLKT_N * IOCB_SIZE)(%rbp), %rbx   // the spare
	movl $1, %edi                  // nothing in flight: waiting for 1 is -EINVAL
	movl $BLKT_N, %esi
	leaq BLKT_EVENTS(%rbp), %rdx
	sys SYS_io_getevents
	blkt_expect -EINVAL, 0
	movl $0x1000, %edi             // unmapped iocb array
	movl $1, %esi
	sys SYS_io_submit
	blkt_expect -EFAULT, 1
	movq $USER_TEXT, IOCB_BUF(%rbx) // read into read-only code
	movq %rbx, %rdi
	movl $1, %esi
	sys SYS_io_submit
	blkt_expect -EFAULT, 2
	movq $0x1000, IOCB_BUF(%rbx)   // unmapped buffer
	movq %rbx, %rdi
	movl $1, %esi
	sys SYS_io_submit
	blkt_expect -EFAULT, 3
	leaq BLKT_BUFS(%rbp), %rax     // good buffer, sector past the end
	movq %rax, IOCB_BUF(%rbx)
	movq $-1, IOCB_SECTOR(%rbx)
	movq %rbx, %rdi
	movl $1, %esi
	sys SYS_io_submit
	blkt_expect -EINVAL, 4
	leaq BLKT_IOCBS(%rbp), %rdi    // the batch
	movl $BLKT_N, %esi
	sys SYS_io_submit
	blkt_expect BLKT_N, 5
	movl $1, %edi                  // unmapped events array
	movl $BLKT_N, %esi
	movl $0x1000, %edx
	sys SYS_io_getevents
	blkt_expect -EFAULT, 6
	movl $(BLKT_N + 1), %edi       // more than in flight
	movl $(BLKT_N + 1), %esi
	leaq BLKT_EVENTS(%rbp), %rdx
	sys SYS_io_getevents
	blkt_expect -EINVAL, 7
	movl $BLKT_N, %edi
	movl $BLKT_N, %esi
	leaq BLKT_EVENTS(%rbp), %rdx
	sys SYS_io_getevents
	blkt_expect BLKT_N, 8
	xorl %ecx, %ecx                // each event: res 512; the data values sum to N * 0x100 + N(N-1)/2
	xorl %edx, %edx
1:	movq %rcx, %rax
	shlq $4, %rax
	movl $9, %r12d
	cmpq $512, (BLKT_EVENTS + IOEV_RES)(%rbp,%rax)
	jne 9f
	addq (BLKT_EVENTS + IOEV_DATA)(%rbp,%rax), %rdx
	incl %ecx
	cmpl $BLKT_N, %ecx
	jb 1b
	movq %rdx, %rax
	blkt_expect (BLKT_N * 0x100 + BLKT_N * (BLKT_N - 1) / 2), 10
	leaq BLKT_BUFS(%rbp), %rdi     // the buffers hold what the device returned: zeros
	movl $(BLKT_N * 512 / 8), %ecx
	movl $11, %r12d
1:	cmpq $0, (%rdi)
	jne 9f
	addq $8, %rdi
	decl %ecx
	jnz 1b
	leaq (BLKT_IOCBS + (BLKT_N - 1) * IOCB_SIZE)(%rbp), %rdi  // iocb N-1 good, the spare bad
	movl $2, %esi
	sys SYS_io_submit
	blkt_expect 1, 12
	movl $1, %edi
	movl $BLKT_N, %esi
	leaq BLKT_EVENTS(%rbp), %rdx
	sys SYS_io_getevents
	blkt_expect 1, 13
	movq (BLKT_EVENTS + IOEV_DATA)(%rbp), %rax
	blkt_expect (0x100 + BLKT_N - 1), 14
	xorl %edi, %edi
	sys SYS_exit
9:	leal 10(%r12), %edi
	sys SYS_exit

// fio: the nullblk workload (workload.c), an fio-like random reader:
// rw=randread bs=512 ioengine=libaio iodepth=D.  Its data area (syscall.h
// FIO_*) holds the deadline, the depth D, its xorshift64 state and the
// device size.  It keeps D reads in flight: D iocbs, then in a loop reap
// at least one completion (io_getevents(1, D)), check each (res 512) and
// submit as many new ones, each for a random sector into the buffer the
// reaped one used, until RDTSC passes the deadline; then it reaps the ones
// still in flight and exits with the number of reads that failed (0; 1 on
// any other unexpected result).
//   rbp data area, r12 batch size, r13 in flight, r14 D, r15 PRNG state,
//   rbx index in the batch.
.globl uprog_fio
uprog_fio:
	movl $USER_DATA, %ebp
	movq FIO_DEPTH(%rbp), %r14
	movq FIO_STATE(%rbp), %r15
	xorl %ebx, %ebx                // the first batch: buffer k for iocb k
1:	movq %rbx, %rdi
	call fio_prep
	incq %rbx
	cmpq %r14, %rbx
	jb 1b
	movq %r14, %r12
	xorl %r13d, %r13d
fio_submit:
	leaq FIO_IOCBS(%rbp), %rdi
	movq %r12, %rsi
	sys SYS_io_submit
	cmpq %r12, %rax
	jne fio_fail
	addq %r12, %r13
fio_reap:
	movl $1, %edi
	movq %r14, %rsi
	leaq FIO_EVENTS(%rbp), %rdx
	sys SYS_io_getevents
	testq %rax, %rax
	jle fio_fail
	movq %rax, %r12
	subq %rax, %r13
	xorl %ebx, %ebx                // check each event, reuse its buffer for a new iocb
1:	movq %rbx, %rax
	shlq $4, %rax
	cmpq $512, (FIO_EVENTS + IOEV_RES)(%rbp,%rax)
	jne fio_error
fio_reuse:
	movq (FIO_EVENTS + IOEV_DATA)(%rbp,%rax), %rdi
	call fio_prep
	incq %rbx
	cmpq %r12, %rbx
	jb 1b
	rdtsc
	shlq $32, %rdx
	orq %rdx, %rax
	cmpq FIO_DEADLINE(%rbp), %rax
	jb fio_submit
	testq %r13, %r13               // past the deadline: drain
	jnz fio_reap
	movq FIO_ERRORS(%rbp), %rdi    // the exit status: 0, or how many reads failed
	sys SYS_exit
fio_error:                         // a read that failed (a driver killed for good): counted, its buffer reused
	incq FIO_ERRORS(%rbp)
	jmp fio_reuse
fio_fail:
	movl $1, %edi
	sys SYS_exit

// iocb rbx := a read of one random sector into buffer rdi (data = rdi).
// xorshift64 (13, 7, 17); the sector is the high half of state * size,
// uniform over [0, size).  Clobbers rax, rcx, rdx.
fio_prep:
	movq %rbx, %rax
	shlq $5, %rax
	leaq FIO_IOCBS(%rbp,%rax), %rcx
	movq %rdi, IOCB_DATA(%rcx)
	movq %rdi, %rax
	shlq $9, %rax
	leaq FIO_BUFS(%rbp,%rax), %rax
	movq %rax, IOCB_BUF(%rcx)
	movq %r15, %rax
	shlq $13, %rax
	xorq %rax, %r15
	movq %r15, %rax
	shrq $7, %rax
	xorq %rax, %r15
	movq %r15, %rax
	shlq $17, %rax
	xorq %rax, %r15
	movq %r15, %rax
	mulq FIO_NSECT(%rbp)
	movq %rdx, IOCB_SECTOR(%rcx)
	movl $512, IOCB_NBYTES(%rcx)
	movl $IOCB_CMD_PREAD, IOCB_OP(%rcx)
	ret

.globl user_payload
user_payload:
payload:
	.ascii "LVD guest kernel: one UDP datagram through the nullnet transmit path....\n"
payload_end:

hello_msg:
	.ascii "user: hello from ring 3\n"
hello_end:

#ifdef CONFIG_IXGBE
// udp_rr: netperf UDP_RR's client (the kernel's ixgbe configuration): a
// 64-byte request to the echo peer (10.0.0.1, port 7), then recv of its
// reply on this process's port, again until RDTSC passes the deadline in
// rdi; the transactions are the kernel's count of datagrams delivered.
// exit(0); 1 if a send failed, 2 if a reply was not the request's size.
// udp_send: the ixgbe workload's sender: datagrams of the payload at
// USER_DATA + 8 (18 to 1472 bytes) to 10.0.0.1 port 9 until RDTSC passes
// the deadline at USER_DATA.  exit(0); 1 if a send failed.
.globl uprog_udpsend
uprog_udpsend:
	movl $USER_DATA, %ebp
	movq 0(%rbp), %r12
	movq 8(%rbp), %r13
1:	udp_send %r13d, %r13, 9, 2f
	until_deadline 1b
	xorl %edi, %edi
	sys SYS_exit
2:	movl $1, %edi
	sys SYS_exit

#define RR_PAYLOAD 64
.globl uprog_udprr
uprog_udprr:
	movq %rdi, %r12
1:	udp_send $RR_PAYLOAD, $RR_PAYLOAD, 7, 3f
	movl $(USER_STACK_TOP - 4096), %edi
	movl $RR_PAYLOAD, %esi
	xorl %edx, %edx
	movq %r12, %r10
	sys SYS_recv
	cmpq $-ETIMEDOUT, %rax
	je 4f
	cmpq $RR_PAYLOAD, %rax
	jne 2f
	until_deadline 1b
4:	xorl %edi, %edi
	sys SYS_exit
2:	movl $2, %edi
	sys SYS_exit
3:	movl $1, %edi
	sys SYS_exit
#endif

.globl user_image_end
user_image_end:

.section .note.GNU-stack, "", @progbits
