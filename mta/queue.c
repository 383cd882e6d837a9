/*
 * queue.c - the mta's queue: directories, queue ids, queue files (see
 * queue.h for the layout and the record format)
 *
 * Writing goes through one 64 KiB buffer per store, so a message costs a
 * handful of write(2) calls, not one per record; body records are read
 * from the spool straight into that buffer.
 *
 * Reading checks the framing of every record against the file's size
 * before it trusts a length, so a damaged or truncated file is an error
 * with a reason, never a huge allocation or a read past the end. What a
 * record means is declared in queue_records[]: its type byte, whether it
 * may repeat, whether the file is incomplete without it, and the function
 * that takes its bytes apart.
 *
 * Renames never replace: renameat2(RENAME_NOREPLACE) where the file
 * system has it, so a message can never overwrite another one; where it
 * has not, a check for the target comes first (racy, but ids are unique
 * by construction; the check only guards against the impossible).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "message.h"
#include "queue.h"
#include "spool.h"

#define QUEUE_VERSION		"1"
#define QUEUE_IO_BUF		(64 * 1024)
#define QUEUE_HDR_LEN		5	/* type byte, 4-byte length */
#define QUEUE_TIME_CHARS	11	/* 55 bits of microseconds */
#define QUEUE_SEQ_CHARS		5	/* 25 bits of counter and pid */
#define QUEUE_SEQ_MASK		((1u << (5 * QUEUE_SEQ_CHARS)) - 1)
#define QUEUE_LOCATE_PASSES	2	/* see queue_locate */
/* body bytes queue_read keeps in memory before its spool takes a file */
#define QUEUE_READ_SPOOL	(256 * 1024)
#define QUEUE_TMP_PREFIX	"."
#define QUEUE_TMP_SUFFIX	".tmp"
/* the longest name below the queue directory: "/deferred/.ID.tmp" */
#define QUEUE_NAME_ROOM		(1 + 8 + 1 + 1 + QUEUE_ID_LEN + 4 + 1)

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE	(1 << 0)
#endif

/* Crockford's base 32: no I, L, O, U, so ids read aloud cannot be
 * mistaken */
static const char queue_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

struct queue {
	char *dir;
};

static const char *const queue_names[QUEUE_COUNT + 1] = {
	[QUEUE_INCOMING] = "incoming",
	[QUEUE_ACTIVE] = "active",
	[QUEUE_DEFERRED] = "deferred",
	[QUEUE_HOLD] = "hold",
	[QUEUE_CORRUPT] = "corrupt",
	[QUEUE_COUNT] = NULL,
};

/* values of the ret and body attributes, by enum */
static const char *const queue_ret_names[] = {
	[MESSAGE_RET_UNSET] = NULL,
	[MESSAGE_RET_FULL] = "FULL",
	[MESSAGE_RET_HDRS] = "HDRS",
	NULL,
};

static const char *const queue_body_names[] = {
	[MESSAGE_BODY_UNSET] = NULL,
	[MESSAGE_BODY_7BIT] = "7BIT",
	[MESSAGE_BODY_8BITMIME] = "8BITMIME",
	[MESSAGE_BODY_BINARYMIME] = "BINARYMIME",
	NULL,
};

/* the recipient states a file may hold */
static const char queue_rcpt_states[] = "PWDBX";

/* per-process sequence for the last five characters of an id */
static atomic_uint queue_counter;

/* --- names and ids ------------------------------------------------------- */

/* queue_name_of - the directory name of q */
const char *
queue_name_of(enum queue_name q)
{
	if ((unsigned)q >= QUEUE_COUNT)
		log_panic("queue_name_of: bad queue %d", (int)q);
	return queue_names[q];
}

/* queue_name_parse - the other way; false if unknown */
bool
queue_name_parse(const char *text, enum queue_name *r)
{
	int i;

	for (i = 0; queue_names[i] != NULL; i++)
		if (strcmp(text, queue_names[i]) == 0) {
			*r = (enum queue_name)i;
			return true;
		}
	return false;
}

/* queue_id_valid - text is a well-formed queue id */
bool
queue_id_valid(const char *text)
{
	size_t i;

	for (i = 0; i < QUEUE_ID_LEN; i++)
		if (text[i] == '\0' || strchr(queue_alphabet, text[i]) == NULL)
			return false;
	return text[QUEUE_ID_LEN] == '\0';
}

