/*
 * test_smtp_reply.c - the reply reader: grammar, bounds, status codes,
 * pipelined replies, pending bytes, formatting
 *
 * Every case is fed whole, one byte at a time, and split at every point
 * (draining replies after each feed); each way must give the same
 * transcript: the replies in order, then "ERR why" or the pending count.
 * The large bound cases are fed whole, bytewise and at a few splits.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "log.h"
#include "smtp_reply.h"

static struct arena *arena;

/* setup - a fresh arena per test */
static int
setup(void **state)
{
	(void)state;
	arena = arena_create();
	return 0;
}

/* teardown - release the arena */
static int
teardown(void **state)
{
	(void)state;
	arena_destroy(&arena);
	return 0;
}

/* drain - every complete reply as "code|status|text|lines;" */
static void
drain(struct smtp_reply_reader *r, struct buf *t)
{
	struct smtp_reply rep;

	while (smtp_reply_next(r, arena, &rep) == 1)
		buf_printf(t, "%d|%s|%s|%zu;", rep.code,
		    rep.status != NULL ? rep.status : "-", rep.text,
		    rep.lines);
}

/*
 * transcript - feed in[0..k) as one piece, then the rest in pieces of
 * step bytes (0: one piece), draining after each; a failed feed ends the
 * feeding (and the reader must stay failed)
 */
static char *
transcript(const char *in, size_t len, size_t k, size_t step)
{
	struct smtp_reply_reader *r = smtp_reply_reader_new();
	struct buf t = { 0 };
	const char *why = NULL, *why2 = NULL;
	size_t off = 0, n;
	char *s;

	while (off < len) {
		n = off == 0 && k > 0 ? k : step == 0 ? len - off : step;
		if (n > len - off)
			n = len - off;
		if (!smtp_reply_feed(r, in + off, n, &why))
			break;
		off += n;
		drain(r, &t);
	}
	drain(r, &t);
	if (why != NULL) {
		buf_printf(&t, "ERR %s", why);
		/* dead: more bytes, even good ones, are refused alike */
		assert_false(smtp_reply_feed(r, "250 ok\r\n", 8, &why2));
		assert_string_equal(why2, why);
		drain(r, &t);
	} else {
		buf_printf(&t, "pending=%zu", smtp_reply_pending(r));
	}
	smtp_reply_reader_free(&r);
	assert_null(r);
	s = arena_strdup(arena, buf_cstr(&t));
	buf_free(&t);
	return s;
}

/* check_all - whole, bytewise, and at every split (or only a few) */
static void
check_all(const char *in, size_t len, const char *want, bool every)
{
	const size_t few[] = { 1, 2, 3, 4, 5, 2047, 2048, 2049, 4096,
	    65535, 65536, 65537 };
	size_t k;

	assert_string_equal(transcript(in, len, 0, 0), want);
	assert_string_equal(transcript(in, len, 0, 1), want);
	if (every) {
		for (k = 1; k < len; k++)
			assert_string_equal(transcript(in, len, k, 0), want);
		for (k = 1; k < len; k++)
			assert_string_equal(transcript(in, len, k, 1), want);
		return;
	}
	for (k = 0; k < sizeof(few) / sizeof(few[0]); k++)
		if (few[k] < len)
			assert_string_equal(transcript(in, len, few[k], 0),
			    want);
}

struct reply_case {
	const char *in;
	size_t len;		/* 0: strlen(in) */
	const char *want;
};

#define L(s)	s, sizeof(s) - 1	/* bytes with NULs */

