/*
 * test_spool.c - message spool: memory up to the limit, an unnamed 0600
 * file beyond it, byte-exact reads at any offset, and a spool that refuses
 * everything after a disk error (missing directory, file too large, full
 * file system, read errors)
 *
 * Every test gets its own mkdtemp directory as the spool directory, so
 * "no file was left behind" is "the directory is still empty". The full
 * disk is a 64 KiB tmpfs mounted in a private mount namespace of a child
 * process, a name that cannot be removed is an append-only directory;
 * both need root (CAP_SYS_ADMIN, CAP_LINUX_IMMUTABLE) and are skipped
 * without it. A file too large (RLIMIT_FSIZE) works for anyone.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/fs.h>

#include "spool.h"
#include "testutil.h"

#define MIB (1024 * 1024)

struct fixture {
	char dir[256];
};

/*
 * When not 0, open() with O_TMPFILE fails with this errno, as it does on
 * a file system (or kernel) without it, so that the mkstemp fallback can
 * be tested on one that has it.
 */
static int fake_tmpfile_errno;

/* fake_open - open(2) straight to the kernel, except for a faked
 * O_TMPFILE failure; bypassing the C library keeps it out of the way */
static int
fake_open(const char *path, int flags, va_list ap)
{
	mode_t mode = 0;

	if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE)
		mode = (mode_t)va_arg(ap, int);
	if (fake_tmpfile_errno != 0 && (flags & O_TMPFILE) == O_TMPFILE) {
		errno = fake_tmpfile_errno;
		return -1;
	}
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

/*
 * The executable's own open and open64 come before the C library's for
 * every caller, spool.c included. The names go through asm labels so
 * that this also builds where <fcntl.h> makes open an inline wrapper
 * (_FORTIFY_SOURCE) or an alias of open64 (_FILE_OFFSET_BITS=64).
 */
int test_open(const char *path, int flags, ...) __asm__("open");
int test_open64(const char *path, int flags, ...) __asm__("open64");

/* test_open - the open(2) everyone in this program calls */
int
test_open(const char *path, int flags, ...)
{
	va_list ap;
	int fd;

	va_start(ap, flags);
	fd = fake_open(path, flags, ap);
	va_end(ap);
	return fd;
}

/* test_open64 - the same under its large-file name */
int
test_open64(const char *path, int flags, ...)
{
	va_list ap;
	int fd;

	va_start(ap, flags);
	fd = fake_open(path, flags, ap);
	va_end(ap);
	return fd;
}

/* setup - a fresh empty spool directory */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || testutil_tmpdir(f->dir, sizeof(f->dir), "spool") < 0) {
		free(f);
		return -1;
	}
	fake_tmpfile_errno = 0;
	*state = f;
	return 0;
}

/* set_append_only - the append-only attribute of dir: names can be
 * added, not removed; 0, or -1 where the file system or our privileges
 * do not allow it */
static int
set_append_only(const char *dir, bool on)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), flags, rc = -1;

	if (fd < 0)
		return -1;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags = on ? flags | FS_APPEND_FL : flags & ~FS_APPEND_FL;
		rc = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
	return rc;
}

/* teardown - remove the directory (and whatever a failing test left) */
static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc;

	(void)set_append_only(f->dir, false); /* test_unlink_fails */
	rc = testutil_rmtree(f->dir);

	fake_tmpfile_errno = 0;
	free(f);
	return rc;
}

/* count_fds - open descriptors of this process */
static int
count_fds(void)
{
	return testutil_count_entries("/proc/self/fd");
}

/* fill - len bytes of xorshift64 noise from seed: every byte value,
 * NULs and line ends included, and the same every run */
static unsigned char *
fill(size_t len, uint64_t seed)
{
	unsigned char *p = malloc(len ? len : 1);
	uint64_t x = seed;
	size_t i;

	assert_non_null(p);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 24);
	}
	return p;
}

/* check_unnamed - fd is a regular 0600 file in dir that has no name and
 * cannot get one; prefix is what its vanished name started with */
