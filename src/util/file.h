/*
 * Files that must never be seen half written (configuration, saved mode
 * pages, persistent reservations): replaced atomically and durably.
 */
#ifndef LUNAR_UTIL_FILE_H
#define LUNAR_UTIL_FILE_H

#include <stddef.h>

/* Why a replacement failed, for the caller's message. */
enum util_file_stage {
	UTIL_FILE_CREATE, /* no temporary file in the directory */
	UTIL_FILE_WRITE,  /* writing or syncing the temporary file */
	UTIL_FILE_RENAME, /* putting it in place */
};

/*
 * Replaces path with len bytes of data: a temporary file (mode 0600) in
 * the same directory, written and fsynced, renamed over path, then the
 * directory fsynced, so that after a crash path holds either the old or
 * the new contents. Returns 0 or -errno, with the failed step in *stage
 * (may be NULL); path is then unchanged and no temporary file remains.
 */
int util_file_replace(const char *path, const void *data, size_t len,
		      enum util_file_stage *stage);

#endif