/* queue_now_us - microseconds since the epoch */
static uint64_t
queue_now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		log_panic("clock_gettime: %m");
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * queue_make_id - the id for arrival time us: the time, then the next
 * counter value plus a hash of the pid (Knuth's multiplicative one), so
 * that processes started in the same microsecond differ, while one
 * process's ids of one microsecond still sort in the order it made them.
 * getpid() each time: a forked worker must not continue its parent's.
 */
static void
queue_make_id(uint64_t us, char id[QUEUE_ID_LEN + 1])
{
	uint32_t seq = atomic_fetch_add(&queue_counter, 1u) +
	    (((uint32_t)getpid() * 2654435761u) >> 7);
	int i;

	seq &= QUEUE_SEQ_MASK;
	for (i = QUEUE_TIME_CHARS - 1; i >= 0; i--, us >>= 5)
		id[i] = queue_alphabet[us & 31];
	for (i = QUEUE_ID_LEN - 1; i >= QUEUE_TIME_CHARS; i--, seq >>= 5)
		id[i] = queue_alphabet[seq & 31];
	id[QUEUE_ID_LEN] = '\0';
}

/* --- paths and directories ----------------------------------------------- */

/* queue_path - dir/QUEUE[/name] into path (room checked by queue_open) */
static void
queue_path(const struct queue *q, enum queue_name qn, const char *name,
    char path[PATH_MAX])
{
	if (name == NULL)
		snprintf(path, PATH_MAX, "%s/%s", q->dir, queue_names[qn]);
	else
		snprintf(path, PATH_MAX, "%s/%s/%s", q->dir, queue_names[qn],
		    name);
}

/* queue_tmp_name - ".ID.tmp" */
static void
queue_tmp_name(const char *id, char name[QUEUE_NAME_ROOM])
{
	snprintf(name, QUEUE_NAME_ROOM, "%s%s%s", QUEUE_TMP_PREFIX, id,
	    QUEUE_TMP_SUFFIX);
}

/* queue_tmp_id - whether name is ".ID.tmp"; the id into id_r */
static bool
queue_tmp_id(const char *name, char id_r[QUEUE_ID_LEN + 1])
{
	size_t pre = strlen(QUEUE_TMP_PREFIX), suf = strlen(QUEUE_TMP_SUFFIX);

	if (strlen(name) != pre + QUEUE_ID_LEN + suf ||
	    strncmp(name, QUEUE_TMP_PREFIX, pre) != 0 ||
	    strcmp(name + pre + QUEUE_ID_LEN, QUEUE_TMP_SUFFIX) != 0)
		return false;
	memcpy(id_r, name + pre, QUEUE_ID_LEN);
	id_r[QUEUE_ID_LEN] = '\0';
	return queue_id_valid(id_r);
}

/* queue_strerror - thread-safe text of err (stores run on job threads) */
static const char *
queue_strerror(int err, char *buf, size_t len)
{
	return strerror_r(err, buf, len);
}

/* queue_fsync_dir - make the names in path durable; -1 with errno */
static int
queue_fsync_dir(const char *path)
{
	int fd, saved;

	if ((fd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fsync(fd) < 0) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

/* queue_rename - from to to, never replacing: -1 with errno (EEXIST when
 * to is there, ENOENT when from is not) */
static int
queue_rename(const char *from, const char *to)
{
	struct stat st;

	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* a file system without RENAME_NOREPLACE */
	if (lstat(to, &st) == 0) {
		errno = EEXIST;
		return -1;
	}
	if (errno != ENOENT)
		return -1;
	return rename(from, to);
}

/* queue_mkdir - path as a directory, made mode 0700 and chowned when
 * missing; false with *why_r (malloc'ed) */
static bool
queue_mkdir(const char *path, int uid, int gid, char **why_r)
{
	char err[128];
	struct stat st;

	if (mkdir(path, 0700) == 0) {
		/* mkdir's mode went through the umask */
		if (chmod(path, 0700) < 0 || ((uid != -1 || gid != -1) &&
		    chown(path, (uid_t)uid, (gid_t)gid) < 0)) {
			*why_r = xasprintf("set owner and mode of %s: %s", path,
			    queue_strerror(errno, err, sizeof(err)));
			return false;
		}
		return true;
	}
	if (errno != EEXIST) {
		*why_r = xasprintf("create directory %s: %s", path,
		    queue_strerror(errno, err, sizeof(err)));
		return false;
	}
	if (stat(path, &st) < 0) {
		*why_r = xasprintf("%s: %s", path,
		    queue_strerror(errno, err, sizeof(err)));
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		*why_r = xasprintf("%s: not a directory", path);
		return false;
	}
	return true;
}

/* queue_open - use dir as queue_directory, creating what is missing */
struct queue *
queue_open(const char *dir, int uid, int gid, char **why_r)
{
	char path[PATH_MAX];
	struct queue *q;
	int i;

	if (strlen(dir) == 0 || strlen(dir) + QUEUE_NAME_ROOM > PATH_MAX) {
		*why_r = xasprintf("bad queue directory name \"%.100s\"", dir);
		return NULL;
	}
	if (!queue_mkdir(dir, uid, gid, why_r))
		return NULL;
	q = xcalloc(1, sizeof(*q));
	q->dir = xstrdup(dir);
	for (i = 0; i < QUEUE_COUNT; i++) {
		queue_path(q, (enum queue_name)i, NULL, path);
		if (!queue_mkdir(path, uid, gid, why_r)) {
			queue_close(&q);
			return NULL;
		}
	}
	return q;
}

/* queue_close - sets *q NULL; NULL ok */
void
queue_close(struct queue **qp)
{
	if (qp == NULL || *qp == NULL)
		return;
	free((*qp)->dir);
	free(*qp);
	*qp = NULL;
}

/* --- writing -------------------------------------------------------------- */

struct queue_writer {
	int fd;
	unsigned char *buf;	/* QUEUE_IO_BUF bytes */
	size_t len;
};

/* queue_flush - the buffer to the file; false with errno */
static bool
queue_flush(struct queue_writer *w)
{
	size_t done = 0;
	ssize_t n;

	while (done < w->len) {
		n = write(w->fd, w->buf + done, w->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO;	/* no progress: never loop on it */
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	w->len = 0;
	return true;
}

/* queue_put - bytes into the buffer */
static bool
queue_put(struct queue_writer *w, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t room;

	while (n > 0) {
		if (w->len == QUEUE_IO_BUF && !queue_flush(w))
			return false;
		room = QUEUE_IO_BUF - w->len;
		if (room > n)
			room = n;
		memcpy(w->buf + w->len, s, room);
		w->len += room;
		s += room;
		n -= room;
	}
	return true;
}

/* queue_hdr - a record's type and length */
static void
queue_hdr(unsigned char hdr[QUEUE_HDR_LEN], char type, uint32_t len)
{
	hdr[0] = (unsigned char)type;
	hdr[1] = (unsigned char)(len >> 24);
	hdr[2] = (unsigned char)(len >> 16);
	hdr[3] = (unsigned char)(len >> 8);
	hdr[4] = (unsigned char)len;
}

/* queue_begin - a record header for len bytes that follow; EFBIG past
 * what 4 bytes can say */
static bool
queue_begin(struct queue_writer *w, char type, size_t len)
{
	unsigned char hdr[QUEUE_HDR_LEN];

	if ((uint64_t)len > UINT32_MAX) {
		errno = EFBIG;
		return false;
	}
	queue_hdr(hdr, type, (uint32_t)len);
	return queue_put(w, hdr, sizeof(hdr));
}

/* queue_text - a record holding one string */
static bool
queue_text(struct queue_writer *w, char type, const char *s)
{
	size_t len = strlen(s);

	return queue_begin(w, type, len) && queue_put(w, s, len);
}

/* queue_pair - a record "a\0b" */
static bool
queue_pair(struct queue_writer *w, char type, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	return queue_begin(w, type, la + 1 + lb) && queue_put(w, a, la + 1) &&
	    queue_put(w, b, lb);
}

/* queue_attr - an 'A' record unless value is NULL */
static bool
queue_attr(struct queue_writer *w, const char *name, const char *value)
{
	return value == NULL || queue_pair(w, 'A', name, value);
}

/* queue_write_attrs - the session facts and the envelope's options */
static bool
queue_write_attrs(struct queue_writer *w, const struct queue_attrs *a,
    const struct message *m)
{
	char port[16];

	if (a != NULL) {
		snprintf(port, sizeof(port), "%u", a->client_port);
		if (!queue_attr(w, "client_name", a->client_name) ||
		    !queue_attr(w, "client_addr", a->client_addr) ||
		    !queue_attr(w, "client_port",
		    a->client_port != 0 ? port : NULL) ||
		    !queue_attr(w, "helo", a->helo) ||
		    !queue_attr(w, "protocol", a->protocol) ||
		    !queue_attr(w, "auth_user", a->auth_user) ||
		    !queue_attr(w, "tls", a->tls))
			return false;
	}
	if ((unsigned)m->ret >= sizeof(queue_ret_names) /
	    sizeof(queue_ret_names[0]) - 1 ||
	    (unsigned)m->body_type >= sizeof(queue_body_names) /
	    sizeof(queue_body_names[0]) - 1)
		log_panic("queue_store: bad ret %d or body %d", (int)m->ret,
		    (int)m->body_type);
	return queue_attr(w, "ret", queue_ret_names[m->ret]) &&
	    queue_attr(w, "envid", m->envid) &&
	    queue_attr(w, "body", queue_body_names[m->body_type]) &&
	    queue_attr(w, "smtputf8", m->smtputf8 ? "yes" : NULL);
}

/* queue_write_rcpt - an 'R' record in state pending */
static bool
queue_write_rcpt(struct queue_writer *w, const struct message_rcpt *r)
{
	const char *orcpt = r->orcpt != NULL ? r->orcpt : "";
	const char *params = r->params != NULL ? r->params : "";
	size_t la = strlen(r->addr), lo = strlen(orcpt), lp = strlen(params);
	/* only the four NOTIFY bits: anything else would make the file
	 * unreadable (queue_rec_rcpt) */
	unsigned char head[2] = { 'P', (unsigned char)(r->notify & 0xFu) };

	return queue_begin(w, 'R', 2 + la + 1 + lo + 1 + lp) &&
	    queue_put(w, head, 2) && queue_put(w, r->addr, la + 1) &&
	    queue_put(w, orcpt, lo + 1) && queue_put(w, params, lp);
}

/* queue_write_body - the spool as 'B' records, read straight into the
 * buffer behind a header that is filled in once the count is known */
static bool
queue_write_body(struct queue_writer *w, struct spool *body)
{
	uint64_t off = 0, size = body != NULL ? spool_size(body) : 0;
	size_t want;
	ssize_t n;

	while (off < size) {
		if (QUEUE_IO_BUF - w->len < QUEUE_HDR_LEN + 4096 &&
		    !queue_flush(w))
			return false;
		want = QUEUE_IO_BUF - w->len - QUEUE_HDR_LEN;
		if ((uint64_t)want > size - off)
			want = (size_t)(size - off);
		n = spool_read(body, off, w->buf + w->len + QUEUE_HDR_LEN,
		    want);
		if (n < 0)
			return false;
		if (n == 0) {
			/* the spool is shorter than it says */
			errno = EIO;
			return false;
		}
		queue_hdr(w->buf + w->len, 'B', (uint32_t)n);
		w->len += QUEUE_HDR_LEN + (size_t)n;
		off += (uint64_t)n;
	}
	return true;
}

/* queue_write - every record of the file, in order */
static bool
queue_write(struct queue_writer *w, const char *id, uint64_t us,
    const struct message *m, const struct queue_attrs *attrs)
{
	char t[32];
	size_t i;

	snprintf(t, sizeof(t), "%" PRIu64, us);
	if (!queue_text(w, 'V', QUEUE_VERSION) || !queue_text(w, 'I', id) ||
	    !queue_text(w, 'T', t) || !queue_write_attrs(w, attrs, m) ||
	    !queue_text(w, 'S', m->sender != NULL ? m->sender : ""))
		return false;
	for (i = 0; i < m->n_rcpts; i++)
		if (!queue_write_rcpt(w, &m->rcpts[i]))
			return false;
	if (m->quarantine != NULL && !queue_text(w, 'Q', m->quarantine))
		return false;
	for (i = 0; i < m->n_headers; i++)
		if (!queue_pair(w, 'H', m->headers[i].name,
		    m->headers[i].value))
			return false;
	return queue_write_body(w, m->body) && queue_begin(w, 'E', 0) &&
	    queue_flush(w);
}

/* queue_id_new - a fresh id for a message about to arrive */
void
queue_id_new(struct queue *q, char id_r[QUEUE_ID_LEN + 1])
{
	(void)q;
	queue_make_id(queue_now_us(), id_r);
}

/*
 * queue_store - write, fsync, rename, fsync the directory (see
 * Durability). Every failure after the file exists removes it again; the
 * errno of the first failure survives the cleanup. The arrival time is
 * now: when the message became the queue's.
 */
bool
queue_store(struct queue *q, const struct message *m,
    const struct queue_attrs *attrs, enum queue_name where, const char *id)
{
	char tmp[PATH_MAX], final[PATH_MAX], name[QUEUE_NAME_ROOM];
	char dir[PATH_MAX], incoming[PATH_MAX];
	struct queue_writer w = { .fd = -1 };
	bool renamed = false;
	int saved;

	if ((unsigned)where >= QUEUE_COUNT || !queue_id_valid(id))
		log_panic("queue_store: bad queue %d or id \"%.20s\"",
		    (int)where, id);
	queue_tmp_name(id, name);
	queue_path(q, QUEUE_INCOMING, name, tmp);
	w.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w.fd < 0)
		return false;
	w.buf = xmalloc(QUEUE_IO_BUF);
	if (!queue_write(&w, id, queue_now_us(), m, attrs) || fsync(w.fd) < 0)
		goto fail;
	saved = close(w.fd);
	w.fd = -1;
	if (saved < 0)
		goto fail;
	queue_path(q, where, id, final);
	queue_path(q, where, NULL, dir);
	queue_path(q, QUEUE_INCOMING, NULL, incoming);
	if (queue_rename(tmp, final) < 0)
		goto fail;
	renamed = true;
	/* the new name, and (another directory) the old one's removal */
	if (queue_fsync_dir(dir) < 0 ||
	    (where != QUEUE_INCOMING && queue_fsync_dir(incoming) < 0))
		goto fail;
	free(w.buf);
	return true;
fail:
	saved = errno;
	if (w.fd >= 0)
		(void)close(w.fd);
	(void)unlink(renamed ? final : tmp);
	free(w.buf);
	errno = saved;
	return false;
}

/* --- reading -------------------------------------------------------------- */

enum queue_parse_result {
	QUEUE_PARSE_OK,
	QUEUE_PARSE_BAD,	/* malformed or incomplete: corrupt */
	QUEUE_PARSE_IOERR,	/* could not read it (or the spool failed) */
};

/* A file being read, through a buffer. */
struct queue_reader {
	int fd;
	uint64_t size;		/* of the file, from fstat */
	uint64_t off;		/* of the next byte the parser takes */
	unsigned char *buf;	/* QUEUE_IO_BUF */
	size_t pos, len;	/* unread bytes are buf[pos..len) */
};

struct queue_parse {
	struct queue_reader rd;
	struct queue_entry *r;
	struct arena *arena;
	const char *id;		/* the name of the file */
	bool want_body;
	unsigned seen;		/* bit i: queue_records[i] was there */
	struct buf states;	/* recipient states, in order */
	struct buf offsets;	/* uint64_t file offset of each state */
	struct message_header *headers;
	size_t n_headers, cap_headers;
	const char *why;	/* in arena */
};

/* queue_take - exactly n bytes at the reader's offset into p (p NULL:
 * skip them); false with errno (EIO when the file ended early) */
static bool
queue_take(struct queue_reader *rd, void *p, size_t n)
{
	unsigned char *d = p;
	size_t k;
	ssize_t got;

	while (n > 0) {
		if (rd->pos == rd->len) {
			if (p == NULL && n >= QUEUE_IO_BUF) {
				/* a body not wanted: no need to read it */
				rd->off += n;
				if (lseek(rd->fd, (off_t)rd->off, SEEK_SET) < 0)
					return false;
				return true;
			}
			got = read(rd->fd, rd->buf, QUEUE_IO_BUF);
			if (got < 0 && errno == EINTR)
				continue;
			if (got == 0)
				errno = EIO;	/* shrank under us */
			if (got <= 0)
				return false;
			rd->pos = 0;
			rd->len = (size_t)got;
		}
		k = rd->len - rd->pos;
		if (k > n)
			k = n;
		if (d != NULL) {
			memcpy(d, rd->buf + rd->pos, k);
			d += k;
		}
		rd->pos += k;
		rd->off += k;
		n -= k;
	}
	return true;
}

/* queue_bad - a malformed file: why, and the answer */
static enum queue_parse_result __attribute__((format(printf, 2, 3)))
queue_bad(struct queue_parse *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ps->why = arena_vprintf(ps->arena, fmt, ap);
	va_end(ap);
	return QUEUE_PARSE_BAD;
}

/* queue_ioerr - a read failure in errno: why, and the answer */
static enum queue_parse_result
queue_ioerr(struct queue_parse *ps, const char *what)
{
	char err[128];

	ps->why = arena_printf(ps->arena, "%s: %s", what,
	    queue_strerror(errno, err, sizeof(err)));
	return QUEUE_PARSE_IOERR;
}

/* Record readers: data is the record's bytes plus a NUL (len without
 * it). false with ps->why. */
typedef bool queue_record_fn(struct queue_parse *ps, char *data,
    size_t len);

/* queue_no_nul - a text record must not hold a NUL of its own */
static bool
queue_no_nul(struct queue_parse *ps, const char *data, size_t len,
    const char *what)
{
	if (memchr(data, '\0', len) == NULL)
		return true;
	ps->why = arena_printf(ps->arena, "NUL byte in the %s record", what);
	return false;
}

/* queue_rec_version - 'V' */
static bool
queue_rec_version(struct queue_parse *ps, char *data, size_t len)
{
	if (len == strlen(QUEUE_VERSION) && strcmp(data, QUEUE_VERSION) == 0)
		return true;
	ps->why = arena_printf(ps->arena, "unsupported format version \"%s\"",
	    queue_no_nul(ps, data, len, "version") ? data : "?");
	return false;
}

/* queue_rec_id - 'I': the id the file is named after */
static bool
queue_rec_id(struct queue_parse *ps, char *data, size_t len)
{
	if (len == QUEUE_ID_LEN && strcmp(data, ps->id) == 0)
		return true;
	ps->why = "the queue id record does not match the file name";
	return false;
}

/* queue_rec_time - 'T' */
static bool
queue_rec_time(struct queue_parse *ps, char *data, size_t len)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (data[i] < '0' || data[i] > '9' ||
		    v > (UINT64_MAX - 9) / 10)
			break;
		v = v * 10 + (uint64_t)(data[i] - '0');
	}
	if (len == 0 || i < len) {
		ps->why = "bad arrival time record";
		return false;
	}
	ps->r->arrival_us = v;
	return true;
}

/* queue_enum_value - index of value in names (NULL-terminated after a
 * NULL first slot); -1 if none */
static int
queue_enum_value(const char *const *names, const char *value)
{
	int i;

	for (i = 1; names[i] != NULL; i++)
		if (strcmp(names[i], value) == 0)
			return i;
	return -1;
}

/* queue_rec_attr - 'A': known names set their field, unknown ones are
 * skipped (they carry nothing anyone reads) */
static bool
queue_rec_attr(struct queue_parse *ps, char *data, size_t len)
{
	static const struct {
		const char *name;
		size_t offset;	/* of a const char * in queue_attrs */
	} strings[] = {
		{ .name = "client_name",
		  .offset = offsetof(struct queue_attrs, client_name) },
		{ .name = "client_addr",
		  .offset = offsetof(struct queue_attrs, client_addr) },
		{ .name = "helo",
		  .offset = offsetof(struct queue_attrs, helo) },
		{ .name = "protocol",
		  .offset = offsetof(struct queue_attrs, protocol) },
		{ .name = "auth_user",
		  .offset = offsetof(struct queue_attrs, auth_user) },
		{ .name = "tls", .offset = offsetof(struct queue_attrs, tls) },
		{ 0 },
	};
	struct message *m = ps->r->msg;
	size_t nlen = strnlen(data, len), i;
	const char *value;
	char *end;
	unsigned long port;
	int e;

	if (nlen == len || nlen == 0) {
		ps->why = "attribute record without a name";
		return false;
	}
	value = data + nlen + 1;
	if (!queue_no_nul(ps, value, len - nlen - 1, "attribute"))
		return false;
	for (i = 0; strings[i].name != NULL; i++)
		if (strcmp(data, strings[i].name) == 0) {
			*(const char **)((char *)&ps->r->attrs +
			    strings[i].offset) = value;
			return true;
		}
	if (strcmp(data, "client_port") == 0) {
		errno = 0;
		port = strtoul(value, &end, 10);
		if (value[0] < '0' || value[0] > '9' || *end != '\0' ||
		    errno != 0 || port > 65535)
			goto bad;
		ps->r->attrs.client_port = (unsigned)port;
	} else if (strcmp(data, "ret") == 0) {
		if ((e = queue_enum_value(queue_ret_names, value)) < 0)
			goto bad;
		m->ret = (enum message_ret)e;
	} else if (strcmp(data, "body") == 0) {
		if ((e = queue_enum_value(queue_body_names, value)) < 0)
			goto bad;
		m->body_type = (enum message_body_type)e;
	} else if (strcmp(data, "envid") == 0) {
		m->envid = value;
	} else if (strcmp(data, "smtputf8") == 0) {
		if (strcmp(value, "yes") != 0)
			goto bad;
		m->smtputf8 = true;
	}
	return true;
bad:
	ps->why = arena_printf(ps->arena, "bad %s attribute", data);
	return false;
}

/* queue_rec_sender - 'S' */
static bool
queue_rec_sender(struct queue_parse *ps, char *data, size_t len)
{
	if (!queue_no_nul(ps, data, len, "sender"))
		return false;
	ps->r->msg->sender = data;
	return true;
}

/* queue_rec_rcpt - 'R': state, NOTIFY, "addr\0orcpt\0params" */
static bool
queue_rec_rcpt(struct queue_parse *ps, char *data, size_t len)
{
	struct message_rcpt r = { 0 };
	struct message *m = ps->r->msg;
	const char *p, *end = data + len;
	size_t n;

	if (len < 2 || strchr(queue_rcpt_states, data[0]) == NULL ||
	    data[0] == '\0' || ((unsigned char)data[1] & ~0xFu) != 0) {
		ps->why = "bad recipient state or NOTIFY";
		return false;
	}
	r.notify = (unsigned char)data[1];
	p = data + 2;
	r.addr = p;
	n = strnlen(p, (size_t)(end - p));
	if (p + n == end)
		goto bad;
	p += n + 1;
	r.orcpt = p;
	n = strnlen(p, (size_t)(end - p));
	if (p + n == end)
		goto bad;
	p += n + 1;
	r.params = p;
	if (memchr(p, '\0', (size_t)(end - p)) != NULL)
		goto bad;
	if (*r.orcpt == '\0')
		r.orcpt = NULL;
	if (*r.params == '\0')
		r.params = NULL;
	message_add_rcpt(m, &r);
	buf_putc(&ps->states, data[0]);
	{
		/* the reader is past the record: its data began len
		 * bytes back, and the state is its first byte */
		uint64_t at = ps->rd.off - len;

		buf_append(&ps->offsets, &at, sizeof(at));
	}
	return true;
bad:
	ps->why = "recipient record without three fields";
	return false;
}

/* queue_rec_quarantine - 'Q' */
static bool
queue_rec_quarantine(struct queue_parse *ps, char *data, size_t len)
{
	if (!queue_no_nul(ps, data, len, "quarantine"))
		return false;
	ps->r->msg->quarantine = data;
	return true;
}

/* queue_rec_header - 'H'; collected here and handed to the message at
 * the end, as they are (the parser's copy is the arena's already) */
static bool
queue_rec_header(struct queue_parse *ps, char *data, size_t len)
{
	size_t nlen = strnlen(data, len);
	struct message_header *h;

	if (nlen == len || nlen == 0) {
		ps->why = "header record without a name";
		return false;
	}
	if (!queue_no_nul(ps, data + nlen + 1, len - nlen - 1, "header"))
		return false;
	if (ps->n_headers == ps->cap_headers) {
		ps->cap_headers = ps->cap_headers ? 2 * ps->cap_headers : 32;
		h = arena_alloc(ps->arena, ps->cap_headers * sizeof(*h));
		if (ps->n_headers > 0)
			memcpy(h, ps->headers, ps->n_headers * sizeof(*h));
		ps->headers = h;
	}
	h = &ps->headers[ps->n_headers++];
	h->name = data;
	h->value = data + nlen + 1;
	h->hidden = false;
	return true;
}

/* What each record type is (queue.h). B and E have no reader: the body
 * streams, END ends. */
static const struct queue_record {
	char type;
	const char *name;
	bool once, required;
	queue_record_fn *read;
} queue_records[] = {
	{ .type = 'V', .name = "version", .once = true, .required = true,
	  .read = queue_rec_version },
	{ .type = 'I', .name = "queue id", .once = true, .required = true,
	  .read = queue_rec_id },
	{ .type = 'T', .name = "arrival time", .once = true,
	  .required = true, .read = queue_rec_time },
	{ .type = 'A', .name = "attribute", .read = queue_rec_attr },
	{ .type = 'S', .name = "sender", .once = true, .required = true,
	  .read = queue_rec_sender },
	{ .type = 'R', .name = "recipient", .read = queue_rec_rcpt },
	{ .type = 'Q', .name = "quarantine", .once = true,
	  .read = queue_rec_quarantine },
	{ .type = 'H', .name = "header", .read = queue_rec_header },
	{ .type = 'B', .name = "body" },
	{ .type = 'E', .name = "END", .once = true },
	{ 0 },
};

/* queue_body - a 'B' record: into the body spool, or skipped */
static enum queue_parse_result
queue_body(struct queue_parse *ps, uint32_t len)
{
	struct spool *body = ps->r->msg->body;
	unsigned char chunk[8192];
	size_t n;

	if (!ps->want_body)
		return queue_take(&ps->rd, NULL, len) ? QUEUE_PARSE_OK :
		    queue_ioerr(ps, "read");
	while (len > 0) {
		n = len < sizeof(chunk) ? len : sizeof(chunk);
		if (!queue_take(&ps->rd, chunk, n))
			return queue_ioerr(ps, "read");
		if (!spool_append(body, chunk, n)) {
			ps->why = arena_strdup(ps->arena, spool_error(body));
			return QUEUE_PARSE_IOERR;
		}
		len -= (uint32_t)n;
	}
	return QUEUE_PARSE_OK;
}

/* queue_parse_records - every record up to END, which must be the last
 * byte of the file */
static enum queue_parse_result
queue_parse_records(struct queue_parse *ps)
{
	struct queue_reader *rd = &ps->rd;
	const struct queue_record *rec;
	enum queue_parse_result res;
	unsigned char hdr[QUEUE_HDR_LEN];
	uint64_t at;
	uint32_t len;
	size_t i;
	char *data;

	for (;;) {
		at = rd->off;
		if (at == rd->size)
			return queue_bad(ps, "no END record (incomplete file)");
		if (rd->size - at < QUEUE_HDR_LEN)
			return queue_bad(ps, "offset %" PRIu64 ": truncated "
			    "record header", at);
		if (!queue_take(rd, hdr, sizeof(hdr)))
			return queue_ioerr(ps, "read");
		len = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 |
		    (uint32_t)hdr[3] << 8 | hdr[4];
		for (i = 0; queue_records[i].type != '\0'; i++)
			if ((unsigned char)queue_records[i].type == hdr[0])
				break;
		rec = &queue_records[i];
		if (rec->type == '\0')
			return queue_bad(ps, "offset %" PRIu64 ": unknown "
			    "record type 0x%02x", at, hdr[0]);
		if (len > rd->size - rd->off)
			return queue_bad(ps, "offset %" PRIu64 ": %s record "
			    "of %" PRIu32 " bytes goes past the end of the "
			    "file", at, rec->name, len);
		if (at == 0 && rec->type != 'V')
			return queue_bad(ps, "the first record is not the "
			    "version");
		if (rec->once && (ps->seen & (1u << i)) != 0)
			return queue_bad(ps, "offset %" PRIu64 ": second %s "
			    "record", at, rec->name);
		ps->seen |= 1u << i;
		if (rec->type == 'E') {
			if (len != 0)
				return queue_bad(ps, "offset %" PRIu64 ": END "
				    "record with data", at);
			if (rd->off != rd->size)
				return queue_bad(ps, "offset %" PRIu64 ": END "
				    "record is not the last", at);
			return QUEUE_PARSE_OK;
		}
		if (rec->read == NULL) {
			if ((res = queue_body(ps, len)) != QUEUE_PARSE_OK)
				return res;
			continue;
		}
		data = arena_alloc(ps->arena, (size_t)len + 1);
		if (!queue_take(rd, data, len))
			return queue_ioerr(ps, "read");
		if (!rec->read(ps, data, len))
			return queue_bad(ps, "offset %" PRIu64 ": %s", at,
			    ps->why);
	}
}

/*
 * queue_parse_fd - the open file of id into r (whose id and queue are
 * set); r->msg NULL unless the whole file was read
 */
static enum queue_parse_result
queue_parse_fd(int fd, const char *id, bool want_body, const char *temp_dir,
    struct arena *arena, struct queue_entry *r, const char **why_r)
{
	struct queue_parse ps = {
		.rd = { .fd = fd }, .r = r, .arena = arena, .id = id,
		.want_body = want_body,
	};
	enum queue_parse_result res;
	struct stat st;
	size_t i;

	if (fstat(fd, &st) < 0) {
		res = queue_ioerr(&ps, "fstat");
		*why_r = ps.why;
		return res;
	}
	r->size = (uint64_t)st.st_size;
	ps.rd.size = r->size;
	ps.rd.buf = xmalloc(QUEUE_IO_BUF);
	r->msg = message_new(arena, temp_dir != NULL ? temp_dir : P_tmpdir,
	    QUEUE_READ_SPOOL);
	res = queue_parse_records(&ps);
	for (i = 0; res == QUEUE_PARSE_OK && queue_records[i].type != '\0';
	    i++)
		if (queue_records[i].required && (ps.seen & (1u << i)) == 0)
			res = queue_bad(&ps, "no %s record",
			    queue_records[i].name);
	free(ps.rd.buf);
	if (res != QUEUE_PARSE_OK) {
		buf_free(&ps.states);
		buf_free(&ps.offsets);
		r->msg = NULL;
		*why_r = ps.why;
		return res;
	}
	r->msg->headers = ps.headers;
	r->msg->n_headers = ps.n_headers;
	r->msg->cap_headers = ps.cap_headers;
	r->rcpt_states = arena_memdup(arena, buf_cstr(&ps.states),
	    ps.states.len);
	buf_free(&ps.states);
	r->rcpt_offsets = (uint64_t *)(void *)arena_memdup(arena,
	    ps.offsets.data ? ps.offsets.data : "", ps.offsets.len);
	buf_free(&ps.offsets);
	return QUEUE_PARSE_OK;
}

/* queue_entry_init - r for id in qn, nothing read yet */
static void
queue_entry_init(struct queue_entry *r, const char *id, enum queue_name qn)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->id, id, QUEUE_ID_LEN);
	r->queue = qn;
}