static void
check_unnamed(int fd, const char *dir, const char *prefix)
{
	char proc[64], link[512], target[512];
	struct stat st;
	size_t dlen = strlen(dir), tlen;
	ssize_t n;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_nlink, 0);
	/* close-on-exec: a content scanner we run must not inherit it */
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);

	/* "DIR/#1234 (deleted)" for O_TMPFILE, "DIR/NAME (deleted)" else */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	tlen = (size_t)n;
	assert_true(tlen > dlen + 1 + strlen(" (deleted)"));
	assert_memory_equal(target, dir, dlen);
	assert_int_equal(target[dlen], '/');
	assert_string_equal(target + tlen - strlen(" (deleted)"), " (deleted)");
	if (prefix != NULL)
		assert_memory_equal(target + dlen + 1, prefix, strlen(prefix));

	/* no name now, and linkat through /proc cannot give it one */
	assert_int_equal(testutil_count_entries(dir), 0);
	snprintf(link, sizeof(link), "%s/stolen", dir);
	errno = 0;
	assert_int_equal(
	    linkat(AT_FDCWD, proc, AT_FDCWD, link, AT_SYMLINK_FOLLOW), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(testutil_count_entries(dir), 0);
}

/* check_read - one spool_read of chunk bytes at off against expect */
static void
check_read(struct spool *sp, const unsigned char *expect, size_t len,
    size_t off, size_t chunk, unsigned char *got)
{
	size_t want = off >= len ? 0 : len - off < chunk ? len - off : chunk;
	ssize_t n = spool_read(sp, off, got, chunk);

	assert_int_equal(n, want);
	if (want > 0)
		assert_memory_equal(got, expect + off, want);
}

/* check_contents - every offset, many chunk sizes (each side of limit
 * too), then nothing at and after the end */
static void
check_contents(
    struct spool *sp, const unsigned char *expect, size_t len, size_t limit)
{
	size_t chunks[] = {1, 2, 3, 7, 64, 4096, len + 10,
	    limit > 0 ? limit - 1 : 1, limit, limit + 1};
	unsigned char *got = malloc(len + 4096 + limit + 16), sentinel[8];
	uint64_t ends[] = {len, len + 1, (uint64_t)len + 4096, UINT64_MAX};
	size_t c, off;

	assert_non_null(got);
	assert_int_equal(spool_size(sp), len);
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
		for (off = 0; off <= len; off++)
			check_read(sp, expect, len, off, chunks[c], got);
	/* the end: 0, and the buffer is left alone */
	for (c = 0; c < sizeof(ends) / sizeof(ends[0]); c++) {
		memset(sentinel, 0xa5, sizeof(sentinel));
		assert_int_equal(
		    spool_read(sp, ends[c], sentinel, sizeof(sentinel)), 0);
		assert_int_equal(sentinel[0], 0xa5);
	}
	/* nothing asked for, nothing read, even at the start */
	assert_int_equal(spool_read(sp, 0, got, 0), 0);
	free(got);
}

/* check_refused - after a failure: errno err and text for everything */
static void
check_refused(struct spool *sp, int err, const char *text, uint64_t size)
{
	unsigned char byte;
	size_t len = 99;

	assert_false(spool_in_memory(sp));
	assert_null(spool_memory(sp, &len));
	assert_int_equal(len, 0);
	assert_int_equal(spool_fd(sp), -1);
	assert_int_equal(spool_size(sp), size);
	errno = 0;
	assert_false(spool_append(sp, "x", 1));
	assert_int_equal(errno, err);
	errno = 0;
	assert_false(spool_append(sp, "", 0));
	assert_int_equal(errno, err);
	errno = 0;
	assert_int_equal(spool_read(sp, 0, &byte, 1), -1);
	assert_int_equal(errno, err);
	assert_string_equal(spool_error(sp), text);
	assert_int_equal(spool_size(sp), size);
}

