/*
 * The per-thread cache of command data buffers (DESIGN.md §4: no
 * allocation per I/O on the hot path). Buffers are grouped in power-of-two
 * size classes from 4 KiB to 1 MiB; a free buffer stores the free-list
 * link in its own first bytes. Each class keeps a bounded number of
 * buffers per thread, and a thread's cache is freed when the thread exits.
 */
#include "scsi/buf.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define SCSI_BUF_MIN_SHIFT   12
#define SCSI_BUF_MAX_SHIFT   20
#define SCSI_BUF_CLASSES     (SCSI_BUF_MAX_SHIFT - SCSI_BUF_MIN_SHIFT + 1)
#define SCSI_BUF_CLASS_BYTES (16u << 20) /* cached per class and thread */
#define SCSI_BUF_CLASS_COUNT 256u	 /* and at most this many buffers */

struct scsi_buf_free {
	struct scsi_buf_free *next;
};

struct scsi_buf_cache {
	struct scsi_buf_free *head[SCSI_BUF_CLASSES];
	unsigned count[SCSI_BUF_CLASSES];
	bool registered;
};

static __thread struct scsi_buf_cache scsi_buf_cache;
static pthread_key_t scsi_buf_key;
static pthread_once_t scsi_buf_key_once = PTHREAD_ONCE_INIT;

static void scsi_buf_cache_free(struct scsi_buf_cache *c)
{
	for (unsigned i = 0; i < SCSI_BUF_CLASSES; i++) {
		while (c->head[i]) {
			struct scsi_buf_free *b = c->head[i];

			c->head[i] = b->next;
			free(b);
		}
		c->count[i] = 0;
	}
}

static void scsi_buf_thread_exit(void *arg)
{
	scsi_buf_cache_free(arg);
}

static void scsi_buf_key_create(void)
{
	pthread_key_create(&scsi_buf_key, scsi_buf_thread_exit);
}

static uint32_t scsi_buf_round(uint32_t len)
{
	return (len + SCSI_BUF_ALIGN - 1) & ~(SCSI_BUF_ALIGN - 1);
}

static unsigned scsi_buf_class(uint32_t len)
{
	unsigned c = 0;

	while ((1u << (SCSI_BUF_MIN_SHIFT + c)) < len)
		c++;
	return c;
}

static unsigned scsi_buf_class_limit(unsigned c)
{
	unsigned n = SCSI_BUF_CLASS_BYTES >> (SCSI_BUF_MIN_SHIFT + c);

	return n < SCSI_BUF_CLASS_COUNT ? n : SCSI_BUF_CLASS_COUNT;
}

void *scsi_buf_get(uint32_t len)
{
	struct scsi_buf_cache *c = &scsi_buf_cache;
	size_t size;
	void *p;

	if (len > SCSI_BUF_CACHE_MAX) {
		size = (size_t)scsi_buf_round(len);
	} else {
		unsigned k = scsi_buf_class(len);

		if (c->head[k]) {
			struct scsi_buf_free *b = c->head[k];

			c->head[k] = b->next;
			c->count[k]--;
			return b;
		}
		size = (size_t)1 << (SCSI_BUF_MIN_SHIFT + k);
	}
	if (posix_memalign(&p, SCSI_BUF_ALIGN, size))
		return NULL;
	return p;
}

void scsi_buf_put(void *buf, uint32_t len)
{
	struct scsi_buf_cache *c = &scsi_buf_cache;
	struct scsi_buf_free *b = buf;
	unsigned k;

	if (!buf)
		return;
	if (len > SCSI_BUF_CACHE_MAX) {
		free(buf);
		return;
	}
	k = scsi_buf_class(len);
	if (c->count[k] >= scsi_buf_class_limit(k)) {
		free(buf);
		return;
	}
	if (!c->registered) {
		/* The key's destructor frees the cache when the thread ends. */
		pthread_once(&scsi_buf_key_once, scsi_buf_key_create);
		pthread_setspecific(scsi_buf_key, c);
		c->registered = true;
	}
	b->next = c->head[k];
	c->head[k] = b;
	c->count[k]++;
}

void scsi_buf_cache_drain(void)
{
	scsi_buf_cache_free(&scsi_buf_cache);
}