/* queue_read_at - id in queue qn: 1, 0 not there, -1 (why) */
static int
queue_read_at(struct queue *q, enum queue_name qn, const char *id,
    bool want_body, const char *temp_dir, struct arena *arena,
    struct queue_entry *r, const char **why_r)
{
	char path[PATH_MAX], err[128];
	int fd;
	enum queue_parse_result res;

	queue_entry_init(r, id, qn);
	queue_path(q, qn, id, path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		*why_r = arena_printf(arena, "open %s: %s", path,
		    queue_strerror(errno, err, sizeof(err)));
		return -1;
	}
	res = queue_parse_fd(fd, id, want_body, temp_dir, arena, r, why_r);
	(void)close(fd);
	if (res != QUEUE_PARSE_OK) {
		*why_r = arena_printf(arena, "%s: %s", path, *why_r);
		return -1;
	}
	return 1;
}

/*
 * queue_read - id from whichever queue holds it. The queues are looked
 * at one after the other while the queue manager may move the message
 * between them, so one that is found nowhere gets a second look before
 * it counts as gone (moves take microseconds; the second pass is cheap).
 */
int
queue_read(struct queue *q, const char *id, bool want_body,
    const char *temp_dir, struct arena *arena, struct queue_entry *r,
    const char **why_r)
{
	int pass, i, rc;

	if (!queue_id_valid(id))
		return 0;
	for (pass = 0; pass < QUEUE_LOCATE_PASSES; pass++)
		for (i = 0; i < QUEUE_COUNT; i++)
			if ((rc = queue_read_at(q, (enum queue_name)i, id,
			    want_body, temp_dir, arena, r, why_r)) != 0)
				return rc;
	return 0;
}

