// heap.c: the machine-only side of the runtime (tests/Lvd.Tests/GuestLibcTests):
// a heap that grows with the RAM (--memory), modeled time, the unistd basics.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1;
	char *p = malloc(mib << 20);
	if (p != NULL) {
		memset(p, 0x5a, 4096);
		p[(mib << 20) - 1] = 1;   // the last byte is RAM, not the loader's tables
	}
	printf("malloc(%lu MiB): %s\n", mib, p ? "ok" : "NULL");
	time_t t0 = time(NULL);
	clock_t c0 = clock();
	usleep(2500);
	clock_t c1 = clock();
	printf("time at start %ld; usleep(2500) took %ld us\n", (long)t0, (long)(c1 - c0));
	printf("pid %d, isatty(1) %d, write(3) %ld, close(1) %d\n", (int)getpid(), isatty(1),
	       (long)write(3, "x", 1), close(1));
	return 0;
}
