/*
 * test_queue.c - the queue: directories, ids, queue files written and
 * read back field for field, durability (fsync of the file and of the
 * directory, in that order; a failure at any step leaves nothing behind
 * and keeps its errno), a real full file system, recovery of incomplete
 * files, strict reading of damaged ones, moves, and "posternctl queue"
 * with its exact output
 *
 * fsync is this program's own (below): it records what was synced and
 * can fail on demand or skip the disk, so that tests storing thousands of
 * messages do not wait for it. The full file system is a 256 KiB tmpfs
 * mounted by the test in a private mount namespace, which needs root;
 * without root that one test is skipped and says so.
 *
 * The tool's tests use queue files built here byte by byte from the
 * format in queue.h, with fixed arrival times, so that the expected
 * output is exact; they also check that the format is what queue.h says.
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
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "log.h"
#include "message.h"
#include "queue.h"
#include "queue_tool.h"
#include "spool.h"
#include "testutil.h"

#define KIB		1024
#define MIB		(1024 * 1024)
#define MAX_SYNCS	16

/* --- fsync, as this program sees it --------------------------------------- */

static struct {
	bool skip;		/* report success without syncing */
	int fail_at;		/* fail the n-th call (1-based) with EIO */
	int calls;
	char path[MAX_SYNCS][PATH_MAX];	/* what the first calls synced */
} syncs;

/* fsync - the fsync(2) every caller in this program gets */
int
fsync(int fd)
{
	char link[64];
	ssize_t n;

	syncs.calls++;
	if (syncs.calls <= MAX_SYNCS) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, syncs.path[syncs.calls - 1], PATH_MAX - 1);
		syncs.path[syncs.calls - 1][n > 0 ? n : 0] = '\0';
	}
	if (syncs.fail_at == syncs.calls) {
		errno = EIO;
		return -1;
	}
	if (syncs.skip)
		return 0;
	return (int)syscall(SYS_fsync, fd);
}

/* --- fixture -------------------------------------------------------------- */

struct fix {
	char dir[256];
	char *qdir;		/* DIR/q */
	char *tmp;		/* DIR/tmp: body spools */
	struct arena *a;
	struct queue *q;
	char *mounted;		/* a tmpfs to unmount, if a test failed */
};

/* setup - a queue in a fresh temp directory */
static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	char *why = NULL;

	if (f == NULL || testutil_setup(f->dir, sizeof(f->dir), "queue",
	    &f->a) < 0) {
		free(f);
		return -1;
	}
	memset(&syncs, 0, sizeof(syncs));
	f->qdir = arena_printf(f->a, "%s/q", f->dir);
	f->tmp = arena_printf(f->a, "%s/tmp", f->dir);
	if (mkdir(f->tmp, 0700) < 0 ||
	    (f->q = queue_open(f->qdir, -1, -1, &why)) == NULL) {
		fprintf(stderr, "# setup: %s\n", why ? why : strerror(errno));
		free(why);
		return -1;
	}
	*state = f;
	return 0;
}

/* teardown - close and remove everything */
static int
teardown(void **state)
{
	struct fix *f = *state;
	int rc;

	queue_close(&f->q);
	if (f->mounted != NULL)
		(void)umount2(f->mounted, MNT_DETACH);
	rc = testutil_teardown(f->dir, &f->a);
	free(f);
	memset(&syncs, 0, sizeof(syncs));
	return rc;
}

/* qpath - DIR/q/QUEUE[/name] */
static char *
qpath(struct fix *f, enum queue_name qn, const char *name)
{
	if (name == NULL)
		return arena_printf(f->a, "%s/%s", f->qdir, queue_name_of(qn));
	return arena_printf(f->a, "%s/%s/%s", f->qdir, queue_name_of(qn),
	    name);
}

/* all_empty - no file at all in any queue directory */
static bool
all_empty(struct fix *f)
{
	int i;

	for (i = 0; i < QUEUE_COUNT; i++)
		if (testutil_count_entries(qpath(f, (enum queue_name)i, NULL)) != 0)
			return false;
	return true;
}

/* file_size - of path, -1 if none */
static off_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* slurp - a whole file into the arena; *len_r its length */
static char *
slurp(struct arena *a, const char *path, size_t *len_r)
{
	off_t size = file_size(path);
	char *p;
	int fd;

	assert_true(size >= 0);
	p = arena_alloc(a, (size_t)size + 1);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(read(fd, p, (size_t)size), size);
	close(fd);
	if (len_r != NULL)
		*len_r = (size_t)size;
	return p;
}

/* now_us - the clock queue.c reads */
static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* small_message - one sender, one recipient, one field, a short body */
static struct message *
small_message(struct fix *f, const char *sender, const char *rcpt)
{
	struct message *m = message_new(f->a, f->tmp, 64 * KIB);
	struct message_rcpt r = { .addr = rcpt };

	m->sender = sender;
	message_add_rcpt(m, &r);
	message_prepend_header(m, "Subject", " small", false);
	assert_true(spool_append(m->body, "Hi.\r\n", 5));
	return m;
}


/* the session facts of every stored test message */
static const struct queue_attrs full_attrs = {
	.client_name = "client.example",
	.client_addr = "2001:db8::1",
	.helo = "helo.example",
	.protocol = "ESMTPSA",
	.client_port = 65535,
	.auth_user = "user@example.com",
	.tls = "TLSv1.3 TLS_AES_256_GCM_SHA384 256",
};

/* store - a new id and a successful store; the id in the arena */
static char *
store(struct fix *f, const struct message *m, enum queue_name where)
{
	char id[QUEUE_ID_LEN + 1];

	queue_id_new(f->q, id);
	assert_true(queue_store(f->q, m, &full_attrs, where, id));
	return arena_strdup(f->a, id);
}

/* --- names, ids, directories ---------------------------------------------- */

/* test_names - the five queues by name and back */
static void
test_names(void **state)
{
	static const char *const names[QUEUE_COUNT] = {
		"incoming", "active", "deferred", "hold", "corrupt",
	};
	enum queue_name qn;
	int i;

	(void)state;
	for (i = 0; i < QUEUE_COUNT; i++) {
		assert_string_equal(queue_name_of((enum queue_name)i),
		    names[i]);
		assert_true(queue_name_parse(names[i], &qn));
		assert_int_equal(qn, i);
	}
	qn = QUEUE_HOLD;
	assert_false(queue_name_parse("Incoming", &qn));
	assert_false(queue_name_parse("", &qn));
	assert_false(queue_name_parse("maildrop", &qn));
	assert_int_equal(qn, QUEUE_HOLD);
}

/* test_id_valid - 16 characters of Crockford's alphabet, upper case */
static void
test_id_valid(void **state)
{
	(void)state;
	assert_true(queue_id_valid("0123456789ABCDEF"));
	assert_true(queue_id_valid("GHJKMNPQRSTVWXYZ"));
	assert_false(queue_id_valid(""));
	assert_false(queue_id_valid("0123456789ABCDE"));
	assert_false(queue_id_valid("0123456789ABCDEF0"));
	assert_false(queue_id_valid("0123456789abcdef"));
	assert_false(queue_id_valid("I123456789ABCDEF"));
	assert_false(queue_id_valid("L123456789ABCDEF"));
	assert_false(queue_id_valid("O123456789ABCDEF"));
	assert_false(queue_id_valid("U123456789ABCDEF"));
	assert_false(queue_id_valid("../../etc/passwd"));
	assert_false(queue_id_valid(".0123456789ABCDE"));
}

/* decode - the time part of an id */
static uint64_t
decode(const char *id)
{
	static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	uint64_t us = 0;
	int i;

	for (i = 0; i < 11; i++)
		us = us * 32 + (uint64_t)(strchr(alphabet, id[i]) - alphabet);
	return us;
}

/* test_ids - 10000 ids: valid, each after the one before (so unique),
 * with the time they were made in their first 11 characters */
static void
test_ids(void **state)
{
	struct fix *f = *state;
	char prev[QUEUE_ID_LEN + 1] = "", id[QUEUE_ID_LEN + 1];
	uint64_t before, after, t;
	int i;

	for (i = 0; i < 10000; i++) {
		before = now_us();
		queue_id_new(f->q, id);
		after = now_us();
		assert_true(queue_id_valid(id));
		assert_true(strcmp(prev, id) < 0);
		t = decode(id);
		assert_true(t >= before && t <= after);
		memcpy(prev, id, sizeof(id));
	}
}

/* collect - queue_list callback: "ID queue" lines, or "ID why" */
static bool
collect(const struct queue_entry *e, const char *why, void *ctx)
{
	buf_printf(ctx, "%s %s%s%s\n", e->id, queue_name_of(e->queue),
	    e->msg == NULL ? " " : "", e->msg == NULL ? why : "");
	return true;
}

/* test_ids_stored - ids of stored messages list in the order they were
 * stored, each in the queue it went to */