/* --- moving, finding, deleting ------------------------------------------- */

/* queue_move - rename id between queues and fsync both directories */
int
queue_move(struct queue *q, const char *id, enum queue_name from,
    enum queue_name to)
{
	char src[PATH_MAX], dst[PATH_MAX];
	struct stat st;

	if ((unsigned)from >= QUEUE_COUNT || (unsigned)to >= QUEUE_COUNT)
		log_panic("queue_move: bad queue %d or %d", (int)from,
		    (int)to);
	if (!queue_id_valid(id))
		return 0;
	queue_path(q, from, id, src);
	if (from == to) {
		if (lstat(src, &st) == 0)
			return 1;
		return errno == ENOENT ? 0 : -1;
	}
	queue_path(q, to, id, dst);
	if (queue_rename(src, dst) < 0)
		return errno == ENOENT ? 0 : -1;
	queue_path(q, to, NULL, dst);
	queue_path(q, from, NULL, src);
	if (queue_fsync_dir(dst) < 0 || queue_fsync_dir(src) < 0)
		return -1;
	return 1;
}

/* queue_find - which queue holds id (two passes, as queue_read) */
int
queue_find(struct queue *q, const char *id, enum queue_name *r)
{
	char path[PATH_MAX];
	struct stat st;
	int pass, i;

	if (!queue_id_valid(id))
		return 0;
	for (pass = 0; pass < QUEUE_LOCATE_PASSES; pass++)
		for (i = 0; i < QUEUE_COUNT; i++) {
			queue_path(q, (enum queue_name)i, id, path);
			if (lstat(path, &st) == 0) {
				*r = (enum queue_name)i;
				return 1;
			}
			if (errno != ENOENT)
				return -1;
		}
	return 0;
}

