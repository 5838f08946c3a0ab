// workload.c: measured workloads, selected on the command line, run after
// the boot self tests.  The point is a number comparable to the LVD paper's
// (cycles per packet through the kernel's send path), so everything here
// goes through the same path a real program would: ring 3, SYSCALL, copyin,
// UDP/IPv4 headers and checksums, dev_queue_xmit, the device's tx lock.
//
//   workload=nullnet threads=T duration=CYCLES
//   workload=ixgbe threads=T duration=CYCLES   (the kernel built with the ixgbe
//       driver, nic=ixgbe: the same senders through eth0 and the 82599 model)
//   workload=ixgbe-rx duration=CYCLES   (the same kernel: receive what the peer's
//       generator sends, polling the driver, each datagram checked by udp_rcv)
//   workload=ixgbe-rr duration=CYCLES   (the same kernel: netperf UDP_RR against
//       the peer's echo responder, recv polling the driver)
//   workload=nullblk threads=T depth=D duration=CYCLES seed=S
//
// T user processes (process i on CPU i % ncpu) each send 1472-byte UDP
// datagrams to null0, or keep D random 512-byte reads of nullb0 in flight
// (io_submit / io_getevents), until RDTSC passes start + CYCLES.  Time is the
// machine's modeled cycles (RDTSC; tsc_hz from the boot info), never host
// time, so a result does not depend on how fast the host ran the model.

#include "kernel.h"
#include "blk.h"
#include "net.h"
#include "nullblk.h"
#include "percpu.h"
#include "x86.h"
#include "lvd.h"
#ifdef CONFIG_IXGBE
#include "ixgbe.h"
#include "lvd_ixgbe.h"
#endif

extern char uprog_nullnet[], uprog_fio[];
#ifdef CONFIG_IXGBE
extern char uprog_udprr[], uprog_udpsend[];
#endif

#define NULLNET_PAYLOAD   1472        // user.S: MTU 1500 - IP 20 - UDP 8
#define DEFAULT_THREADS   1
#define DEFAULT_DURATION  20000000UL  // modeled cycles
#define DEFAULT_DEPTH     1
#define DEFAULT_SEED      1
#define MAX_THREADS       64

// faults.c: the fault injector (lvd faults, lvd demo): with it, packets
// dropped and counters projected from a faulty driver are results, not errors.
int faults_start(uint64_t start, uint64_t end);
void faults_report(void);

// The decimal value of option `name`, or `def` if it is absent.  A value
// that is not a plain decimal number panics: a typo must not silently
// measure something else.
static uint64_t
option_u64(const char *name, uint64_t def)
{
	const char *s = cmdline_option(name);
	uint64_t v = 0;

	if (s == NULL)
		return def;
	if (*s < '0' || *s > '9')
		panic("workload: %s= needs a number", name);
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	if (*s != ' ' && *s != 0)
		panic("workload: %s= needs a number", name);
	return v;
}

static int
option_is(const char *value, const char *want)
{
	size_t n = strlen(want);
	return strncmp(value, want, n) == 0 && (value[n] == ' ' || value[n] == 0);
}
// The result line's rates for n operations in `cycles` modeled cycles of
// `threads` threads: operations per second, and cycles per operation and
// thread.  128-bit intermediates: n * tsc_hz overflows 64 bits for long runs
// at GHz rates.
static uint64_t
per_second(uint64_t n, uint64_t cycles)
{
	return (uint64_t)((unsigned __int128)n * bootinfo.tsc_hz / cycles);
}

static uint64_t
cycles_each(uint64_t cycles, uint64_t threads, uint64_t n)
{
	return (uint64_t)((unsigned __int128)cycles * threads / n);
}


