// data_harness.c: round trips of idl/examples/data.idl.  The domain's functions print
// what arrived ("recv ..."), the kernel prints what came back ("rc ...").

#include "harness.h"
#include "data_glue.h"

// ---- the domain's side of the interface ----

int64_t
scalars(int8_t a, int16_t b, int32_t c, int64_t d, uint8_t e, uint16_t f,
	uint32_t g, uint64_t h, uint32_t *sum_lo, uint64_t *twice)
{
	uint64_t sum = (uint64_t)a + (uint64_t)b + (uint64_t)c + (uint64_t)d + e + f + g + h;

	impl_calls++;
	printf("recv %d %d %d %" PRId64 " %u %u %u %" PRIu64 " %" PRIu64 "\n",
	       a, b, c, d, e, f, g, h, *twice);
	*sum_lo = (uint32_t)sum;
	*twice = *twice * 2;
	return (int64_t)sum;
}

uint64_t
arrays(const uint64_t *fixed, uint32_t n, const uint16_t *vals, uint16_t *doubled,
       uint8_t *block)
{
	impl_calls++;
	printf("recv %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %u", fixed[0],
	       fixed[1], fixed[2], fixed[3], n);
	for (uint32_t i = 0; i < n; i++) {
		printf(" %u", vals[i]);
		doubled[i] = (uint16_t)(vals[i] * 2);
	}
	printf("\n");
	for (int i = 0; i < 8; i++)
		block[i] = (uint8_t)(i * 3 + 1);
	return fixed[0] + fixed[1] + fixed[2] + fixed[3];
}

static uint32_t
fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

uint32_t
hash(const char *text)
{
	impl_calls++;
	printf("recv ");
	print_hex((const uint8_t *)text, strlen(text));
	printf("\n");
	return fnv1a(text);
}

uint64_t
checksum(void *data, uint64_t data_len)
{
	uint8_t *p = data;
	uint64_t sum = 0;

	impl_calls++;
	printf("recv off %td len %" PRIu64 "\n", p - dside.pool, data_len);
	for (uint64_t i = 0; i < data_len; i++) {
		sum += (uint64_t)p[i] * (i + 1);
		p[i] ^= 0xff;
	}
	return sum;
}

static void
print_sample(const char *what, const struct sample *s)
{
	printf("%s %d %d %d %" PRId64 " %u %u %u %" PRIu64 " %u ", what, s->a, s->b,
	       s->c, s->d, s->e, s->f, s->g, s->h, s->tag);
	if (s->tag == 0)
		print_hex((const uint8_t *)&s->val.number, 8);
	else if (s->tag == 1)
		print_hex((const uint8_t *)s->val.text, 24);
	else
		print_hex((const uint8_t *)s->val.pair, 8);
	printf("\n");
}

void
mutate(struct sample *s)
{
	impl_calls++;
	print_sample("recv", s);
	s->a = (int8_t)(s->a * 3 + 1);
	s->b = (int16_t)(s->b * 3 + 1);
	s->c = (int32_t)((uint32_t)s->c * 3 + 1);
	s->d = (int64_t)((uint64_t)s->d * 3 + 1);
	s->e = (uint8_t)(s->e * 3 + 1);
	s->f = (uint16_t)(s->f * 3 + 1);
	s->g = s->g * 3 + 1;
	s->h = s->h * 3 + 1;
	if (s->tag == 0)
		s->val.number = ~s->val.number;
	else if (s->tag == 1)
		for (int i = 0; i < 12; i++) {
			char t = s->val.text[i];
			s->val.text[i] = s->val.text[23 - i];
			s->val.text[23 - i] = t;
		}
	else {
		int32_t t = s->val.pair[0];
		s->val.pair[0] = s->val.pair[1];
		s->val.pair[1] = t;
	}
}

uint64_t
sum_list(struct node *head)
{
	uint64_t sum = 0;
	int n = 0;

	impl_calls++;
	for (struct node *p = head; p != NULL; p = p->next)
		n++;
	printf("recv %d", n);
	for (struct node *p = head; p != NULL; p = p->next) {
		printf(" %u %" PRIu64, p->key, p->value);
		sum += p->key * p->value;
	}
	printf("\n");
	return sum;
}

uint32_t
count_bytes(int16_t n, const uint8_t *bytes)
{
	uint32_t sum = 0;

	impl_calls++;
	for (int16_t i = 0; i < n; i++)
		sum += bytes[i];
	return sum;
}