static const struct reply_case reply_cases[] = {
	/* one line, the forms of the last line */
	{ "220 mx.example ESMTP\r\n", 0, "220|-|mx.example ESMTP|1;pending=0" },
	{ "250\r\n", 0, "250|-||1;pending=0" },
	{ "250 \r\n", 0, "250|-||1;pending=0" },
	{ "421 bye  \r\n", 0, "421|-|bye  |1;pending=0" },
	{ "559 x\r\n", 0, "559|-|x|1;pending=0" },
	{ "590 x\r\n", 0, "ERR malformed reply line" },
	{ "200 x\r\n", 0, "200|-|x|1;pending=0" },
	/* multi-line */
	{ "250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n", 0,
	    "250|-|mx.example\nPIPELINING\n8BITMIME|3;pending=0" },
	{ "250-\r\n250 ok\r\n", 0, "250|-|\nok|2;pending=0" },
	{ "250-a\r\n250\r\n", 0, "250|-|a\n|2;pending=0" },
	/* enhanced status codes: split off only on the first line and
	 * only when the class is the code's first digit */
	{ "550 5.1.1 <a@b>: unknown\r\n", 0,
	    "550|5.1.1|<a@b>: unknown|1;pending=0" },
	{ "550 4.1.1 text\r\n", 0, "550|-|4.1.1 text|1;pending=0" },
	{ "250 2.0.0\r\n", 0, "250|2.0.0||1;pending=0" },
	{ "250 2.0.0 \r\n", 0, "250|2.0.0||1;pending=0" },
	{ "451 4.3.0  two spaces\r\n", 0, "451|4.3.0|two spaces|1;pending=0" },
	{ "559 5.999.999 x\r\n", 0, "559|5.999.999|x|1;pending=0" },
	{ "250 2.0.0x\r\n", 0, "250|-|2.0.0x|1;pending=0" },
	{ "250 2.1234.0 x\r\n", 0, "250|-|2.1234.0 x|1;pending=0" },
	{ "250 2..0 x\r\n", 0, "250|-|2..0 x|1;pending=0" },
	{ "250 2.0. x\r\n", 0, "250|-|2.0. x|1;pending=0" },
	{ "250 2.0\r\n", 0, "250|-|2.0|1;pending=0" },
	{ "250-2.0.0 first\r\n250 2.0.0 second\r\n", 0,
	    "250|2.0.0|first\n2.0.0 second|2;pending=0" },
	{ "250-first\r\n250 2.0.0 second\r\n", 0,
	    "250|-|first\n2.0.0 second|2;pending=0" },
	/* text is kept as sent (control bytes other than CR, LF, NUL too;
	 * smtp_reply_format cleans them) */
	{ "250 a\001b\tc\xc3\xa9\r\n", 0,
	    "250|-|a\001b\tc\xc3\xa9|1;pending=0" },
	/* pipelining: several replies in one feed, in order */
	{ "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data\r\n", 0,
	    "250|2.1.0|Ok|1;250|2.1.5|Ok|1;354|-|End data|1;pending=0" },
	{ "250-a\r\n250 b\r\n550-c\r\n550 5.1.1 d\r\n", 0,
	    "250|-|a\nb|2;550|-|c\n5.1.1 d|2;pending=0" },
	/* incomplete: bytes wait */
	{ "250 ok\r\n250 2.1", 0, "250|-|ok|1;pending=7" },
	{ "250-a\r\n", 0, "pending=7" },
	{ "250 a\r", 0, "pending=6" },
	{ "25", 0, "pending=2" },
	/* bad codes */
	{ "2501 x\r\n", 0, "ERR malformed reply line" },
	{ "25 x\r\n", 0, "ERR malformed reply line" },
	{ "25\r\n", 0, "ERR malformed reply line" },
	{ "\r\n", 0, "ERR malformed reply line" },
	{ "abc\r\n", 0, "ERR malformed reply line" },
	{ "199 x\r\n", 0, "ERR malformed reply line" },
	{ "600 x\r\n", 0, "ERR malformed reply line" },
	{ "260 x\r\n", 0, "ERR malformed reply line" },
	{ "25a x\r\n", 0, "ERR malformed reply line" },
	{ "250_x\r\n", 0, "ERR malformed reply line" },
	{ " 250 x\r\n", 0, "ERR malformed reply line" },
	{ "250-a\r\n2501\r\n", 0, "ERR malformed reply line" },
	/* codes that differ between lines: never two replies */
	{ "250-a\r\n251 b\r\n", 0, "ERR reply code differs between lines" },
	{ "250-ok\r\n550 5.7.1 evil\r\n", 0,
	    "ERR reply code differs between lines" },
	{ "250-a\r\n250-b\r\n550-c\r\n", 0,
	    "ERR reply code differs between lines" },
	/* line ends and NUL */
	{ "250 ok\n", 0, "ERR bare LF in reply" },
	{ "\n", 0, "ERR bare LF in reply" },
	{ "250-a\r\n250 b\n\r\n", 0, "ERR bare LF in reply" },
	{ "250 o\rk\r\n", 0, "ERR bare CR in reply" },
	{ "250 ok\r\r\n", 0, "ERR bare CR in reply" },
	{ L("250 a\0b\r\n"), "ERR NUL byte in reply" },
	{ L("\0"), "ERR NUL byte in reply" },
	{ L("250 ok\r\0"), "ERR NUL byte in reply" },
	/* replies complete before the error can still be taken */
	{ "220 hi\r\n250 x\n", 0, "220|-|hi|1;ERR bare LF in reply" },
	{ "250 ok\r\n\r\n", 0, "250|-|ok|1;ERR malformed reply line" },
	{ "421 4.3.2 bye\r\n250-a\r\n251 b\r\n", 0,
	    "421|4.3.2|bye|1;ERR reply code differs between lines" },
	{ 0 },
};

