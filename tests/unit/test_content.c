/*
 * test_content.c - the content module: header_checks and body_checks on
 * real regexp:/pcre: tables written into a temp directory, with messages
 * handed over stage by stage as filterd does (fake_txn.c), the body in
 * chunks through the real MIME reader
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "content.h"
#include "fake_txn.h"
#include "testutil.h"

static char g_dir[256];

/* group_setup - the temp directory and the tables */
static int
group_setup(void **state)
{
	struct arena *a = arena_create();

	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/test_content.XXXXXX");
	if (mkdtemp(g_dir) == NULL)
		return -1;
	testutil_put(a, g_dir, "header_checks",
	    "# actions, one per pattern\n"
	    "/^Subject: reject me/\tREJECT no thanks\n"
	    "/^Subject: reject code/\tREJECT 5.7.0 custom status\n"
	    "/^Subject: defer me/\tDEFER\n"
	    "/^Subject: discard me/\tDISCARD\n"
	    "/^Subject: hold me/\tHOLD held for review\n"
	    "/^Subject: warn me/\tWARN looked odd\n"
	    "/^Subject: score me/\tSCORE 2.5 a bit spammy\n"
	    "/^X-Drop:/\tIGNORE\n"
	    "/^X-Mark: (.*)/\tPREPEND X-Marked: $1\n"
	    "/^X-Old: (.*)/\tREPLACE X-New: $1\n"
	    "/^Subject: dunno/\tDUNNO\n"
	    "/^Subject: folded start.*folded end$/\tREJECT folded matched\n"
	    "/^Subject: bogus/\tFROB the knob\n"
	    "/^Content-Disposition: attachment; filename=\"?.*\\.exe/\t"
	    "REJECT executable attachment\n"
	    "/^Subject: prepend bad/\tPREPEND not a header line\n");
	testutil_put(a, g_dir, "body_checks",
	    "/forbidden phrase/\tREJECT body says no\n"
	    "/decoded secret/\tREJECT found in base64\n"
	    "/late marker/\tREJECT past the limit\n"
	    "/scored line/\tSCORE 1.5\n"
	    "/prepend from body/\tPREPEND X-Body-Hit: yes\n");
	testutil_put(a, g_dir, "hash_table", "a b\n");
	arena_destroy(&a);
	return 0;
}

/* group_teardown - remove the temp directory */
static int
group_teardown(void **state)
{
	(void)state;
	testutil_rmtree(g_dir);
	return 0;
}

/* load - the module with header_checks and body_checks (extra settings
 * appended) */
static void
load(struct fake_module *m, const char *extra)
{
	char *text, *err = NULL;
	struct buf b = { 0 };

	buf_printf(&b, "[content]\nheader_checks = regexp:%s/header_checks\n"
	    "body_checks = pcre:%s/body_checks\n%s", g_dir, g_dir,
	    extra != NULL ? extra : "");
	text = buf_steal(&b);
	if (!fake_module_load(&content_module, "filterd.conf", text, NULL, m,
	    &err))
		fail_msg("load: %s", err);
	free(text);
}

/* message_begin - a fresh message on txn */
static void
message_begin(struct fake_module *m, struct txn *txn)
{
	fake_txn_clear(txn);
	txn->msg_arena = arena_create();
	txn->qid = "4ABCDEF";
	memset(m->msg, 0, content_module.msg_size);
}

/* header - one header through HEADER; its status */
static enum policy_status
header(struct fake_module *m, struct txn *txn, const char *name,
    const char *value, struct verdict *v)
{
	return fake_module_header(m, txn, name, value, v);
}

/* body - the body in chunks of n bytes, then EOM's verdict */
static enum policy_status
body(struct fake_module *m, struct txn *txn, const char *text, size_t n,
    struct verdict *v)
{
	size_t len = strlen(text), off;
	enum policy_status st;

	for (off = 0; off < len; off += n) {
		txn->body = (const unsigned char *)text + off;
		txn->body_len = len - off < n ? len - off : n;
		st = fake_module_run(m, txn, POLICY_BODY, v);
		if (st != POLICY_DONE)
			return st;
	}
	txn->body = NULL;
	txn->body_len = 0;
	return fake_module_run(m, txn, POLICY_EOM, v);
}

