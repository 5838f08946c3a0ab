// net_device_harness.c: nullnet over idl/net_device.idl.  The driver registers its
// net_device and its net_device_ops; the kernel opens the device and transmits packets
// whose data sits in the shared pool; the driver consumes every skb (a nested call into
// the kernel from inside ndo_start_xmit) and keeps the statistics the kernel reads back.

#include "harness.h"
#include "net_device_glue.h"

// ---- the driver ----

static struct net_device ndev;

static int32_t
drv_open(struct net_device *dev)
{
	impl_calls++;
	dev->state = dev->flags | 1;
	return 0;
}

static int32_t
drv_stop(struct net_device *dev)
{
	impl_calls++;
	dev->state = 0;
	return 0;
}

static int32_t
drv_start_xmit(struct net_device *dev, struct sk_buff *skb, void *head, uint64_t head_len)
{
	const uint8_t *p = head;
	uint64_t sum = 0;

	impl_calls++;
	for (uint64_t i = 0; i < head_len; i++)
		sum += p[i];
	printf("xmit len %u protocol %u head %td+%" PRIu64 " sum %" PRIu64 "\n", skb->len,
	       skb->protocol, p - dside.pool, head_len, sum);
	dev->tx_packets++;
	dev->tx_bytes += skb->len;
	// nullnet drops every packet: give the skb back to the kernel at once.
	int rc = net_device_call_consume_skb(&dside.chan, skb);
	// The skb is call-scoped: once consumed, it has no name any more.
	if (rc == LVD_OK && net_device_call_consume_skb(&dside.chan, skb) != -LVD_ENOREF)
		return -100;
	return rc == LVD_OK ? 0 : rc;
}

// ---- the kernel ----

static struct net_device *kdev;
static uint64_t kopen, kstop, kxmit;

int32_t
register_netdev(struct net_device *dev, uint64_t open, uint64_t stop, uint64_t start_xmit)
{
	impl_calls++;
	kdev = dev;
	kopen = open;
	kstop = stop;
	kxmit = start_xmit;
	printf("register name %s mtu %u features %" PRIu64 "\n", dev->name, dev->mtu, dev->features);
	return 0;
}

HARNESS_RELEASE_FN(unregister_netdev, struct net_device, "unregister", kdev)

void
consume_skb(struct sk_buff *skb)
{
	impl_calls++;
	printf("consume queue %u\n", skb->queue_mapping);
	free(skb);
}

static void
cmd_xmit(char *args)
{
	static uint64_t next_off;
	struct sk_buff *skb = calloc(1, sizeof(*skb));
	uint8_t payload[2048];
	int32_t ret = -1;

	skb->len = (uint32_t)next_u64(&args);
	skb->protocol = (uint16_t)next_u64(&args);
	skb->queue_mapping = (uint32_t)next_u64(&args);
	size_t n = next_hex(&args, payload, sizeof(payload));
	if (next_off + n > POOL_SIZE)
		next_off = 0;
	uint8_t *head = kside.pool + next_off;
	memcpy(head, payload, n);
	next_off += (n + 63) & ~(uint64_t)63;
	int rc = net_device_call_ndo_start_xmit(&kside.chan, kxmit, kdev, skb, head, n, &ret);
	printf("rc %d ret %d tx_packets %" PRIu64 " tx_bytes %" PRIu64 "\n", rc, ret,
	       kdev->tx_packets, kdev->tx_bytes);
}

int
harness_command(const char *cmd, char *args)
{
	int32_t ret = -1;
	int rc;

	if (strcmp(cmd, "connect") == 0)
		harness_connect(net_device_kernel_dispatch, net_device_domain_dispatch);
	else if (strcmp(cmd, "register") == 0) {
		memset(&ndev, 0, sizeof(ndev));
		next_hex(&args, (uint8_t *)ndev.name, sizeof(ndev.name) - 1);
		ndev.mtu = (uint32_t)next_u64(&args);
		ndev.features = next_u64(&args);
		ndev.flags = next_u64(&args);
		rc = net_device_call_register_netdev(&dside.chan, &ndev, drv_open, drv_stop, drv_start_xmit, &ret);
		printf("rc %d ret %d\n", rc, ret);
	} else if (strcmp(cmd, "open") == 0) {
		rc = net_device_call_ndo_open(&kside.chan, kopen, kdev, &ret);
		printf("rc %d ret %d state %" PRIu64 "\n", rc, ret, kdev->state);
	} else if (strcmp(cmd, "stop") == 0) {
		rc = net_device_call_ndo_stop(&kside.chan, kstop, kdev, &ret);
		printf("rc %d ret %d state %" PRIu64 "\n", rc, ret, kdev->state);
	} else if (strcmp(cmd, "xmit") == 0)
		cmd_xmit(args);
	else if (strcmp(cmd, "unregister") == 0) {
		printf("rc %d\n", net_device_call_unregister_netdev(&dside.chan, &ndev));
		// Unloading: the domain drops the call-scoped shadows its channel keeps.
		lvd_scope_flush(&dside.chan);
	}
	else
		return 0;
	return 1;
}
