/*
 * test_msgspool.c - the message collected across HEADER, EOH and BODY
 *
 * A message goes in as an MTA hands it to the stages: each header field
 * as name and raw value (as after the colon, folds as bare LF), the end
 * of the header, the body in chunks (fake_txn's hdr_raw, body). What was
 * kept is read back with spool_read and compared byte for byte.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "fake_txn.h"
#include "log.h"
#include "msgspool.h"
#include "policy.h"
#include "spool.h"
#include "table.h"
#include "testutil.h"

static char dir[256];
static struct arena *arena;
static struct txn txn;
static struct msgspool ms;
static struct msgspool_limits limits;

/* setup - a temp directory, a message arena, a zeroed msgspool */
static int
setup(void **state)
{
	(void)state;
	if (testutil_setup(dir, sizeof(dir), "test_msgspool", &arena) < 0)
		return -1;
	memset(&txn, 0, sizeof(txn));
	txn.msg_arena = arena_create();
	memset(&ms, 0, sizeof(ms));
	limits = (struct msgspool_limits){
		.dir = dir, .mem_limit = 1024, .max_size = 0,
	};
	return 0;
}

/* teardown - the message arena (its cleanup frees any spool) first */
static int
teardown(void **state)
{
	(void)state;
	fake_txn_clear(&txn);
	return testutil_teardown(dir, &arena);
}

/* header - one HEADER stage: name and the raw value */
static void
header(const char *name, const char *raw)
{
	txn.hdr_name = name;
	txn.hdr_raw = raw;
	msgspool_header(&ms, &limits, &txn);
	txn.hdr_name = NULL;
	txn.hdr_raw = NULL;
}

/* body - one BODY stage with len bytes */
static void
body(const void *data, size_t len)
{
	txn.body = data;
	txn.body_len = len;
	msgspool_body(&ms, &limits, &txn);
	txn.body = NULL;
	txn.body_len = 0;
}

/* kept - everything the spool holds (NUL-terminated, in the test arena) */
static char *
kept(size_t *len_r)
{
	struct spool *sp = msgspool_spool(&ms);
	struct buf b = { 0 };
	char chunk[777];
	uint64_t off = 0;
	ssize_t n;
	char *r;

	assert_non_null(sp);
	while ((n = spool_read(sp, off, chunk, sizeof(chunk))) > 0) {
		buf_append(&b, chunk, (size_t)n);
		off += (uint64_t)n;
	}
	assert_int_equal(n, 0);
	assert_int_equal(b.len, spool_size(sp));
	r = arena_memdup(arena, b.data != NULL ? b.data : "", b.len + 1);
	*len_r = b.len;
	buf_free(&b);
	return r;
}

/* fd_open - whether descriptor fd is open */
static bool
fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

/* test_empty - a zeroed msgspool holds nothing and is not broken */
static void
test_empty(void **state)
{
	(void)state;
	assert_null(msgspool_spool(&ms));
	assert_false(msgspool_oversize(&ms));
	assert_null(msgspool_broken(&ms));
	assert_int_equal(ms.size, 0);
	msgspool_release(&ms);
	msgspool_release(&ms);
	assert_null(msgspool_spool(&ms));
	/* an empty body chunk is nothing */
	body("", 0);
	assert_null(msgspool_spool(&ms));
}

