// main.c: the order of boot, and the boot-time self tests.

#include <lvd/hypercall.h>
#include "kernel.h"
#include "blk.h"
#include "net.h"
#include "nullblk.h"
#include "nullnet.h"
#ifdef CONFIG_IXGBE
#include "ixgbe.h"
#endif
#include "percpu.h"
#include "lvd.h"
#include "x86.h"

extern char __kernel_start[], __kernel_end[];
void bsp_setup(void);

// LVD Invariant 3: a physical range for isolated domains, never used by
// the kernel's allocator.  "domainmem=N" (MiB) on the command line, default
// 64 MiB (or an eighth of the largest usable region if that is smaller; at
// most half of it when asked for),
// taken 2 MiB-aligned from the top of the largest usable region, so that
// it is one contiguous range that EPTs can map with large pages.
static void
carve_domain_memory(void)
{
	uint64_t want = 64UL << 20;
	const char *opt = cmdline_option("domainmem");
	if (opt) {
		want = 0;
		while (*opt >= '0' && *opt <= '9')
			want = want * 10 + (uint64_t)(*opt++ - '0');
		want <<= 20;
	}
	struct mmap_entry *best = NULL;
	for (uint32_t i = 0; i < bootinfo.mmap_count; i++) {
		struct mmap_entry *e = &bootinfo.mmap[i];
		if (e->type == MMAP_USABLE && (best == NULL || e->length > best->length))
			best = e;
	}
	if (best == NULL)
		panic("no usable memory");
	// Unasked, an eighth of the region; asked, up to half (the kernel keeps the rest).
	if (want > best->length / (opt ? 2 : 8))
		want = best->length / (opt ? 2 : 8);
	uint64_t end = (best->base + best->length) & ~((2UL << 20) - 1);
	uint64_t base = (end - want) & ~((2UL << 20) - 1);
	if (want == 0 || base < best->base)
		base = end;   // nothing reserved
	domain_phys = (struct phys_range){ base, end };
	printk("mem: domain memory [%#lx-%#lx) %lu MiB (not for kalloc)\n",
	       base, end, (end - base) >> 20);
}

static struct spinlock testlock = { .name = "test" };
static struct waitq donewq;    // guarded by testlock
static int ndone;
static uint64_t counter;       // guarded by testlock
static volatile int spin_flag[2];

#define WORKERS_PER_CPU 2
#define ROUNDS 200

// Increment a shared counter under a lock from every CPU, sleeping now
// and then, then report in on a wait queue.
static void
worker(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		acquire(&testlock);
		counter++;
		release(&testlock);
		if (i % 50 == 0)
			sleep_ticks(1);
	}
	acquire(&testlock);
	ndone++;
	wq_wakeup(&donewq);
	release(&testlock);
}

// Two threads on one CPU, each spinning until the other has run: only
// timer preemption can finish this.
static void
spinner(void *arg)
{
	int me = (int)(uint64_t)arg;

	spin_flag[me] = 1;
	while (!spin_flag[!me])
		pause();
	acquire(&testlock);
	ndone++;
	wq_wakeup(&donewq);
	release(&testlock);
}

static void
wait_done(int n)
{
	acquire(&testlock);
	while (ndone < n)
		wq_sleep(&donewq, &testlock);
	release(&testlock);
}

// crash=stack: every frame 512 bytes more of this thread's stack, never returning early.
static volatile uint64_t recurse_limit = ~0UL;   // (volatile: gcc cannot see that it never ends)

static uint64_t __attribute__((noinline))
recurse(uint64_t depth)
{
	volatile uint64_t pad[64];
	pad[depth & 63] = depth;
	if (depth == recurse_limit)
		return pad[0];
	return recurse(depth + 1) + pad[0];
}