/* test_cases - the table, every way of splitting it */
static void
test_cases(void **state)
{
	const struct reply_case *c;

	(void)state;
	for (c = reply_cases; c->in != NULL; c++)
		check_all(c->in, c->len != 0 ? c->len : strlen(c->in), c->want,
		    true);
}

/* line_of - "CODE" sep, filled with 'x' to n bytes including CR LF */
static void
line_of(struct buf *b, const char *code_sep, size_t n)
{
	size_t i, fill = n - strlen(code_sep) - 2;

	buf_puts(b, code_sep);
	for (i = 0; i < fill; i++)
		buf_putc(b, 'x');
	buf_puts(b, "\r\n");
}

/* test_line_max - SMTP_REPLY_LINE_MAX counts the CR LF */
static void
test_line_max(void **state)
{
	struct buf b = { 0 };
	char *want;

	(void)state;
	line_of(&b, "250 ", SMTP_REPLY_LINE_MAX);
	want = arena_printf(arena, "250|-|%.*s|1;pending=0",
	    SMTP_REPLY_LINE_MAX - 6, b.data + 4);
	check_all(b.data, b.len, want, false);
	buf_reset(&b);
	line_of(&b, "250 ", SMTP_REPLY_LINE_MAX + 1);
	check_all(b.data, b.len, "ERR reply line too long", false);
	buf_free(&b);
}

/* test_line_endless - a line without LF fails as soon as no CR LF can
 * end it within the bound, so the buffer stops growing */
static void
test_line_endless(void **state)
{
	struct smtp_reply_reader *r = smtp_reply_reader_new();
	struct buf b = { 0 };
	const char *why = NULL;
	size_t i;

	(void)state;
	buf_puts(&b, "250 ");
	while (b.len < SMTP_REPLY_LINE_MAX - 1)
		buf_putc(&b, 'x');
	for (i = 0; i < b.len; i++)
		assert_true(smtp_reply_feed(r, b.data + i, 1, &why));
	assert_int_equal(smtp_reply_pending(r), SMTP_REPLY_LINE_MAX - 1);
	/* a CR here would still need its LF: one byte too many */
	assert_false(smtp_reply_feed(r, "\r", 1, &why));
	assert_string_equal(why, "reply line too long");
	smtp_reply_reader_free(&r);

	/* one byte less, and CR LF fits exactly */
	r = smtp_reply_reader_new();
	b.len--;
	assert_true(smtp_reply_feed(r, b.data, b.len, &why));
	assert_true(smtp_reply_feed(r, "\r", 1, &why));
	assert_true(smtp_reply_feed(r, "\n", 1, &why));
	assert_int_equal(smtp_reply_pending(r), SMTP_REPLY_LINE_MAX);
	smtp_reply_reader_free(&r);
	smtp_reply_reader_free(&r);	/* NULL is fine */
	smtp_reply_reader_free(NULL);
	buf_free(&b);
}

