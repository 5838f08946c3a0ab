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
1:	movl $(USER_STACK_TOP - 4096), %edi
	movl $NULLNET_PAYLOAD, %esi
	movl $0x0a000001, %edx
	movl $9, %r10d
	sys SYS_send
	cmpq $NULLNET_PAYLOAD, %rax
	jne 2f
	rdtsc
	shlq $32, %rdx
	orq %rdx, %rax
	cmpq %r12, %rax
	jb 1b
	xorl %edi, %edi
	sys SYS_exit
2:	movl $1, %edi
	sys SYS_exit

.globl user_payload
user_payload:
payload:
	.ascii "LVD guest kernel: one UDP datagram through the nullnet transmit path....\n"
payload_end:

hello_msg:
	.ascii "user: hello from ring 3\n"
hello_end:

.globl user_image_end
user_image_end:

.section .note.GNU-stack, "", @progbits