static void
test_ids_stored(void **state)
{
	struct fix *f = *state;
	struct message *m = small_message(f, "a@example.com", "b@example.com");
	struct buf want = { 0 }, got = { 0 };
	enum queue_name where;
	char *id;
	int i;

	syncs.skip = true;
	for (i = 0; i < 300; i++) {
		where = i % 3 == 0 ? QUEUE_HOLD : QUEUE_INCOMING;
		id = store(f, m, where);
		buf_printf(&want, "%s %s\n", id, queue_name_of(where));
	}
	assert_int_equal(queue_list(f->q, collect, &got), 300);
	assert_string_equal(got.data, want.data);
	buf_free(&want);
	buf_free(&got);
}

/* mode_of - permission bits and owner of path */
static void
mode_of(const char *path, mode_t *mode_r, uid_t *uid_r)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	*mode_r = st.st_mode & 07777;
	*uid_r = st.st_uid;
}

/* test_open - what queue_open makes, whatever the umask, and what it
 * refuses */
static void
test_open(void **state)
{
	struct fix *f = *state;
	char *dir = arena_printf(f->a, "%s/new", f->dir), *why = NULL;
	bool root = geteuid() == 0;
	struct queue *q;
	mode_t mode, old;
	uid_t uid;
	int i;

	old = umask(0277);
	q = queue_open(dir, root ? 65534 : -1, root ? 65534 : -1, &why);
	umask(old);
	assert_non_null(q);
	mode_of(dir, &mode, &uid);
	assert_int_equal(mode, 0700);
	if (root)
		assert_int_equal(uid, 65534);
	for (i = 0; i < QUEUE_COUNT; i++) {
		mode_of(arena_printf(f->a, "%s/%s", dir,
		    queue_name_of((enum queue_name)i)), &mode, &uid);
		assert_int_equal(mode, 0700);
		if (root)
			assert_int_equal(uid, 65534);
	}
	queue_close(&q);
	assert_null(q);
	queue_close(&q);
	queue_close(NULL);

	/* there already: left as it is */
	assert_int_equal(chmod(dir, 0750), 0);
	assert_non_null(q = queue_open(dir, -1, -1, &why));
	mode_of(dir, &mode, &uid);
	assert_int_equal(mode, 0750);
	queue_close(&q);

	/* a missing parent is not made */
	dir = arena_printf(f->a, "%s/no/q", f->dir);
	assert_null(queue_open(dir, -1, -1, &why));
	assert_string_equal(why, arena_printf(f->a, "create directory %s: "
	    "No such file or directory", dir));
	free(why);

	/* a file where a queue belongs */
	dir = arena_printf(f->a, "%s/q2", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	testutil_put(f->a, dir, "hold", "");
	assert_null(queue_open(dir, -1, -1, &why));
	assert_string_equal(why, arena_printf(f->a, "%s/hold: not a "
	    "directory", dir));
	free(why);
	assert_null(queue_open("", -1, -1, &why));
	assert_string_equal(why, "bad queue directory name \"\"");
	free(why);
}

/* --- store and read ------------------------------------------------------ */

/* body_byte - the i-th byte of the big test body: text lines with a few
 * bytes of every value */
static unsigned char
body_byte(size_t i)
{
	if (i % 1000 == 998)
		return '\r';
	if (i % 1000 == 999)
		return '\n';
	if (i % 997 == 0)
		return (unsigned char)(i / 997);
	return (unsigned char)('a' + i % 26);
}

/* full_message - every kind of field the queue file has */
static struct message *
full_message(struct fix *f, size_t body_len)
{
	struct message *m = message_new(f->a, f->tmp, 64 * KIB);
	const struct message_rcpt rcpts[] = {
		{ .addr = "one@example.com", .orcpt = "rfc822;one@example.com",
		  .notify = MESSAGE_NOTIFY_SUCCESS | MESSAGE_NOTIFY_FAILURE },
		{ .addr = "two@example.net", .notify = MESSAGE_NOTIFY_NEVER,
		  .params = "X-FOO=1 X-BAR" },
		{ .addr = "\xc3\xbc@example.org",
		  .orcpt = "utf-8;\xc3\xbc@example.org",
		  .notify = MESSAGE_NOTIFY_DELAY },
		{ .addr = "four@example.com" },
	};
	static const char hdrs[] = "Subject: round trip  \r\nX-Empty:\r\n"
	    "X-Fold: a\r\n\tb\r\nX-Utf8:\t\xc3\xa9t\xc3\xa9\r\n";
	unsigned char chunk[7777];
	const char *why = NULL;
	size_t i, n, k;

	m->sender = "";
	m->ret = MESSAGE_RET_HDRS;
	m->envid = "env id+1";
	m->body_type = MESSAGE_BODY_8BITMIME;
	m->smtputf8 = true;
	m->quarantine = "milter says: hold";
	for (i = 0; i < sizeof(rcpts) / sizeof(rcpts[0]); i++)
		message_add_rcpt(m, &rcpts[i]);
	assert_true(message_parse_header(m, hdrs, strlen(hdrs), &why));
	message_prepend_header(m, "Received", " from client\r\n\tby mx; "
	    "Mon, 1 Jan 2024 00:00:00 +0000", true);
	for (i = 0; i < body_len; i += n) {
		n = body_len - i < sizeof(chunk) ? body_len - i : sizeof(chunk);
		for (k = 0; k < n; k++)
			chunk[k] = body_byte(i + k);
		assert_true(spool_append(m->body, chunk, n));
	}
	return m;
}

/* same_string - both NULL or equal */
static void
same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

/* check_envelope - r holds what m and full_attrs held */
static void
check_envelope(const struct queue_entry *r, const struct message *m)
{
	const struct message *g = r->msg;
	size_t i;

	assert_non_null(g);
	assert_string_equal(r->attrs.client_name, full_attrs.client_name);
	assert_string_equal(r->attrs.client_addr, full_attrs.client_addr);
	assert_string_equal(r->attrs.helo, full_attrs.helo);
	assert_string_equal(r->attrs.protocol, full_attrs.protocol);
	assert_int_equal(r->attrs.client_port, full_attrs.client_port);
	assert_string_equal(r->attrs.auth_user, full_attrs.auth_user);
	assert_string_equal(r->attrs.tls, full_attrs.tls);
	assert_string_equal(g->sender, m->sender);
	assert_int_equal(g->ret, m->ret);
	same_string(g->envid, m->envid);
	assert_int_equal(g->body_type, m->body_type);
	assert_int_equal(g->smtputf8, m->smtputf8);
	same_string(g->quarantine, m->quarantine);
	assert_int_equal(g->n_rcpts, m->n_rcpts);
	assert_int_equal(strlen(r->rcpt_states), m->n_rcpts);
	for (i = 0; i < m->n_rcpts; i++) {
		assert_string_equal(g->rcpts[i].addr, m->rcpts[i].addr);
		same_string(g->rcpts[i].orcpt, m->rcpts[i].orcpt);
		same_string(g->rcpts[i].params, m->rcpts[i].params);
		assert_int_equal(g->rcpts[i].notify, m->rcpts[i].notify);
		assert_int_equal(r->rcpt_states[i], 'P');
	}
	/* every field, byte for byte; hidden is not kept (no milter ever
	 * sees a message read back) */
	assert_int_equal(g->n_headers, m->n_headers);
	for (i = 0; i < m->n_headers; i++) {
		assert_string_equal(g->headers[i].name, m->headers[i].name);
		assert_string_equal(g->headers[i].value, m->headers[i].value);
		assert_false(g->headers[i].hidden);
	}
}

/* test_round_trip - a message with every field and a body of more than
 * 1 MiB spooled to a file, into hold/ and back */
static void
test_round_trip(void **state)
{
	struct fix *f = *state;
	const size_t body_len = MIB + 54321;
	struct message *m = full_message(f, body_len);
	struct queue_entry r;
	enum queue_name qn;
	const char *why = NULL;
	char id[QUEUE_ID_LEN + 1], *path;
	unsigned char *got;
	uint64_t before, after;
	size_t i;

	assert_false(spool_in_memory(m->body));
	queue_id_new(f->q, id);
	before = now_us();
	assert_true(queue_store(f->q, m, &full_attrs, QUEUE_HOLD, id));
	after = now_us();
	path = qpath(f, QUEUE_HOLD, id);
	assert_int_equal(testutil_count_entries(qpath(f, QUEUE_INCOMING, NULL)), 0);
	assert_int_equal(queue_find(f->q, id, &qn), 1);
	assert_int_equal(qn, QUEUE_HOLD);

	assert_int_equal(queue_read(f->q, id, true, f->tmp, f->a, &r, &why),
	    1);
	assert_null(why);
	assert_string_equal(r.id, id);
	assert_int_equal(r.queue, QUEUE_HOLD);
	assert_int_equal(r.size, file_size(path));
	assert_true(r.arrival_us >= before && r.arrival_us <= after);
	check_envelope(&r, m);
	assert_int_equal(spool_size(r.msg->body), body_len);
	assert_int_equal(message_size(r.msg), message_size(m));
	got = arena_alloc(f->a, body_len);
	assert_int_equal(spool_read(r.msg->body, 0, got, body_len),
	    (ssize_t)body_len);
	for (i = 0; i < body_len; i++)
		if (got[i] != body_byte(i))
			fail_msg("body byte %zu differs", i);

	/* the envelope alone */
	assert_int_equal(queue_read(f->q, id, false, NULL, f->a, &r, &why), 1);
	check_envelope(&r, m);
	assert_int_equal(spool_size(r.msg->body), 0);
	assert_int_equal(r.size, file_size(path));
}

/* test_minimal - a message with nothing optional, no attributes, an
 * empty body; also the record layout itself */
static void
test_minimal(void **state)
{
	struct fix *f = *state;
	struct message *m = message_new(f->a, f->tmp, 1024);
	struct queue_entry r;
	const char *why = NULL;
	char id[QUEUE_ID_LEN + 1], *p, t[32];
	size_t len;

	queue_id_new(f->q, id);
	assert_true(queue_store(f->q, m, NULL, QUEUE_INCOMING, id));
	assert_int_equal(queue_read(f->q, id, true, f->tmp, f->a, &r, &why),
	    1);
	assert_string_equal(r.msg->sender, "");
	assert_int_equal(r.msg->n_rcpts, 0);
	assert_string_equal(r.rcpt_states, "");
	assert_int_equal(r.msg->n_headers, 0);
	assert_null(r.msg->quarantine);
	assert_null(r.msg->envid);
	assert_int_equal(r.msg->ret, MESSAGE_RET_UNSET);
	assert_int_equal(r.msg->body_type, MESSAGE_BODY_UNSET);
	assert_false(r.msg->smtputf8);
	assert_null(r.attrs.client_name);
	assert_int_equal(r.attrs.client_port, 0);
	assert_int_equal(spool_size(r.msg->body), 0);

	/* V "1", I id, T time, S "", E */
	p = slurp(f->a, qpath(f, QUEUE_INCOMING, id), &len);
	snprintf(t, sizeof(t), "%" PRIu64, r.arrival_us);
	assert_int_equal(len, 6 + 21 + 5 + strlen(t) + 5 + 5);
	assert_memory_equal(p, "V\0\0\0\0011I\0\0\0\020", 11);
	assert_memory_equal(p + 11, id, 16);
	assert_memory_equal(p + 27, "T\0\0\0", 4);
	assert_int_equal((unsigned char)p[31], strlen(t));
	assert_memory_equal(p + 32, t, strlen(t));
	assert_memory_equal(p + 32 + strlen(t), "S\0\0\0\0E\0\0\0\0", 10);
	assert_int_equal(syncs.calls, 2);
}

/* test_rcpt_states - states rewritten in place, synced, read back; a
 * message deleted meanwhile is "gone" (0), not an error */
static void
test_rcpt_states(void **state)
{
	struct fix *f = *state;
	struct message *m = message_new(f->a, f->tmp, 1024);
	struct message_rcpt rc = { 0 };
	struct queue_entry r, r2;
	const char *why = NULL;
	char id[QUEUE_ID_LEN + 1];
	size_t done[] = { 0, 2 }, bounced[] = { 1 }, warned[] = { 2 };

	m->sender = "s@example.org";
	rc.addr = "a@example.com";
	message_add_rcpt(m, &rc);
	rc.addr = "b@example.com";
	rc.orcpt = "rfc822;b@example.com";
	message_add_rcpt(m, &rc);
	rc.addr = "c@example.com";
	rc.orcpt = NULL;
	message_add_rcpt(m, &rc);
	queue_id_new(f->q, id);
	assert_true(queue_store(f->q, m, NULL, QUEUE_INCOMING, id));
	assert_int_equal(queue_read(f->q, id, false, f->tmp, f->a, &r, &why),
	    1);
	assert_string_equal(r.rcpt_states, "PPP");
	/* 'W': still pending, its delay DSN sent (survives a reread) */
	assert_int_equal(queue_set_rcpt_states(f->q, &r, warned, 1, 'W'), 1);
	assert_int_equal(queue_read(f->q, id, false, f->tmp, f->a, &r2, &why),
	    1);
	assert_string_equal(r2.rcpt_states, "PPW");
	syncs.calls = 0;
	assert_int_equal(queue_set_rcpt_states(f->q, &r, done, 2, 'D'), 1);
	assert_int_equal(syncs.calls, 1);
	assert_int_equal(queue_set_rcpt_states(f->q, &r, bounced, 1, 'B'), 1);
	assert_int_equal(queue_read(f->q, id, false, f->tmp, f->a, &r2, &why),
	    1);
	assert_string_equal(r2.rcpt_states, "DBD");
	assert_string_equal(r2.msg->rcpts[1].orcpt, "rfc822;b@example.com");
	assert_int_equal(queue_delete(f->q, id), 1);
	assert_int_equal(queue_set_rcpt_states(f->q, &r, done, 2, 'P'), 0);
}

/* test_fsync_order - the file, then its directory (and for another queue
 * the directory it left) */
static void
test_fsync_order(void **state)
{
	struct fix *f = *state;
	struct message *m = small_message(f, "a@example.com", "b@example.com");
	char id[QUEUE_ID_LEN + 1];

	queue_id_new(f->q, id);
	assert_true(queue_store(f->q, m, NULL, QUEUE_INCOMING, id));
	assert_int_equal(syncs.calls, 2);
	assert_string_equal(syncs.path[0], qpath(f, QUEUE_INCOMING,
	    arena_printf(f->a, ".%s.tmp", id)));
	assert_string_equal(syncs.path[1], qpath(f, QUEUE_INCOMING, NULL));

	syncs.calls = 0;
	queue_id_new(f->q, id);
	assert_true(queue_store(f->q, m, NULL, QUEUE_HOLD, id));
	assert_int_equal(syncs.calls, 3);
	assert_string_equal(syncs.path[0], qpath(f, QUEUE_INCOMING,
	    arena_printf(f->a, ".%s.tmp", id)));
	assert_string_equal(syncs.path[1], qpath(f, QUEUE_HOLD, NULL));
	assert_string_equal(syncs.path[2], qpath(f, QUEUE_INCOMING, NULL));

	/* a move syncs both directories too */
	syncs.calls = 0;
	assert_int_equal(queue_move(f->q, id, QUEUE_HOLD, QUEUE_DEFERRED), 1);
	assert_int_equal(syncs.calls, 2);
	assert_string_equal(syncs.path[0], qpath(f, QUEUE_DEFERRED, NULL));
	assert_string_equal(syncs.path[1], qpath(f, QUEUE_HOLD, NULL));
}

/* test_fsync_fails - a failure at each sync: false, EIO, nothing left */
static void
test_fsync_fails(void **state)
{
	struct fix *f = *state;
	struct message *m = small_message(f, "a@example.com", "b@example.com");
	char id[QUEUE_ID_LEN + 1];
	int at;

	for (at = 1; at <= 3; at++) {
		syncs.calls = 0;
		syncs.fail_at = at;
		queue_id_new(f->q, id);
		errno = 0;
		assert_false(queue_store(f->q, m, NULL, QUEUE_HOLD, id));
		assert_int_equal(errno, EIO);
		assert_true(all_empty(f));
	}
	/* the same id again: nothing of it is left to collide with */
	syncs.fail_at = 0;
	assert_true(queue_store(f->q, m, NULL, QUEUE_HOLD, id));
}

/* test_store_collision - an id whose file exists (in the queue, or as a
 * temporary file) fails with EEXIST and changes nothing */
static void
test_store_collision(void **state)
{
	struct fix *f = *state;
	struct message *m = small_message(f, "a@example.com", "b@example.com");
	char id[QUEUE_ID_LEN + 1], *before;
	size_t len;

	queue_id_new(f->q, id);
	assert_true(queue_store(f->q, m, NULL, QUEUE_INCOMING, id));
	before = slurp(f->a, qpath(f, QUEUE_INCOMING, id), &len);
	m->sender = "other@example.com";
	errno = 0;
	assert_false(queue_store(f->q, m, NULL, QUEUE_INCOMING, id));
	assert_int_equal(errno, EEXIST);
	assert_memory_equal(slurp(f->a, qpath(f, QUEUE_INCOMING, id), NULL),
	    before, len);
	assert_int_equal(testutil_count_entries(qpath(f, QUEUE_INCOMING, NULL)), 1);

	queue_id_new(f->q, id);
	testutil_put(f->a, qpath(f, QUEUE_INCOMING, NULL),
	    arena_printf(f->a, ".%s.tmp", id), "someone's");
	errno = 0;
	assert_false(queue_store(f->q, m, NULL, QUEUE_HOLD, id));
	assert_int_equal(errno, EEXIST);
	assert_string_equal(slurp(f->a, qpath(f, QUEUE_INCOMING,
	    arena_printf(f->a, ".%s.tmp", id)), NULL), "someone's");
	assert_int_equal(testutil_count_entries(qpath(f, QUEUE_HOLD, NULL)), 0);
}

/* bad_id_store - child of test_store_bad_id */
static void
bad_id_store(void)
{
	static struct message m;	/* never looked at */
	char *why = NULL, dir[] = "/tmp/queue-bad-id.XXXXXX";
	struct queue *q;

	if (mkdtemp(dir) == NULL || (q = queue_open(dir, -1, -1, &why)) ==
	    NULL)
		_exit(1);
	testutil_rmtree(dir);
	/* the rmtree first: the panic ends the process */
	(void)queue_store(q, &m, NULL, QUEUE_INCOMING, "not-an-id");
}

/* test_store_bad_id - a caller's bug: panic */
static void
test_store_bad_id(void **state)
{
	(void)state;
	testutil_expect_abort(bad_id_store);
}

/* big_message - small_message with len more bytes of body */
static struct message *
big_message(struct fix *f, size_t len)
{
	struct message *m = small_message(f, "a@example.com", "b@example.com");
	char block[4096];
	size_t n;

	memset(block, 'x', sizeof(block));
	for (n = 0; n < len; n += sizeof(block))
		assert_true(spool_append(m->body, block, sizeof(block)));
	return m;
}

/*
 * test_enospc - a real full file system: the queue on a 256 KiB tmpfs,
 * a 400 KiB message. The store fails with ENOSPC, no file of it is left
 * in any queue directory (not even the temporary one), the space is
 * free again, and a small message fits afterwards.
 */
static void
test_enospc(void **state)
{
	struct fix *f = *state;
	char *mnt = arena_printf(f->a, "%s/full", f->dir), *why = NULL;
	char id[QUEUE_ID_LEN + 1];
	struct statvfs before, after;
	struct message *m;
	struct queue *q;
	int i, err;

	if (geteuid() != 0) {
		fprintf(stderr, "# test_enospc needs root (to mount a tmpfs); "
		    "skipped\n");
		skip();
	}
	/* a private mount namespace: nothing stays mounted if this dies;
	 * "none": valgrind wants strings even where the kernel ignores them */
	if (unshare(CLONE_NEWNS) == 0)
		assert_int_equal(mount("none", "/", "none",
		    MS_REC | MS_PRIVATE, NULL), 0);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=256k,mode=0700") < 0)
		fail_msg("mount a tmpfs on %s: %s", mnt, strerror(errno));
	f->mounted = mnt;
	q = queue_open(mnt, -1, -1, &why);
	assert_non_null(q);
	m = big_message(f, 400 * KIB);
	assert_int_equal(statvfs(mnt, &before), 0);
	queue_id_new(q, id);
	errno = 0;
	assert_false(queue_store(q, m, NULL, QUEUE_INCOMING, id));
	err = errno;
	assert_int_equal(err, ENOSPC);
	for (i = 0; i < QUEUE_COUNT; i++)
		assert_int_equal(testutil_count_entries(arena_printf(f->a, "%s/%s",
		    mnt, queue_name_of((enum queue_name)i))), 0);
	assert_int_equal(statvfs(mnt, &after), 0);
	assert_int_equal(after.f_bfree, before.f_bfree);
	m = small_message(f, "a@example.com", "b@example.com");
	queue_id_new(q, id);
	assert_true(queue_store(q, m, NULL, QUEUE_INCOMING, id));
	assert_int_equal(testutil_count_entries(arena_printf(f->a, "%s/incoming",
	    mnt)), 1);
	queue_close(&q);
	assert_int_equal(umount(mnt), 0);
	f->mounted = NULL;
	assert_int_equal(testutil_count_entries(mnt), 0);
}

/* --- damaged files ------------------------------------------------------- */

/* rec - a record of n bytes */
static void
rec(struct buf *b, char type, const void *p, size_t n)
{
	unsigned char h[5] = { (unsigned char)type, (unsigned char)(n >> 24),
		(unsigned char)(n >> 16), (unsigned char)(n >> 8),
		(unsigned char)n };

	buf_append(b, h, sizeof(h));
	buf_append(b, p, n);
}

/* recs - a record holding a string */
static void
recs(struct buf *b, char type, const char *s)
{
	rec(b, type, s, strlen(s));
}

/* rec2 - a record "a\0b" */
static void
rec2(struct buf *b, char type, const char *x, const char *y)
{
	struct buf t = { 0 };

	buf_append(&t, x, strlen(x) + 1);
	buf_puts(&t, y);
	rec(b, type, t.data, t.len);
	buf_free(&t);
}

/* rcpt - an 'R' record */
static void
rcpt(struct buf *b, char state, unsigned notify, const char *addr,
    const char *orcpt, const char *params)
{
	struct buf t = { 0 };

	buf_putc(&t, state);
	buf_putc(&t, (char)notify);
	buf_append(&t, addr, strlen(addr) + 1);
	buf_append(&t, orcpt, strlen(orcpt) + 1);
	buf_puts(&t, params);
	rec(b, 'R', t.data, t.len);
	buf_free(&t);
}

/* put_file - b as the file id in queue qn */
static void
put_file(struct fix *f, enum queue_name qn, const char *id,
    const struct buf *b)
{
	testutil_put_bytes(f->a, qpath(f, qn, NULL), id,
	    b->data != NULL ? b->data : "", b->len);
}

#define MID	"0123456789ABCDEF"

/* test_read_minimal_file - the least a file may hold */
static void
test_read_minimal_file(void **state)
{
	struct fix *f = *state;
	struct buf b = { 0 };
	struct queue_entry r;
	const char *why = NULL;

	recs(&b, 'V', "1");
	recs(&b, 'I', MID);
	recs(&b, 'T', "1000");
	recs(&b, 'S', "s@example.com");
	rec(&b, 'E', "", 0);
	put_file(f, QUEUE_DEFERRED, MID, &b);
	assert_int_equal(queue_read(f->q, MID, true, f->tmp, f->a, &r, &why),
	    1);
	assert_string_equal(r.id, MID);
	assert_int_equal(r.queue, QUEUE_DEFERRED);
	assert_int_equal(r.arrival_us, 1000);
	assert_int_equal(r.size, b.len);
	assert_string_equal(r.msg->sender, "s@example.com");
	buf_free(&b);

	assert_int_equal(queue_read(f->q, "0123456789ABCDEG", false, NULL,
	    f->a, &r, &why), 0);
	assert_int_equal(queue_read(f->q, "../q/deferred/x", false, NULL, f->a,
	    &r, &why), 0);
}

/* A damaged file: what to build and what queue_read must say. */
struct damage {
	const char *why;	/* after "PATH: "; %u is the offset */
	void (*build)(struct buf *b, size_t *at_r);
};

/* head - V, I, T */
static void
head(struct buf *b)
{
	recs(b, 'V', "1");
	recs(b, 'I', MID);
	recs(b, 'T', "1000");
}

/* dmg_unknown - a record type the format does not have */
static void
dmg_unknown(struct buf *b, size_t *at)
{
	head(b);
	*at = b->len;
	recs(b, 'Z', "x");
	recs(b, 'S', "");
	rec(b, 'E', "", 0);
}

/* dmg_not_first - the version is not the first record */
static void
dmg_not_first(struct buf *b, size_t *at)
{
	*at = 0;
	recs(b, 'I', MID);
	recs(b, 'V', "1");
	recs(b, 'T', "1000");
	recs(b, 'S', "");
	rec(b, 'E', "", 0);
}

/* dmg_second_sender - a record that may appear once, twice */
static void
dmg_second_sender(struct buf *b, size_t *at)
{
	head(b);
	recs(b, 'S', "");
	*at = b->len;
	recs(b, 'S', "x");
	rec(b, 'E', "", 0);
}

/* dmg_no_sender - a required record missing */
static void
dmg_no_sender(struct buf *b, size_t *at)
{
	*at = 0;
	head(b);
	rec(b, 'E', "", 0);
}

/* dmg_no_time - no arrival time */
static void
dmg_no_time(struct buf *b, size_t *at)
{
	*at = 0;
	recs(b, 'V', "1");
	recs(b, 'I', MID);
	recs(b, 'S', "");
	rec(b, 'E', "", 0);
}

/* dmg_end_data - an END record with bytes in it */
static void
dmg_end_data(struct buf *b, size_t *at)
{
	head(b);
	recs(b, 'S', "");
	*at = b->len;
	recs(b, 'E', "x");
}

/* dmg_end_not_last - bytes after END */
static void
dmg_end_not_last(struct buf *b, size_t *at)
{
	head(b);
	recs(b, 'S', "");
	*at = b->len;
	rec(b, 'E', "", 0);
	recs(b, 'H', "junk");
}

/* dmg_other_id - the id inside is not the file's name */
static void
dmg_other_id(struct buf *b, size_t *at)
{
	recs(b, 'V', "1");
	*at = b->len;
	recs(b, 'I', "0123456789ABCDEE");
	recs(b, 'T', "1000");
	recs(b, 'S', "");
	rec(b, 'E', "", 0);
}

/* dmg_version - a version this code does not read */
static void
dmg_version(struct buf *b, size_t *at)
{
	*at = 0;
	recs(b, 'V', "2");
}

/* dmg_rcpt_state - a recipient state that does not exist */
static void
dmg_rcpt_state(struct buf *b, size_t *at)
{
	head(b);
	recs(b, 'S', "");
	*at = b->len;
	rcpt(b, 'Q', 0, "a@b", "", "");
	rec(b, 'E', "", 0);
}

/* dmg_rcpt_notify - NOTIFY bits that do not exist */
static void
dmg_rcpt_notify(struct buf *b, size_t *at)
{
	head(b);
	recs(b, 'S', "");
	*at = b->len;
	rcpt(b, 'P', 0x10, "a@b", "", "");
	rec(b, 'E', "", 0);
}

/* dmg_rcpt_fields - a recipient without its params field */
static void
dmg_rcpt_fields(struct buf *b, size_t *at)
{
	head(b);
	recs(b, 'S', "");
	*at = b->len;
	rec(b, 'R', "P\0a@b\0", 6);
	rec(b, 'E', "", 0);
}

/* dmg_attr_name - an attribute without the NUL after its name */
static void
dmg_attr_name(struct buf *b, size_t *at)
{
	head(b);
	*at = b->len;
	recs(b, 'A', "helo");
	recs(b, 'S', "");
	rec(b, 'E', "", 0);
}

/* dmg_attr_ret - a known attribute with a bad value */
static void
dmg_attr_ret(struct buf *b, size_t *at)
{
	head(b);
	*at = b->len;
	rec2(b, 'A', "ret", "ALL");
	recs(b, 'S', "");
	rec(b, 'E', "", 0);
}

/* dmg_attr_port - a port out of range */
static void
dmg_attr_port(struct buf *b, size_t *at)
{
	head(b);
	*at = b->len;
	rec2(b, 'A', "client_port", "65536");
	recs(b, 'S', "");
	rec(b, 'E', "", 0);
}

/* dmg_past_end - a length beyond the end of the file */
static void
dmg_past_end(struct buf *b, size_t *at)
{
	head(b);
	recs(b, 'S', "");
	*at = b->len;
	buf_append(b, "B\0\0\003\350abc", 8);
}

/* dmg_time - an arrival time that is not a number */
static void
dmg_time(struct buf *b, size_t *at)
{
	recs(b, 'V', "1");
	recs(b, 'I', MID);
	*at = b->len;
	recs(b, 'T', "12x");
}

/* dmg_header - a header record without the NUL after the name */
static void
dmg_header(struct buf *b, size_t *at)
{
	head(b);
	recs(b, 'S', "");
	*at = b->len;
	recs(b, 'H', "Subject: no NUL");
	rec(b, 'E', "", 0);
}

/* dmg_no_end - a file that stops without END */
static void
dmg_no_end(struct buf *b, size_t *at)
{
	*at = 0;
	head(b);
	recs(b, 'S', "");
	recs(b, 'B', "body\r\n");
}

/* dmg_sender_nul - a NUL inside a text record */
static void
dmg_sender_nul(struct buf *b, size_t *at)
{
	head(b);
	*at = b->len;
	rec(b, 'S', "a\0b", 3);
	rec(b, 'E', "", 0);
}

/* dmg_short_header - a file that stops inside a record header */
static void
dmg_short_header(struct buf *b, size_t *at)
{
	head(b);
	recs(b, 'S', "");
	*at = b->len;
	buf_append(b, "E\0\0", 3);
}

/* dmg_empty - an empty file */
static void
dmg_empty(struct buf *b, size_t *at)
{
	(void)b;
	*at = 0;
}

static const struct damage damages[] = {
	{ "offset %u: unknown record type 0x5a", dmg_unknown },
	{ "the first record is not the version", dmg_not_first },
	{ "offset %u: second sender record", dmg_second_sender },
	{ "no sender record", dmg_no_sender },
	{ "no arrival time record", dmg_no_time },
	{ "offset %u: END record with data", dmg_end_data },
	{ "offset %u: END record is not the last", dmg_end_not_last },
	{ "offset %u: the queue id record does not match the file name",
	  dmg_other_id },
	{ "offset %u: unsupported format version \"2\"", dmg_version },
	{ "offset %u: bad recipient state or NOTIFY", dmg_rcpt_state },
	{ "offset %u: bad recipient state or NOTIFY", dmg_rcpt_notify },
	{ "offset %u: recipient record without three fields",
	  dmg_rcpt_fields },
	{ "offset %u: attribute record without a name", dmg_attr_name },
	{ "offset %u: bad ret attribute", dmg_attr_ret },
	{ "offset %u: bad client_port attribute", dmg_attr_port },
	{ "offset %u: body record of 1000 bytes goes past the end of the "
	  "file", dmg_past_end },
	{ "offset %u: bad arrival time record", dmg_time },
	{ "offset %u: header record without a name", dmg_header },
	{ "no END record (incomplete file)", dmg_no_end },
	{ "offset %u: NUL byte in the sender record", dmg_sender_nul },
	{ "offset %u: truncated record header", dmg_short_header },
	{ "no END record (incomplete file)", dmg_empty },
	{ 0 },
};

/* test_read_damaged - each damage, read as an error that says what is
 * wrong and where, never as "not found"; with and without the body */
static void
test_read_damaged(void **state)
{
	struct fix *f = *state;
	struct queue_entry r;
	const char *why, *path = qpath(f, QUEUE_INCOMING, MID);
	char want[512], fmt[256];
	size_t i, at;
	struct buf b;
	int body;

	for (i = 0; damages[i].build != NULL; i++) {
		b = (struct buf){ 0 };
		damages[i].build(&b, &at);
		put_file(f, QUEUE_INCOMING, MID, &b);
		snprintf(fmt, sizeof(fmt), "%%s: %s", damages[i].why);
		snprintf(want, sizeof(want), fmt, path, (unsigned)at);
		for (body = 0; body < 2; body++) {
			why = NULL;
			memset(&r, 0xff, sizeof(r));
			assert_int_equal(queue_read(f->q, MID, body, f->tmp,
			    f->a, &r, &why), -1);
			assert_non_null(why);
			assert_string_equal(why, want);
			assert_null(r.msg);
			assert_int_equal(r.size, b.len);
		}
		buf_free(&b);
		assert_int_equal(unlink(path), 0);
	}
}

/* test_recover - incomplete files (cut anywhere, even just before END)
 * and temporary files go to corrupt/; whole files, other queues and
 * names that are not ours stay */
static void
test_recover(void **state)
{
	struct fix *f = *state;
	struct message *m = full_message(f, 100 * KIB);
	char *keep_in, *keep_active, *deferred, *extra, *tmp_id, *path;
	char *ids[8], id[QUEUE_ID_LEN + 1];
	const char *why;
	struct queue_entry r;
	enum queue_name qn;
	size_t len, i, n = 0;
	off_t cuts[7];

	syncs.skip = true;
	keep_in = store(f, m, QUEUE_INCOMING);
	keep_active = store(f, m, QUEUE_INCOMING);
	assert_int_equal(queue_move(f->q, keep_active, QUEUE_INCOMING,
	    QUEUE_ACTIVE), 1);
	len = (size_t)file_size(qpath(f, QUEUE_INCOMING, keep_in));
	cuts[0] = 0;
	cuts[1] = 3;
	cuts[2] = 5;
	cuts[3] = (off_t)len / 2;
	cuts[4] = (off_t)len - 5;	/* just before END */
	cuts[5] = (off_t)len - 1;	/* half an END */
	cuts[6] = (off_t)len - 5;	/* in active/ */
	for (i = 0; i < 7; i++) {
		ids[n] = store(f, m, QUEUE_INCOMING);
		if (i == 6)
			assert_int_equal(queue_move(f->q, ids[n],
			    QUEUE_INCOMING, QUEUE_ACTIVE), 1);
		path = qpath(f, i == 6 ? QUEUE_ACTIVE : QUEUE_INCOMING,
		    ids[n]);
		assert_int_equal(truncate(path, cuts[i]), 0);
		n++;
	}
	/* what the reader says about the cut just before END */
	assert_int_equal(queue_read(f->q, ids[4], false, NULL, f->a, &r, &why),
	    -1);
	assert_string_equal(why, arena_printf(f->a, "%s: no END record "
	    "(incomplete file)", qpath(f, QUEUE_INCOMING, ids[4])));
	/* something after END */
	extra = store(f, m, QUEUE_INCOMING);
	path = qpath(f, QUEUE_INCOMING, extra);
	assert_int_equal(truncate(path, (off_t)len + 1), 0);
	/* a temporary file left by a crash */
	queue_id_new(f->q, id);
	tmp_id = arena_strdup(f->a, id);
	testutil_put_bytes(f->a, qpath(f, QUEUE_INCOMING, NULL),
	    arena_printf(f->a, ".%s.tmp", tmp_id), "V\0\0", 3);
	/* not looked at: deferred/, and names that are not queue files */
	deferred = store(f, m, QUEUE_INCOMING);
	assert_int_equal(queue_move(f->q, deferred, QUEUE_INCOMING,
	    QUEUE_DEFERRED), 1);
	assert_int_equal(truncate(qpath(f, QUEUE_DEFERRED, deferred), 10), 0);
	testutil_put(f->a, qpath(f, QUEUE_INCOMING, NULL), "README", "x");
	testutil_put(f->a, qpath(f, QUEUE_ACTIVE, NULL), ".tmp", "x");

	assert_int_equal(queue_recover(f->q), 9);
	for (i = 0; i < n; i++) {
		assert_int_equal(queue_find(f->q, ids[i], &qn), 1);
		assert_int_equal(qn, QUEUE_CORRUPT);
		assert_int_equal(file_size(qpath(f, QUEUE_CORRUPT, ids[i])),
		    cuts[i]);
	}
	assert_int_equal(queue_find(f->q, extra, &qn), 1);
	assert_int_equal(qn, QUEUE_CORRUPT);
	assert_int_equal(queue_find(f->q, tmp_id, &qn), 1);
	assert_int_equal(qn, QUEUE_CORRUPT);
	assert_int_equal(file_size(qpath(f, QUEUE_CORRUPT, tmp_id)), 3);
	assert_int_equal(queue_find(f->q, keep_in, &qn), 1);
	assert_int_equal(qn, QUEUE_INCOMING);
	assert_int_equal(queue_find(f->q, keep_active, &qn), 1);
	assert_int_equal(qn, QUEUE_ACTIVE);
	assert_int_equal(queue_find(f->q, deferred, &qn), 1);
	assert_int_equal(qn, QUEUE_DEFERRED);
	assert_int_equal(testutil_count_entries(qpath(f, QUEUE_INCOMING, NULL)), 2);
	assert_int_equal(testutil_count_entries(qpath(f, QUEUE_ACTIVE, NULL)), 2);
	assert_int_equal(testutil_count_entries(qpath(f, QUEUE_CORRUPT, NULL)), 9);
	/* whole files are still whole */
	assert_int_equal(queue_read(f->q, keep_in, true, f->tmp, f->a, &r,
	    &why), 1);
	check_envelope(&r, m);
	assert_int_equal(queue_recover(f->q), 0);
}

/* --- move, find, delete, list -------------------------------------------- */

/* test_move_find_delete - the three answers of each */
static void
test_move_find_delete(void **state)
{
	struct fix *f = *state;
	struct message *m = small_message(f, "a@example.com", "b@example.com");
	enum queue_name qn;
	char *id, *other;
	struct buf b = { 0 };

	syncs.skip = true;
	id = store(f, m, QUEUE_INCOMING);
	assert_int_equal(queue_find(f->q, id, &qn), 1);
	assert_int_equal(qn, QUEUE_INCOMING);
	assert_int_equal(queue_move(f->q, id, QUEUE_ACTIVE, QUEUE_HOLD), 0);
	assert_int_equal(queue_move(f->q, id, QUEUE_INCOMING, QUEUE_HOLD), 1);
	assert_int_equal(queue_find(f->q, id, &qn), 1);
	assert_int_equal(qn, QUEUE_HOLD);
	assert_int_equal(testutil_count_entries(qpath(f, QUEUE_INCOMING, NULL)), 0);
	assert_int_equal(queue_move(f->q, id, QUEUE_HOLD, QUEUE_HOLD), 1);
	assert_int_equal(queue_move(f->q, id, QUEUE_DEFERRED, QUEUE_DEFERRED),
	    0);

	/* never over another file */
	rec(&b, 'E', "", 0);
	put_file(f, QUEUE_DEFERRED, id, &b);
	errno = 0;
	assert_int_equal(queue_move(f->q, id, QUEUE_HOLD, QUEUE_DEFERRED), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(file_size(qpath(f, QUEUE_DEFERRED, id)), 5);
	assert_true(file_size(qpath(f, QUEUE_HOLD, id)) > 5);
	assert_int_equal(unlink(qpath(f, QUEUE_DEFERRED, id)), 0);
	buf_free(&b);

	other = store(f, m, QUEUE_INCOMING);
	assert_int_equal(queue_delete(f->q, id), 1);
	assert_int_equal(queue_find(f->q, id, &qn), 0);
	assert_int_equal(queue_delete(f->q, id), 0);
	assert_int_equal(queue_move(f->q, id, QUEUE_HOLD, QUEUE_INCOMING), 0);
	assert_int_equal(queue_find(f->q, other, &qn), 1);
	assert_int_equal(qn, QUEUE_INCOMING);

	/* not ids: nothing is looked up outside the queue */
	assert_int_equal(queue_find(f->q, "../incoming/x", &qn), 0);
	assert_int_equal(queue_delete(f->q, "0123456789abcdef"), 0);
	assert_int_equal(queue_move(f->q, "", QUEUE_INCOMING, QUEUE_HOLD), 0);

	/* an error is not "not found" */
	assert_int_equal(chmod(qpath(f, QUEUE_ACTIVE, NULL), 0), 0);
	if (geteuid() != 0) {
		assert_int_equal(queue_find(f->q, id, &qn), -1);
		assert_int_equal(queue_delete(f->q, id), -1);
	}
	assert_int_equal(chmod(qpath(f, QUEUE_ACTIVE, NULL), 0700), 0);
	assert_int_equal(rmdir(qpath(f, QUEUE_ACTIVE, NULL)), 0);
	assert_int_equal(testutil_put(f->a, f->qdir, "active", "") != NULL, 1);
	assert_int_equal(queue_find(f->q, id, &qn), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(queue_delete(f->q, id), -1);
	assert_int_equal(queue_list(f->q, collect, &b), -1);
	buf_free(&b);
}

/* stop_after_two - a queue_list callback that stops */
static bool
stop_after_two(const struct queue_entry *e, const char *why, void *ctx)
{
	int *n = ctx;

	(void)e;
	(void)why;
	return ++*n < 2;
}

/* test_list - all queues in id order, unreadable files with their
 * reason, temporary and foreign names left out, early stop */
static void
test_list(void **state)
{
	struct fix *f = *state;
	struct message *m = small_message(f, "a@example.com", "b@example.com");
	char *id[5];
	struct buf got = { 0 };
	int i, n = 0;

	syncs.skip = true;
	assert_int_equal(queue_list(f->q, collect, &got), 0);
	for (i = 0; i < 5; i++)
		id[i] = store(f, m, i == 1 ? QUEUE_HOLD : QUEUE_INCOMING);
	assert_int_equal(queue_move(f->q, id[0], QUEUE_INCOMING,
	    QUEUE_DEFERRED), 1);
	assert_int_equal(queue_move(f->q, id[2], QUEUE_INCOMING,
	    QUEUE_ACTIVE), 1);
	assert_int_equal(queue_move(f->q, id[3], QUEUE_INCOMING,
	    QUEUE_CORRUPT), 1);
	assert_int_equal(truncate(qpath(f, QUEUE_CORRUPT, id[3]), 20), 0);
	testutil_put(f->a, qpath(f, QUEUE_INCOMING, NULL),
	    ".0123456789ABCDEF.tmp", "x");
	testutil_put(f->a, qpath(f, QUEUE_HOLD, NULL), "notes", "x");
	assert_int_equal(queue_list(f->q, collect, &got), 5);
	assert_string_equal(got.data, arena_printf(f->a,
	    "%s deferred\n%s hold\n%s active\n"
	    "%s corrupt %s: offset 6: queue id record of 16 bytes goes past "
	    "the end of the file\n%s incoming\n",
	    id[0], id[1], id[2], id[3], qpath(f, QUEUE_CORRUPT, id[3]),
	    id[4]));
	assert_int_equal(queue_list(f->q, stop_after_two, &n), 2);
	assert_int_equal(n, 2);
	buf_free(&got);
}

/* --- posternctl queue ----------------------------------------------------- */

#define ID1	"01HX0000000000A1"
#define ID2	"01HX0000000000B2"
#define ID3	"01HX0000000000C3"
#define ID4	"01HX0000000000D4"
#define T0	"1704067200123456"	/* 2024-01-01T00:00:00.123456Z */

/* tool_queue - four hand-made files: one of each kind the listing shows */
static void
tool_queue(struct fix *f)
{
	struct buf b = { 0 };

	recs(&b, 'V', "1");
	recs(&b, 'I', ID1);
	recs(&b, 'T', T0);
	rec2(&b, 'A', "client_name", "client.example");
	rec2(&b, 'A', "client_addr", "192.0.2.1");
	rec2(&b, 'A', "client_port", "54321");
	rec2(&b, 'A', "helo", "helo.example");
	rec2(&b, 'A', "protocol", "ESMTPSA");
	rec2(&b, 'A', "auth_user", "alice");
	rec2(&b, 'A', "tls", "TLSv1.3 TLS_AES_256_GCM_SHA384 256");
	rec2(&b, 'A', "ret", "FULL");
	rec2(&b, 'A', "envid", "ENV1");
	rec2(&b, 'A', "body", "8BITMIME");
	rec2(&b, 'A', "smtputf8", "yes");
	rec2(&b, 'A', "future_attribute", "ignored");
	recs(&b, 'S', "alice@example.com");
	rcpt(&b, 'P', MESSAGE_NOTIFY_SUCCESS | MESSAGE_NOTIFY_FAILURE,
	    "bob@example.net", "rfc822;bob@example.net", "");
	rcpt(&b, 'D', 0, "carol@example.org", "", "X-A=1");
	rec2(&b, 'H', "Received", " from client\r\n\tby mx");
	rec2(&b, 'H', "Subject", " hi");
	recs(&b, 'B', "Hello\r\n");
	recs(&b, 'B', "World\r\n");
	rec(&b, 'E', "", 0);
	put_file(f, QUEUE_INCOMING, ID1, &b);

	buf_reset(&b);
	recs(&b, 'V', "1");
	recs(&b, 'I', ID2);
	recs(&b, 'T', "1704067201000000");
	recs(&b, 'S', "");
	rcpt(&b, 'B', 0, "x@example.com", "", "");
	recs(&b, 'Q', "held by milter");
	rec(&b, 'E', "", 0);
	put_file(f, QUEUE_HOLD, ID2, &b);

	buf_reset(&b);
	recs(&b, 'V', "1");
	recs(&b, 'I', ID3);
	recs(&b, 'T', "1704153600000000");
	recs(&b, 'S', "a\"b\\c\001d\xc3\xa9\xff\tz@example.com");
	rcpt(&b, 'X', 0, "\xe2\x82\xac@example.com", "", "");
	rcpt(&b, 'P', 0, "\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf@x", "", "");
	rec(&b, 'E', "", 0);
	put_file(f, QUEUE_DEFERRED, ID3, &b);

	buf_reset(&b);
	recs(&b, 'V', "1");
	recs(&b, 'I', ID4);
	put_file(f, QUEUE_CORRUPT, ID4, &b);
	buf_free(&b);
}

/* run_tool - queue_tool_main with "queue" and the NULL-terminated
 * arguments, stdout and stderr caught in *out_r and *err_r */
static int
run_tool(struct fix *f, char **out_r, char **err_r, ...)
{
	char *argv[32], *out = arena_printf(f->a, "%s/stdout", f->dir);
	char *err = arena_printf(f->a, "%s/stderr", f->dir);
	int argc = 0, fo, fe, so, se, rc;
	const char *arg;
	va_list ap;

	argv[argc++] = arena_strdup(f->a, "queue");
	va_start(ap, err_r);
	while ((arg = va_arg(ap, const char *)) != NULL && argc < 31)
		argv[argc++] = arena_strdup(f->a, arg);
	va_end(ap);
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	fo = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
	fe = open(err, O_RDWR | O_CREAT | O_TRUNC, 0600);
	so = dup(1);
	se = dup(2);
	assert_true(fo >= 0 && fe >= 0 && so >= 0 && se >= 0);
	dup2(fo, 1);
	dup2(fe, 2);
	rc = queue_tool_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	close(fo);
	close(fe);
	*out_r = slurp(f->a, out, NULL);
	*err_r = slurp(f->a, err, NULL);
	unlink(out);
	unlink(err);
	return rc;
}

/* sizes - the sizes of the four files */
static void
sizes(struct fix *f, long s[4])
{
	s[0] = (long)file_size(qpath(f, QUEUE_INCOMING, ID1));
	s[1] = (long)file_size(qpath(f, QUEUE_HOLD, ID2));
	s[2] = (long)file_size(qpath(f, QUEUE_DEFERRED, ID3));
	s[3] = (long)file_size(qpath(f, QUEUE_CORRUPT, ID4));
}

/* test_tool_list - mailq style, exactly */
static void
test_tool_list(void **state)
{
	struct fix *f = *state;
	char *out, *err, *conf;
	long s[4];

	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "list", NULL),
	    0);
	assert_string_equal(out, "Mail queue is empty\n");
	assert_string_equal(err, "");

	tool_queue(f);
	sizes(f, s);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "list", NULL),
	    0);
	assert_string_equal(err, "");
	assert_string_equal(out, arena_printf(f->a,
	    "-Queue ID------- -Queue-- --Size-- ---Arrival (UTC)---  "
	    "-Sender/Recipient-------\n"
	    ID1 " incoming %8ld 2024-01-01 00:00:00  alice@example.com\n"
	    "    pending   bob@example.net\n"
	    "    delivered carol@example.org\n"
	    "\n"
	    ID2 " hold     %8ld 2024-01-01 00:00:01  <>\n"
	    "    bounced   x@example.com\n"
	    "    quarantine: held by milter\n"
	    "\n"
	    ID3 " deferred %8ld 2024-01-02 00:00:00  "
	    "a\"b\\c?d\xc3\xa9\xff?z@example.com\n"
	    "    expanded  \xe2\x82\xac@example.com\n"
	    "    pending   \xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf@x\n"
	    "\n"
	    ID4 " corrupt  %8ld unreadable: %s: no END record (incomplete "
	    "file)\n"
	    "\n"
	    "-- %ld Kbytes in 4 Requests.\n",
	    s[0], s[1], s[2], s[3], qpath(f, QUEUE_CORRUPT, ID4),
	    (s[0] + s[1] + s[2] + s[3] + 1023) / 1024));

	/* the directory from the config file, whatever else it holds */
	conf = testutil_put(f->a, f->dir, "mta.conf", arena_printf(f->a,
	    "myhostname = mx.example.com\nqueue_directory = %s\n"
	    "no_such_setting = 1\n[section]\nx = y\n", f->qdir));
	assert_int_equal(run_tool(f, &out, &err, "-c", conf, "list", "--json",
	    NULL), 0);
	assert_string_equal(err, "");
	assert_int_equal(strncmp(out, "{\"id\":\"" ID1 "\"", 24), 0);
}

