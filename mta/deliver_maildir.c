/*
 * deliver_maildir.c - delivery into a Maildir (see deliver_maildir.h)
 *
 * The order of the steps is what makes a Maildir delivery crash-safe:
 * a reader only ever looks in new/ and cur/, so the file is complete and
 * on disk before its name appears there, and the name in new/ is on disk
 * (new/ fsynced) before the delivery is reported done. A crash anywhere
 * before that leaves at most a file in tmp/, which Maildir readers clean
 * up after 36 hours; the message itself stays queued and is retried.
 *
 * Names are unique without locking: seconds, microseconds, pid and a
 * per-process counter, then the host name with "/" and ":" escaped as the
 * Maildir specification asks. tmp/ is opened with O_EXCL, so a clash
 * (another host sharing the Maildir with the same pid) only costs a retry.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "deliver_maildir.h"
#include "message.h"
#include "spool.h"

/* longest name allowed from an address (NAME_MAX on the usual systems) */
#define DELIVER_MAILDIR_NAME_MAX	255
/* bytes read from the body spool at a time */
#define DELIVER_MAILDIR_CHUNK		65536
/* attempts at a tmp/ name before giving up */
#define DELIVER_MAILDIR_TRIES		5

/* what the path builder says about an address or template */
enum deliver_maildir_verdict {
	DELIVER_MAILDIR_SAFE,
	DELIVER_MAILDIR_UNSAFE,		/* the address: permanent */
	DELIVER_MAILDIR_BAD_TEMPLATE,	/* our configuration: temporary */
};

/* per-process part of the unique names; threads share it atomically */
static unsigned deliver_maildir_counter;

/* deliver_maildir_lower - a lower-cased (ASCII) copy of s[0..len) */
static char *
deliver_maildir_lower(struct arena *arena, const char *s, size_t len)
{
	char *copy = arena_strndup(arena, s, len);
	char *p;

	for (p = copy; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return copy;
}

/* deliver_maildir_safe_name - s may be one path component, as it is */
static bool
deliver_maildir_safe_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > DELIVER_MAILDIR_NAME_MAX)
		return false;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '/' || (unsigned char)s[i] < 0x20 ||
		    s[i] == 0x7f)
			return false;
	return true;
}

/*
 * deliver_maildir_expand - template with %u and %d of rcpt; the path in
 * *path_r, or the verdict and *why_r. A NUL inside rcpt cannot be seen
 * here (C string), but it cannot reach the path either.
 */
static enum deliver_maildir_verdict
deliver_maildir_expand(const char *template, const char *rcpt,
    struct arena *arena, const char **path_r, const char **why_r)
{
	const char *at = strrchr(rcpt, '@'), *p;
	size_t local_len = at != NULL ? (size_t)(at - rcpt) : strlen(rcpt);
	const char *local = deliver_maildir_lower(arena, rcpt, local_len);
	const char *domain = deliver_maildir_lower(arena,
	    at != NULL ? at + 1 : "", at != NULL ? strlen(at + 1) : 0);
	struct buf b = { 0 };

	for (p = template; *p != '\0'; p++) {
		if (*p != '%') {
			buf_putc(&b, *p);
			continue;
		}
		switch (p[1]) {
		case '%':
			buf_putc(&b, '%');
			break;
		case 'u':
			if (!deliver_maildir_safe_name(local, strlen(local))) {
				*why_r = "unsafe local part";
				goto unsafe;
			}
			buf_puts(&b, local);
			break;
		case 'd':
			if (!deliver_maildir_safe_name(domain,
			    strlen(domain))) {
				*why_r = "unsafe domain";
				goto unsafe;
			}
			buf_puts(&b, domain);
			break;
		default:
			*why_r = "bad maildir template: \"%\" must be followed "
			    "by \"u\", \"d\" or \"%\"";
			buf_free(&b);
			return DELIVER_MAILDIR_BAD_TEMPLATE;
		}
		p++;
	}
	if (b.len == 0) {
		*why_r = "bad maildir template: empty";
		buf_free(&b);
		return DELIVER_MAILDIR_BAD_TEMPLATE;
	}
	*path_r = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return DELIVER_MAILDIR_SAFE;
unsafe:
	buf_free(&b);
	return DELIVER_MAILDIR_UNSAFE;
}

/* deliver_maildir_path - the Maildir for rcpt from template */
const char *
deliver_maildir_path(const char *template, const char *rcpt,
    struct arena *arena, const char **why_r)
{
	const char *path = NULL;

	if (deliver_maildir_expand(template, rcpt, arena, &path, why_r) !=
	    DELIVER_MAILDIR_SAFE)
		return NULL;
	return path;
}