static void
nullnet_workload(void)
{
	uint64_t threads = option_u64("threads", DEFAULT_THREADS);
	uint64_t duration = option_u64("duration", DEFAULT_DURATION);
	static struct proc *procs[64];

	if (threads == 0 || threads > sizeof procs / sizeof procs[0])
		panic("workload: threads=%lu (1..%zu)", threads, sizeof procs / sizeof procs[0]);
	if (duration == 0)
		panic("workload: duration=0");

	// The span runs from before the first process exists to after the
	// last has exited, so creating and reaping them is inside C: it is
	// small against a duration of millions of cycles, and it keeps the
	// measurement honest (no packet is sent outside the span).  The
	// packet count is the device's, not the senders': what null0 took.
	struct net_device *null0 = dev_get_by_name("null0");
	struct net_device_stats s0 = dev_get_stats(null0);
	uint64_t start = rdtsc();
	for (uint64_t i = 0; i < threads; i++)
		procs[i] = proc_create_arg("nullnet", uprog_nullnet, (int)(i % (uint64_t)ncpu),
					   start + duration);
	int faults = faults_start(start, start + duration);
	for (uint64_t i = 0; i < threads; i++) {
		int status = proc_wait(procs[i]);
		if (status != 0)
			panic("workload: sender %lu exited with %d", i, status);
	}
	uint64_t cycles = rdtsc() - start;
	struct net_device_stats s = dev_get_stats(null0);

	uint64_t packets = s.tx_packets - s0.tx_packets;
	if (faults) {
		faults_report();
		printk("faults: workload: %lu packets, %lu dropped\n", packets, s.tx_dropped - s0.tx_dropped);
	} else if (s.tx_dropped != s0.tx_dropped)
		panic("workload: %s dropped %lu packets", null0->name, s.tx_dropped - s0.tx_dropped);
	if (!faults && s.tx_bytes - s0.tx_bytes != packets * (IP_HLEN + UDP_HLEN + NULLNET_PAYLOAD))
		panic("workload: %s counted %lu bytes for %lu packets", null0->name,
		      s.tx_bytes - s0.tx_bytes, packets);
	if (packets == 0)
		panic("workload: no packets sent");

	printk("result: workload=nullnet threads=%lu packets=%lu cycles=%lu pkts_per_sec=%lu cycles_per_packet=%lu\n",
	       threads, packets, cycles, per_second(packets, cycles), cycles_each(cycles, threads, packets));
}

#ifdef CONFIG_IXGBE
// The nullnet workload's senders into eth0 (payload= bytes, 1472 unless
// asked: uprog_udpsend), the in-kernel ixgbe driver
// (guest/drivers/ixgbe): the same datagrams leave through the 82599 model to
// the peer on its cable, which checks them.  eth0 replaces null0 as the route.
static void
ixgbe_workload(void)
{
	uint64_t threads = option_u64("threads", DEFAULT_THREADS);
	uint64_t duration = option_u64("duration", DEFAULT_DURATION);
	uint64_t payload = option_u64("payload", NULLNET_PAYLOAD);
	static struct proc *procs[64];
	static uint64_t params[2];

	if (threads == 0 || threads > sizeof procs / sizeof procs[0])
		panic("workload: threads=%lu (1..%zu)", threads, sizeof procs / sizeof procs[0]);
	if (duration == 0)
		panic("workload: duration=0");
	if (payload < 18 || payload > NULLNET_PAYLOAD)
		panic("workload: payload=%lu (18..%d: a 60-byte frame to the MTU)", payload, NULLNET_PAYLOAD);
	struct net_device *eth0 = dev_get_by_name("eth0");
	if (eth0 == NULL)
		panic("workload: no eth0 (workload=ixgbe needs nic=ixgbe and the NIC)");
	dev_close(dev_get_by_name("null0"));
	if (dev_open(eth0) != 0)
		panic("workload: cannot bring up eth0");
	struct net_device_stats s0 = dev_get_stats(eth0);
	uint64_t start = rdtsc();
	params[0] = start + duration;
	params[1] = payload;
	for (uint64_t i = 0; i < threads; i++)
		procs[i] = proc_create_data("udp_send", uprog_udpsend, (int)(i % (uint64_t)ncpu), 0, params, sizeof params, 1);
	for (uint64_t i = 0; i < threads; i++) {
		int status = proc_wait(procs[i]);
		if (status != 0)
			panic("workload: sender %lu exited with %d", i, status);
	}
	uint64_t cycles = rdtsc() - start;
	struct net_device_stats s = dev_get_stats(eth0);
	uint64_t packets = s.tx_packets - s0.tx_packets;
	if (s.tx_dropped != s0.tx_dropped)
		panic("workload: eth0 dropped %lu packets", s.tx_dropped - s0.tx_dropped);
	if (s.tx_bytes - s0.tx_bytes != packets * (IP_HLEN + UDP_HLEN + payload))
		panic("workload: eth0 counted %lu bytes for %lu packets", s.tx_bytes - s0.tx_bytes, packets);
	if (packets == 0)
		panic("workload: no packets sent");
	printk("result: workload=ixgbe threads=%lu packets=%lu cycles=%lu pkts_per_sec=%lu cycles_per_packet=%lu\n",
	       threads, packets, cycles, per_second(packets, cycles), cycles_each(cycles, threads, packets));
}