/* test_tool_list_json - one object per line, every string escaped */
static void
test_tool_list_json(void **state)
{
	struct fix *f = *state;
	char *out, *err;
	long s[4];

	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "list",
	    "--json", NULL), 0);
	assert_string_equal(out, "");
	tool_queue(f);
	sizes(f, s);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "list",
	    "--json", NULL), 0);
	assert_string_equal(err, "");
	assert_string_equal(out, arena_printf(f->a,
	    "{\"id\":\"" ID1 "\",\"queue\":\"incoming\",\"size\":%ld,"
	    "\"arrival\":\"2024-01-01T00:00:00Z\","
	    "\"sender\":\"alice@example.com\",\"recipients\":["
	    "{\"address\":\"bob@example.net\",\"state\":\"pending\"},"
	    "{\"address\":\"carol@example.org\",\"state\":\"delivered\"}],"
	    "\"quarantine\":null}\n"
	    "{\"id\":\"" ID2 "\",\"queue\":\"hold\",\"size\":%ld,"
	    "\"arrival\":\"2024-01-01T00:00:01Z\",\"sender\":\"\","
	    "\"recipients\":[{\"address\":\"x@example.com\","
	    "\"state\":\"bounced\"}],\"quarantine\":\"held by milter\"}\n"
	    "{\"id\":\"" ID3 "\",\"queue\":\"deferred\",\"size\":%ld,"
	    "\"arrival\":\"2024-01-02T00:00:00Z\","
	    "\"sender\":\"a\\\"b\\\\c\\u0001d\xc3\xa9\\ufffd\\tz@example.com\","
	    "\"recipients\":[{\"address\":\"\xe2\x82\xac@example.com\","
	    "\"state\":\"expanded\"},{\"address\":"
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd"
	    "\\ufffd@x\",\"state\":\"pending\"}],\"quarantine\":null}\n"
	    "{\"id\":\"" ID4 "\",\"queue\":\"corrupt\",\"size\":%ld,"
	    "\"error\":\"%s: no END record (incomplete file)\"}\n",
	    s[0], s[1], s[2], s[3], qpath(f, QUEUE_CORRUPT, ID4)));
}