/* test_message - the message as it was received, byte for byte */
static void
test_message(void **state)
{
	static const char want[] =
	    "From: Alice <alice@example.org>\r\n"
	    "Subject:no space\r\n"
	    "X-Folded:  two spaces\r\n\tand a fold\r\n  and another\r\n"
	    "X-CRLF: already\r\n folded\r\n"
	    "X-Empty:\r\n"
	    "X-Tab:\ttab \r\n"
	    "\r\n"
	    "Hello,\r\n\r\nbody \x01 bytes \xff\r\n";
	const char *b = strstr(want, "Hello,");
	size_t len;
	char *got;

	(void)state;
	header("From", " Alice <alice@example.org>");
	assert_non_null(msgspool_spool(&ms));
	header("Subject", "no space");
	header("X-Folded", "  two spaces\n\tand a fold\n  and another");
	header("X-CRLF", " already\r\n folded");
	header("X-Empty", "");
	header("X-Tab", "\ttab ");
	msgspool_eoh(&ms, &limits, &txn);
	body(b, 3);
	body(b + 3, strlen(b) - 3);
	got = kept(&len);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	assert_int_equal(ms.size, strlen(want));
	assert_true(spool_in_memory(msgspool_spool(&ms)));
	assert_false(msgspool_oversize(&ms));
	assert_null(msgspool_broken(&ms));

	msgspool_release(&ms);
	assert_null(msgspool_spool(&ms));
	msgspool_release(&ms);
}

/* test_no_raw - a header the MTA gave no value for is "Name:" */
static void
test_no_raw(void **state)
{
	size_t len;
	char *got;

	(void)state;
	header("X-Nothing", NULL);
	msgspool_eoh(&ms, &limits, &txn);
	got = kept(&len);
	assert_string_equal(got, "X-Nothing:\r\n\r\n");
}

/* test_file - past mem_limit the message goes to a file, whole; the
 * message arena's cleanup closes it */
static void
test_file(void **state)
{
	char *line = arena_alloc(arena, 1001), *got, *want;
	struct buf all = { 0 };
	size_t len;
	int i, fd;

	(void)state;
	memset(line, 'z', 998);
	memcpy(line + 998, "\r\n", 3);
	header("Subject", " big");
	msgspool_eoh(&ms, &limits, &txn);
	buf_puts(&all, "Subject: big\r\n\r\n");
	for (i = 0; i < 20; i++) {
		body(line, 1000);
		buf_append(&all, line, 1000);
	}
	assert_false(spool_in_memory(msgspool_spool(&ms)));
	got = kept(&len);
	want = arena_memdup(arena, all.data, all.len);
	assert_int_equal(len, all.len);
	assert_memory_equal(got, want, len);
	buf_free(&all);

	fd = spool_fd(msgspool_spool(&ms));
	assert_true(fd >= 0 && fd_open(fd));
	/* the connection goes away between stages */
	arena_destroy(&txn.msg_arena);
	assert_false(fd_open(fd));
}

/* test_release_closes - msgspool_release closes the file at once */
static void
test_release_closes(void **state)
{
	char *chunk = arena_alloc(arena, 4096);
	int fd;

	(void)state;
	memset(chunk, 'q', 4096);
	msgspool_eoh(&ms, &limits, &txn);
	body(chunk, 4096);
	fd = spool_fd(msgspool_spool(&ms));
	assert_true(fd >= 0 && fd_open(fd));
	msgspool_release(&ms);
	assert_false(fd_open(fd));
}

/* test_max_size - max_size bytes are kept, one more is oversize: the
 * spool goes at once, the size is still counted */
static void
test_max_size(void **state)
{
	static const char head[] = "Subject: x\r\n\r\n";
	char chunk[100];
	size_t len;

	(void)state;
	memset(chunk, 'b', sizeof(chunk));
	limits.max_size = strlen(head) + 200;
	header("Subject", " x");
	msgspool_eoh(&ms, &limits, &txn);
	body(chunk, 100);
	body(chunk, 100);
	assert_false(msgspool_oversize(&ms));
	kept(&len);
	assert_int_equal(len, limits.max_size);

	body(chunk, 1);
	assert_true(msgspool_oversize(&ms));
	assert_null(msgspool_spool(&ms));
	assert_null(msgspool_broken(&ms));
	assert_int_equal(ms.size, limits.max_size + 1);
	body(chunk, 100);
	assert_int_equal(ms.size, limits.max_size + 101);
	assert_true(msgspool_oversize(&ms));
	msgspool_release(&ms);
	assert_true(msgspool_oversize(&ms));
}