// "crash=pf|ud|panic|nmi|stack" on the command line: check that faults are
// reported (vector, error code, RIP, CR2, backtrace) and stop the machine.
static void __attribute__((noinline))
crash(const char *how)
{
	if (strncmp(how, "pf", 2) == 0)
		*(volatile uint64_t *)0xdead000 = 1;     // user range: unmapped in kernel tables
	if (strncmp(how, "ud", 2) == 0)
		__asm__ volatile("ud2");
	if (strncmp(how, "domain", 6) == 0)
		(void)*(volatile uint64_t *)DOMAIN_BASE;  // reserved, nothing mapped
	if (strncmp(how, "panic", 5) == 0)
		panic("crash=panic from the command line");
	if (strncmp(how, "stack", 5) == 0)
		recurse(0);                               // runs off the bottom of this thread's stack
}

extern char uprog_hello[], uprog_loop[], uprog_fault[], uprog_send[], user_payload[];

// Ring 3: one program that makes every system call and checks the
// results, then a NULL write that must kill only its own thread while a
// looping program runs on every CPU.  Only the kernel prints here (the
// loopers are silent), so the log is the same on every run.
static void
user_tests(void)
{
	// Pages: free in kalloc or held by the heap, which keeps the pages it
	// carves (on 10 and more CPUs the test's threads need one more page of
	// 128-byte blocks than the earlier tests left free); heap blocks: in use.
	uint64_t free0 = kalloc_free_pages() + kheap_pages();
	uint64_t used0 = kheap_blocks_in_use();
	int last = ncpu - 1;

	struct proc *p = proc_create("hello", uprog_hello, last);
	int status = proc_wait(p);
	if (status != 0x40 + last)
		panic("user test: hello exited with %#x, want %#x", status, 0x40 + last);
	printk("test: user thread on cpu %d made 6 system calls, exit status %#x\n", last, status);

	struct proc *loops[NCPU];
	for (int c = 0; c < ncpu; c++)
		loops[c] = proc_create("loop", uprog_loop, c);
	struct proc *f = proc_create("fault", uprog_fault, last);
	status = proc_wait(f);
	if (status != -1)
		panic("user test: faulting thread exited with %d", status);
	for (int c = 0; c < ncpu; c++)
		if ((status = proc_wait(loops[c])) != 7)
			panic("user test: loop on cpu %d exited with %d", c, status);
	printk("test: faulting user thread killed, %d looping user threads unharmed\n", ncpu);
	// Every page of the processes (and their threads' stacks) came back.
	// Threads are freed by their CPU's scheduler after their last switch:
	// give the other CPUs a tick to get there.
	sleep_ticks(2);
	uint64_t free1 = kalloc_free_pages() + kheap_pages();
	if (free1 != free0)
		panic("user test: %ld pages leaked", (long)(free0 - free1));
	uint64_t used1 = kheap_blocks_in_use();
	if (used1 != used0)
		panic("user test: %ld heap blocks leaked", (long)(used1 - used0));
}

// Networking: the RFC 1071 checksum example, then one sending user
// process per CPU, all at once, counted by nullnet.
#define SEND_N       32      // user.S
#define SEND_PAYLOAD 73      // user.S: payload_end - payload
#ifdef CONFIG_IXGBE
// The in-kernel ixgbe's receive poll into the UDP path.
static int
ixgbe_rx_poll(int budget)
{
	return ixgbe_poll(budget, udp_rcv);
}
#endif

// The in-kernel network driver (guest/drivers/nullnet) registers null0; the
// kernel gives it its address and brings it up (ifconfig null0 10.0.0.2 up).
static void
net_devices_init(void)
{
	struct net_device *dev;
	if (nullnet_init() != 0 || (dev = dev_get_by_name("null0")) == NULL)
		panic("nullnet: cannot register null0");
	dev->ip_addr = 0x0a000002;   // 10.0.0.2
	if (dev_open(dev) != 0)
		panic("nullnet: cannot bring up %s", dev->name);
#ifdef CONFIG_IXGBE
	// The 82599 (guest/drivers/ixgbe), in the kernel built with it (lvd boot
	// --workload ixgbe), when nic=ixgbe asks: it probes PCI bus 0.  eth0 has
	// null0's address and takes its place as the route for workload=ixgbe.
	const char *nic = cmdline_option("nic");
	if (nic != NULL && strncmp(nic, "ixgbe", 5) == 0) {
		if (ixgbe_init() != 0 || (dev = dev_get_by_name("eth0")) == NULL)
			panic("ixgbe: no 82599 on PCI bus 0 (lvd boot --workload ixgbe gives the machine one)");
		dev->ip_addr = 0x0a000002;
		udp_rx_poll = ixgbe_rx_poll;   // what recv polls (udp_rcv.c)
	}
#endif
}