/* test_tool_show - the envelope, then the message */
static void
test_tool_show(void **state)
{
	struct fix *f = *state;
	char *out, *err;
	long s[4];

	tool_queue(f);
	sizes(f, s);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "show", ID1,
	    NULL), 0);
	assert_string_equal(err, "");
	assert_string_equal(out, arena_printf(f->a,
	    "queue_id: " ID1 "\n"
	    "queue: incoming\n"
	    "size: %ld\n"
	    "arrival: 2024-01-01T00:00:00.123456Z\n"
	    "client_name: client.example\n"
	    "client_addr: 192.0.2.1\n"
	    "client_port: 54321\n"
	    "helo: helo.example\n"
	    "protocol: ESMTPSA\n"
	    "auth_user: alice\n"
	    "tls: TLSv1.3 TLS_AES_256_GCM_SHA384 256\n"
	    "ret: FULL\n"
	    "envid: ENV1\n"
	    "body: 8BITMIME\n"
	    "smtputf8: yes\n"
	    "sender: alice@example.com\n"
	    "recipient: bob@example.net state=pending notify=SUCCESS,FAILURE "
	    "orcpt=rfc822;bob@example.net\n"
	    "recipient: carol@example.org state=delivered params=X-A=1\n"
	    "\n"
	    "Received: from client\n\tby mx\n"
	    "Subject: hi\n"
	    "\n"
	    "Hello\nWorld\n", s[0]));

	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "show", ID2,
	    NULL), 0);
	assert_string_equal(out, arena_printf(f->a,
	    "queue_id: " ID2 "\nqueue: hold\nsize: %ld\n"
	    "arrival: 2024-01-01T00:00:01.000000Z\n"
	    "sender: <>\n"
	    "recipient: x@example.com state=bounced\n"
	    "quarantine: held by milter\n\n\n", s[1]));

	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "show", ID4,
	    NULL), 2);
	assert_string_equal(out, "");
	assert_string_equal(err, arena_printf(f->a, "posternctl queue show: "
	    ID4 ": %s: no END record (incomplete file)\n",
	    qpath(f, QUEUE_CORRUPT, ID4)));
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "show",
	    "01HX0000000000E5", NULL), 1);
	assert_string_equal(err, "posternctl queue show: 01HX0000000000E5: "
	    "no such message\n");
}

