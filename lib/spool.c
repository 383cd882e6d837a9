/*
 * spool.c - one message's bytes: in memory up to a limit, in a private
 * temporary file beyond it
 *
 * The file never has a name for longer than it takes to unlink it, so a
 * crash leaves nothing behind. All file I/O goes through pwrite/pread at
 * explicit offsets: the caller may read the descriptor and move its offset
 * (spool.h leaves it undefined), and appends must not care.
 *
 * After the first disk error the spool lets go of what it held (closing
 * the file frees the disk space at once, which matters when the disk is
 * full) and keeps only the error, so that nothing can read a message
 * with a hole in it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "spool.h"

/* what mkstemp appends to dir when the file system has no O_TMPFILE */
#define SPOOL_TEMPLATE "postern-spool.XXXXXX"

struct spool {
	char *dir; /* where the file goes, and what errors name */
	size_t mem_limit;
	struct buf mem;   /* the bytes while fd < 0 and !failed */
	uint64_t size;    /* bytes appended so far */
	int fd;           /* the unlinked file, or -1 */
	bool failed;      /* a disk error: refuse everything */
	int fail_errno;   /* errno of that error, for later refusals */
	struct buf error; /* its text */
};

/* spool_fail - remember the failure in errno as text, drop the data */
static void __attribute__((format(printf, 2, 3)))
spool_fail(struct spool *sp, const char *fmt, ...)
{
	int saved = errno;
	char tmp[128];
	va_list ap;

	buf_reset(&sp->error);
	va_start(ap, fmt);
	buf_vprintf(&sp->error, fmt, ap);
	va_end(ap);
	/* spools live in milter worker threads: the GNU strerror_r, not
	 * strerror's shared buffer */
	buf_printf(&sp->error, ": %s", strerror_r(saved, tmp, sizeof(tmp)));
	sp->failed = true;
	sp->fail_errno = saved;
	buf_free(&sp->mem);
	if (sp->fd >= 0)
		(void)close(sp->fd);
	sp->fd = -1;
	errno = saved;
}

/* spool_refuse - the answer of every call after a failure */
static bool
spool_refuse(const struct spool *sp)
{
	if (!sp->failed)
		return false;
	errno = sp->fail_errno;
	return true;
}

/* spool_new - an empty spool; dir is where a file goes (copied) */
struct spool *
spool_new(const char *dir, size_t mem_limit)
{
	struct spool *sp;

	if (dir == NULL)
		log_panic("spool_new: no directory");
	sp = xcalloc(1, sizeof(*sp));
	sp->dir = xstrdup(dir);
	sp->mem_limit = mem_limit;
	sp->fd = -1;
	return sp;
}

/* spool_free - close, free; sets *sp NULL; NULL ok */
void
spool_free(struct spool **spp)
{
	struct spool *sp;

	if (spp == NULL || (sp = *spp) == NULL)
		return;
	/* the file is unlinked: closing it is all the cleanup it needs, and
	 * a close error could not lose anything anyone still wants */
	if (sp->fd >= 0)
		(void)close(sp->fd);
	buf_free(&sp->mem);
	buf_free(&sp->error);
	free(sp->dir);
	free(sp);
	*spp = NULL;
}

/* spool_mkstemp - a named file, unlinked at once; the fallback for file
 * systems without O_TMPFILE (and kernels that predate it) */
static int
spool_mkstemp(struct spool *sp)
{
	char *path = xasprintf("%s/%s", sp->dir, SPOOL_TEMPLATE);
	int fd;

	/* mkstemp creates mode 0600 whatever the umask */
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
		spool_fail(sp, "create temporary file in %s", sp->dir);
		free(path);
		return -1;
	}
	if (unlink(path) < 0) {
		int saved = errno;

		/* a name we cannot remove would outlive the process */
		(void)close(fd);
		errno = saved;
		spool_fail(sp, "remove temporary file %s", path);
		free(path);
		return -1;
	}
	free(path);
	return fd;
}