/* test_header_actions - each action word on a Subject */
static void
test_header_actions(void **state)
{
	static const struct {
		const char *subject;
		enum verdict_action action;
		const char *code, *xcode, *text;
		double score;
	} c[] = {
		{ .subject = "reject me now", .action = VERDICT_REJECT,
		  .code = "550", .xcode = "5.7.1", .text = "no thanks" },
		{ .subject = "reject code", .action = VERDICT_REJECT,
		  .code = "550", .xcode = "5.7.0", .text = "custom status" },
		{ .subject = "defer me", .action = VERDICT_DEFER,
		  .code = "450", .xcode = "4.7.1",
		  .text = "Message content deferred, try again later" },
		{ .subject = "discard me", .action = VERDICT_DISCARD },
		{ .subject = "hold me", .action = VERDICT_QUARANTINE,
		  .text = "held for review" },
		{ .subject = "warn me", .action = VERDICT_DUNNO },
		{ .subject = "score me", .action = VERDICT_DUNNO,
		  .score = 2.5 },
		{ .subject = "dunno", .action = VERDICT_DUNNO },
		{ .subject = "nothing matches", .action = VERDICT_DUNNO },
		{ .subject = "bogus action", .action = VERDICT_DUNNO },
	};
	struct fake_module m;
	struct txn txn = { 0 };
	struct verdict v;
	size_t i;

	(void)state;
	load(&m, NULL);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		message_begin(&m, &txn);
		assert_int_equal(header(&m, &txn, "Subject", c[i].subject, &v),
		    POLICY_DONE);
		if (v.action != c[i].action)
			fail_msg("%s: action %d", c[i].subject, (int)v.action);
		if (c[i].code != NULL)
			assert_string_equal(v.code, c[i].code);
		if (c[i].xcode != NULL)
			assert_string_equal(v.xcode, c[i].xcode);
		if (c[i].text != NULL)
			assert_string_equal(v.text, c[i].text);
		assert_true(v.score == c[i].score);
		assert_int_equal(txn.nedits, 0);
	}
	/* a refusal ends the checks: a later header is not looked at */
	message_begin(&m, &txn);
	assert_int_equal(header(&m, &txn, "Subject", "hold me", &v),
	    POLICY_DONE);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
	assert_int_equal(header(&m, &txn, "Subject", "reject me", &v),
	    POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DUNNO);
	fake_txn_clear(&txn);
	fake_module_unload(&m);
}

/* test_header_edits - IGNORE, PREPEND and REPLACE name the positions
 * the core will count, shifted by the edits queued before */
static void
test_header_edits(void **state)
{
	static const struct {
		const char *name, *value;
	} h[] = {
		{ "Received", "from a" },	/* 0 */
		{ "X-Drop", "one" },		/* 1: deleted (X-Drop 1) */
		{ "X-Mark", "red" },		/* 2 → 1: X-Marked before */
		{ "X-Drop", "two" },		/* 3 → 3: X-Drop 1 again */
		{ "X-Old", "value" },		/* 4 → 3: replaced */
		{ "Subject", "prepend bad" },	/* no edit */
	};
	static const char *const want[] = {
		"delete X-Drop 1",
		"insert 1 X-Marked: red",
		"delete X-Drop 1",
		"delete X-Old 1",
		"insert 3 X-New: value",
	};
	struct fake_module m;
	struct txn txn = { 0 };
	struct verdict v;
	size_t i;

	(void)state;
	load(&m, NULL);
	message_begin(&m, &txn);
	for (i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		assert_int_equal(header(&m, &txn, h[i].name, h[i].value, &v),
		    POLICY_DONE);
		assert_int_equal(v.action, VERDICT_DUNNO);
	}
	assert_int_equal(txn.nedits, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < txn.nedits; i++)
		assert_string_equal(txn.edits[i], want[i]);
	fake_txn_clear(&txn);
	fake_module_unload(&m);
}

