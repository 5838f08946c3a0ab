// strdup.c: apart from string.c because it needs the heap; string.c needs nothing, so the
// kernel links it too (guest/kernel/build.sh).

#include <stdlib.h>
#include <string.h>

char *
strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}
