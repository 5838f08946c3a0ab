// devices_harness.c: round trips of idl/examples/devices.idl: capabilities, shadow
// copies, ownership and callbacks.  The driver owns `ddev`; the kernel keeps the shadow
// `kdev` that register_device made.  The kernel owns `kobjs`; the driver keeps `dborrowed`.

#include "harness.h"
#include "devices_glue.h"

static struct device ddev;         // the driver's device
static struct device *kdev;        // the kernel's shadow of it
static uint64_t kevent;            // the kernel's handle for the driver's event function
static struct device kobjs[4];     // devices the kernel owns
static struct device *dborrowed;   // the driver's shadow of one of them

static void
print_device(const char *what, const struct device *d)
{
	printf("%s id %u flags %u state %" PRIu64 " stats %" PRIu64 " kind %u name ", what,
	       d->id, d->flags, d->state, d->stats, d->kind);
	print_hex((const uint8_t *)d->name, sizeof(d->name));
	printf(" cfg ");
	print_hex((const uint8_t *)&d->cfg, sizeof(d->cfg));
	printf("\n");
}

// ---- the kernel's side of the interface ----

int32_t
register_device(struct device *dev, uint64_t on_event)
{
	impl_calls++;
	kdev = dev;
	kevent = on_event;
	dev->flags |= 0x100;
	return 7;
}

HARNESS_RELEASE_FN(unregister_device, struct device, "unregister", kdev)

int32_t
device_lookup(uint32_t id, struct device **dev)
{
	struct device *d = &kobjs[id % 4];

	impl_calls++;
	d->id = id;
	d->flags = id ^ 0x55;
	snprintf(d->name, sizeof(d->name), "dev%u", id);
	*dev = d;
	return (int32_t)(id % 4);
}

void
device_put(struct device *dev)
{
	impl_calls++;
	printf("put index %td\n", dev - kobjs);
}

// ---- the driver's side ----

static long stats;

int32_t
device_open(struct device *dev)
{
	impl_calls++;
	printf("open same %d flags %u\n", dev == &ddev, dev->flags);
	dev->state = (uint64_t)dev->flags * 2 + 1;
	dev->stats = (uint64_t)++stats;
	return 0;
}

int32_t
device_configure(struct device *dev, uint32_t *generation)
{
	impl_calls++;
	printf("configure same %d kind %u cfg ", dev == &ddev, dev->kind);
	print_hex((const uint8_t *)&dev->cfg, sizeof(dev->cfg));
	printf(" generation %u\n", *generation);
	dev->state = dev->kind + 1000;
	*generation += 1;
	return (int32_t)dev->kind;
}

static void
on_event(uint32_t code, uint64_t arg)
{
	impl_calls++;
	printf("event %u %" PRIu64 "\n", code, arg);
}

// ---- commands ----

static void
cmd_register(char *args)
{
	int32_t ret = 0;

	memset(&ddev, 0, sizeof(ddev));
	ddev.id = (uint32_t)next_u64(&args);
	ddev.flags = (uint32_t)next_u64(&args);
	next_hex(&args, (uint8_t *)ddev.name, sizeof(ddev.name));
	int rc = devices_call_register_device(&dside.chan, &ddev, on_event, &ret);
	printf("rc %d ret %d flags %u dcap %" PRIu64 " dfn %" PRIu64 "\n", rc, ret, ddev.flags,
	       lvd_cap_find(&dside.caps, &ddev, LVD_TAG_DEVICE),
	       lvd_cap_find(&dside.caps, (void *)on_event, DEVICES_TAG_FN_DEVICE_EVENT));
}

static void
cmd_open(char *args)
{
	int32_t ret = -1;

	kdev->flags = (uint32_t)next_u64(&args);
	int rc = devices_call_device_open(&kside.chan, kdev, &ret);
	printf("rc %d ret %d state %" PRIu64 " stats %" PRIu64 "\n", rc, ret, kdev->state, kdev->stats);
}

static void
cmd_configure(char *args)
{
	int32_t ret = -1;

	kdev->kind = (uint32_t)next_u64(&args);
	memset(&kdev->cfg, 0, sizeof(kdev->cfg));
	next_hex(&args, (uint8_t *)&kdev->cfg, sizeof(kdev->cfg));
	uint32_t generation = (uint32_t)next_u64(&args);
	int rc = devices_call_device_configure(&kside.chan, kdev, &generation, &ret);
	printf("rc %d ret %d state %" PRIu64 " generation %u\n", rc, ret, kdev->state, generation);
}

static void
cmd_lookup(char *args)
{
	int32_t ret = -1;
	uint32_t id = (uint32_t)next_u64(&args);

	dborrowed = NULL;
	int rc = devices_call_device_lookup(&dside.chan, id, &dborrowed, &ret);

	printf("rc %d ret %d distinct %d\n", rc, ret, dborrowed != &kobjs[id % 4]);
	if (rc == LVD_OK)
		print_device("borrowed", dborrowed);
}

static void
cmd_connect(char *args)
{
	(void)args;
	harness_connect(devices_kernel_dispatch, devices_domain_dispatch);
}

static void
cmd_event(char *args)
{
	uint32_t code = (uint32_t)next_u64(&args);
	uint64_t arg = next_u64(&args);

	printf("rc %d\n", devices_call_device_event(&kside.chan, kevent, code, arg));
}

static void
cmd_unregister(char *args)
{
	(void)args;
	printf("rc %d\n", devices_call_unregister_device(&dside.chan, &ddev));
}

static void
cmd_put(char *args)
{
	(void)args;
	printf("rc %d\n", devices_call_device_put(&dside.chan, dborrowed));
	dborrowed = NULL;
}

static void
cmd_kshadow(char *args)
{
	(void)args;
	print_device("kernel", kdev);
}

static void
cmd_dshadow(char *args)
{
	(void)args;
	print_device("driver", &ddev);
}

// The driver unregistered: the kernel's old shadow is gone, so is its name.
static void
cmd_reopen_stale(char *args)
{
	struct device gone;
	int32_t ret;

	(void)args;
	memset(&gone, 0, sizeof(gone));
	printf("rc %d\n", devices_call_device_open(&kside.chan, &gone, &ret));
}

static const struct harness_cmd commands[] = {
	{ "connect", cmd_connect }, { "register", cmd_register }, { "open", cmd_open },
	{ "configure", cmd_configure }, { "event", cmd_event }, { "unregister", cmd_unregister },
	{ "lookup", cmd_lookup }, { "put", cmd_put }, { "kshadow", cmd_kshadow },
	{ "dshadow", cmd_dshadow }, { "reopen_stale", cmd_reopen_stale },
};
HARNESS_COMMANDS(commands)
