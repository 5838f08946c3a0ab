// boot.c: the boot-information block of docs/BOOT.md.
//
// The block lives in memory the loader marks reserved, and it is reached
// through the boot identity map, which vm_init() takes away.  So it is
// copied into the kernel (bootinfo) before anything else uses it.

#include "kernel.h"

#define BOOT_MAGIC   0x4c56442d424f4f54ULL   // "LVD-BOOT"
#define BOOT_VERSION 1

struct lvd_boot_info {
	uint64_t magic;
	uint32_t version;
	uint32_t cpu_count;
	uint64_t cmdline;
	uint64_t mailbox;
	uint64_t tsc_hz;
	uint32_t mmap_count;
	uint32_t module_count;       // the module table follows mmap[]
	struct mmap_entry mmap[];
};

struct bootinfo bootinfo;

void
boot_parse(uint64_t info_pa)
{
	struct lvd_boot_info *bi = P2V(info_pa);

	if (bi->magic != BOOT_MAGIC)
		panic("boot info at %#lx: bad magic %#lx", info_pa, bi->magic);
	if (bi->version != BOOT_VERSION)
		panic("boot info version %u, want %u", bi->version, BOOT_VERSION);
	if (bi->cpu_count < 1 || bi->cpu_count > NCPU)
		panic("boot info: %u cpus", bi->cpu_count);
	bootinfo.cpu_count = bi->cpu_count;
	bootinfo.mailbox = bi->mailbox;
	bootinfo.tsc_hz = bi->tsc_hz;
	bootinfo.mmap_count = bi->mmap_count < MMAP_MAX ? bi->mmap_count : MMAP_MAX;
	for (uint32_t i = 0; i < bootinfo.mmap_count; i++)
		bootinfo.mmap[i] = bi->mmap[i];
	if (bi->module_count > MODULE_MAX)
		panic("boot info: %u modules, at most %d", bi->module_count, MODULE_MAX);
	const struct boot_module *mods = (const struct boot_module *)&bi->mmap[bi->mmap_count];
	bootinfo.module_count = bi->module_count;
	for (uint32_t i = 0; i < bi->module_count; i++) {
		bootinfo.module[i] = mods[i];
		bootinfo.module[i].name[sizeof mods[i].name - 1] = 0;
	}
	if (bi->cmdline != 0) {
		const char *s = P2V(bi->cmdline);
		size_t i;
		for (i = 0; i + 1 < sizeof bootinfo.cmdline && s[i]; i++)
			bootinfo.cmdline[i] = s[i];
		bootinfo.cmdline[i] = 0;
	}
}

const struct boot_module *
boot_module(const char *name)
{
	for (uint32_t i = 0; i < bootinfo.module_count; i++)
		if (strncmp(bootinfo.module[i].name, name, sizeof bootinfo.module[i].name) == 0)
			return &bootinfo.module[i];
	return NULL;
}

void
boot_print(void)
{
	uint64_t usable = 0;

	printk("boot: %u cpu(s), tsc %lu Hz, mailbox %#lx\n",
	       bootinfo.cpu_count, bootinfo.tsc_hz, bootinfo.mailbox);
	printk("boot: cmdline \"%s\"\n", bootinfo.cmdline);
	for (uint32_t i = 0; i < bootinfo.mmap_count; i++) {
		struct mmap_entry *e = &bootinfo.mmap[i];
		printk("  mem [0x%012lx-0x%012lx) %8lu KiB %s\n", e->base,
		       e->base + e->length, e->length >> 10,
		       e->type == MMAP_USABLE ? "usable" : "reserved");
		if (e->type == MMAP_USABLE)
			usable += e->length;
	}
	printk("boot: %lu MiB usable\n", usable >> 20);
	for (uint32_t i = 0; i < bootinfo.module_count; i++)
		printk("boot: module %s at %#lx, %lu bytes\n", bootinfo.module[i].name,
		       bootinfo.module[i].base, bootinfo.module[i].length);
}

// Options are space-separated "name=value" words.
const char *
cmdline_option(const char *name)
{
	size_t n = strlen(name);
	const char *s = bootinfo.cmdline;

	while (*s) {
		while (*s == ' ')
			s++;
		if (strncmp(s, name, n) == 0 && s[n] == '=')
			return s + n + 1;
		if (strncmp(s, name, n) == 0 && (s[n] == ' ' || s[n] == 0))
			return s + n;
		while (*s && *s != ' ')
			s++;
	}
	return NULL;
}
