/*
 * Data buffers of SCSI commands: 4096-aligned (stores may use O_DIRECT),
 * taken from a per-thread cache of power-of-two size classes up to 1 MiB
 * so that the steady state allocates nothing per I/O. A buffer is
 * returned on the thread that took it (commands are prepared and
 * released on their nexus's reactor).
 */
#ifndef LUNAR_SCSI_BUF_H
#define LUNAR_SCSI_BUF_H

#include <stddef.h>
#include <stdint.h>

#define SCSI_BUF_ALIGN	   4096u
#define SCSI_BUF_CACHE_MAX (1u << 20) /* larger buffers are not cached */

/* A buffer of at least len bytes rounded up to SCSI_BUF_ALIGN; NULL on
 * ENOMEM. len must not be 0. */
void *scsi_buf_get(uint32_t len);
/* Gives back a buffer scsi_buf_get(len) returned (same len). */
void scsi_buf_put(void *buf, uint32_t len);
/* Frees every buffer cached by the calling thread. */
void scsi_buf_cache_drain(void);

#endif
