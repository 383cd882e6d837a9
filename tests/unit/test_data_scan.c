/*
 * test_data_scan.c - DATA and BDAT bytes into a message: the end of DATA
 * and every smuggling look-alike, bare CR and LF stored as is or as
 * CR LF, dot-unstuffing, the header/body split, pieces cut at every
 * byte, size and header limits, a body spooled to a file, and a spool
 * that fails on a real full file system
 *
 * Every scan runs in an arena of its own with a fresh message whose
 * spool lives in the test's mkdtemp directory, and is described by what
 * came out: the visible header fields written back as "name:value" CR LF
 * (so a field is compared byte for byte, folds included), the body as
 * spool_read gives it, the flags, the size, whether the end marker was
 * seen and how many bytes data_scan_feed took. A scan fed in pieces must
 * come out exactly as the same bytes fed at once.
 *
 * The full file system is a 64 KiB tmpfs mounted in a private mount
 * namespace, which needs root; without root that one test is skipped
 * and says so.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "data_scan.h"
#include "message.h"
#include "spool.h"
#include "testutil.h"

#define KIB		1024
#define MIB		(1024 * 1024)
#define UNLIMITED	UINT64_MAX

#define LF	DATA_SCAN_BARE_LF
#define CR	DATA_SCAN_BARE_CR
#define BIG	DATA_SCAN_TOO_BIG
#define HBIG	DATA_SCAN_HEADER_TOO_BIG
#define SPOOL	DATA_SCAN_SPOOL_ERROR

/* a byte string with NULs: both fields of a (p, p_len) pair */
#define BYTES(field, s)	.field = (s), .field##_len = sizeof(s) - 1

struct fix {
	char dir[256];
	struct arena *a;
	char *mounted;		/* a tmpfs to unmount, if a test failed */
};

/* How a scan is set up. */
struct opts {
	bool dot;		/* DATA (true) or BDAT */
	bool normalize;
	uint64_t max_size, max_header;
	uint64_t spool_memory;	/* 0: 1 MiB */
	const char *temp_dir;	/* NULL: the test's directory */
};

/* What came out of a scan (strings in the test's arena). */
struct result {
	char *fields;		/* "name:value\r\n" per visible field */
	size_t fields_len;
	size_t n_fields;
	char *body;		/* NULL after a spool error */
	size_t body_len;
	bool in_memory;
	unsigned flags;
	uint64_t size;
	bool done;
	size_t used;		/* bytes data_scan_feed took in all */
	size_t header_len;	/* bytes the scanner held for the header */
	char *spool_why;	/* "" unless set */
};

static const struct opts data_raw = {
	.dot = true, .max_size = UNLIMITED, .max_header = UNLIMITED,
};
static const struct opts data_norm = {
	.dot = true, .normalize = true, .max_size = UNLIMITED,
	.max_header = UNLIMITED,
};
static const struct opts bdat_raw = {
	.max_size = UNLIMITED, .max_header = UNLIMITED,
};
static const struct opts bdat_norm = {
	.normalize = true, .max_size = UNLIMITED, .max_header = UNLIMITED,
};

/* --- fixture -------------------------------------------------------------- */

/* setup - a temp directory for the spools, the test's arena */
static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (f == NULL || testutil_setup(f->dir, sizeof(f->dir), "data_scan",
	    &f->a) < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

/* teardown - a spool file is unlinked at once: nothing may be left */
static int
teardown(void **state)
{
	struct fix *f = *state;
	int n, rc;

	if (f->mounted != NULL)
		(void)umount2(f->mounted, MNT_DETACH);
	n = testutil_count_entries(f->dir);
	rc = testutil_teardown(f->dir, &f->a);
	free(f);
	return n == 0 && rc == 0 ? 0 : -1;
}

/* --- scanning ------------------------------------------------------------- */

/* show - bytes as C text ("\r", "\n", "\0" spelled out) for messages */
static char *
show(struct arena *a, const char *p, size_t len)
{
	struct buf b = { 0 };
	char *r;
	size_t i;

	if (p == NULL)
		return arena_strdup(a, "(null)");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r')
			buf_puts(&b, "\\r");
		else if (c == '\n')
			buf_puts(&b, "\\n");
		else if (c == '\\')
			buf_puts(&b, "\\\\");
		else if (c < 0x20 || c > 0x7e)
			buf_printf(&b, "\\x%02x", c);
		else
			buf_putc(&b, (char)c);
	}
	r = arena_strdup(a, buf_cstr(&b));
	buf_free(&b);
	return r;
}

/* check_bytes - got must be want, byte for byte */
static void
check_bytes(struct fix *f, const char *what, const char *got,
    size_t got_len, const char *want, size_t want_len)
{
	if (got == NULL || got_len != want_len ||
	    memcmp(got, want, want_len) != 0)
		fail_msg("%s: got \"%s\" (%zu bytes), want \"%s\" (%zu bytes)",
		    what, show(f->a, got, got_len), got_len,
		    show(f->a, want, want_len), want_len);
}

/* collect - the message and the scanner's results into r */
static void
collect(struct fix *f, const struct data_scan *ds, const struct message *m,
    struct result *r)
{
	struct buf b = { 0 };
	const struct message_header *h;
	uint64_t size;
	size_t i;

	r->n_fields = message_visible_count(m);
	assert_int_equal(r->n_fields, m->n_headers);
	for (i = 0; i < r->n_fields; i++) {
		h = message_visible(m, i);
		assert_non_null(h);
		buf_printf(&b, "%s:%s\r\n", h->name, h->value);
	}
	assert_null(message_visible(m, r->n_fields));
	r->fields_len = b.len;
	r->fields = arena_memdup(f->a, buf_cstr(&b), b.len);
	buf_free(&b);
	r->flags = ds->flags;
	r->size = ds->size;
	r->done = ds->done;
	r->header_len = ds->header.len;
	r->spool_why = arena_strdup(f->a, ds->spool_why ? ds->spool_why : "");
	if (ds->flags & SPOOL) {
		r->body = NULL;
		return;
	}
	r->in_memory = spool_in_memory(m->body);
	size = spool_size(m->body);
	r->body_len = (size_t)size;
	r->body = arena_alloc(f->a, r->body_len + 1);
	for (i = 0; i < r->body_len; ) {
		ssize_t n = spool_read(m->body, i, r->body + i,
		    r->body_len - i);

		if (n <= 0)
			fail_msg("spool_read at %zu: %s", i,
			    spool_error(m->body));
		i += (size_t)n;
	}
}