/* test_memory - up to and at the limit, the bytes stay in memory */
static void
test_memory(void **state)
{
	struct fixture *f = *state;
	struct spool *sp = spool_new(f->dir, 100);
	unsigned char *data = fill(100, 1);
	const unsigned char *mem;
	size_t len = 99;

	/* empty: in memory, a pointer (NULL would mean "in a file") */
	assert_true(spool_in_memory(sp));
	mem = spool_memory(sp, &len);
	assert_non_null(mem);
	assert_int_equal(len, 0);
	assert_int_equal(spool_size(sp), 0);
	assert_int_equal(spool_fd(sp), -1);
	assert_string_equal(spool_error(sp), "");
	check_contents(sp, data, 0, 100);

	assert_true(spool_append(sp, NULL, 0));
	assert_true(spool_append(sp, data, 40));
	assert_true(spool_append(sp, data + 40, 59));
	assert_true(spool_in_memory(sp));
	assert_true(spool_append(sp, data + 99, 1)); /* exactly 100 */
	assert_true(spool_in_memory(sp));
	assert_int_equal(spool_fd(sp), -1);
	assert_int_equal(spool_size(sp), 100);
	mem = spool_memory(sp, &len);
	assert_non_null(mem);
	assert_int_equal(len, 100);
	assert_memory_equal(mem, data, 100);
	assert_non_null(spool_memory(sp, NULL));
	check_contents(sp, data, 100, 100);
	assert_string_equal(spool_error(sp), "");
	assert_int_equal(testutil_count_entries(f->dir), 0);

	spool_free(&sp);
	assert_null(sp);
	free(data);
}

/* test_to_file - the append that passes the limit moves everything to an
 * unnamed file, and every later append goes there */
static void
test_to_file(void **state)
{
	struct fixture *f = *state;
	struct spool *sp = spool_new(f->dir, 100);
	unsigned char *data = fill(300, 2);
	size_t len = 99;
	int fd;

	assert_true(spool_append(sp, data, 60));
	assert_true(spool_append(sp, data + 60, 39));
	assert_true(spool_in_memory(sp));
	assert_true(spool_append(sp, data + 99, 2)); /* 101 > 100 */
	assert_false(spool_in_memory(sp));
	assert_null(spool_memory(sp, &len));
	assert_int_equal(len, 0);
	fd = spool_fd(sp);
	check_unnamed(fd, f->dir, NULL);
	check_contents(sp, data, 101, 100);

	/* later appends: same file, even after someone moved its offset */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_true(spool_append(sp, data + 101, 1));
	assert_int_equal(lseek(fd, 7, SEEK_SET), 7);
	assert_true(spool_append(sp, data + 102, 198));
	assert_int_equal(spool_fd(sp), fd);
	assert_false(spool_in_memory(sp));
	check_contents(sp, data, 300, 100);
	assert_string_equal(spool_error(sp), "");
	check_unnamed(fd, f->dir, NULL);

	spool_free(&sp);
	errno = 0;
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(testutil_count_entries(f->dir), 0);
	free(data);
}

/* test_one_big_append - a first append larger than the limit goes to the
 * file in one piece, as does one that jumps from some bytes past it */
static void
test_one_big_append(void **state)
{
	struct fixture *f = *state;
	struct spool *sp = spool_new(f->dir, 50);
	unsigned char *data = fill(200, 3);

	assert_true(spool_append(sp, data, 51));
	assert_false(spool_in_memory(sp));
	check_unnamed(spool_fd(sp), f->dir, NULL);
	check_contents(sp, data, 51, 50);
	spool_free(&sp);

	sp = spool_new(f->dir, 50);
	assert_true(spool_append(sp, data, 10));
	assert_true(spool_append(sp, data + 10, 190));
	assert_false(spool_in_memory(sp));
	check_contents(sp, data, 200, 50);
	spool_free(&sp);
	free(data);
}

/* test_limit_zero - no memory at all: the file from the first byte */
static void
test_limit_zero(void **state)
{
	struct fixture *f = *state;
	struct spool *sp = spool_new(f->dir, 0);
	unsigned char *data = fill(50, 4);
	size_t len = 99;

	/* nothing appended passes no limit */
	assert_true(spool_append(sp, data, 0));
	assert_true(spool_in_memory(sp));
	assert_non_null(spool_memory(sp, &len));
	assert_int_equal(len, 0);
	assert_int_equal(spool_fd(sp), -1);

	assert_true(spool_append(sp, data, 1));
	assert_false(spool_in_memory(sp));
	check_unnamed(spool_fd(sp), f->dir, NULL);
	check_contents(sp, data, 1, 0);
	assert_true(spool_append(sp, data + 1, 49));
	check_contents(sp, data, 50, 0);
	spool_free(&sp);
	free(data);
}