/* test_max_size_spooled - oversize after the file was made closes it */
static void
test_max_size_spooled(void **state)
{
	char *chunk = arena_alloc(arena, 3000);
	int fd;

	(void)state;
	memset(chunk, 'c', 3000);
	limits.max_size = 5000;
	msgspool_eoh(&ms, &limits, &txn);
	body(chunk, 3000);
	fd = spool_fd(msgspool_spool(&ms));
	assert_true(fd >= 0 && fd_open(fd));
	body(chunk, 3000);
	assert_true(msgspool_oversize(&ms));
	assert_false(fd_open(fd));
	assert_int_equal(ms.size, 6002);
}

/* test_broken - a spool that cannot be written is let go and says why;
 * nothing after it is kept, and it is never oversize instead */
static void
test_broken(void **state)
{
	char *gone = arena_printf(arena, "%s/gone", dir);
	char *chunk = arena_alloc(arena, 2000);

	(void)state;
	memset(chunk, 'd', 2000);
	assert_int_equal(mkdir(gone, 0700), 0);
	limits.dir = gone;
	limits.max_size = 3000;
	header("Subject", " lost");
	assert_int_equal(rmdir(gone), 0);
	msgspool_eoh(&ms, &limits, &txn);
	assert_null(msgspool_broken(&ms));
	body(chunk, 2000);
	assert_non_null(msgspool_broken(&ms));
	assert_string_equal(msgspool_broken(&ms), arena_printf(arena,
	    "create temporary file in %s: No such file or directory", gone));
	assert_null(msgspool_spool(&ms));
	body(chunk, 2000);
	assert_false(msgspool_oversize(&ms));
	assert_null(msgspool_spool(&ms));
	assert_non_null(msgspool_broken(&ms));
	msgspool_release(&ms);
	assert_non_null(msgspool_broken(&ms));
}

/* test_exempt - the skip_* settings: which applies, and a failed
 * mynetworks lookup that never reads as "not listed" */
static void
test_exempt(void **state)
{
	static const struct {
		const char *auth;
		enum table_result mynetworks;
		bool skip_auth, skip_mynet;
		const char *want;
		bool failed;
	} cases[] = {
		{ NULL, TABLE_NOTFOUND, true, true, NULL, false },
		{ "alice", TABLE_NOTFOUND, true, true, "skip_authenticated",
		  false },
		{ "alice", TABLE_FOUND, true, true, "skip_authenticated",
		  false },
		{ "alice", TABLE_ERROR, true, true, "skip_authenticated",
		  false },
		{ "alice", TABLE_FOUND, false, true, "skip_mynetworks",
		  false },
		{ NULL, TABLE_FOUND, true, true, "skip_mynetworks", false },
		{ NULL, TABLE_FOUND, true, false, NULL, false },
		{ "alice", TABLE_FOUND, false, false, NULL, false },
		{ NULL, TABLE_ERROR, true, true, NULL, true },
		{ "alice", TABLE_ERROR, false, true, NULL, true },
		{ NULL, TABLE_ERROR, true, false, NULL, false },
	};
	const char *skip;
	bool failed;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		txn.auth = cases[i].auth;
		txn.mynetworks = cases[i].mynetworks;
		failed = !cases[i].failed;
		skip = msgspool_exempt(&txn, cases[i].skip_auth,
		    cases[i].skip_mynet, "test", &failed);
		if (cases[i].want == NULL)
			assert_null(skip);
		else
			assert_string_equal(skip, cases[i].want);
		if (failed != cases[i].failed)
			fail_msg("case %zu: failed is %d", i, failed);
	}
	txn.auth = NULL;
	txn.mynetworks = TABLE_NOTFOUND;
}

/* after_release - bytes after msgspool_release are a bug */
static void
after_release(void)
{
	msgspool_eoh(&ms, &limits, &txn);
	msgspool_release(&ms);
	body("late", 4);
}

/* test_after_release - and they panic */
static void
test_after_release(void **state)
{
	(void)state;
	testutil_expect_abort(after_release);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_closes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_max_size, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_max_size_spooled, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_broken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exempt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_after_release, setup,
		    teardown),
	};

	log_init("test_msgspool", true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