/* test_tool_show_big - a stored message with a body spooled to a file,
 * shown with LF line ends */
static void
test_tool_show_big(void **state)
{
	struct fix *f = *state;
	struct message *m = small_message(f, "a@example.com", "b@example.com");
	struct buf body = { 0 };
	char *out, *err, *id;
	size_t i;

	for (i = 0; body.len < 300 * KIB; i++)
		buf_printf(&body, "line %zu\r\n", i);
	assert_true(spool_append(m->body, body.data, body.len));
	id = store(f, m, QUEUE_INCOMING);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "show", id,
	    NULL), 0);
	assert_string_equal(err, "");
	out = strstr(out, "\n\nSubject: small\n\n");
	assert_non_null(out);
	out += strlen("\n\nSubject: small\n\n");
	/* small_message's own line, then ours, each one byte shorter */
	assert_int_equal(strncmp(out, "Hi.\n", 4), 0);
	out += 4;
	assert_int_equal(strlen(out), body.len - i);
	for (i = 0; *out != '\0'; i++) {
		char line[32];

		snprintf(line, sizeof(line), "line %zu\n", i);
		assert_int_equal(strncmp(out, line, strlen(line)), 0);
		out += strlen(line);
	}
	buf_free(&body);
}

/* where - the queue id is in, for the tool tests */
static enum queue_name
where(struct fix *f, const char *id)
{
	enum queue_name qn = QUEUE_COUNT;

	assert_int_equal(queue_find(f->q, id, &qn), 1);
	return qn;
}