/* test_large - 5 MiB of noise in uneven appends, back byte for byte
 * through spool_read and through the descriptor itself */
static void
test_large(void **state)
{
	struct fixture *f = *state;
	const size_t total = 5 * MIB, limit = 64 * 1024;
	struct spool *sp = spool_new(f->dir, limit);
	unsigned char *data = fill(total, 5), *got = malloc(total);
	size_t off, n, step, i;
	struct stat st;
	ssize_t r;

	assert_non_null(got);
	/* uneven pieces, so that appends straddle the limit and each other */
	for (off = 0, i = 0; off < total; off += n, i++) {
		n = (i * 7919 + 1) % 65521 + 1;
		if (n > total - off)
			n = total - off;
		assert_true(spool_append(sp, data + off, n));
	}
	assert_int_equal(spool_size(sp), total);
	assert_false(spool_in_memory(sp));
	check_unnamed(spool_fd(sp), f->dir, NULL);
	assert_int_equal(fstat(spool_fd(sp), &st), 0);
	assert_int_equal(st.st_size, total);

	/* whole, in odd steps, and a sample of single reads across it */
	r = spool_read(sp, 0, got, total + 1);
	assert_int_equal(r, total);
	assert_memory_equal(got, data, total);
	step = 65537;
	memset(got, 0, total);
	for (off = 0; off < total; off += (size_t)r) {
		r = spool_read(sp, off, got + off, step);
		assert_true(r > 0);
		assert_int_equal(r, total - off < step ? total - off : step);
	}
	assert_memory_equal(got, data, total);
	for (off = 0; off < total; off += 100003)
		check_read(sp, data, total, off, 4099, got);
	check_read(sp, data, total, limit - 3, 7, got);
	check_read(sp, data, total, total - 1, 10, got);
	assert_int_equal(spool_read(sp, total, got, 1), 0);

	/* the descriptor is usable as spool.h promises */
	memset(got, 0, total);
	for (off = 0; off < total; off += (size_t)r) {
		r = pread(spool_fd(sp), got + off, total - off, (off_t)off);
		assert_true(r > 0);
	}
	assert_memory_equal(got, data, total);

	spool_free(&sp);
	free(got);
	free(data);
}

/* test_no_dir - a directory that is not there: the append that needs the
 * file fails, says where, and everything after it fails the same way */
static void
test_no_dir(void **state)
{
	struct fixture *f = *state;
	char dir[512], text[600];
	struct spool *sp;
	size_t len;
	int fds = count_fds();

	snprintf(dir, sizeof(dir), "%s/missing", f->dir);
	sp = spool_new(dir, 10);
	/* spool_new copied it: what the caller does to dir is its business */
	snprintf(text, sizeof(text),
	    "create temporary file in %s: No such file or directory", dir);
	dir[0] = 'X';

	assert_true(spool_append(sp, "12345", 5)); /* memory: fine */
	assert_non_null(spool_memory(sp, &len));
	assert_int_equal(len, 5);
	errno = 0;
	assert_false(spool_append(sp, "6789012345", 10));
	assert_int_equal(errno, ENOENT);
	assert_string_equal(spool_error(sp), text);
	/* the 5 bytes are dropped with it: a half message is no message */
	check_refused(sp, ENOENT, text, 5);
	assert_int_equal(count_fds(), fds);
	spool_free(&sp);
	assert_null(sp);
	assert_int_equal(count_fds(), fds);
	assert_int_equal(testutil_count_entries(f->dir), 0);
}