/*
 * scan - run one scan of p[0..len): first a piece of cut bytes, then
 * pieces of step bytes (cut = len: all at once). Feeding stops at the
 * end marker; whatever is left must then be refused (the next command's
 * bytes). Every feed also gets an empty piece first, which takes
 * nothing.
 */
static void
scan(struct fix *f, const struct opts *o, const char *p, size_t len,
    size_t cut, size_t step, struct result *r)
{
	struct arena *a = arena_create();
	struct message *m = message_new(a, o->temp_dir ? o->temp_dir : f->dir,
	    o->spool_memory ? o->spool_memory : MIB);
	struct data_scan ds;
	size_t off = 0, piece = cut, n, used;
	unsigned flags;

	memset(r, 0, sizeof(*r));
	data_scan_init(&ds, m, o->dot, o->normalize, o->max_size,
	    o->max_header);
	while (off < len && !ds.done) {
		n = piece < len - off ? piece : len - off;
		assert_int_equal(data_scan_feed(&ds, p + off, 0), 0);
		used = data_scan_feed(&ds, p + off, n);
		assert_true(used <= n);
		if (used < n && !ds.done)
			fail_msg("took %zu of %zu bytes without the end "
			    "marker", used, n);
		if (!o->dot)
			assert_int_equal(used, n);
		r->used += used;
		off += n;
		piece = step;
	}
	if (ds.done && r->used < len)
		assert_int_equal(data_scan_feed(&ds, p + r->used,
		    len - r->used), 0);
	flags = data_scan_finish(&ds);
	assert_int_equal(flags, ds.flags);
	collect(f, &ds, m, r);
	data_scan_free(&ds);
	arena_destroy(&a);
	assert_null(a);
}

/* scan_once - all bytes in one piece */
static void
scan_once(struct fix *f, const struct opts *o, const char *p, size_t len,
    struct result *r)
{
	scan(f, o, p, len, len, len, r);
}

/* same_result - a scan in pieces came out as the scan in one piece */
static void
same_result(struct fix *f, const struct result *want,
    const struct result *got, const char *how)
{
	char *what;

	what = arena_printf(f->a, "%s: fields", how);
	check_bytes(f, what, got->fields, got->fields_len, want->fields,
	    want->fields_len);
	assert_int_equal(got->n_fields, want->n_fields);
	if (want->body != NULL) {
		what = arena_printf(f->a, "%s: body", how);
		check_bytes(f, what, got->body, got->body_len, want->body,
		    want->body_len);
	}
	if (got->flags != want->flags || got->size != want->size ||
	    got->done != want->done || got->used != want->used)
		fail_msg("%s: flags %#x size %llu done %d used %zu, want "
		    "%#x %llu %d %zu", how, got->flags,
		    (unsigned long long)got->size, got->done, got->used,
		    want->flags, (unsigned long long)want->size, want->done,
		    want->used);
}

/* every_split - p in two pieces cut at every offset, and in 1-byte
 * pieces, must give the one-piece result; returns that result */
static void
every_split(struct fix *f, const struct opts *o, const char *p, size_t len,
    const char *name, struct result *want)
{
	struct result got;
	size_t cut;

	scan_once(f, o, p, len, want);
	for (cut = 0; cut <= len; cut++) {
		scan(f, o, p, len, cut, len, &got);
		same_result(f, want, &got, arena_printf(f->a, "%s, cut at %zu",
		    name, cut));
	}
	scan(f, o, p, len, 1, 1, &got);
	same_result(f, want, &got, arena_printf(f->a, "%s, 1-byte pieces",
	    name));
	scan(f, o, p, len, 3, 2, &got);
	same_result(f, want, &got, arena_printf(f->a, "%s, 3 then 2-byte "
	    "pieces", name));
}

/* An expected outcome, for the tables. */
struct expect {
	const char *name;
	const char *in;
	size_t in_len;
	const char *fields;	/* "name:value\r\n"... */
	size_t fields_len;
	const char *body;
	size_t body_len;
	unsigned flags;
	uint64_t size;
	bool done;
	size_t used;		/* DATA: where the end marker ends */
};

/* check_expect - one table row, fed at once and at every split */
static void
check_expect(struct fix *f, const struct opts *o, const struct expect *e,
    const char *mode)
{
	struct result r;
	char *name = arena_printf(f->a, "%s (%s)", e->name, mode);

	every_split(f, o, e->in, e->in_len, name, &r);
	check_bytes(f, arena_printf(f->a, "%s: fields", name), r.fields,
	    r.fields_len, e->fields, e->fields_len);
	check_bytes(f, arena_printf(f->a, "%s: body", name), r.body,
	    r.body_len, e->body, e->body_len);
	if (r.flags != e->flags || r.size != e->size || r.done != e->done ||
	    r.used != e->used)
		fail_msg("%s: flags %#x size %llu done %d used %zu, want "
		    "%#x %llu %d %zu", name, r.flags,
		    (unsigned long long)r.size, r.done, r.used, e->flags,
		    (unsigned long long)e->size, e->done, e->used);
}

/* --- end of DATA ---------------------------------------------------------- */

#define HDR	"Subject: s\r\n\r\n"
#define HDR_F	"Subject: s\r\n"
#define NEXT	"MAIL FROM:<>\r\n"

/* one look-alike between "a" and "b", then the real end and the next
 * command; used is everything up to the real end */
