/*
 * Buffers that go back to the kernel when freed: each is its own
 * anonymous mapping. For buffers that live as long as a connection (a
 * burst of connections must not leave its buffers resident in the heap)
 * without changing how malloc serves everyone else, libraries included.
 */
#ifndef LUNAR_UTIL_MEM_H
#define LUNAR_UTIL_MEM_H

#include <stddef.h>

/* len bytes, zeroed; NULL without memory. */
void *util_map_alloc(size_t len);
/* p (of old_len bytes) grown or shrunk to new_len, contents kept; NULL
 * without memory (p is then left as it was). */
void *util_map_resize(void *p, size_t old_len, size_t new_len);
/* p of len bytes (may be NULL). */
void util_map_free(void *p, size_t len);

#endif