/* test_lines_max - SMTP_REPLY_LINES_MAX lines, not one more */
static void
test_lines_max(void **state)
{
	struct buf b = { 0 }, want = { 0 };
	size_t i;

	(void)state;
	for (i = 1; i < SMTP_REPLY_LINES_MAX; i++)
		buf_puts(&b, "250-x\r\n");
	buf_puts(&b, "250 x\r\n");
	buf_puts(&want, "250|-|x");
	for (i = 1; i < SMTP_REPLY_LINES_MAX; i++)
		buf_puts(&want, "\nx");
	buf_printf(&want, "|%d;pending=0", SMTP_REPLY_LINES_MAX);
	check_all(b.data, b.len, want.data, false);

	buf_reset(&b);
	for (i = 0; i < SMTP_REPLY_LINES_MAX; i++)
		buf_puts(&b, "250-x\r\n");
	buf_puts(&b, "250 x\r\n");
	check_all(b.data, b.len, "ERR too many lines in reply", false);
	buf_free(&b);
	buf_free(&want);
}

/* test_bytes_max - SMTP_REPLY_MAX bytes in one reply, not one more;
 * the bound is per reply, not per feed */
static void
test_bytes_max(void **state)
{
	struct buf b = { 0 };
	struct smtp_reply_reader *r;
	struct smtp_reply rep;
	const char *why;
	size_t i, full = SMTP_REPLY_MAX / SMTP_REPLY_LINE_MAX;

	(void)state;
	/* exactly SMTP_REPLY_MAX: full lines */
	for (i = 1; i < full; i++)
		line_of(&b, "250-", SMTP_REPLY_LINE_MAX);
	line_of(&b, "250 ", SMTP_REPLY_LINE_MAX);
	assert_int_equal(b.len, SMTP_REPLY_MAX);
	r = smtp_reply_reader_new();
	assert_true(smtp_reply_feed(r, b.data, b.len, &why));
	/* a second reply of the same size in the same feed is fine */
	assert_true(smtp_reply_feed(r, b.data, b.len, &why));
	assert_int_equal(smtp_reply_next(r, arena, &rep), 1);
	assert_int_equal(rep.lines, full);
	assert_int_equal(strlen(rep.text), SMTP_REPLY_MAX - full * 6 + full -
	    1);
	assert_int_equal(smtp_reply_next(r, arena, &rep), 1);
	assert_int_equal(smtp_reply_next(r, arena, &rep), 0);
	smtp_reply_reader_free(&r);

	/* SMTP_REPLY_MAX + 1 */
	buf_reset(&b);
	for (i = 1; i < full; i++)
		line_of(&b, "250-", SMTP_REPLY_LINE_MAX);
	line_of(&b, "250-", SMTP_REPLY_LINE_MAX - 4);
	buf_puts(&b, "250\r\n");
	assert_int_equal(b.len, SMTP_REPLY_MAX + 1);
	check_all(b.data, b.len, "ERR reply too long", false);
	buf_free(&b);
}