// The in-kernel block driver (guest/drivers/nullblk) with null_blk's
// parameters: one hardware queue per CPU (submit_queues = nr_cpus), 512-byte
// blocks, hw_queue_depth so that one process at its largest depth never
// waits for a tag.  It adds the disk nullb0.
static void
blk_devices_init(void)
{
	if (nullblk_init((unsigned int)ncpu, SECTOR_SIZE, IO_MAX_INFLIGHT) != 0)
		panic("nullblk: cannot add nullb0");
}

static void
net_tests(void)
{
	static const uint8_t rfc1071[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	uint16_t c = ip_checksum(rfc1071, sizeof rfc1071);
	if (c != __builtin_bswap16(0x220d))   // ~0xddf2, stored big-endian
		panic("net test: checksum %#x", c);

	struct net_device *null0 = dev_get_by_name("null0");
	struct net_device_stats s0 = dev_get_stats(null0);
	struct proc *senders[NCPU];
	for (int cpu = 0; cpu < ncpu; cpu++)
		senders[cpu] = proc_create("send", uprog_send, cpu);
	for (int cpu = 0; cpu < ncpu; cpu++) {
		int status = proc_wait(senders[cpu]);
		if (status != 0)
			panic("net test: sender on cpu %d exited with %d", cpu, status);
	}
	struct net_device_stats s = dev_get_stats(null0);
	uint64_t packets = s.tx_packets - s0.tx_packets, bytes = s.tx_bytes - s0.tx_bytes;
	uint64_t want = (uint64_t)ncpu * SEND_N;
	if (packets != want || bytes != want * (IP_HLEN + UDP_HLEN + SEND_PAYLOAD))
		panic("net test: %s counted %lu packets, %lu bytes; want %lu", null0->name,
		      packets, bytes, want);
	// The last datagram's headers, as null0 saw them: both checksums
	// verify (sum to 0), and the fields are the ones the sender asked for.
	uint8_t *h = nullnet_last;
	uint16_t ulen = (uint16_t)(h[IP_HLEN + 4] << 8 | h[IP_HLEN + 5]);
	if (nullnet_last_len != 64 || h[0] != 0x45 || h[9] != 17 || ulen != UDP_HLEN + SEND_PAYLOAD ||
	    ip_checksum(h, IP_HLEN) != 0 || h[IP_HLEN + 2] != 0 || h[IP_HLEN + 3] != 9)
		panic("net test: bad headers in the last packet");
	static uint8_t dgram[UDP_HLEN + SEND_PAYLOAD];
	memcpy(dgram, h + IP_HLEN, 64 - IP_HLEN);
	memcpy(dgram + 64 - IP_HLEN, user_payload + 64 - IP_HLEN - UDP_HLEN, SEND_PAYLOAD - (64 - IP_HLEN - UDP_HLEN));
	uint32_t saddr = (uint32_t)h[12] << 24 | h[13] << 16 | h[14] << 8 | h[15];
	uint32_t daddr = (uint32_t)h[16] << 24 | h[17] << 16 | h[18] << 8 | h[19];
	// Over a datagram carrying its checksum the sum is all ones, so the
	// complement is 0, which udp_checksum reports as 0xffff; one changed
	// byte must break that.
	if (daddr != 0x0a000001 || saddr != null0->ip_addr || udp_checksum(saddr, daddr, dgram, sizeof dgram) != 0xffff)
		panic("net test: bad addresses or UDP checksum in the last packet");
	dgram[UDP_HLEN]++;
	if (udp_checksum(saddr, daddr, dgram, sizeof dgram) == 0xffff)
		panic("net test: the UDP checksum does not cover the payload");
	printk("test: %d user thread(s) sent %lu UDP packets, %s counted %lu packets, %lu bytes, checksums ok\n",
	       ncpu, want, null0->name, packets, bytes);
}

// Block: one user process per CPU at once reads BLKT_N + 1 sectors from
// nullb0 through io_submit/io_getevents and checks the bad-pointer and
// bad-argument cases itself (uprog_blk); every read is counted by the
// device and completed on its submitter's CPU, and every tag comes back.
#define BLKT_N 8             // user.S
static void
blk_tests(void)
{
	extern char uprog_blk[];
	struct gendisk *nullb0 = disk_default();
	struct request_queue *q = nullb0->queue;
	struct nullblk_stats s0 = nullblk_get_stats();
	uint64_t done0[NCPU];
	struct proc *ps[NCPU];

	for (int cpu = 0; cpu < ncpu; cpu++)
		done0[cpu] = q->ctx[cpu]->rq_completed;
	for (int cpu = 0; cpu < ncpu; cpu++)
		ps[cpu] = proc_create_data("blk", uprog_blk, cpu, 0, NULL, 0, 2);
	for (int cpu = 0; cpu < ncpu; cpu++) {
		int status = proc_wait(ps[cpu]);
		if (status != 0)
			panic("blk test: reader on cpu %d exited with %d", cpu, status);
	}
	struct nullblk_stats s = nullblk_get_stats();
	uint64_t want = (uint64_t)ncpu * (BLKT_N + 1);
	if (s.requests - s0.requests != want || s.bytes - s0.bytes != want * SECTOR_SIZE)
		panic("blk test: %s counted %lu requests, %lu bytes; want %lu", nullb0->disk_name,
		      s.requests - s0.requests, s.bytes - s0.bytes, want);
	for (int cpu = 0; cpu < ncpu; cpu++)
		if (q->ctx[cpu]->rq_completed - done0[cpu] != BLKT_N + 1)
			panic("blk test: %lu requests completed on cpu %d, want %d",
			      q->ctx[cpu]->rq_completed - done0[cpu], cpu, BLKT_N + 1);
	for (uint32_t i = 0; i < q->nr_hw_queues; i++)
		if (q->hctxs[i]->tags->nr_free != q->hctxs[i]->tags->depth)
			panic("blk test: queue %u has %u tags in use", i,
			      q->hctxs[i]->tags->depth - q->hctxs[i]->tags->nr_free);
	printk("test: %d user thread(s) read %lu sectors asynchronously, %s counted %lu requests, bad pointers -EFAULT\n",
	       ncpu, want, nullb0->disk_name, s.requests - s0.requests);
}

static void
selftest(void *arg)
{
	const char *how = cmdline_option("crash");
	if (how)
		crash(how);

	// Heap: reuse after free, and distinct blocks.
	void *a = kmalloc(24), *b = kmalloc(24);
	if (a == b)
		panic("kmalloc returned one block twice");
	kfree(a);
	if (kmalloc(24) != a)
		panic("kmalloc did not reuse a freed block");

	// IPIs: every other CPU takes one.
	apic_ipi_allbutself(T_TEST);
	for (int i = 0; i < 100 && test_ipis < (uint64_t)ncpu - 1; i++)
		sleep_ticks(1);
	if (test_ipis != (uint64_t)ncpu - 1)
		panic("IPI test: %lu of %d CPUs answered", test_ipis, ncpu - 1);
	printk("test: IPI to all-but-self answered by %lu cpu(s)\n", test_ipis);

	// NMIs: every other CPU takes one, on its NMI IST (trap.c checks).
	apic_nmi_allbutself();
	for (int i = 0; i < 100 && test_nmis < (uint64_t)ncpu - 1; i++)
		sleep_ticks(1);
	if (test_nmis != (uint64_t)ncpu - 1)
		panic("NMI test: %lu of %d CPUs answered", test_nmis, ncpu - 1);
	printk("test: NMI to all-but-self answered by %lu cpu(s)\n", test_nmis);

	// Preemption: both spinners on the last CPU.
	int last = ncpu - 1;
	thread_create("spin0", spinner, (void *)0, last);
	thread_create("spin1", spinner, (void *)1, last);
	wait_done(2);
	printk("test: preemption ok (two spinners on cpu %d)\n", last);

	// Locks, sleep and wakeup across CPUs.
	ndone = 0;
	for (int c = 0; c < ncpu; c++)
		for (int w = 0; w < WORKERS_PER_CPU; w++)
			thread_create("worker", worker, NULL, c);
	wait_done(ncpu * WORKERS_PER_CPU);
	if (counter != (uint64_t)ncpu * WORKERS_PER_CPU * ROUNDS)
		panic("lock test: counter %lu", counter);
	printk("test: %d workers, counter %lu ok\n", ncpu * WORKERS_PER_CPU, counter);

	user_tests();
	net_tests();
	blk_tests();
	lvd_init();        // isolated domains, under the hypervisor (lvd.c)
	lvd_selftest();    // with the "selftest" boot module (lvd_test.c)
	if (cmdline_option("lvdtest") != NULL) {
		// After every misbehaviour: the kernel's own tests, once more.
		user_tests();
		net_tests();
		blk_tests();
		printk("lvdtest: after the misbehaviours the kernel's user, network and block tests pass again\n");
	}
	lvd_isolate_from_cmdline();   // isolate= and domain= (lvd_drivers.c)
	if (cmdline_option("domaincheck") != NULL) {
		// After users' domains (lvd fuzz-domains): the kernel's own tests, once more.
		user_tests();
		net_tests();
		blk_tests();
		printk("lvd: after the domains the kernel's user, network and block tests pass again\n");
	}
	lvd_bench();                  // lvdbench= (lvd_bench.c)

	for (int c = 0; c < ncpu; c++)
		printk("cpu %d: %lu ticks, %lu switches\n", c, cpus[c].ticks, cpus[c].rq.switches);
	printk("kernel: all tests passed, %lu pages free\n", kalloc_free_pages());
	const char *workload = cmdline_option("workload");
	if (workload)
		workload_run(workload);
	if (cmdline_option("noexit") == NULL)
		machine_exit(0);
}

/*
 * Late launch (docs/HYPERCALLS.md): once every CPU is up, ask the platform firmware for the
 * LVD hypervisor, which deprivileges all CPUs into VT-x guests exactly where they stand.
 * Without an installed hypervisor the request answers nothing and the kernel stays native.
 */
static void
hypervisor_late_launch(void)
{
	if (lvd_launch() == 0 && lvd_hypervisor_present())
		printk("hypervisor: late-launched after boot; the kernel runs as a VT-x guest\n");
}

void
kmain(uint64_t bootinfo_pa)
{
	// GS first: locks (and so printk) use the per-CPU block.
	percpu_init(0);
	boot_parse(bootinfo_pa);
	printk("LVD kernel\n");
	boot_print();

	kernel_image = (struct phys_range){ KV2P(__kernel_start), KV2P(__kernel_end) };
	carve_domain_memory();
	kalloc_init(4UL << 30);    // what the boot identity map reaches
	vm_init();                  // from here on, only our own tables
	kalloc_init(~0UL);         // the rest of RAM
	printk("mem: kernel [%#lx-%#lx), %lu MiB free\n", kernel_image.base,
	       kernel_image.end, kalloc_free_pages() >> 8);

	idt_init();
	bsp_setup();                // GDT, TSS, IDT, APIC timer of CPU 0
	sched_init();
	lvd_attach();               // the LVD runtime's context-switch hooks (lvd.c)
	aio_init();                 // the asynchronous I/O contexts' teardown (aio.c)
	sti();
	smp_start();
	hypervisor_late_launch();

	pktpool_init();             // before the first sk_buff
	net_devices_init();
	blk_devices_init();
	thread_create("selftest", selftest, NULL, 0);
	cli();
	scheduler();
}