/* test_not_a_dir - a regular file where the directory should be */
static void
test_not_a_dir(void **state)
{
	struct fixture *f = *state;
	char path[512], text[600];
	struct spool *sp;
	int fd;

	snprintf(path, sizeof(path), "%s/file", f->dir);
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	snprintf(text, sizeof(text),
	    "create temporary file in %s: Not a directory", path);
	sp = spool_new(path, 0);
	errno = 0;
	assert_false(spool_append(sp, "x", 1));
	assert_int_equal(errno, ENOTDIR);
	check_refused(sp, ENOTDIR, text, 0);
	spool_free(&sp);
	assert_int_equal(testutil_count_entries(f->dir), 1);
}

/* test_fallback - without O_TMPFILE: mkstemp, then unlink at once; the
 * same unnamed 0600 file, and the same errors */
static void
test_fallback(void **state)
{
	static const int missing[] = {EOPNOTSUPP, EISDIR, EINVAL};
	struct fixture *f = *state;
	unsigned char *data = fill(300, 6);
	char dir[512], text[600];
	struct spool *sp;
	size_t i;

	for (i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		fake_tmpfile_errno = missing[i];
		sp = spool_new(f->dir, 100);
		assert_true(spool_append(sp, data, 100));
		assert_true(spool_append(sp, data + 100, 200));
		assert_false(spool_in_memory(sp));
		check_unnamed(spool_fd(sp), f->dir, "postern-spool.");
		check_contents(sp, data, 300, 100);
		assert_string_equal(spool_error(sp), "");
		spool_free(&sp);
		assert_int_equal(testutil_count_entries(f->dir), 0);
	}

	/* mkstemp's own failure reads like O_TMPFILE's */
	fake_tmpfile_errno = EOPNOTSUPP;
	snprintf(dir, sizeof(dir), "%s/missing", f->dir);
	snprintf(text, sizeof(text),
	    "create temporary file in %s: No such file or directory", dir);
	sp = spool_new(dir, 0);
	errno = 0;
	assert_false(spool_append(sp, data, 1));
	assert_int_equal(errno, ENOENT);
	check_refused(sp, ENOENT, text, 0);
	spool_free(&sp);

	/* any other O_TMPFILE error is the answer: no second try by name */
	fake_tmpfile_errno = EACCES;
	snprintf(text, sizeof(text),
	    "create temporary file in %s: Permission denied", f->dir);
	sp = spool_new(f->dir, 0);
	errno = 0;
	assert_false(spool_append(sp, data, 1));
	assert_int_equal(errno, EACCES);
	check_refused(sp, EACCES, text, 0);
	spool_free(&sp);
	assert_int_equal(testutil_count_entries(f->dir), 0);
	free(data);
}

/* test_unlink_fails - a mkstemp name that cannot be removed (an
 * append-only directory): an error, not a file that outlives us quietly;
 * needs root on a file system with the attribute, else skipped */
static void
test_unlink_fails(void **state)
{
	struct fixture *f = *state;
	char text[1024];
	struct dirent *e;
	struct spool *sp;
	int fds = count_fds(), err;
	bool ok;
	DIR *d;

	fake_tmpfile_errno = EOPNOTSUPP;
	if (set_append_only(f->dir, true) < 0)
		skip();
	sp = spool_new(f->dir, 0);
	errno = 0;
	ok = spool_append(sp, "x", 1);
	err = errno;
	/* before any assertion, so that teardown can remove the leftover */
	assert_int_equal(set_append_only(f->dir, false), 0);
	assert_false(ok);
	assert_int_equal(err, EPERM);

	/* the error names the file that is left */
	assert_int_equal(testutil_count_entries(f->dir), 1);
	assert_non_null(d = opendir(f->dir));
	while ((e = readdir(d)) != NULL && e->d_name[0] == '.')
		continue;
	assert_non_null(e);
	assert_memory_equal(e->d_name, "postern-spool.", 14);
	snprintf(text, sizeof(text),
	    "remove temporary file %s/%s: Operation not permitted", f->dir,
	    e->d_name);
	closedir(d);
	check_refused(sp, EPERM, text, 0);
	assert_int_equal(count_fds(), fds);
	spool_free(&sp);
}

/* with_fsize - spool_append under a file size limit of max bytes, with
 * SIGXFSZ ignored so that the write fails with EFBIG instead; the old
 * limit is back before anything else writes (the test log may be a file) */