/* test_folded - a header folded over lines matches as one line */
static void
test_folded(void **state)
{
	struct fake_module m;
	struct txn txn = { 0 };
	struct verdict v;

	(void)state;
	load(&m, NULL);
	message_begin(&m, &txn);
	assert_int_equal(header(&m, &txn, "Subject",
	    "folded start\r\n\tmiddle\n folded end", &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.text, "folded matched");
	fake_txn_clear(&txn);
	fake_module_unload(&m);
}

/* a MIME message: a text part in base64, an attachment whose base64
 * would match if it were not decoded... and a part header */
static const char mime_body[] =
    "--b1\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    /* "hello\r\nthe decoded secret is here\r\n" */
    "aGVsbG8NCnRoZSBkZWNvZGVkIHNlY3JldCBpcyBoZXJlDQo=\r\n"
    "--b1--\r\n";
static const char attach_body[] =
    "--b1\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "nothing to see\r\n"
    "--b1\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    /* "forbidden phrase" encoded: body_checks must not see it */
    "Zm9yYmlkZGVuIHBocmFzZQ==\r\n"
    "forbidden phrase but still base64 noise\r\n"
    "--b1\r\n"
    "Content-Type: application/x-msdownload\r\n"
    "Content-Disposition: attachment;\r\n filename=\"setup.exe\"\r\n"
    "\r\n"
    "TVqQAAMAAAAEAAAA\r\n"
    "--b1--\r\n";

/* test_body - body_checks on decoded text, MIME part headers through
 * header_checks, attachments skipped, chunking irrelevant */
static void
test_body(void **state)
{
	static const size_t chunks[] = { 1, 7, 64, 65536 };
	struct fake_module m;
	struct txn txn = { 0 };
	struct verdict v;
	size_t i;

	(void)state;
	load(&m, NULL);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		/* plain text */
		message_begin(&m, &txn);
		assert_int_equal(body(&m, &txn, "line one\r\na forbidden "
		    "phrase here\r\n", chunks[i], &v), POLICY_DONE);
		assert_int_equal(v.action, VERDICT_REJECT);
		assert_string_equal(v.text, "body says no");
		/* base64 text part, decoded */
		message_begin(&m, &txn);
		assert_int_equal(header(&m, &txn, "Content-Type",
		    "multipart/mixed; boundary=\"b1\"", &v), POLICY_DONE);
		assert_int_equal(body(&m, &txn, mime_body, chunks[i], &v),
		    POLICY_DONE);
		assert_int_equal(v.action, VERDICT_REJECT);
		assert_string_equal(v.text, "found in base64");
		/* the attachment's bytes are not text; its header is
		 * checked (folded) */
		message_begin(&m, &txn);
		assert_int_equal(header(&m, &txn, "Content-Type",
		    "multipart/mixed;\n\tboundary=b1", &v), POLICY_DONE);
		assert_int_equal(body(&m, &txn, attach_body, chunks[i], &v),
		    POLICY_DONE);
		assert_int_equal(v.action, VERDICT_REJECT);
		assert_string_equal(v.text, "executable attachment");
	}
	/* SCORE lines add up; PREPEND from the body goes to the top */
	message_begin(&m, &txn);
	assert_int_equal(body(&m, &txn, "scored line\r\nscored line\r\n"
	    "prepend from body\r\n", 5, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DUNNO);
	assert_true(v.score == 3.0);
	assert_int_equal(txn.nedits, 1);
	assert_string_equal(txn.edits[0], "insert 0 X-Body-Hit: yes");
	/* the last line without a line end counts too */
	message_begin(&m, &txn);
	assert_int_equal(body(&m, &txn, "x\r\nforbidden phrase", 3, &v),
	    POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	fake_txn_clear(&txn);
	fake_module_unload(&m);
}

/* test_size_limit - body_checks stops at body_checks_size_limit; a big
 * body costs nothing past it */
static void
test_size_limit(void **state)
{
	struct fake_module m;
	struct txn txn = { 0 };
	struct verdict v;
	struct buf b = { 0 };
	double start;
	size_t i;

	(void)state;
	load(&m, "body_checks_size_limit = 1k\n");
	/* 22 lines of 44 bytes: the marker starts at 968, inside 1k; two
	 * more put it past */
	for (i = 0; i < 22; i++)
		buf_puts(&b, "filler filler filler filler filler filler\r\n");
	buf_puts(&b, "late marker\r\n");
	message_begin(&m, &txn);
	assert_int_equal(body(&m, &txn, buf_cstr(&b), 100, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	buf_reset(&b);
	for (i = 0; i < 24; i++)
		buf_puts(&b, "filler filler filler filler filler filler\r\n");
	buf_puts(&b, "late marker\r\n");
	message_begin(&m, &txn);
	assert_int_equal(body(&m, &txn, buf_cstr(&b), 100, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DUNNO);
	fake_txn_clear(&txn);	/* the message's cleanups use the state */
	fake_module_unload(&m);

	/* 10 MB with the default limit: quick */
	load(&m, NULL);
	buf_reset(&b);
	while (b.len < 10 * 1024 * 1024)
		buf_puts(&b, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
	buf_puts(&b, "forbidden phrase\r\n");
	message_begin(&m, &txn);
	start = testutil_now();
	assert_int_equal(body(&m, &txn, buf_cstr(&b), 65536, &v),
	    POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DUNNO);
	assert_true(testutil_now() - start < 2.0 * testutil_slack());
	buf_free(&b);
	fake_txn_clear(&txn);
	fake_module_unload(&m);
}

/* test_init_errors - only pattern tables; a missing file; FILE:LINE */
static void
test_init_errors(void **state)
{
	struct fake_module m;
	char *text, *err = NULL;
	struct buf b = { 0 };

	(void)state;
	buf_printf(&b, "[content]\nheader_checks = hash:%s/hash_table\n"
	    "body_checks = regexp:%s/missing\n", g_dir, g_dir);
	text = buf_steal(&b);
	assert_false(fake_module_load(&content_module, "filterd.conf", text,
	    NULL, &m, &err));
	assert_non_null(strstr(err, "filterd.conf:2: header_checks: hash:"));
	assert_non_null(strstr(err, "is not a pattern table (use regexp: "
	    "or pcre:)"));
	assert_non_null(strstr(err, "filterd.conf:3: body_checks: table "
	    "regexp:"));
	free(err);
	free(text);
}

/* main - the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_actions),
		cmocka_unit_test(test_header_edits),
		cmocka_unit_test(test_folded),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_init_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