/* deliver_maildir_fail - r as a failure */
static void
deliver_maildir_fail(struct deliver_result *r, enum deliver_status status,
    const char *dsn, const char *text)
{
	r->status = status;
	r->dsn = dsn;
	r->text = text;
}

/* deliver_maildir_errno_dsn - the status of a failed system call: a full
 * disk or quota says so (4.3.1), anything else is a system error */
static const char *
deliver_maildir_errno_dsn(int err)
{
	return err == ENOSPC || err == EDQUOT ? "4.3.1" : "4.3.0";
}

/* deliver_maildir_mkdirs - path and every missing parent, mode 0700;
 * false with errno */
static bool
deliver_maildir_mkdirs(struct arena *arena, const char *path)
{
	char *copy = arena_strdup(arena, path), *p;
	struct stat st;

	for (p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		if (p[-1] != '/') {
			char c = *p;

			*p = '\0';
			if (mkdir(copy, 0700) < 0 && (errno != EEXIST ||
			    stat(copy, &st) < 0 || !S_ISDIR(st.st_mode))) {
				if (errno == EEXIST)
					errno = ENOTDIR;
				return false;
			}
			*p = c;
		}
		if (*p == '\0')
			return true;
	}
}

/* deliver_maildir_write_all - all of len bytes to fd; false with errno */
static bool
deliver_maildir_write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/*
 * deliver_maildir_lf - append data to out with CR LF turned into LF; a
 * CR at the end of one chunk is held in *cr_r until the next shows
 * whether an LF follows
 */
static void
deliver_maildir_lf(struct buf *out, const char *data, size_t len,
    bool *cr_r)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (*cr_r && data[i] != '\n')
			buf_putc(out, '\r');
		*cr_r = false;
		if (data[i] == '\r')
			*cr_r = true;
		else
			buf_putc(out, data[i]);
	}
}

/* deliver_maildir_field - one field we write, control bytes in the
 * address made harmless so that it stays one line */
static void
deliver_maildir_field(struct buf *out, const char *name, const char *open,
    const char *addr, const char *close)
{
	const char *p;

	buf_puts(out, name);
	buf_puts(out, open);
	for (p = addr; *p != '\0'; p++)
		buf_putc(out, (unsigned char)*p < 0x20 || *p == 0x7f ?
		    '?' : *p);
	buf_puts(out, close);
}

/*
 * deliver_maildir_content - the file's bytes to fd: our two fields, the
 * header, the empty line and the body, with LF line ends. false with
 * *why_r (errno kept)
 */
static bool
deliver_maildir_content(int fd, const struct message *m, const char *rcpt,
    const char *tmp_path, struct arena *arena, const char **why_r)
{
	struct buf out = { 0 };
	char *chunk = NULL;
	uint64_t off = 0;
	bool cr = false;
	ssize_t n;
	size_t i;
	int err;

	deliver_maildir_field(&out, "Return-Path", ": <", m->sender, ">\n");
	deliver_maildir_field(&out, "Delivered-To", ": ", rcpt, "\n");
	for (i = 0; i < m->n_headers; i++) {
		buf_puts(&out, m->headers[i].name);
		buf_putc(&out, ':');
		deliver_maildir_lf(&out, m->headers[i].value,
		    strlen(m->headers[i].value), &cr);
		deliver_maildir_lf(&out, "\r\n", 2, &cr);
	}
	deliver_maildir_lf(&out, "\r\n", 2, &cr);
	chunk = arena_alloc(arena, DELIVER_MAILDIR_CHUNK);
	for (;;) {
		if (out.len >= DELIVER_MAILDIR_CHUNK) {
			if (!deliver_maildir_write_all(fd, out.data, out.len))
				goto write_error;
			buf_reset(&out);
		}
		n = spool_read(m->body, off, chunk, DELIVER_MAILDIR_CHUNK);
		if (n < 0) {
			err = errno;
			*why_r = arena_printf(arena, "read message body: %s",
			    spool_error(m->body));
			buf_free(&out);
			errno = err;
			return false;
		}
		if (n == 0)
			break;
		off += (uint64_t)n;
		deliver_maildir_lf(&out, chunk, (size_t)n, &cr);
	}
	if (cr)
		buf_putc(&out, '\r');
	if (!deliver_maildir_write_all(fd, out.data, out.len))
		goto write_error;
	buf_free(&out);
	return true;
write_error:
	err = errno;
	*why_r = arena_printf(arena, "write %s: %s", tmp_path, strerror(err));
	buf_free(&out);
	errno = err;
	return false;
}