/* test_pending - bytes the server sent that no returned reply holds */
static void
test_pending(void **state)
{
	struct smtp_reply_reader *r = smtp_reply_reader_new();
	struct smtp_reply rep;
	const char *why = "untouched";

	(void)state;
	assert_int_equal(smtp_reply_pending(r), 0);
	assert_int_equal(smtp_reply_next(r, arena, &rep), 0);
	assert_true(smtp_reply_feed(r, "", 0, &why));
	assert_true(smtp_reply_feed(r, NULL, 0, &why));
	assert_string_equal(why, "untouched");
	assert_true(smtp_reply_feed(r, "220 hi\r\n", 8, &why));
	assert_int_equal(smtp_reply_pending(r), 8);
	assert_int_equal(smtp_reply_next(r, arena, &rep), 1);
	assert_int_equal(rep.code, 220);
	assert_int_equal(smtp_reply_pending(r), 0);
	/* a server that talks before it is asked */
	assert_true(smtp_reply_feed(r, "421 bye\r\n250-", 13, &why));
	assert_int_equal(smtp_reply_pending(r), 13);
	assert_int_equal(smtp_reply_next(r, arena, &rep), 1);
	assert_int_equal(rep.code, 421);
	assert_string_equal(rep.text, "bye");
	assert_null(rep.status);
	assert_int_equal(smtp_reply_pending(r), 4);
	assert_int_equal(smtp_reply_next(r, arena, &rep), 0);
	assert_true(smtp_reply_feed(r, "a\r\n250 b\r\n", 10, &why));
	assert_int_equal(smtp_reply_pending(r), 14);
	assert_int_equal(smtp_reply_next(r, arena, &rep), 1);
	assert_string_equal(rep.text, "a\nb");
	assert_int_equal(smtp_reply_pending(r), 0);
	smtp_reply_reader_free(&r);
}

/* test_format - one line, control characters replaced */
static void
test_format(void **state)
{
	struct smtp_reply rep = { .code = 550, .status = "5.1.1",
	    .text = "a\tb\033[31m\nline2\177 \xc3\xa9\r", .lines = 2 };
	struct smtp_reply_reader *r;
	const char *why;

	(void)state;
	assert_string_equal(smtp_reply_format(&rep, arena),
	    "550 5.1.1 a?b?[31m line2? \xc3\xa9?");
	rep = (struct smtp_reply){ .code = 250, .text = "ok", .lines = 1 };
	assert_string_equal(smtp_reply_format(&rep, arena), "250 ok");
	rep = (struct smtp_reply){ .code = 250, .status = "2.0.0",
	    .text = "", .lines = 1 };
	assert_string_equal(smtp_reply_format(&rep, arena), "250 2.0.0");
	rep = (struct smtp_reply){ .code = 250, .text = "", .lines = 1 };
	assert_string_equal(smtp_reply_format(&rep, arena), "250");

	/* from the wire */
	r = smtp_reply_reader_new();
	assert_true(smtp_reply_feed(r, "250-mx\r\n250-SIZE 10\r\n"
	    "250 2.0.0 \001done\r\n", 38, &why));
	assert_int_equal(smtp_reply_next(r, arena, &rep), 1);
	assert_string_equal(smtp_reply_format(&rep, arena),
	    "250 mx SIZE 10 2.0.0 ?done");
	smtp_reply_reader_free(&r);
}

/* test_arena_lifetime - replies live in the arena, not in the reader */
static void
test_arena_lifetime(void **state)
{
	struct smtp_reply_reader *r = smtp_reply_reader_new();
	struct smtp_reply a, b;
	const char *why;

	(void)state;
	assert_true(smtp_reply_feed(r, "550-5.7.1 one\r\n550 two\r\n354 go\r\n",
	    32, &why));
	assert_int_equal(smtp_reply_next(r, arena, &a), 1);
	assert_int_equal(smtp_reply_next(r, arena, &b), 1);
	smtp_reply_reader_free(&r);
	assert_int_equal(a.code, 550);
	assert_string_equal(a.status, "5.7.1");
	assert_string_equal(a.text, "one\ntwo");
	assert_int_equal(a.lines, 2);
	assert_int_equal(b.code, 354);
	assert_null(b.status);
	assert_string_equal(b.text, "go");
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_max, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_line_endless, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lines_max, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bytes_max, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arena_lifetime, setup,
		    teardown),
	};

	log_init("test_smtp_reply", true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
