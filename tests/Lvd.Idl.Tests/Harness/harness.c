// harness.c: channels, shadow allocation and the commands every harness has.
//
//   page OFF HEX          write bytes into the kernel's view of the register page
//   raw FID W1 .. W7      send a hand-made request from the kernel to the domain;
//                         prints "status S calls C" (C: driver functions run so far)
//   corrupt W V           the next reply (either way) gets word W replaced by V
//   corrupt_page OFF HEX  the next reply gets these register-page bytes at OFF
//   live                  prints the number of live shadow objects
//   caps                  prints how many capability-table slots each side uses
//   crossings             prints the number of crossings so far

#include <ctype.h>

#include "harness.h"

struct side kside, dside;
long shadows_live;
long impl_calls;

void *
lvd_shadow_alloc(size_t size, uint32_t tag)
{
	(void)tag;
	shadows_live++;
	return calloc(1, size);
}

void
lvd_shadow_free(void *obj, uint32_t tag)
{
	(void)tag;
	if (obj != NULL)
		shadows_live--;
	free(obj);
}

// A hostile callee, played by corrupting the reply on its way back to the caller.
static struct {
	int word;
	uint64_t value;
	int page_armed;
	uint64_t page_off;
	uint8_t bytes[64];
	size_t n;
} corruption = { .word = -1 };

static int
corrupt(struct side *caller, int rc, struct lvd_msg *m)
{
	if (corruption.word >= 0)
		m->w[corruption.word] = corruption.value;
	if (corruption.page_armed)
		memcpy(caller->page.bytes + corruption.page_off, corruption.bytes, corruption.n);
	corruption.word = -1;
	corruption.page_armed = 0;
	return rc;
}

static int
corrupting_to_domain(struct lvd_msg *m)
{
	return corrupt(&kside, lvd_loopback_to_domain(m), m);
}

static int
corrupting_to_kernel(struct lvd_msg *m)
{
	return corrupt(&dside, lvd_loopback_to_kernel(m), m);
}

static void
init_side(struct side *s)
{
	lvd_captab_init(&s->caps, s->slots, 64);
	s->chan.target = 1;
	s->chan.caps = &s->caps;
	s->chan.regpage = &s->page;
	s->chan.pool.base = s->pool;
	s->chan.pool.size = POOL_SIZE;
}

void
harness_connect(lvd_dispatch kernel, lvd_dispatch domain)
{
	init_side(&kside);
	init_side(&dside);
	lvd_loopback_connect(&kside.chan, kernel, &dside.chan, domain);
	kside.chan.transport = corrupting_to_domain;
	dside.chan.transport = corrupting_to_kernel;
}

uint64_t
next_u64(char **s)
{
	return strtoull(*s, s, 0);
}

int64_t
next_s64(char **s)
{
	return strtoll(*s, s, 0);
}

size_t
next_hex(char **s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (**s == ' ')
		(*s)++;
	if (**s == '-') { // "-" is the empty string
		(*s)++;
		return 0;
	}
	while (n < max && isxdigit((unsigned char)(*s)[0]) && isxdigit((unsigned char)(*s)[1])) {
		char pair[3] = { (*s)[0], (*s)[1], '\0' };
		out[n++] = (uint8_t)strtoul(pair, NULL, 16);
		*s += 2;
	}
	return n;
}

void
print_hex(const uint8_t *p, size_t n)
{
	if (n == 0)
		printf("-");
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static int
used_slots(const struct lvd_captab *t)
{
	int n = 0;

	for (uint32_t i = 0; i < t->nslots; i++)
		n += t->slots[i].tag != 0;
	return n;
}

static void
raw(char *args)
{
	struct lvd_msg m;
	uint32_t fid = (uint32_t)next_u64(&args);

	memset(&m, 0, sizeof(m));
	m.w[0] = LVD_MSG_HDR(fid, 1);
	for (int i = 1; i < LVD_MSG_WORDS; i++)
		m.w[i] = next_u64(&args);
	int rc = lvd_loopback_to_domain(&m);
	printf("status %d calls %ld\n", rc == LVD_OK ? lvd_status(m.w[0]) : rc, impl_calls);
}

int
harness_dispatch(const struct harness_cmd *cmds, size_t n, const char *cmd, char *args)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(cmd, cmds[i].name) == 0) {
			cmds[i].fn(args);
			return 1;
		}
	return 0;
}

int
main(void)
{
	static char line[1 << 16];

	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *args = line;
		char *cmd = line;

		line[strcspn(line, "\n")] = '\0';
		while (*args != '\0' && *args != ' ')
			args++;
		if (*args != '\0')
			*args++ = '\0';
		if (strcmp(cmd, "page") == 0) {
			uint64_t off = next_u64(&args);
			next_hex(&args, kside.page.bytes + off, LVD_REGPAGE_SIZE - off);
		} else if (strcmp(cmd, "corrupt") == 0) {
			corruption.word = (int)next_u64(&args) % LVD_MSG_WORDS;
			corruption.value = next_u64(&args);
		} else if (strcmp(cmd, "corrupt_page") == 0) {
			corruption.page_off = next_u64(&args) % (LVD_REGPAGE_SIZE - 64);
			corruption.n = next_hex(&args, corruption.bytes, sizeof(corruption.bytes));
			corruption.page_armed = 1;
		} else if (strcmp(cmd, "raw") == 0)
			raw(args);
		else if (strcmp(cmd, "live") == 0)
			printf("live %ld\n", shadows_live);
		else if (strcmp(cmd, "caps") == 0)
			printf("caps kernel %d domain %d\n", used_slots(&kside.caps), used_slots(&dside.caps));
		else if (strcmp(cmd, "crossings") == 0)
			printf("crossings %" PRIu64 "\n", lvd_loopback_crossings);
		else if (!harness_command(cmd, args))
			printf("unknown command %s\n", cmd);
	}
	return 0;
}
