// nullnet.h: what the null network driver (nullnet.c) offers its loader:
// the module init, which registers the device null0, and the last packet it
// dropped (the self test's one-packet tcpdump).
#pragma once
#include <stdint.h>

int nullnet_init(void);                 // register_netdev's result
extern uint8_t nullnet_last[64];      // first bytes of the last packet, under null0's tx_lock
extern unsigned int nullnet_last_len;