/* test_tool_hold_release - moves and their exit statuses */
static void
test_tool_hold_release(void **state)
{
	struct fix *f = *state;
	char *out, *err;

	tool_queue(f);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "hold", ID1,
	    ID3, NULL), 0);
	assert_string_equal(out, "");
	assert_string_equal(err, "");
	assert_int_equal(where(f, ID1), QUEUE_HOLD);
	assert_int_equal(where(f, ID3), QUEUE_HOLD);
	/* already held: nothing to do */
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "hold", ID2,
	    NULL), 0);
	assert_string_equal(err, "");
	/* missing, malformed, corrupt: each said, the rest done */
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "hold",
	    "01HX0000000000E5", "bogus", ID4, NULL), 1);
	assert_string_equal(err,
	    "posternctl queue hold: 01HX0000000000E5: no such message\n"
	    "posternctl queue hold: bogus: not a queue id\n"
	    "posternctl queue hold: " ID4 ": is in corrupt/, not moved\n");
	assert_int_equal(where(f, ID4), QUEUE_CORRUPT);

	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "release",
	    ID1, ID2, NULL), 0);
	assert_string_equal(err, "");
	assert_int_equal(where(f, ID1), QUEUE_INCOMING);
	assert_int_equal(where(f, ID2), QUEUE_INCOMING);
	assert_int_equal(where(f, ID3), QUEUE_HOLD);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "release",
	    ID1, ID3, NULL), 1);
	assert_string_equal(err,
	    "posternctl queue release: " ID1 ": is in incoming/, not moved\n");
	assert_int_equal(where(f, ID1), QUEUE_INCOMING);
	assert_int_equal(where(f, ID3), QUEUE_INCOMING);
}