/* queue_delete - remove id wherever it is, durably */
int
queue_delete(struct queue *q, const char *id)
{
	char path[PATH_MAX];
	int pass, i;

	if (!queue_id_valid(id))
		return 0;
	for (pass = 0; pass < QUEUE_LOCATE_PASSES; pass++)
		for (i = 0; i < QUEUE_COUNT; i++) {
			queue_path(q, (enum queue_name)i, id, path);
			if (unlink(path) == 0) {
				queue_path(q, (enum queue_name)i, NULL, path);
				return queue_fsync_dir(path) < 0 ? -1 : 1;
			}
			if (errno != ENOENT)
				return -1;
		}
	return 0;
}

/* --- recovery and listing ------------------------------------------------- */

/* One name found in a queue directory. */
struct queue_item {
	char name[NAME_MAX + 1];
	enum queue_name queue;
};

struct queue_items {
	struct queue_item *item;
	size_t n, cap;
};

/* queue_scan - the names in queue qn (but . and ..) appended to items;
 * false with errno */
static bool
queue_scan(const struct queue *q, enum queue_name qn,
    struct queue_items *items)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int saved;

	queue_path(q, qn, NULL, path);
	if ((d = opendir(path)) == NULL)
		return false;
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (items->n == items->cap) {
			items->cap = items->cap ? 2 * items->cap : 64;
			items->item = xrealloc(items->item,
			    items->cap * sizeof(*items->item));
		}
		snprintf(items->item[items->n].name, NAME_MAX + 1, "%s",
		    de->d_name);
		items->item[items->n++].queue = qn;
	}
	saved = errno;
	(void)closedir(d);
	errno = saved;
	return saved == 0;
}

