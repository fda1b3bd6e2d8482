/*
 * Anonymous mappings as buffers (mem.h).
 */
#include "util/mem.h"

#include <sys/mman.h>

void *util_map_alloc(size_t len)
{
	void *p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void *util_map_resize(void *p, size_t old_len, size_t new_len)
{
	void *np = mremap(p, old_len ? old_len : 1, new_len ? new_len : 1,
			  MREMAP_MAYMOVE);

	return np == MAP_FAILED ? NULL : np;
}

void util_map_free(void *p, size_t len)
{
	if (p)
		munmap(p, len ? len : 1);
}
