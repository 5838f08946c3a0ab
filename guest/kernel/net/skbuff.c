// skbuff.c: packet buffers.  One page each: a UDP datagram up to the MTU
// plus headers always fits, and a page can later be shared with (mapped
// into) a driver domain without copying.

#include "net.h"

struct sk_buff *
alloc_skb(unsigned int size)
{
	if (size > PGSIZE)
		return NULL;
	struct sk_buff *skb = kzalloc(sizeof *skb);
	if (skb == NULL)
		return NULL;
	if ((skb->head = pktpool_alloc()) == NULL) {   // pktpool.c: shared with driver domains
		kfree(skb);
		return NULL;
	}
	skb->data = skb->head;
	skb->size = PGSIZE;
	return skb;
}

void
kfree_skb(struct sk_buff *skb)
{
	pktpool_free(skb->head);
	kfree(skb);
}

// What a driver calls when it is done with a packet (linux/netdevice.h): the
// same function (Linux's differ only in the drop tracepoint), so a driver's
// consume_skb costs what its kfree_skb did.
void consume_skb(struct sk_buff *skb) __attribute__((alias("kfree_skb")));

void
skb_reserve(struct sk_buff *skb, unsigned int n)
{
	if (skb->len != 0 || skb->data + n > skb->head + skb->size)
		panic("skb_reserve: %u bytes", n);
	skb->data += n;
}

void *
skb_put(struct sk_buff *skb, unsigned int n)
{
	unsigned char *tail = skb->data + skb->len;
	if (tail + n > skb->head + skb->size)
		panic("skb_put: %u bytes past the end", n);
	skb->len += n;
	return tail;
}

void *
skb_push(struct sk_buff *skb, unsigned int n)
{
	if (skb->data - n < skb->head)
		panic("skb_push: %u bytes before the head", n);
	skb->data -= n;
	skb->len += n;
	return skb->data;
}