// Receive for `duration` cycles: NAPI-style, the driver polled with a budget
// of 64 until it finds nothing, then again; the busy cycles are those of
// polls that found frames (the driver's and udp_rcv's work per datagram).
static void
ixgbe_rx_workload(void)
{
	uint64_t duration = option_u64("duration", DEFAULT_DURATION);
	if (duration == 0)
		panic("workload: duration=0");
	if (dev_get_by_name("eth0") == NULL)
		panic("workload: no eth0 (workload=ixgbe-rx needs nic=ixgbe and the NIC)");
	// Isolated (isolate=ixgbe): the same calls cross into the driver's domain.
	// rxirq: NAPI on the queue's MSI-X vector instead of polling without end.
	int iso = lvd_ixgbe_domain() != NULL, irq = cmdline_option("rxirq") != NULL;
	if (irq && (iso ? lvd_ixgbe_rx_msix() : ixgbe_msix_rx(T_NIC, apic_id())) != 0)
		panic("workload: rxirq: no MSI-X for the receive queue");
	struct udp_rx_stats r0 = udp_rx;
	uint64_t missed0 = iso ? lvd_ixgbe_rx_missed() : ixgbe_rx_missed();
	if (iso)
		lvd_ixgbe_rx_start();
	else
		ixgbe_rx_start();
	uint64_t start = rdtsc(), end = start + duration, busy = 0, irqs0 = napi_irqs;
	if (irq && iso)
		lvd_ixgbe_irq_enable();
	else if (irq)
		ixgbe_irq_enable();
	for (uint64_t t = start; t < end; t = rdtsc()) {
		if (irq) {
			napi_wait();   // the vector's message: then poll until the ring is empty
			t = rdtsc();
			if (t >= end)
				break;
			int n, got = 0;
			while ((n = iso ? lvd_ixgbe_poll(64) : ixgbe_poll(64, udp_rcv)) > 0)
				got += n;
			if (iso)
				lvd_ixgbe_irq_enable();
			else
				ixgbe_irq_enable();
			if (got)
				busy += rdtsc() - t;
			continue;
		}
		int n = iso ? lvd_ixgbe_poll(64) : ixgbe_poll(64, udp_rcv);
		if (n == 0)
			pause();
		else
			busy += rdtsc() - t;
	}
	uint64_t cycles = rdtsc() - start;
	uint64_t packets = udp_rx.datagrams - r0.datagrams, bad = udp_rx.bad - r0.bad;
	if (packets == 0)
		panic("workload: nothing received");
	printk("ixgbe: received %lu datagrams, %lu bad, %lu missed by the NIC, %lu busy cycles per datagram\n",
	       packets, bad, (iso ? lvd_ixgbe_rx_missed() : ixgbe_rx_missed()) - missed0, busy / packets);
	if (irq)
		printk("ixgbe: %lu MSI-X interrupts for %lu datagrams\n", napi_irqs - irqs0, packets);
	printk("result: workload=ixgbe-rx threads=1 packets=%lu cycles=%lu pkts_per_sec=%lu cycles_per_packet=%lu\n",
	       packets, cycles, per_second(packets, cycles), cycles_each(cycles, 1, packets));
}

// netperf UDP_RR: one user thread sends a 64-byte request to the echo peer
// and waits for its reply (recv, polling the NIC), again until the deadline;
// a transaction is a reply delivered.  eth0 replaces null0 as the route.
static void
ixgbe_rr_workload(void)
{
	uint64_t duration = option_u64("duration", DEFAULT_DURATION);
	struct net_device *eth0 = dev_get_by_name("eth0");
	if (duration == 0)
		panic("workload: duration=0");
	if (eth0 == NULL)
		panic("workload: no eth0 (workload=ixgbe-rr needs nic=ixgbe and the NIC)");
	dev_close(dev_get_by_name("null0"));
	if (dev_open(eth0) != 0)
		panic("workload: cannot bring up eth0");
	if (lvd_ixgbe_domain() != NULL)
		lvd_ixgbe_rx_start();
	else
		ixgbe_rx_start();
	uint64_t d0 = udp_rx.delivered, bad0 = udp_rx.bad;
	uint64_t start = rdtsc();
	struct proc *p = proc_create_arg("udp_rr", uprog_udprr, 0, start + duration);
	int status = proc_wait(p);
	if (status != 0)
		panic("workload: the UDP_RR client exited with %d", status);
	uint64_t cycles = rdtsc() - start, n = udp_rx.delivered - d0;
	if (n == 0 || udp_rx.bad != bad0)
		panic("workload: %lu transactions, %lu bad replies", n, udp_rx.bad - bad0);
	printk("result: workload=ixgbe-rr threads=1 packets=%lu cycles=%lu pkts_per_sec=%lu cycles_per_packet=%lu\n",
	       n, cycles, per_second(n, cycles), cycles_each(cycles, 1, n));
}
#endif

