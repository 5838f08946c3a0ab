// SPDX-License-Identifier: GPL-2.0
/*
 * lvd_hv.c: a Linux module that puts the running Linux under the LVD hypervisor and takes it
 * out again (docs/LINUX.md, "The hypervisor under Linux"), as the original LVD's module does.
 *
 * insmod: every online CPU late-launches itself (on_each_cpu; CPUID leaf LVD_CPUID_LAUNCH with
 * scope LVD_SCOPE_THIS_CPU, which the platform firmware turns into VMLAUNCH of that CPU with
 * its live state), so each CPU enters VMX non-root operation at a point its kernel chose: in
 * this module's IPI handler, interrupts off, in 64-bit mode. One CPU at a time because VMX
 * operation is per logical processor (SDM 24.1: each one enters it itself) and because only
 * the CPU asking is known to stand where a VMCS can hold it; while some CPUs are launched and
 * others not, the hypervisor serves only the former. Linux then runs deprivileged: its CPUIDs,
 * MSR accesses, CR0/CR4 changes, CR3 loads outside the target list, port I/O, descriptor-table
 * instructions and HLTs exit, and the hypervisor counts them by reason.
 *
 * /proc/lvd_hv: per CPU, whether the hypervisor answers there and its VM exits so far (read
 * on that CPU through LVD_HC_COUNTER).
 *
 * rmmod: every CPU devirtualizes itself (LVD_HC_DEVIRTUALIZE with LVD_SCOPE_THIS_CPU, on each)
 * and Linux goes on natively. Hotplugged CPUs are held off while CPUs change state (cpus_read_lock); a CPU
 * brought online later stays native (this machine does not hotplug CPUs).
 */
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/smp.h>

#include <lvd/hypercall.h>

/* What each CPU's launch returned, and whether it runs under the hypervisor now. */
struct lvd_cpu {
	long launch_status;
	bool launched;
	/* Read on that CPU (lvd_read_state): does the hypervisor answer there, its VM exits so far. */
	bool present;
	unsigned long exits;
};
static DEFINE_PER_CPU(struct lvd_cpu, lvd_cpus);
static struct proc_dir_entry *lvd_proc;

static void lvd_launch_this_cpu(void *unused)
{
	struct lvd_cpu *c = this_cpu_ptr(&lvd_cpus);

	c->launch_status = lvd_launch_scope(LVD_SCOPE_THIS_CPU);
	/* Without an installed hypervisor the leaf reads 0 too: ask who answers. */
	c->launched = c->launch_status == 0 && lvd_hypervisor_present();
}

static void lvd_devirtualize_this_cpu(void *unused)
{
	struct lvd_cpu *c = this_cpu_ptr(&lvd_cpus);

	if (!c->launched)
		return;
	/* This CPU only: after it, it runs natively (a VMCALL now would #UD); the others stay as they are. */
	lvd_devirtualize(LVD_SCOPE_THIS_CPU);
	c->launched = false;
}

static void lvd_read_state(void *unused)
{
	struct lvd_cpu *c = this_cpu_ptr(&lvd_cpus);

	c->present = lvd_hypervisor_present();
	c->exits = c->present ? lvd_counter(LVD_COUNTER_VM_EXITS) : 0;
}

static int lvd_hv_show(struct seq_file *m, void *v)
{
	int cpu;

	cpus_read_lock();
	for_each_online_cpu(cpu) {
		struct lvd_cpu *c = per_cpu_ptr(&lvd_cpus, cpu);

		smp_call_function_single(cpu, lvd_read_state, NULL, 1);
		seq_printf(m, "cpu %d: %s, %lu VM exits\n", cpu, c->present ? "deprivileged" : "native", c->exits);
	}
	cpus_read_unlock();
	return 0;
}

static int __init lvd_hv_init(void)
{
	int cpu, launched = 0, online = 0;

	cpus_read_lock();
	on_each_cpu(lvd_launch_this_cpu, NULL, 1);
	for_each_online_cpu(cpu) {
		struct lvd_cpu *c = per_cpu_ptr(&lvd_cpus, cpu);

		online++;
		if (c->launched)
			launched++;
		else
			pr_err("lvd_hv: CPU %d: late launch failed (status %ld)\n", cpu, c->launch_status);
	}
	if (launched != online) {
		/* All or nothing: the CPUs that did launch go back. */
		on_each_cpu(lvd_devirtualize_this_cpu, NULL, 1);
		cpus_read_unlock();
		return -ENODEV;
	}
	cpus_read_unlock();
	lvd_proc = proc_create_single("lvd_hv", 0444, NULL, lvd_hv_show);
	pr_info("lvd_hv: the LVD hypervisor (ABI %lu) runs under all %d CPUs\n",
		lvd_hypercall(LVD_HC_VERSION, 0, 0, 0, 0, 0).value, launched);
	return 0;
}

static void __exit lvd_hv_exit(void)
{
	int cpu, native = 0;

	proc_remove(lvd_proc);
	cpus_read_lock();
	on_each_cpu(lvd_devirtualize_this_cpu, NULL, 1);
	on_each_cpu(lvd_read_state, NULL, 1);
	for_each_online_cpu(cpu)
		if (!per_cpu_ptr(&lvd_cpus, cpu)->present)
			native++;
	cpus_read_unlock();
	pr_info("lvd_hv: devirtualized: %d CPUs run natively\n", native);
}

module_init(lvd_hv_init);
module_exit(lvd_hv_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Late launch of the LVD hypervisor under the running Linux, on every CPU");