static bool
with_fsize(
    struct spool *sp, const void *data, size_t len, rlim_t max, int *errno_r)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_sa;
	struct rlimit old, lim;
	bool ok;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = max;
	assert_int_equal(sigaction(SIGXFSZ, &ign, &old_sa), 0);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	errno = 0;
	ok = spool_append(sp, data, len);
	*errno_r = errno;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(sigaction(SIGXFSZ, &old_sa, NULL), 0);
	return ok;
}

/* test_write_error - a write that stops short (RLIMIT_FSIZE): a partial
 * write first, then the error, named with the directory; the file is
 * closed at once, both when moving out of memory and later */
static void
test_write_error(void **state)
{
	struct fixture *f = *state;
	unsigned char *data = fill(8192, 7);
	char text[600];
	struct spool *sp;
	int fds = count_fds(), err;

	snprintf(text, sizeof(text), "write %s: File too large", f->dir);

	/* moving: 10 bytes from memory fit, then 4086 of the 5000 */
	sp = spool_new(f->dir, 16);
	assert_true(spool_append(sp, data, 10));
	assert_false(with_fsize(sp, data + 10, 5000, 4096, &err));
	assert_int_equal(err, EFBIG);
	assert_string_equal(spool_error(sp), text);
	check_refused(sp, EFBIG, text, 10);
	assert_int_equal(count_fds(), fds);
	spool_free(&sp);

	/* moving: not even the bytes from memory fit (8 of 16) */
	sp = spool_new(f->dir, 16);
	assert_true(spool_append(sp, data, 16));
	assert_false(with_fsize(sp, data + 16, 1, 8, &err));
	assert_int_equal(err, EFBIG);
	check_refused(sp, EFBIG, text, 16);
	assert_int_equal(count_fds(), fds);
	spool_free(&sp);

	/* later: 4000 bytes in the file, then 96 of the next 200 */
	sp = spool_new(f->dir, 0);
	assert_true(spool_append(sp, data, 4000));
	assert_true(with_fsize(sp, data + 4000, 96, 4096, &err));
	assert_false(with_fsize(sp, data + 4096, 200, 4096, &err));
	assert_int_equal(err, EFBIG);
	check_refused(sp, EFBIG, text, 4096);
	assert_int_equal(count_fds(), fds);
	spool_free(&sp);
	assert_int_equal(count_fds(), fds);
	assert_int_equal(testutil_count_entries(f->dir), 0);
	free(data);
}

/* CHECK - in a child, where cmocka cannot report: say what and return */
#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "# enospc child: %s\n", #c);           \
			return __LINE__;                                       \
		}                                                              \
	} while (0)

/* enospc_child - in a private mount namespace, fill a 64 KiB tmpfs on
 * dir; 0 when all went as it should, 77 when no tmpfs could be mounted,
 * else the line of the check that failed */
static int
enospc_child(const char *dir)
{
	unsigned char block[4096];
	char text[600];
	struct statvfs before, after;
	struct spool *sp;
	int i, err, fds;
	bool ok = true;

	/* "none": the kernel ignores both names when only propagation
	 * changes, but valgrind checks that they are strings */
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700") < 0) {
		fprintf(
		    stderr, "# cannot mount a tmpfs: %s\n", strerror(errno));
		return 77;
	}
	memset(block, 'm', sizeof(block));
	snprintf(text, sizeof(text), "write %s: No space left on device", dir);
	CHECK(statvfs(dir, &before) == 0);
	fds = count_fds();
	sp = spool_new(dir, 1024);
	for (i = 0; i < 32 && ok; i++)
		ok = spool_append(sp, block, sizeof(block));
	err = errno;
	CHECK(!ok);
	CHECK(err == ENOSPC);
	CHECK(strcmp(spool_error(sp), text) == 0);
	CHECK(spool_size(sp) == (uint64_t)(i - 1) * sizeof(block));
	CHECK(spool_size(sp) <= 64 * 1024);
	/* the file is gone already: its space is free again before free */
	CHECK(count_fds() == fds);
	CHECK(statvfs(dir, &after) == 0);
	CHECK(after.f_bfree == before.f_bfree);
	CHECK(testutil_count_entries(dir) == 0);
	errno = 0;
	CHECK(!spool_append(sp, block, 1));
	CHECK(errno == ENOSPC);
	CHECK(spool_read(sp, 0, block, 1) == -1);
	CHECK(errno == ENOSPC);
	CHECK(spool_fd(sp) == -1);
	spool_free(&sp);
	CHECK(sp == NULL);
	return 0;
}