/* test_tool_delete - removes; a missing one is exit 1, the rest go */
static void
test_tool_delete(void **state)
{
	struct fix *f = *state;
	enum queue_name qn;
	char *out, *err;

	tool_queue(f);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "delete", ID1,
	    ID4, NULL), 0);
	assert_string_equal(err, "");
	assert_int_equal(queue_find(f->q, ID1, &qn), 0);
	assert_int_equal(queue_find(f->q, ID4, &qn), 0);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "delete", ID1,
	    ID2, NULL), 1);
	assert_string_equal(err,
	    "posternctl queue delete: " ID1 ": no such message\n");
	assert_int_equal(queue_find(f->q, ID2, &qn), 0);
	assert_int_equal(queue_find(f->q, ID3, &qn), 1);
}

/* test_tool_flush - flush and requeue move deferred mail to incoming/ */
static void
test_tool_flush(void **state)
{
	struct fix *f = *state;
	struct message *m = message_new(f->a, f->tmp, 1024);
	enum queue_name qn;
	char *out, *err, id[QUEUE_ID_LEN + 1], id2[QUEUE_ID_LEN + 1];

	queue_id_new(f->q, id);
	assert_true(queue_store(f->q, m, NULL, QUEUE_INCOMING, id));
	queue_id_new(f->q, id2);
	assert_true(queue_store(f->q, m, NULL, QUEUE_INCOMING, id2));
	assert_int_equal(queue_move(f->q, id, QUEUE_INCOMING,
	    QUEUE_DEFERRED), 1);
	assert_int_equal(queue_move(f->q, id2, QUEUE_INCOMING,
	    QUEUE_DEFERRED), 1);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "flush",
	    NULL), 0);
	assert_string_equal(out, "2 messages flushed\n");
	assert_int_equal(queue_find(f->q, id, &qn), 1);
	assert_int_equal(qn, QUEUE_INCOMING);
	assert_int_equal(queue_find(f->q, id2, &qn), 1);
	assert_int_equal(qn, QUEUE_INCOMING);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "flush",
	    NULL), 0);
	assert_string_equal(out, "0 messages flushed\n");
	assert_int_equal(queue_move(f->q, id, QUEUE_INCOMING,
	    QUEUE_DEFERRED), 1);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "requeue",
	    id, NULL), 0);
	assert_int_equal(queue_find(f->q, id, &qn), 1);
	assert_int_equal(qn, QUEUE_INCOMING);
	/* only deferred mail is requeued */
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "requeue",
	    id2, NULL), 1);
	assert_int_equal(queue_find(f->q, id2, &qn), 1);
	assert_int_equal(qn, QUEUE_INCOMING);
}