#define LOOK(v)	HDR "a" v "b\r\n.\r\n" NEXT
#define USED(v)	(sizeof(LOOK(v)) - 1 - (sizeof(NEXT) - 1))

/*
 * Nothing but CR LF "." CR LF ends DATA. A dot after a line end of any
 * kind is stuffing and goes (a bare LF always ends a line; a bare CR
 * does when it is normalized); stored as is, a bare CR is just a byte
 * of its line and the dot after it stays.
 */
static const struct expect smuggle_raw[] = {
	{ .name = "<LF>.<LF>", BYTES(in, LOOK("\n.\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\n\nb\r\n"), .flags = LF,
	  .size = 14 + 6, .done = true, .used = USED("\n.\n") },
	{ .name = "<LF>.<CR><LF>", BYTES(in, LOOK("\n.\r\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\n\r\nb\r\n"), .flags = LF,
	  .size = 14 + 7, .done = true, .used = USED("\n.\r\n") },
	{ .name = "<CR><LF>.<LF>", BYTES(in, LOOK("\r\n.\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\nb\r\n"), .flags = LF,
	  .size = 14 + 7, .done = true, .used = USED("\r\n.\n") },
	{ .name = "<CR>.<CR>", BYTES(in, LOOK("\r.\r")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r.\rb\r\n"), .flags = CR,
	  .size = 14 + 7, .done = true, .used = USED("\r.\r") },
	{ .name = "<CR>.<CR><LF>", BYTES(in, LOOK("\r.\r\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r.\r\nb\r\n"), .flags = CR,
	  .size = 14 + 8, .done = true, .used = USED("\r.\r\n") },
	{ .name = "<CR><LF>.<CR>", BYTES(in, LOOK("\r\n.\r")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\rb\r\n"), .flags = CR,
	  .size = 14 + 7, .done = true, .used = USED("\r\n.\r") },
	{ .name = "<LF>.<CR>", BYTES(in, LOOK("\n.\r")),
	  BYTES(fields, HDR_F), BYTES(body, "a\n\rb\r\n"), .flags = LF | CR,
	  .size = 14 + 6, .done = true, .used = USED("\n.\r") },
	{ .name = "<CR><LF><NUL>.<CR><LF>", BYTES(in, LOOK("\r\n\0.\r\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\0.\r\nb\r\n"),
	  .flags = 0, .size = 14 + 10, .done = true,
	  .used = USED("\r\n\0.\r\n") },
	{ .name = "<CR><LF>.<NUL><CR><LF>", BYTES(in, LOOK("\r\n.\0\r\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\0\r\nb\r\n"),
	  .flags = 0, .size = 14 + 9, .done = true,
	  .used = USED("\r\n.\0\r\n") },
	{ .name = "<CR><LF>.<CR><NUL><LF>", BYTES(in, LOOK("\r\n.\r\0\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\r\0\nb\r\n"),
	  .flags = CR | LF, .size = 14 + 9, .done = true,
	  .used = USED("\r\n.\r\0\n") },
	{ .name = "<CR><LF>.<CR><CR><LF>", BYTES(in, LOOK("\r\n.\r\r\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\r\r\nb\r\n"),
	  .flags = CR, .size = 14 + 9, .done = true,
	  .used = USED("\r\n.\r\r\n") },
	{ .name = "<CR><LF>..<CR><LF>", BYTES(in, LOOK("\r\n..\r\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n.\r\nb\r\n"),
	  .flags = 0, .size = 14 + 9, .done = true,
	  .used = USED("\r\n..\r\n") },
	{ 0 },
};

/* the same with every bare line end stored as CR LF */
static const struct expect smuggle_norm[] = {
	{ .name = "<LF>.<LF>", BYTES(in, LOOK("\n.\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\r\nb\r\n"), .flags = LF,
	  .size = 14 + 8, .done = true, .used = USED("\n.\n") },
	{ .name = "<LF>.<CR><LF>", BYTES(in, LOOK("\n.\r\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\r\nb\r\n"), .flags = LF,
	  .size = 14 + 8, .done = true, .used = USED("\n.\r\n") },
	{ .name = "<CR><LF>.<LF>", BYTES(in, LOOK("\r\n.\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\r\nb\r\n"), .flags = LF,
	  .size = 14 + 8, .done = true, .used = USED("\r\n.\n") },
	{ .name = "<CR>.<CR>", BYTES(in, LOOK("\r.\r")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\r\nb\r\n"), .flags = CR,
	  .size = 14 + 8, .done = true, .used = USED("\r.\r") },
	{ .name = "<CR>.<CR><LF>", BYTES(in, LOOK("\r.\r\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\r\nb\r\n"), .flags = CR,
	  .size = 14 + 8, .done = true, .used = USED("\r.\r\n") },
	{ .name = "<CR><LF>.<CR>", BYTES(in, LOOK("\r\n.\r")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\r\nb\r\n"), .flags = CR,
	  .size = 14 + 8, .done = true, .used = USED("\r\n.\r") },
	{ .name = "<LF>.<CR>", BYTES(in, LOOK("\n.\r")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\r\nb\r\n"),
	  .flags = LF | CR, .size = 14 + 8, .done = true,
	  .used = USED("\n.\r") },
	{ .name = "<CR><LF><NUL>.<CR><LF>", BYTES(in, LOOK("\r\n\0.\r\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\0.\r\nb\r\n"),
	  .flags = 0, .size = 14 + 10, .done = true,
	  .used = USED("\r\n\0.\r\n") },
	{ .name = "<CR><LF>.<NUL><CR><LF>", BYTES(in, LOOK("\r\n.\0\r\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\0\r\nb\r\n"),
	  .flags = 0, .size = 14 + 9, .done = true,
	  .used = USED("\r\n.\0\r\n") },
	{ .name = "<CR><LF>.<CR><NUL><LF>", BYTES(in, LOOK("\r\n.\r\0\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\r\n\0\r\nb\r\n"),
	  .flags = CR | LF, .size = 14 + 11, .done = true,
	  .used = USED("\r\n.\r\0\n") },
	{ .name = "<CR><LF>.<CR><CR><LF>", BYTES(in, LOOK("\r\n.\r\r\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n\r\n\r\nb\r\n"),
	  .flags = CR, .size = 14 + 10, .done = true,
	  .used = USED("\r\n.\r\r\n") },
	{ .name = "<CR><LF>..<CR><LF>", BYTES(in, LOOK("\r\n..\r\n")),
	  BYTES(fields, HDR_F), BYTES(body, "a\r\n.\r\nb\r\n"),
	  .flags = 0, .size = 14 + 9, .done = true,
	  .used = USED("\r\n..\r\n") },
	{ 0 },
};

/* test_smuggling_raw - look-alikes are data, stored as they came */
static void
test_smuggling_raw(void **state)
{
	const struct expect *e;

	for (e = smuggle_raw; e->name != NULL; e++)
		check_expect(*state, &data_raw, e, "as is");
}

/* test_smuggling_normalized - look-alikes are data, line ends CR LF */
static void
test_smuggling_normalized(void **state)
{
	const struct expect *e;

	for (e = smuggle_norm; e->name != NULL; e++)
		check_expect(*state, &data_norm, e, "normalized");
}

/*
 * test_smuggling_second_message - the attack itself: a message with a
 * second one behind "<LF>.<LF>" is one message, and the commands inside
 * it never reach the command parser
 */
static void
test_smuggling_second_message(void **state)
{
	static const char in[] =
	    "Subject: one\r\n\r\nhello\n.\nMAIL FROM:<evil@example.com>\r\n"
	    "RCPT TO:<victim@example.org>\r\nDATA\r\nSubject: two\r\n"
	    "\r\nspoofed\r\n.\r\nQUIT\r\n";
	static const char body[] =
	    "hello\r\n\r\nMAIL FROM:<evil@example.com>\r\n"
	    "RCPT TO:<victim@example.org>\r\nDATA\r\nSubject: two\r\n"
	    "\r\nspoofed\r\n";
	struct fix *f = *state;
	struct result r;

	every_split(f, &data_norm, in, sizeof(in) - 1, "second message", &r);
	check_bytes(f, "fields", r.fields, r.fields_len,
	    "Subject: one\r\n", 14);
	check_bytes(f, "body", r.body, r.body_len, body, sizeof(body) - 1);
	assert_int_equal(r.flags, LF);
	assert_true(r.done);
	assert_int_equal(r.used, sizeof(in) - 1 - strlen("QUIT\r\n"));
}

/* test_end_at_start - ".\r\n" as the first line: an empty message, and
 * the next command is left alone */
static void
test_end_at_start(void **state)
{
	static const char in[] = ".\r\n" NEXT;
	struct fix *f = *state;
	const struct opts *modes[] = { &data_raw, &data_norm };
	struct result r;
	size_t i;

	for (i = 0; i < 2; i++) {
		every_split(f, modes[i], in, sizeof(in) - 1, "end at start",
		    &r);
		assert_int_equal(r.used, 3);
		assert_true(r.done);
		assert_int_equal(r.flags, 0);
		assert_int_equal(r.size, 0);
		assert_int_equal(r.n_fields, 0);
		assert_int_equal(r.body_len, 0);
		assert_true(r.in_memory);
	}
	/* exactly the marker, nothing after it */
	scan_once(f, &data_raw, ".\r\n", 3, &r);
	assert_int_equal(r.used, 3);
	assert_true(r.done);
	/* the marker must be complete: without its LF DATA goes on */
	scan_once(f, &data_raw, ".\r", 2, &r);
	assert_int_equal(r.used, 2);
	assert_false(r.done);
}

/* test_pipelined_rest - every byte after the marker is the next
 * command's, however the pieces fall */
static void
test_pipelined_rest(void **state)
{
	static const char in[] =
	    "A: 1\r\n\r\nx\r\n.\r\n.\r\nRSET\r\n.\r\n";
	struct fix *f = *state;
	struct result r;

	every_split(f, &data_raw, in, sizeof(in) - 1, "pipelined", &r);
	assert_int_equal(r.used, strlen("A: 1\r\n\r\nx\r\n.\r\n"));
	check_bytes(f, "body", r.body, r.body_len, "x\r\n", 3);
	assert_true(r.done);
}

/* --- every split point ---------------------------------------------------- */

/* a message with stuffed dots, folds, CR LF everywhere, the marker and
 * the next command */
static const char rich[] =
    "Subject: split\r\n"
    "\tfolded\r\n"
    "..Dotted: yes\r\n"
    "X-Empty:\r\n"
    "\r\n"
    "..stuffed\r\n"
    ".x\r\n"
    "..\r\n"
    "...\r\n"
    "a.b\r\n"
    "\r\n"
    ". \r\n"
    "last\r\n"
    ".\r\n"
    "QUIT\r\n";

/* test_every_split_data - the rich message in every cut, as DATA */
static void
test_every_split_data(void **state)
{
	static const char fields[] =
	    "Subject: split\r\n\tfolded\r\n"
	    ".Dotted: yes\r\n"
	    "X-Empty:\r\n";
	static const char body[] =
	    ".stuffed\r\n"
	    "x\r\n"
	    ".\r\n"
	    "..\r\n"
	    "a.b\r\n"
	    "\r\n"
	    " \r\n"
	    "last\r\n";
	struct fix *f = *state;
	const struct opts *modes[] = { &data_raw, &data_norm };
	struct result r;
	size_t i;

	for (i = 0; i < 2; i++) {
		every_split(f, modes[i], rich, sizeof(rich) - 1, "rich", &r);
		check_bytes(f, "fields", r.fields, r.fields_len, fields,
		    sizeof(fields) - 1);
		assert_int_equal(r.n_fields, 3);
		check_bytes(f, "body", r.body, r.body_len, body,
		    sizeof(body) - 1);
		assert_int_equal(r.flags, 0);
		assert_true(r.done);
		assert_int_equal(r.used, sizeof(rich) - 1 - strlen("QUIT\r\n"));
		/* fields + the empty line + body: what was stored */
		assert_int_equal(r.size, sizeof(fields) - 1 + 2 +
		    sizeof(body) - 1);
	}
}

/* test_every_split_bdat - the same bytes as BDAT: nothing unstuffed,
 * nothing ends, everything taken */
static void
test_every_split_bdat(void **state)
{
	static const char fields[] =
	    "Subject: split\r\n\tfolded\r\n"
	    "..Dotted: yes\r\n"
	    "X-Empty:\r\n";
	struct fix *f = *state;
	const char *body = strstr(rich, "\r\n\r\n") + 4;
	size_t body_len = sizeof(rich) - 1 - (size_t)(body - rich);
	const struct opts *modes[] = { &bdat_raw, &bdat_norm };
	struct result r;
	size_t i;

	for (i = 0; i < 2; i++) {
		every_split(f, modes[i], rich, sizeof(rich) - 1, "rich bdat",
		    &r);
		check_bytes(f, "fields", r.fields, r.fields_len, fields,
		    sizeof(fields) - 1);
		check_bytes(f, "body", r.body, r.body_len, body, body_len);
		assert_int_equal(r.flags, 0);
		assert_false(r.done);
		assert_int_equal(r.used, sizeof(rich) - 1);
		assert_int_equal(r.size, sizeof(rich) - 1);
	}
}

/* test_every_split_bare - bare line ends next to dots and the marker,
 * at every cut, in all four modes (a CR LF split over two pieces is one
 * line end, a CR at the end of one piece is not yet bare) */
static void
test_every_split_bare(void **state)
{
	static const char in[] =
	    "A: 1\r\r\nB: 2\n\r\n.x\r\r\n.\r\r\n.\n\r.\r\n\r\r\n.\r.\r\n"
	    "end\r";
	struct fix *f = *state;
	const struct opts *modes[] = { &data_raw, &data_norm, &bdat_raw,
		&bdat_norm };
	struct result r;
	size_t i;

	for (i = 0; i < 4; i++) {
		every_split(f, modes[i], in, sizeof(in) - 1, "bare", &r);
		assert_int_equal(r.flags, CR | LF);
		assert_false(r.done);
		assert_int_equal(r.used, sizeof(in) - 1);
	}
}

/* --- dot-unstuffing and BDAT ---------------------------------------------- */

static const struct expect dots[] = {
	{ .name = "..x", BYTES(in, HDR "..x\r\n.\r\n"),
	  BYTES(fields, HDR_F), BYTES(body, ".x\r\n"), .size = 14 + 4,
	  .done = true, .used = 14 + 8 },
	{ .name = ".x", BYTES(in, HDR ".x\r\n.\r\n"),
	  BYTES(fields, HDR_F), BYTES(body, "x\r\n"), .size = 14 + 3,
	  .done = true, .used = 14 + 7 },
	{ .name = "..", BYTES(in, HDR "..\r\n.\r\n"),
	  BYTES(fields, HDR_F), BYTES(body, ".\r\n"), .size = 14 + 3,
	  .done = true, .used = 14 + 7 },
	{ .name = "....", BYTES(in, HDR "....\r\n.\r\n"),
	  BYTES(fields, HDR_F), BYTES(body, "...\r\n"), .size = 14 + 5,
	  .done = true, .used = 14 + 9 },
	{ .name = ". and text", BYTES(in, HDR ". x\r\n.\r\n"),
	  BYTES(fields, HDR_F), BYTES(body, " x\r\n"), .size = 14 + 4,
	  .done = true, .used = 14 + 8 },
	{ .name = "dot inside a line", BYTES(in, HDR "a.\r\na..b\r\n.\r\n"),
	  BYTES(fields, HDR_F), BYTES(body, "a.\r\na..b\r\n"),
	  .size = 14 + 10, .done = true, .used = 14 + 13 },
	{ .name = "stuffed field", BYTES(in, ".Subject: s\r\n\r\nb\r\n.\r\n"),
	  BYTES(fields, HDR_F), BYTES(body, "b\r\n"), .size = 14 + 3,
	  .done = true, .used = 15 + 3 + 3 },
	{ .name = "stuffed fold", BYTES(in, "A: 1\r\n. 2\r\n\r\n.\r\n"),
	  BYTES(fields, "A: 1\r\n 2\r\n"), BYTES(body, ""), .size = 12,
	  .done = true, .used = 16 },
	{ 0 },
};

/* test_dot_unstuffing - DATA drops one leading dot of every line */
static void
test_dot_unstuffing(void **state)
{
	const struct expect *e;

	for (e = dots; e->name != NULL; e++)
		check_expect(*state, &data_raw, e, "DATA");
}

static const struct expect bdats[] = {
	{ .name = "dots stay", BYTES(in, HDR "..x\r\n.\r\n.x\r\n"),
	  BYTES(fields, HDR_F), BYTES(body, "..x\r\n.\r\n.x\r\n"),
	  .size = 14 + 12, .used = 14 + 12 },
	{ .name = "marker at start", BYTES(in, ".\r\nA: 1\r\n"),
	  BYTES(fields, ""), BYTES(body, ".\r\nA: 1\r\n"), .size = 9,
	  .used = 9 },
	{ .name = "no final line end", BYTES(in, HDR "body"),
	  BYTES(fields, HDR_F), BYTES(body, "body"), .size = 18,
	  .used = 18 },
	{ .name = "header only, no line end", BYTES(in, "A: 1\r\nB: 2"),
	  BYTES(fields, "A: 1\r\nB: 2\r\n"), BYTES(body, ""), .size = 12,
	  .used = 10 },
	{ .name = "one text line, no line end", BYTES(in, "hello"),
	  BYTES(fields, ""), BYTES(body, "hello\r\n"), .size = 7,
	  .used = 5 },
	{ .name = "one byte after the header", BYTES(in, "A: 1\r\nx"),
	  BYTES(fields, "A: 1\r\n"), BYTES(body, "x\r\n"), .size = 9,
	  .used = 7 },
	{ .name = "empty", BYTES(in, ""), BYTES(fields, ""), BYTES(body, ""),
	  .size = 0, .used = 0 },
	{ 0 },
};

/* test_bdat - BDAT bytes are taken as they are */
static void
test_bdat(void **state)
{
	const struct expect *e;

	for (e = bdats; e->name != NULL; e++)
		check_expect(*state, &bdat_raw, e, "BDAT");
}

/* test_bdat_final_cr - a CR at the very end of BDAT LAST is bare */
static void
test_bdat_final_cr(void **state)
{
	static const struct expect raw = {
		.name = "final CR", BYTES(in, HDR "body\r"),
		BYTES(fields, HDR_F), BYTES(body, "body\r"), .flags = CR,
		.size = 19, .used = 19,
	}, norm = {
		.name = "final CR", BYTES(in, HDR "body\r"),
		BYTES(fields, HDR_F), BYTES(body, "body\r\n"), .flags = CR,
		.size = 20, .used = 19,
	}, header_norm = {
		.name = "final CR in the header", BYTES(in, "A: 1\r"),
		BYTES(fields, "A: 1\r\n"), BYTES(body, ""), .flags = CR,
		.size = 6, .used = 5,
	};

	check_expect(*state, &bdat_raw, &raw, "BDAT as is");
	check_expect(*state, &bdat_norm, &norm, "BDAT normalized");
	check_expect(*state, &bdat_norm, &header_norm, "BDAT normalized");
}

/* --- header and body ------------------------------------------------------ */

static const struct expect splits[] = {
	{ .name = "empty line", BYTES(in, "A: 1\r\nB:2\r\n\r\nbody\r\n.\r\n"),
	  BYTES(fields, "A: 1\r\nB:2\r\n"), BYTES(body, "body\r\n"),
	  .size = 11 + 2 + 6, .done = true, .used = 11 + 2 + 6 + 3 },
	{ .name = "non-field line",
	  BYTES(in, "A: 1\r\nnot a field\r\nB: 2\r\n\r\nx\r\n.\r\n"),
	  BYTES(fields, "A: 1\r\n"),
	  BYTES(body, "not a field\r\nB: 2\r\n\r\nx\r\n"), .size = 6 + 24,
	  .done = true, .used = 6 + 24 + 3 },
	{ .name = "space before the colon",
	  BYTES(in, "A: 1\r\nB : 2\r\n.\r\n"), BYTES(fields, "A: 1\r\n"),
	  BYTES(body, "B : 2\r\n"), .size = 13, .done = true, .used = 16 },
	{ .name = "colon first", BYTES(in, "A: 1\r\n:x\r\n.\r\n"),
	  BYTES(fields, "A: 1\r\n"), BYTES(body, ":x\r\n"), .size = 10,
	  .done = true, .used = 13 },
	{ .name = "mbox From_ line", BYTES(in, "From a@b Mon\r\nA: 1\r\n.\r\n"),
	  BYTES(fields, ""), BYTES(body, "From a@b Mon\r\nA: 1\r\n"),
	  .size = 20, .done = true, .used = 23 },
	{ .name = "8-bit field name", BYTES(in, "A\xc3\xa9: 1\r\n.\r\n"),
	  BYTES(fields, ""), BYTES(body, "A\xc3\xa9: 1\r\n"), .size = 8,
	  .done = true, .used = 11 },
	{ .name = "first line starts with a space",
	  BYTES(in, " x: 1\r\nA: 1\r\n\r\nb\r\n.\r\n"), BYTES(fields, ""),
	  BYTES(body, " x: 1\r\nA: 1\r\n\r\nb\r\n"), .size = 18,
	  .done = true, .used = 21 },
	{ .name = "first line starts with a tab",
	  BYTES(in, "\tx\r\n\r\n.\r\n"), BYTES(fields, ""),
	  BYTES(body, "\tx\r\n\r\n"), .size = 6, .done = true, .used = 9 },
	{ .name = "first line is white space only",
	  BYTES(in, " \r\nA: 1\r\n.\r\n"), BYTES(fields, ""),
	  BYTES(body, " \r\nA: 1\r\n"), .size = 9, .done = true, .used = 12 },
	{ .name = "continuations byte-exact",
	  BYTES(in, "Subject: a\r\n\tb\r\n   c \r\n \r\nX:y\r\n\r\n.\r\n"),
	  BYTES(fields, "Subject: a\r\n\tb\r\n   c \r\n \r\nX:y\r\n"),
	  BYTES(body, ""), .size = 33, .done = true, .used = 36 },
	{ .name = "header without body",
	  BYTES(in, "A: 1\r\nB: 2\r\n.\r\n"),
	  BYTES(fields, "A: 1\r\nB: 2\r\n"), BYTES(body, ""), .size = 12,
	  .done = true, .used = 15 },
	{ .name = "header, empty line, no body",
	  BYTES(in, "A: 1\r\n\r\n.\r\n"), BYTES(fields, "A: 1\r\n"),
	  BYTES(body, ""), .size = 8, .done = true, .used = 11 },
	{ .name = "no header", BYTES(in, "\r\nbody\r\n.\r\n"),
	  BYTES(fields, ""), BYTES(body, "body\r\n"), .size = 8,
	  .done = true, .used = 11 },
	{ .name = "empty value", BYTES(in, "A:\r\n\r\n.\r\n"),
	  BYTES(fields, "A:\r\n"), BYTES(body, ""), .size = 6, .done = true,
	  .used = 9 },
	{ .name = "NUL in a value", BYTES(in, "A: x\0y\r\n\r\n.\r\n"),
	  BYTES(fields, "A: x y\r\n"), BYTES(body, ""), .size = 10,
	  .done = true, .used = 13 },
	{ .name = "NUL in a name", BYTES(in, "A\0: x\r\n\r\n.\r\n"),
	  BYTES(fields, ""), BYTES(body, "A\0: x\r\n\r\n"), .size = 9,
	  .done = true, .used = 12 },
	{ .name = "8-bit value", BYTES(in, "S: \xe2\x82\xac\r\n\r\n.\r\n"),
	  BYTES(fields, "S: \xe2\x82\xac\r\n"), BYTES(body, ""), .size = 10,
	  .done = true, .used = 13 },
	{ 0 },
};

/* test_header_body - where the header ends and what each part holds */
static void
test_header_body(void **state)
{
	const struct expect *e;

	for (e = splits; e->name != NULL; e++) {
		check_expect(*state, &data_raw, e, "DATA as is");
		check_expect(*state, &data_norm, e, "DATA normalized");
	}
}

/*
 * test_header_bare - a bare line end in the header: normalized, the
 * header is parsed as CR LF lines; stored as is, the message will be
 * refused, so the header is not parsed at all (it could not be), and
 * nothing crashes
 */
static void
test_header_bare(void **state)
{
	static const struct expect norm = {
		.name = "bare LF fold", BYTES(in, "A: 1\n\tb\r\nB: 2\r\r\n"
		    "\nbody\r\n.\r\n"),
		BYTES(fields, "A: 1\r\n\tb\r\nB: 2\r\n"),
		BYTES(body, "\r\nbody\r\n"), .flags = LF | CR, .size = 26,
		.done = true, .used = 26,
	}, raw = {
		.name = "bare LF fold", BYTES(in, "A: 1\n\tb\r\nB: 2\r\r\n"
		    "\nbody\r\n.\r\n"),
		BYTES(fields, ""), BYTES(body, "body\r\n"), .flags = LF | CR,
		.size = 23, .done = true, .used = 26,
	}, raw_end = {
		.name = "bare LF, no body", BYTES(in, "A: 1\nB: 2\r\n.\r\n"),
		BYTES(fields, ""), BYTES(body, ""), .flags = LF,
		.size = 11, .done = true, .used = 14,
	};

	check_expect(*state, &data_norm, &norm, "normalized");
	check_expect(*state, &data_raw, &raw, "as is");
	check_expect(*state, &data_raw, &raw_end, "as is");
}

/* --- limits --------------------------------------------------------------- */

/* lines - n lines "0123456789\r\n" after header h, then the marker */
static char *
lines(struct fix *f, const char *h, size_t n, size_t *len_r)
{
	struct buf b = { 0 };
	char *r;
	size_t i;

	buf_puts(&b, h);
	for (i = 0; i < n; i++)
		buf_puts(&b, "0123456789\r\n");
	buf_puts(&b, ".\r\n" NEXT);
	*len_r = b.len;
	r = arena_memdup(f->a, b.data, b.len);
	buf_free(&b);
	return r;
}

/*
 * test_too_big - past max_size storing stops, the size goes on counting
 * and the end marker is still found; what was stored is a prefix no
 * longer than the limit; at the limit exactly all is kept
 */
static void
test_too_big(void **state)
{
	struct fix *f = *state;
	struct opts o = data_raw;
	struct result r, all;
	size_t len, cuts[] = { 0, 1, 7, 50, 51 }, i;
	char *in = lines(f, "A: 1\r\n\r\n", 10, &len);
	static const char *const full_body =
	    "0123456789\r\n0123456789\r\n0123456789\r\n0123456789\r\n"
	    "0123456789\r\n0123456789\r\n0123456789\r\n0123456789\r\n"
	    "0123456789\r\n0123456789\r\n";

	scan_once(f, &o, in, len, &all);
	assert_int_equal(all.flags, 0);
	assert_int_equal(all.size, 128);
	o.max_size = 128;
	scan_once(f, &o, in, len, &r);
	assert_int_equal(r.flags, 0);
	check_bytes(f, "body at the limit", r.body, r.body_len, full_body,
	    120);
	o.max_size = 50;
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		scan(f, &o, in, len, cuts[i], 1 + i, &r);
		assert_int_equal(r.flags, BIG);
		assert_int_equal(r.size, 128);
		assert_true(r.done);
		assert_int_equal(r.used, len - strlen(NEXT));
		check_bytes(f, "fields", r.fields, r.fields_len, "A: 1\r\n", 6);
		assert_true(8 + r.body_len <= 50);
		assert_memory_equal(r.body, full_body, r.body_len);
	}
	/* over the limit already in the header: nothing is kept */
	o.max_size = 5;
	scan_once(f, &o, in, len, &r);
	assert_int_equal(r.flags, BIG);
	assert_int_equal(r.size, 128);
	assert_int_equal(r.n_fields, 0);
	assert_int_equal(r.body_len, 0);
	assert_true(r.done);
	assert_int_equal(r.used, len - strlen(NEXT));
	/* stuffing dots do not count */
	o.max_size = 14 + 4;
	scan_once(f, &o, HDR "..x\r\n.\r\n", 14 + 8, &r);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.size, 18);
	/* BDAT: everything is read all the same */
	o = bdat_raw;
	o.max_size = 50;
	scan(f, &o, in, len, 3, 5, &r);
	assert_int_equal(r.flags, BIG);
	assert_int_equal(r.used, len);
	assert_int_equal(r.size, len);
}

/*
 * test_header_too_big - a header block over max_header: storing stops,
 * the end marker is still found, the scanner never holds more than the
 * limit and one line
 */
static void
test_header_too_big(void **state)
{
	struct fix *f = *state;
	struct opts o = data_raw;
	struct buf b = { 0 };
	struct result r;
	size_t len, i;
	char *in = lines(f, "A: 1\r\nB: 0123456789012345678901234567890\r\n"
	    "\r\n", 3, &len);

	o.max_header = 20;
	for (i = 1; i <= 3; i++) {
		scan(f, &o, in, len, i, i, &r);
		assert_int_equal(r.flags, HBIG);
		assert_int_equal(r.n_fields, 0);
		assert_int_equal(r.body_len, 0);
		assert_int_equal(r.size, 6 + 36 + 2 + 36);
		assert_true(r.done);
		assert_int_equal(r.used, len - strlen(NEXT));
		/* the limit plus one line's slack (DS_LINE_SLACK) */
		assert_true(r.header_len <= 20 + 65536);
	}
	/* room for the block and its empty line: kept; not even for the
	 * block: refused (whether the empty line counts is left open) */
	o.max_header = 6 + 36 + 2;
	scan_once(f, &o, in, len, &r);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.n_fields, 2);
	assert_int_equal(r.body_len, 36);
	o.max_header = 6 + 36 - 1;
	scan_once(f, &o, in, len, &r);
	assert_int_equal(r.flags, HBIG);
	assert_int_equal(r.n_fields, 0);
	/* a header that never ends (no empty line, BDAT) */
	o = bdat_raw;
	o.max_header = 1 * KIB;
	for (i = 0; i < 200; i++)
		buf_printf(&b, "X-%03zu: 0123456789\r\n", i);
	scan(f, &o, b.data, b.len, 100, 100, &r);
	assert_int_equal(r.flags, HBIG);
	assert_int_equal(r.used, b.len);
	assert_int_equal(r.size, b.len);
	assert_int_equal(r.n_fields, 0);
	assert_true(r.header_len <= 1 * KIB + 65536);
	buf_free(&b);
	/* a first line that is no field is body, whatever its length:
	 * the header limit does not count it */
	o = data_raw;
	o.max_header = 20;
	in = lines(f, "this is no header field, just a long first body "
	    "line\r\n", 1, &len);
	scan_once(f, &o, in, len, &r);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.n_fields, 0);
	assert_int_equal(r.body_len, 54 + 12);
}

/*
 * test_big_body_spooled - 5 MiB in 1 KiB pieces with 64 KiB of spool
 * memory: the body goes to an (unlinked) file, every byte comes back,
 * and the scanner holds no more than the header
 */
static void
test_big_body_spooled(void **state)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyz";
	static const char ABC[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	struct fix *f = *state;
	struct opts o = data_raw;
	struct buf in = { 0 }, want = { 0 };
	struct result r;
	size_t i = 0;

	buf_puts(&in, "Subject: big\r\n\r\n");
	while (want.len < 5 * MIB) {
		/* every 7th line starts with a stuffed dot */
		if (i % 7 == 0) {
			buf_printf(&in, "..%08zu %s\r\n", i, abc);
			buf_printf(&want, ".%08zu %s\r\n", i, abc);
		} else {
			buf_printf(&in, "%08zu %s\r\n", i, ABC);
			buf_printf(&want, "%08zu %s\r\n", i, ABC);
		}
		i++;
	}
	buf_puts(&in, ".\r\n");
	o.spool_memory = 64 * KIB;
	scan(f, &o, in.data, in.len, 1 * KIB, 1 * KIB, &r);
	assert_int_equal(r.flags, 0);
	assert_true(r.done);
	assert_int_equal(r.used, in.len);
	assert_false(r.in_memory);
	assert_int_equal(r.size, 16 + want.len);
	assert_true(r.header_len <= 16);
	check_bytes(f, "fields", r.fields, r.fields_len, "Subject: big\r\n",
	    14);
	assert_int_equal(r.body_len, want.len);
	assert_memory_equal(r.body, want.data, want.len);
	/* unlinked at once: nothing in the directory even now */
	assert_int_equal(testutil_count_entries(f->dir), 0);
	buf_free(&in);
	buf_free(&want);
}

/*
 * test_spool_error - the spool's file system is full (a 64 KiB tmpfs):
 * DATA_SCAN_SPOOL_ERROR with the spool's reason, scanning goes on to
 * the end marker, the next command is left alone
 */
static void
test_spool_error(void **state)
{
	struct fix *f = *state;
	char *mnt = arena_printf(f->a, "%s/full", f->dir), *in;
	struct opts o = data_raw;
	struct result r;
	size_t len;

	if (geteuid() != 0) {
		fprintf(stderr, "# test_spool_error needs root (to mount a "
		    "tmpfs); skipped\n");
		skip();
	}
	/* a private mount namespace: nothing stays mounted if this dies;
	 * "none": valgrind wants strings even where the kernel ignores them */
	if (unshare(CLONE_NEWNS) == 0)
		assert_int_equal(mount("none", "/", "none",
		    MS_REC | MS_PRIVATE, NULL), 0);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k,mode=0700") < 0)
		fail_msg("mount a tmpfs on %s: %s", mnt, strerror(errno));
	f->mounted = mnt;
	in = lines(f, "A: 1\r\n\r\n", 20000, &len);
	o.temp_dir = mnt;
	o.spool_memory = 4 * KIB;
	scan(f, &o, in, len, 1000, 1000, &r);
	assert_int_equal(r.flags, SPOOL);
	assert_true(r.done);
	assert_int_equal(r.used, len - strlen(NEXT));
	assert_int_equal(r.size, 8 + 20000 * 12);
	assert_string_equal(r.spool_why, arena_printf(f->a, "write %s: %s",
	    mnt, strerror(ENOSPC)));
	/* the header was taken before the disk filled up */
	check_bytes(f, "fields", r.fields, r.fields_len, "A: 1\r\n", 6);
	/* the spool let go of its file: the space is free again */
	assert_int_equal(testutil_count_entries(mnt), 0);
	o.temp_dir = NULL;
	scan(f, &o, in, len, len, len, &r);
	assert_int_equal(r.flags, 0);
	assert_string_equal(r.spool_why, "");
	assert_int_equal(umount(mnt), 0);
	f->mounted = NULL;
	assert_int_equal(rmdir(mnt), 0);
}

/* main - the tests, each with a fresh temp directory */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_smuggling_raw, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_smuggling_normalized,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_smuggling_second_message,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_at_start, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_rest, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_every_split_data, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_every_split_bdat, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_every_split_bare, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dot_unstuffing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bdat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bdat_final_cr, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_header_body, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_header_bare, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_too_big, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_big_body_spooled, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_spool_error, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