// The xorshift64 state of reader i: seed and i mixed (splitmix64's
// finalizer), so that neighbouring seeds and threads start far apart;
// never 0 (xorshift's one fixed point).
static uint64_t
fio_state(uint64_t seed, uint64_t i)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15UL + (i + 1) * 0xbf58476d1ce4e5b9UL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
	z ^= z >> 31;
	return z ? z : 1;
}

// fio's randread with libaio: T readers (uprog_fio), each keeping D
// 512-byte reads at random sectors of nullb0 in flight until the deadline,
// then draining them.  The I/O count is the device's.
static void
nullblk_workload(void)
{
	uint64_t threads = option_u64("threads", DEFAULT_THREADS);
	uint64_t depth = option_u64("depth", DEFAULT_DEPTH);
	uint64_t duration = option_u64("duration", DEFAULT_DURATION);
	uint64_t seed = option_u64("seed", DEFAULT_SEED);
	static struct proc *procs[MAX_THREADS];
	static uint64_t params[4];

	if (threads == 0 || threads > MAX_THREADS)
		panic("workload: threads=%lu (1..%d)", threads, MAX_THREADS);
	if (depth == 0 || depth > IO_MAX_INFLIGHT)
		panic("workload: depth=%lu (1..%d)", depth, IO_MAX_INFLIGHT);
	if (duration == 0)
		panic("workload: duration=0");

	struct gendisk *nullb0 = disk_default();
	struct nullblk_stats s0 = nullblk_get_stats();
	uint64_t start = rdtsc();
	for (uint64_t i = 0; i < threads; i++) {
		params[FIO_DEADLINE / 8] = start + duration;
		params[FIO_DEPTH / 8] = depth;
		params[FIO_STATE / 8] = fio_state(seed, i);
		params[FIO_NSECT / 8] = nullb0->capacity;
		procs[i] = proc_create_data("fio", uprog_fio, (int)(i % (uint64_t)ncpu), 0, params,
					    sizeof params, FIO_PAGES(depth));
	}
	int faults = faults_start(start, start + duration);
	int failed = 0;
	for (uint64_t i = 0; i < threads; i++) {
		int status = proc_wait(procs[i]);
		if (status != 0 && !faults)
			panic("workload: reader %lu exited with %d", i, status);
		failed += status != 0;
	}
	uint64_t cycles = rdtsc() - start;
	struct nullblk_stats s = nullblk_get_stats();

	uint64_t ios = s.requests - s0.requests;
	if (faults) {
		faults_report();
		printk("faults: workload: %lu I/Os, %d readers saw an I/O error\n", ios, failed);
	} else if (s.bytes - s0.bytes != ios * SECTOR_SIZE)
		panic("workload: %s counted %lu bytes for %lu requests", nullb0->disk_name,
		      s.bytes - s0.bytes, ios);
	if (ios == 0)
		panic("workload: no I/O completed");
	printk("result: workload=nullblk threads=%lu depth=%lu ios=%lu cycles=%lu iops=%lu cycles_per_io=%lu\n",
	       threads, depth, ios, cycles, per_second(ios, cycles), cycles_each(cycles, threads, ios));
}

void
workload_run(const char *name)
{
	if (option_is(name, "nullnet"))
		nullnet_workload();
	else if (option_is(name, "nullblk"))
		nullblk_workload();
#ifdef CONFIG_IXGBE
	else if (option_is(name, "ixgbe"))
		ixgbe_workload();
	else if (option_is(name, "ixgbe-rx"))
		ixgbe_rx_workload();
	else if (option_is(name, "ixgbe-rr"))
		ixgbe_rr_workload();
#endif
	else
		panic("workload: unknown workload (want workload=nullnet or nullblk)");
	lvd_print_stats();   // crossings into isolated drivers, if any (lvd.c)
	machine_exit(0);
}