/* spool_create - the private file; -1 after spool_fail */
static int
spool_create(struct spool *sp)
{
#ifdef O_TMPFILE
	/* O_EXCL: not even linkat(2) through /proc can give it a name */
	int fd = open(sp->dir, O_TMPFILE | O_EXCL | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0)
		return fd;
	/* EOPNOTSUPP: the file system lacks it; EISDIR: an old kernel
	 * ignored the flag and saw a directory; EINVAL: either, per libc */
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
		spool_fail(sp, "create temporary file in %s", sp->dir);
		return -1;
	}
#endif
	return spool_mkstemp(sp);
}

/* spool_pwrite - all len bytes at offset; false after spool_fail */
static bool
spool_pwrite(struct spool *sp, const void *data, size_t len, uint64_t offset)
{
	const unsigned char *p = data;
	ssize_t n;

	while (len > 0) {
		n = pwrite(sp->fd, p, len, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			/* a write that makes no progress would loop forever */
			errno = EIO;
		if (n <= 0) {
			spool_fail(sp, "write %s", sp->dir);
			return false;
		}
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return true;
}

/* spool_to_file - move the bytes held in memory to a new file */
static bool
spool_to_file(struct spool *sp)
{
	if ((sp->fd = spool_create(sp)) < 0)
		return false;
	if (!spool_pwrite(sp, sp->mem.data, sp->mem.len, 0))
		return false;
	buf_free(&sp->mem);
	return true;
}

/* spool_append - add len bytes; false on a disk error (see spool.h) */
bool
spool_append(struct spool *sp, const void *data, size_t len)
{
	if (spool_refuse(sp))
		return false;
	if (sp->fd < 0) {
		/* in memory, size <= mem_limit: the subtraction cannot wrap */
		if (len <= sp->mem_limit - sp->size) {
			buf_append(&sp->mem, data, len);
			sp->size += len;
			return true;
		}
		if (!spool_to_file(sp))
			return false;
	}
	/* pwrite takes an off_t: a size past its range is a file too big */
	if ((uint64_t)len > (uint64_t)INT64_MAX - sp->size) {
		errno = EFBIG;
		spool_fail(sp, "write %s", sp->dir);
		return false;
	}
	if (!spool_pwrite(sp, data, len, sp->size))
		return false;
	sp->size += len;
	return true;
}

/* spool_size - bytes appended so far */
uint64_t
spool_size(const struct spool *sp)
{
	return sp->size;
}

/* spool_in_memory - whether the bytes are still in memory */
bool
spool_in_memory(const struct spool *sp)
{
	return !sp->failed && sp->fd < 0;
}

/* spool_memory - the bytes and *len_r while in memory, else NULL */
const unsigned char *
spool_memory(const struct spool *sp, size_t *len_r)
{
	bool here = spool_in_memory(sp);

	if (len_r != NULL)
		*len_r = here ? sp->mem.len : 0;
	/* buf_cstr: not NULL even before the first byte, since NULL means
	 * "look in the file" */
	return here ? (const unsigned char *)buf_cstr(&sp->mem) : NULL;
}

/* spool_fd - the file's descriptor once spooled, else -1 */
int
spool_fd(const struct spool *sp)
{
	return sp->fd;
}

/* spool_read - up to len bytes from offset into buf; count, 0, or -1 */
ssize_t
spool_read(struct spool *sp, uint64_t offset, void *buf, size_t len)
{
	unsigned char *p = buf;
	size_t want, got = 0;
	ssize_t n;

	if (spool_refuse(sp))
		return -1;
	if (offset >= sp->size || len == 0)
		return 0;
	want = len;
	if ((uint64_t)want > sp->size - offset)
		want = (size_t)(sp->size - offset);
	if (want > SSIZE_MAX)
		want = SSIZE_MAX;
	if (sp->fd < 0) {
		memcpy(p, sp->mem.data + offset, want);
		return (ssize_t)want;
	}
	while (got < want) {
		n = pread(sp->fd, p + got, want - got, (off_t)(offset + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			/* shorter than what was written: a reader must not
			 * take the rest of the message for its end */
			errno = EIO;
		if (n <= 0) {
			spool_fail(sp, "read %s", sp->dir);
			return -1;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* spool_error - the last failure as text ("" if none) */
const char *
spool_error(const struct spool *sp)
{
	return buf_cstr(&sp->error);
}