/* test_tool_usage - bad usage and a queue that is not there: 2, and
 * nothing created */
static void
test_tool_usage(void **state)
{
	struct fix *f = *state;
	char *out, *err, *dir = arena_printf(f->a, "%s/empty", f->dir);
	char *missing = arena_printf(f->a, "%s/missing.conf", f->dir);
	char *bad;

	assert_int_equal(run_tool(f, &out, &err, NULL), 2);
	assert_non_null(strstr(err, "usage:"));
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "frob",
	    NULL), 2);
	assert_int_equal(strncmp(err, "posternctl queue: unknown command "
	    "'frob'\n", 40), 0);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "list",
	    "--yaml", NULL), 2);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "list",
	    "--json", "x", NULL), 2);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "show",
	    NULL), 2);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "show",
	    ID1, ID2, NULL), 2);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "delete",
	    NULL), 2);
	assert_int_equal(run_tool(f, &out, &err, "-d", f->qdir, "hold",
	    "-x", NULL), 2);
	assert_int_equal(run_tool(f, &out, &err, "-x", "list", NULL), 2);
	assert_string_equal(out, "");

	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(run_tool(f, &out, &err, "-d", dir, "list", NULL), 2);
	assert_string_equal(err, arena_printf(f->a, "posternctl queue: "
	    "%s/incoming: No such file or directory\n", dir));
	assert_int_equal(testutil_count_entries(dir), 0);
	assert_int_equal(run_tool(f, &out, &err, "-d",
	    arena_printf(f->a, "%s/nowhere", f->dir), "list", NULL), 2);
	assert_string_equal(err, arena_printf(f->a, "posternctl queue: "
	    "%s/nowhere: No such file or directory\n", f->dir));

	/* a named config file must be there; a bad value is reported */
	assert_int_equal(run_tool(f, &out, &err, "-c", missing, "list", NULL),
	    2);
	assert_non_null(strstr(err, missing));
	assert_int_equal(strncmp(err, "posternctl queue: ", 18), 0);
	bad = testutil_put(f->a, f->dir, "dup.conf", arena_printf(f->a,
	    "queue_directory = %s\nqueue_directory = %s\n", f->qdir,
	    f->qdir));
	assert_int_equal(run_tool(f, &out, &err, "-c", bad, "list", NULL), 2);
	assert_non_null(strstr(err, arena_printf(f->a, "%s:2:", bad)));
	assert_string_equal(out, "");
}

/* --- main ---------------------------------------------------------------- */

/* main - run the tests */
int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_names),
		T(test_id_valid),
		T(test_ids),
		T(test_ids_stored),
		T(test_open),
		T(test_round_trip),
		T(test_minimal),
		T(test_rcpt_states),
		T(test_fsync_order),
		T(test_fsync_fails),
		T(test_store_collision),
		T(test_store_bad_id),
		T(test_read_minimal_file),
		T(test_read_damaged),
		T(test_recover),
		T(test_move_find_delete),
		T(test_list),
		T(test_tool_list),
		T(test_tool_list_json),
		T(test_tool_show),
		T(test_tool_show_big),
		T(test_tool_hold_release),
		T(test_tool_delete),
		T(test_tool_flush),
		T(test_tool_usage),
		T(test_enospc),
	};
#undef T

	log_init("test_queue", true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
