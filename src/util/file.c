/*
 * Atomic, durable file replacement (file.h): the POSIX rename guarantee
 * plus the fsyncs that make it survive a power cut.
 */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int util_write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int util_file_replace(const char *path, const void *data, size_t len,
		      enum util_file_stage *stage)
{
	char dirbuf[4096], base[4096], tmp[8300];
	enum util_file_stage unused;
	const char *dir;
	int fd, dfd, rc;

	if (!stage)
		stage = &unused;
	*stage = UTIL_FILE_CREATE;
	if (path[0] == '\0' || strlen(path) >= sizeof(dirbuf))
		return -ENAMETOOLONG;
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	dir = dirname(dirbuf);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.XXXXXX", dir, basename(base));
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*stage = UTIL_FILE_WRITE;
	rc = fchmod(fd, 0600) < 0 ? -errno : 0;
	if (rc == 0)
		rc = util_write_all(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0) {
		*stage = UTIL_FILE_RENAME;
		if (rename(tmp, path) < 0)
			rc = -errno;
	}
	if (rc) {
		unlink(tmp);
		return rc;
	}
	/* The rename itself is durable once the directory is. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