/* test_enospc - a full file system, in a child that can mount one */
static void
test_enospc(void **state)
{
	struct fixture *f = *state;
	int status;
	pid_t pid;

	fflush(NULL);
	assert_true((pid = fork()) >= 0);
	if (pid == 0)
		_exit(enospc_child(f->dir));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(testutil_count_entries(f->dir), 0);
}

/* test_read_error - a file that cannot be read, or that shrank under the
 * spool: -1, never a short message */
static void
test_read_error(void **state)
{
	struct fixture *f = *state;
	unsigned char *data = fill(200, 8), got[200];
	char text[600];
	struct spool *sp;
	int dirfd;

	/* a directory where the file was: EISDIR */
	sp = spool_new(f->dir, 10);
	assert_true(spool_append(sp, data, 200));
	assert_true((dirfd = open(f->dir, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(dup2(dirfd, spool_fd(sp)), spool_fd(sp));
	close(dirfd);
	errno = 0;
	assert_int_equal(spool_read(sp, 0, got, sizeof(got)), -1);
	assert_int_equal(errno, EISDIR);
	snprintf(text, sizeof(text), "read %s: Is a directory", f->dir);
	check_refused(sp, EISDIR, text, 200);
	spool_free(&sp);

	/* cut short behind the spool's back: EIO, not the end */
	sp = spool_new(f->dir, 10);
	assert_true(spool_append(sp, data, 200));
	assert_int_equal(ftruncate(spool_fd(sp), 150), 0);
	check_read(sp, data, 200, 0, 150, got); /* what is still there */
	errno = 0;
	assert_int_equal(spool_read(sp, 100, got, 100), -1);
	assert_int_equal(errno, EIO);
	snprintf(text, sizeof(text), "read %s: Input/output error", f->dir);
	check_refused(sp, EIO, text, 200);
	spool_free(&sp);
	assert_int_equal(testutil_count_entries(f->dir), 0);
	free(data);
}

/* test_release - NULL is fine, the pointer is cleared, no fd stays */
static void
test_release(void **state)
{
	struct fixture *f = *state;
	struct spool *sp = NULL;
	int fds = count_fds(), fd;

	spool_free(NULL);
	spool_free(&sp);
	assert_null(sp);

	sp = spool_new(f->dir, 4);
	assert_true(spool_append(sp, "abc", 3));
	spool_free(&sp);
	assert_null(sp);
	assert_int_equal(count_fds(), fds);

	sp = spool_new(f->dir, 4);
	assert_true(spool_append(sp, "abcdef", 6));
	fd = spool_fd(sp);
	assert_true(fd >= 0);
	assert_int_equal(count_fds(), fds + 1);
	spool_free(&sp);
	assert_null(sp);
	assert_int_equal(count_fds(), fds);
	errno = 0;
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(testutil_count_entries(f->dir), 0);
}

/* new_null_dir - spool_new without a directory (a bug) */
static void
new_null_dir(void)
{
	(void)spool_new(NULL, 10);
}

/* test_null_dir_panics - a spool must know where its file would go */
static void
test_null_dir_panics(void **state)
{
	(void)state;
	testutil_expect_abort(new_null_dir);
}

/* main - run the tests */
int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_memory),
	    T(test_to_file),
	    T(test_one_big_append),
	    T(test_limit_zero),
	    T(test_large),
	    T(test_no_dir),
	    T(test_not_a_dir),
	    T(test_fallback),
	    T(test_unlink_fails),
	    T(test_write_error),
	    T(test_enospc),
	    T(test_read_error),
	    T(test_release),
	    T(test_null_dir_panics),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