/* deliver_maildir_unique - a new name for this delivery */
static const char *
deliver_maildir_unique(struct arena *arena, const char *myhostname)
{
	unsigned count = __atomic_add_fetch(&deliver_maildir_counter, 1,
	    __ATOMIC_RELAXED);
	struct buf host = { 0 };
	struct timeval tv;
	const char *p, *name;

	for (p = myhostname; *p != '\0'; p++) {
		if (*p == '/')
			buf_puts(&host, "\\057");
		else if (*p == ':')
			buf_puts(&host, "\\072");
		else if ((unsigned char)*p < 0x20 || *p == 0x7f)
			buf_putc(&host, '_');
		else
			buf_putc(&host, *p);
	}
	(void)gettimeofday(&tv, NULL);
	name = arena_printf(arena, "%lld.M%06ldP%ldQ%u.%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(), count,
	    buf_cstr(&host));
	buf_free(&host);
	return name;
}

/* deliver_maildir_sync_dir - fsync a directory; false with errno */
static bool
deliver_maildir_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;

	if (fd < 0)
		return false;
	if (fsync(fd) < 0) {
		err = errno;
		(void)close(fd);
		errno = err;
		return false;
	}
	return close(fd) == 0;
}

/* deliver_maildir - one message for rcpt */
void
deliver_maildir(const char *template, const struct message *m,
    const char *rcpt, const char *myhostname, struct arena *arena,
    struct deliver_result *r)
{
	static const char *const subdirs[] = { "cur", "new", "tmp", NULL };
	const char *dir = NULL, *why = NULL, *name, *tmp_path = NULL;
	const char *new_path, *new_dir;
	int fd = -1, tries, i, err;

	switch (deliver_maildir_expand(template, rcpt, arena, &dir, &why)) {
	case DELIVER_MAILDIR_SAFE:
		break;
	case DELIVER_MAILDIR_UNSAFE:
		deliver_maildir_fail(r, DELIVER_PERMFAIL, "5.1.3", why);
		return;
	case DELIVER_MAILDIR_BAD_TEMPLATE:
		deliver_maildir_fail(r, DELIVER_TEMPFAIL, "4.3.5", why);
		return;
	}
	for (i = 0; subdirs[i] != NULL; i++) {
		const char *sub = arena_printf(arena, "%s/%s", dir,
		    subdirs[i]);

		if (!deliver_maildir_mkdirs(arena, sub)) {
			err = errno;
			deliver_maildir_fail(r, DELIVER_TEMPFAIL,
			    deliver_maildir_errno_dsn(err), arena_printf(arena,
			    "create maildir %s: %s", sub, strerror(err)));
			return;
		}
	}
	for (tries = 0; fd < 0 && tries < DELIVER_MAILDIR_TRIES; tries++) {
		name = deliver_maildir_unique(arena, myhostname);
		tmp_path = arena_printf(arena, "%s/tmp/%s", dir, name);
		fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		err = errno;
		deliver_maildir_fail(r, DELIVER_TEMPFAIL,
		    deliver_maildir_errno_dsn(err), arena_printf(arena,
		    "create %s: %s", tmp_path, strerror(err)));
		return;
	}
	if (!deliver_maildir_content(fd, m, rcpt, tmp_path, arena, &why)) {
		err = errno;
		goto fail_open;
	}
	if (fsync(fd) < 0) {
		err = errno;
		why = arena_printf(arena, "fsync %s: %s", tmp_path,
		    strerror(err));
		goto fail_open;
	}
	i = close(fd);
	fd = -1;
	if (i < 0) {
		err = errno;
		why = arena_printf(arena, "close %s: %s", tmp_path,
		    strerror(err));
		goto fail_closed;
	}
	new_dir = arena_printf(arena, "%s/new", dir);
	new_path = arena_printf(arena, "%s/%s", new_dir, name);
	if (link(tmp_path, new_path) < 0) {
		err = errno;
		why = arena_printf(arena, "link %s to %s: %s", tmp_path,
		    new_path, strerror(err));
		goto fail_closed;
	}
	if (unlink(tmp_path) < 0) {
		err = errno;
		why = arena_printf(arena, "unlink %s: %s", tmp_path,
		    strerror(err));
		(void)unlink(new_path);
		goto fail_closed;
	}
	if (!deliver_maildir_sync_dir(new_dir)) {
		err = errno;
		why = arena_printf(arena, "fsync %s: %s", new_dir,
		    strerror(err));
		(void)unlink(new_path);
		goto fail_closed;
	}
	r->status = DELIVER_OK;
	r->dsn = "2.0.0";
	r->text = "delivered to maildir";
	return;
fail_open:
	(void)close(fd);
fail_closed:
	(void)unlink(tmp_path);
	deliver_maildir_fail(r, DELIVER_TEMPFAIL,
	    deliver_maildir_errno_dsn(err), why);
}