void
fill(uint32_t n, uint8_t *buf)
{
	impl_calls++;
	for (uint32_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(0xa0 + i);
}

// ---- the kernel's side ----

void
ping(void)
{
	printf("ping\n");
}

// ---- commands ----

static void
cmd_scalars(char *args)
{
	int8_t a = (int8_t)next_s64(&args);
	int16_t b = (int16_t)next_s64(&args);
	int32_t c = (int32_t)next_s64(&args);
	int64_t d = next_s64(&args);
	uint8_t e = (uint8_t)next_u64(&args);
	uint16_t f = (uint16_t)next_u64(&args);
	uint32_t g = (uint32_t)next_u64(&args);
	uint64_t h = next_u64(&args);
	uint64_t twice = next_u64(&args);
	uint32_t sum_lo = 0;
	int64_t ret = 0;
	int rc = data_call_scalars(&kside.chan, a, b, c, d, e, f, g, h, &sum_lo, &twice, &ret);

	printf("rc %d ret %" PRId64 " sum_lo %u twice %" PRIu64 "\n", rc, ret, sum_lo, twice);
}

static void
cmd_arrays(char *args)
{
	uint64_t fixed[4];
	uint16_t vals[64], doubled[64];
	uint8_t block[8] = { 0 };
	uint64_t ret = 0;

	for (int i = 0; i < 4; i++)
		fixed[i] = next_u64(&args);
	uint32_t n = (uint32_t)next_u64(&args);
	for (uint32_t i = 0; i < n && i < 64; i++)
		vals[i] = (uint16_t)next_u64(&args);
	for (int i = 0; i < 64; i++)
		doubled[i] = 0xeeee; // a guard: only n elements may come back
	uint64_t before = lvd_loopback_crossings;
	int rc = data_call_arrays(&kside.chan, fixed, n, vals, doubled, block, &ret);
	printf("rc %d crossed %" PRIu64 " ret %" PRIu64 " doubled", rc,
	       lvd_loopback_crossings - before, ret);
	for (uint32_t i = 0; i < n && i < 32; i++)
		printf(" %u", doubled[i]);
	printf(" guard %x block ", doubled[n < 32 ? n : 32]);
	print_hex(block, 8);
	printf("\n");
}

static void
cmd_hash(char *args)
{
	static char text[8192];
	uint32_t ret = 0;
	size_t n = next_hex(&args, (uint8_t *)text, sizeof(text) - 1);

	text[n] = '\0';
	uint64_t before = lvd_loopback_crossings;
	int rc = data_call_hash(&kside.chan, text, &ret);
	printf("rc %d crossed %" PRIu64 " ret %u\n", rc, lvd_loopback_crossings - before, ret);
}

static void
cmd_checksum(char *args)
{
	uint64_t off = next_u64(&args);
	size_t n = next_hex(&args, kside.pool + off, POOL_SIZE - off);
	uint64_t ret = 0;
	int rc = data_call_checksum(&kside.chan, kside.pool + off, n, &ret);

	printf("rc %d ret %" PRIu64 " after ", rc, ret);
	print_hex(kside.pool + off, n);
	printf("\n");
}

static void
cmd_checksum_outside(char *args)
{
	static uint8_t elsewhere[64];
	uint64_t off = next_u64(&args);
	uint64_t len = next_u64(&args);
	uint64_t ret = 0;
	uint64_t before = lvd_loopback_crossings;
	void *p = off == UINT64_MAX ? (void *)elsewhere : (void *)(kside.pool + off);
	int rc = data_call_checksum(&kside.chan, p, len, &ret);

	printf("rc %d crossed %" PRIu64 "\n", rc, lvd_loopback_crossings - before);
}

static void
cmd_mutate(char *args)
{
	struct sample s;

	memset(&s, 0, sizeof(s));
	s.a = (int8_t)next_s64(&args);
	s.b = (int16_t)next_s64(&args);
	s.c = (int32_t)next_s64(&args);
	s.d = next_s64(&args);
	s.e = (uint8_t)next_u64(&args);
	s.f = (uint16_t)next_u64(&args);
	s.g = (uint32_t)next_u64(&args);
	s.h = next_u64(&args);
	s.tag = (uint32_t)next_u64(&args);
	next_hex(&args, (uint8_t *)&s.val, sizeof(s.val));
	int rc = data_call_mutate(&kside.chan, &s);
	printf("rc %d\n", rc);
	print_sample("back", &s);
}

static void
cmd_list(char *args, int cyclic)
{
	static struct node nodes[64];
	uint64_t ret = 0;
	int n = (int)next_u64(&args);

	for (int i = 0; i < n; i++) {
		nodes[i].key = (uint32_t)next_u64(&args);
		nodes[i].value = next_u64(&args);
		nodes[i].next = i + 1 < n ? &nodes[i + 1] : (cyclic ? &nodes[0] : NULL);
	}
	uint64_t before = lvd_loopback_crossings;
	int rc = data_call_sum_list(&kside.chan, &nodes[0], &ret);
	printf("rc %d crossed %" PRIu64 " ret %" PRIu64 "\n", rc,
	       lvd_loopback_crossings - before, ret);
}

static void
cmd_list_acyclic(char *args)
{
	cmd_list(args, 0);
}

static void
cmd_cycle(char *args)
{
	cmd_list(args, 1);
}

static void
cmd_count_bytes(char *args)
{
	uint8_t bytes[16] = { 0 };
	int16_t n = (int16_t)next_s64(&args);
	uint32_t ret = 0;
	int rc = data_call_count_bytes(&kside.chan, n, bytes, &ret);

	printf("rc %d ret %u\n", rc, ret);
}

static void
cmd_fill(char *args)
{
	uint8_t buf[64];
	uint32_t n = (uint32_t)next_u64(&args);

	memset(buf, 0xee, sizeof(buf));
	int rc = data_call_fill(&kside.chan, n, buf);
	printf("rc %d buf ", rc);
	print_hex(buf, 10);
	printf("\n");
}

static void
cmd_ping(char *args)
{
	(void)args;
	printf("rc %d\n", data_call_ping(&dside.chan));
}

static void
cmd_connect(char *args)
{
	(void)args;
	harness_connect(data_kernel_dispatch, data_domain_dispatch);
}

static const struct harness_cmd commands[] = {
	{ "scalars", cmd_scalars }, { "arrays", cmd_arrays }, { "hash", cmd_hash },
	{ "checksum", cmd_checksum }, { "checksum_outside", cmd_checksum_outside },
	{ "mutate", cmd_mutate }, { "list", cmd_list_acyclic }, { "cycle", cmd_cycle },
	{ "count_bytes", cmd_count_bytes }, { "fill", cmd_fill }, { "ping", cmd_ping },
	{ "connect", cmd_connect },
};
HARNESS_COMMANDS(commands)