/* queue_to_corrupt - move name from qn to corrupt/ID; false (logged) */
static bool
queue_to_corrupt(struct queue *q, enum queue_name qn, const char *name,
    const char *id, const char *why)
{
	char from[PATH_MAX], to[PATH_MAX], err[128];

	queue_path(q, qn, name, from);
	queue_path(q, QUEUE_CORRUPT, id, to);
	if (queue_rename(from, to) < 0) {
		log_msg(LOG_ERR, id, "cannot move %s to %s: %s", from, to,
		    queue_strerror(errno, err, sizeof(err)));
		return false;
	}
	queue_path(q, QUEUE_CORRUPT, NULL, to);
	queue_path(q, qn, NULL, from);
	if (queue_fsync_dir(to) < 0 || queue_fsync_dir(from) < 0) {
		log_msg(LOG_ERR, id, "fsync after moving to %s: %s", to,
		    queue_strerror(errno, err, sizeof(err)));
		return false;
	}
	log_msg(LOG_WARNING, id, "moved %s/%s to corrupt/: %s",
	    queue_names[qn], name, why);
	return true;
}

/* queue_check - whether the file name in qn is whole: 1, 0 corrupt
 * (*why_r), -1 unreadable (*why_r) */
static int
queue_check(struct queue *q, enum queue_name qn, const char *name,
    struct arena *arena, const char **why_r)
{
	struct queue_entry e;
	char path[PATH_MAX], err[128];
	enum queue_parse_result res;
	int fd;

	queue_entry_init(&e, name, qn);
	queue_path(q, qn, name, path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*why_r = arena_printf(arena, "open %s: %s", path,
		    queue_strerror(errno, err, sizeof(err)));
		return -1;
	}
	res = queue_parse_fd(fd, name, false, NULL, arena, &e, why_r);
	(void)close(fd);
	return res == QUEUE_PARSE_OK ? 1 : res == QUEUE_PARSE_BAD ? 0 : -1;
}

/*
 * queue_recover - at start, before anything writes: incomplete files and
 * leftover temporary files of incoming/ and active/ go to corrupt/.
 * Names are collected first so that the moves do not disturb readdir.
 * A temporary file goes to corrupt/ID: its id never named a queue file
 * (a rename would have removed the temporary name). Anything else in
 * those directories is not ours and stays, with a warning.
 */
int
queue_recover(struct queue *q)
{
	static const enum queue_name scan[] = { QUEUE_INCOMING, QUEUE_ACTIVE };
	struct queue_items items = { 0 };
	char id[QUEUE_ID_LEN + 1], err[128];
	struct arena *arena;
	const char *why = NULL;
	int moved = 0, rc;
	bool failed = false;
	size_t i;

	for (i = 0; i < sizeof(scan) / sizeof(scan[0]); i++)
		if (!queue_scan(q, scan[i], &items)) {
			log_msg(LOG_ERR, NULL, "read %s/%s: %s", q->dir,
			    queue_names[scan[i]],
			    queue_strerror(errno, err, sizeof(err)));
			failed = true;
		}
	for (i = 0; i < items.n; i++) {
		const struct queue_item *it = &items.item[i];

		arena = arena_create();
		rc = 1;
		if (queue_tmp_id(it->name, id)) {
			rc = 0;
			why = "temporary file left behind";
		} else if (queue_id_valid(it->name)) {
			memcpy(id, it->name, sizeof(id));
			rc = queue_check(q, it->queue, it->name, arena, &why);
		} else {
			log_msg(LOG_WARNING, NULL, "%s/%s/%s: not a queue "
			    "file, left alone", q->dir, queue_names[it->queue],
			    it->name);
		}
		if (rc < 0) {
			log_msg(LOG_ERR, id, "%s", why);
			failed = true;
		} else if (rc == 0) {
			if (queue_to_corrupt(q, it->queue, it->name, id, why))
				moved++;
			else
				failed = true;
		}
		arena_destroy(&arena);
	}
	free(items.item);
	return failed ? -1 : moved;
}

/* queue_item_cmp - by name (id order), then queue */
static int
queue_item_cmp(const void *a, const void *b)
{
	const struct queue_item *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : (int)x->queue - (int)y->queue;
}

/*
 * queue_list - every message in id order. The directories are read
 * first and sorted; a message that moved in the meantime is looked for
 * again, and one that is gone (delivered, deleted) is left out.
 */
int
queue_list(struct queue *q, bool (*fn)(const struct queue_entry *e,
    const char *why, void *ctx), void *ctx)
{
	struct queue_items items = { 0 };
	struct queue_entry e;
	struct arena *arena;
	const char *why;
	int count = 0, rc, i;
	size_t k;
	bool go = true;

	for (i = 0; i < QUEUE_COUNT; i++)
		if (!queue_scan(q, (enum queue_name)i, &items)) {
			free(items.item);
			return -1;
		}
	if (items.n > 0)
		qsort(items.item, items.n, sizeof(*items.item),
		    queue_item_cmp);
	for (k = 0; k < items.n && go; k++) {
		/* a message seen in two queues moved while they were read */
		if (!queue_id_valid(items.item[k].name) || (k > 0 &&
		    strcmp(items.item[k].name, items.item[k - 1].name) == 0))
			continue;
		arena = arena_create();
		why = NULL;
		rc = queue_read_at(q, items.item[k].queue, items.item[k].name,
		    false, NULL, arena, &e, &why);
		if (rc == 0)
			rc = queue_read(q, items.item[k].name, false, NULL,
			    arena, &e, &why);
		if (rc != 0) {
			if (rc < 0)
				e.msg = NULL;
			go = fn(&e, rc < 0 ? why : NULL, ctx);
			count++;
		}
		arena_destroy(&arena);
	}
	free(items.item);
	return count;
}

/* queue_set_rcpt_states - overwrite recipients' state bytes in place */
int
queue_set_rcpt_states(struct queue *q, const struct queue_entry *e,
    const size_t *idx, size_t n, char state)
{
	char path[PATH_MAX];
	size_t i;
	int fd, err;

	if (strchr(queue_rcpt_states, state) == NULL || state == '\0')
		log_panic("queue_set_rcpt_states: state '%c'", state);
	queue_path(q, e->queue, e->id, path);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	for (i = 0; i < n; i++) {
		if (idx[i] >= e->msg->n_rcpts)
			log_panic("queue_set_rcpt_states: recipient %zu of %zu",
			    idx[i], e->msg->n_rcpts);
		if (pwrite(fd, &state, 1, (off_t)e->rcpt_offsets[idx[i]]) != 1)
			goto fail;
	}
	if (fsync(fd) != 0)
		goto fail;
	close(fd);
	return 1;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* queue_due - the ids in one queue whose files are not newer than
 * until (0: all), with their modification time */
int
queue_due(struct queue *q, enum queue_name qn, time_t until,
    bool (*fn)(const char *id, time_t mtime, void *ctx), void *ctx)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int n = 0;

	queue_path(q, qn, NULL, dir);
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!queue_id_valid(de->d_name))
			continue;
		queue_path(q, qn, de->d_name, path);
		if (stat(path, &st) != 0)
			continue;	/* moved meanwhile */
		if (until != 0 && st.st_mtime > until)
			continue;
		n++;
		if (!fn(de->d_name, st.st_mtime, ctx))
			break;
	}
	closedir(d);
	return n;
}

/* queue_set_time - the file's modification time (the deferred queue's
 * next attempt) */
int
queue_set_time(struct queue *q, const char *id, enum queue_name qn,
    time_t when)
{
	char path[PATH_MAX];
	struct timespec ts[2] = {
		{ .tv_nsec = UTIME_OMIT },
		{ .tv_sec = when },
	};

	queue_path(q, qn, id, path);
	if (utimensat(AT_FDCWD, path, ts, 0) != 0)
		return errno == ENOENT ? 0 : -1;
	return 1;
}

/* queue_dir_path - the directory of one queue (for inotify) */
const char *
queue_dir_path(struct queue *q, enum queue_name qn, char buf[PATH_MAX])
{
	queue_path(q, qn, NULL, buf);
	return buf;
}
