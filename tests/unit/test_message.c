/*
 * test_message.c - the in-memory message: header fields kept byte for
 * byte, hidden fields left out of every milter index, the milter edits
 * with Sendmail/Postfix semantics, recipients added and deleted, and
 * body replacement with its line-end rules across chunk boundaries
 *
 * Every test gets a fresh arena and a mkdtemp directory for the body
 * spool; a spool that goes to a file must leave that directory empty (the
 * file is unlinked at once), which teardown checks.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "message.h"
#include "spool.h"
#include "testutil.h"

#define MIB (1024 * 1024)

struct fix {
	char dir[256];
	struct arena *a;
	struct message *m;
};

/* setup - arena, spool directory, a message with a 4 KiB memory spool */
static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (f == NULL || testutil_setup(f->dir, sizeof(f->dir), "message",
	    &f->a) < 0) {
		free(f);
		return -1;
	}
	f->m = message_new(f->a, f->dir, 4096);
	*state = f;
	return 0;
}

/* teardown - nothing may be left in the spool directory */
static int
teardown(void **state)
{
	struct fix *f = *state;
	int n = testutil_count_entries(f->dir), rc;

	rc = testutil_teardown(f->dir, &f->a);
	free(f);
	return n == 0 && rc == 0 ? 0 : -1;
}

/* body_text - the body spool's bytes as a string in the arena */
static char *
body_text(struct fix *f, size_t *len_r)
{
	uint64_t size = spool_size(f->m->body);
	char *p = arena_alloc(f->a, (size_t)size + 1);

	assert_int_equal(spool_read(f->m->body, 0, p, (size_t)size),
	    (ssize_t)size);
	if (len_r != NULL)
		*len_r = (size_t)size;
	return p;
}

/* written - every field as the queue file writes it, "name:value\r\n" */
static char *
written(struct fix *f)
{
	struct buf b = { 0 };
	char *r;
	size_t i;

	for (i = 0; i < f->m->n_headers; i++)
		buf_printf(&b, "%s:%s\r\n", f->m->headers[i].name,
		    f->m->headers[i].value);
	r = arena_strdup(f->a, buf_cstr(&b));
	buf_free(&b);
	return r;
}

/* fields - "name=value|..." of every field, hidden ones marked with '*',
 * for comparing a whole list at once */
static char *
fields(struct fix *f)
{
	struct buf b = { 0 };
	char *r;
	size_t i;

	for (i = 0; i < f->m->n_headers; i++)
		buf_printf(&b, "%s%s%s=%s", i > 0 ? "|" : "",
		    f->m->headers[i].hidden ? "*" : "", f->m->headers[i].name,
		    f->m->headers[i].value);
	r = arena_strdup(f->a, buf_cstr(&b));
	buf_free(&b);
	return r;
}

/* parse - the header block must parse */
static void
parse(struct fix *f, const char *text)
{
	const char *why = NULL;

	assert_true(message_parse_header(f->m, text, strlen(text), &why));
	assert_null(why);
}

/* --- envelope ------------------------------------------------------------ */

/* test_new - an empty message */
static void
test_new(void **state)
{
	struct fix *f = *state;

	assert_ptr_equal(f->m->arena, f->a);
	assert_string_equal(f->m->sender, "");
	assert_int_equal(f->m->n_rcpts, 0);
	assert_int_equal(f->m->n_headers, 0);
	assert_null(f->m->quarantine);
	assert_non_null(f->m->body);
	assert_int_equal(spool_size(f->m->body), 0);
	assert_int_equal(message_visible_count(f->m), 0);
	assert_null(message_visible(f->m, 0));
	/* just the empty line between header and body */
	assert_int_equal(message_size(f->m), 2);
}

/* test_add_rcpt_copies - strings are the message's own copies */
static void
test_add_rcpt_copies(void **state)
{
	struct fix *f = *state;
	char addr[] = "user@example.com", orcpt[] = "rfc822;user@example.com";
	char params[] = "X=1";
	struct message_rcpt r = { .addr = addr, .orcpt = orcpt,
		.notify = MESSAGE_NOTIFY_SUCCESS | MESSAGE_NOTIFY_DELAY,
		.params = params };
	int i;

	for (i = 0; i < 20; i++)
		message_add_rcpt(f->m, &r);
	memset(addr, 'x', sizeof(addr) - 1);
	memset(orcpt, 'x', sizeof(orcpt) - 1);
	memset(params, 'x', sizeof(params) - 1);
	assert_int_equal(f->m->n_rcpts, 20);
	for (i = 0; i < 20; i++) {
		assert_string_equal(f->m->rcpts[i].addr, "user@example.com");
		assert_string_equal(f->m->rcpts[i].orcpt,
		    "rfc822;user@example.com");
		assert_string_equal(f->m->rcpts[i].params, "X=1");
		assert_int_equal(f->m->rcpts[i].notify,
		    MESSAGE_NOTIFY_SUCCESS | MESSAGE_NOTIFY_DELAY);
	}
	r.orcpt = NULL;
	r.params = NULL;
	message_add_rcpt(f->m, &r);
	assert_null(f->m->rcpts[20].orcpt);
	assert_null(f->m->rcpts[20].params);
}

/* test_change_sender - brackets go, parameters are ignored (Postfix) */
static void
test_change_sender(void **state)
{
	struct fix *f = *state;

	f->m->ret = MESSAGE_RET_HDRS;
	message_change_sender(f->m, "<new@example.com>", "RET=FULL");
	assert_string_equal(f->m->sender, "new@example.com");
	assert_int_equal(f->m->ret, MESSAGE_RET_HDRS);
	message_change_sender(f->m, "<>", NULL);
	assert_string_equal(f->m->sender, "");
	message_change_sender(f->m, "bare@example.com", "");
	assert_string_equal(f->m->sender, "bare@example.com");
}

/* test_add_rcpt_text - NOTIFY and ORCPT taken apart, the rest kept */
static void
test_add_rcpt_text(void **state)
{
	struct fix *f = *state;
	const struct message_rcpt *r;

	message_add_rcpt_text(f->m, "<a@example.com>", NULL);
	message_add_rcpt_text(f->m, "<b@example.com>",
	    "NOTIFY=success,FAILURE  ORCPT=rfc822;b+2Bx@example.com X-A=1\tY");
	message_add_rcpt_text(f->m, "c@example.com", "NOTIFY=NEVER");
	/* malformed ones stay as given */
	message_add_rcpt_text(f->m, "<d@example.com>",
	    "NOTIFY=NEVER,DELAY ORCPT=rfc822;bad+zz NOTIFY= ORCPT=;x");
	message_add_rcpt_text(f->m, "<e@example.com>",
	    "ORCPT=rfc822;e+00 NOTIFY=DELAY,DELAY ORCPT=rfc822;a+2");
	message_add_rcpt_text(f->m, "<>", "");
	assert_int_equal(f->m->n_rcpts, 6);

	r = &f->m->rcpts[0];
	assert_string_equal(r->addr, "a@example.com");
	assert_null(r->orcpt);
	assert_null(r->params);
	assert_int_equal(r->notify, 0);

	r = &f->m->rcpts[1];
	assert_string_equal(r->addr, "b@example.com");
	assert_string_equal(r->orcpt, "rfc822;b+x@example.com");
	assert_int_equal(r->notify,
	    MESSAGE_NOTIFY_SUCCESS | MESSAGE_NOTIFY_FAILURE);
	assert_string_equal(r->params, "X-A=1 Y");

	r = &f->m->rcpts[2];
	assert_string_equal(r->addr, "c@example.com");
	assert_int_equal(r->notify, MESSAGE_NOTIFY_NEVER);
	assert_null(r->params);

	r = &f->m->rcpts[3];
	assert_int_equal(r->notify, 0);
	assert_null(r->orcpt);
	assert_string_equal(r->params,
	    "NOTIFY=NEVER,DELAY ORCPT=rfc822;bad+zz NOTIFY= ORCPT=;x");

	r = &f->m->rcpts[4];
	assert_int_equal(r->notify, 0);
	assert_null(r->orcpt);
	assert_string_equal(r->params,
	    "ORCPT=rfc822;e+00 NOTIFY=DELAY,DELAY ORCPT=rfc822;a+2");

	assert_string_equal(f->m->rcpts[5].addr, "");
	assert_null(f->m->rcpts[5].params);
}

/* test_delete_rcpt - whole address, any case, brackets on either side,
 * every match, order of the rest kept */
static void
test_delete_rcpt(void **state)
{
	static const char *const addrs[] = {
		"a@b.example", "x@y.example", "A@B.EXAMPLE", "a@b.example.net",
		"<a@b.example>", "za@b.example", "a@b.exampl",
	};
	struct fix *f = *state;
	struct message_rcpt r = { 0 };
	size_t i;

	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		r.addr = addrs[i];
		message_add_rcpt(f->m, &r);
	}
	assert_int_equal(message_delete_rcpt(f->m, "<A@b.Example>"), 3);
	assert_int_equal(f->m->n_rcpts, 4);
	assert_string_equal(f->m->rcpts[0].addr, "x@y.example");
	assert_string_equal(f->m->rcpts[1].addr, "a@b.example.net");
	assert_string_equal(f->m->rcpts[2].addr, "za@b.example");
	assert_string_equal(f->m->rcpts[3].addr, "a@b.exampl");
	assert_int_equal(message_delete_rcpt(f->m, "a@b.example"), 0);
	assert_int_equal(message_delete_rcpt(f->m, "nobody@example.com"), 0);
	assert_int_equal(message_delete_rcpt(f->m, "X@Y.EXAMPLE"), 1);
	assert_int_equal(f->m->n_rcpts, 3);
	assert_string_equal(f->m->rcpts[0].addr, "a@b.example.net");
}

/* --- header fields ------------------------------------------------------- */

/* test_parse_byte_exact - every shape of field survives unchanged */
static void
test_parse_byte_exact(void **state)
{
	static const char block[] =
	    "Received: from client.example (client.example [192.0.2.1])\r\n"
	    "\tby mx.example.com with ESMTP id 1234\r\n"
	    "        ; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	    "Subject: hello  \r\n"
	    "X-Tab:\tvalue\r\n"
	    "X-Empty:\r\n"
	    "X-NoSpace:value\r\n"
	    "X-Spaces:   \r\n"
	    "X-Odd.Name_!#$%&'*+-/=?^`{|}~: odd\r\n"
	    "X-Utf8: caf\xc3\xa9 \xff\r\n"
	    "X-Fold:\r\n"
	    " \r\n"
	    "\tend\r\n"
	    "X-Colons: a: b: c\r\n"
	    "X-CR: a\rb\r\n";
	struct fix *f = *state;
	const struct message_header *h;

	parse(f, block);
	assert_int_equal(f->m->n_headers, 11);
	assert_string_equal(written(f), block);
	assert_int_equal(message_size(f->m), strlen(block) + 2);

	h = &f->m->headers[0];
	assert_string_equal(h->name, "Received");
	assert_string_equal(h->value,
	    " from client.example (client.example [192.0.2.1])\r\n"
	    "\tby mx.example.com with ESMTP id 1234\r\n"
	    "        ; Mon, 1 Jan 2024 00:00:00 +0000");
	assert_false(h->hidden);
	assert_string_equal(f->m->headers[1].value, " hello  ");
	assert_string_equal(f->m->headers[2].value, "\tvalue");
	assert_string_equal(f->m->headers[3].value, "");
	assert_string_equal(f->m->headers[4].value, "value");
	assert_string_equal(f->m->headers[5].value, "   ");
	assert_string_equal(f->m->headers[6].name,
	    "X-Odd.Name_!#$%&'*+-/=?^`{|}~");
	assert_string_equal(f->m->headers[7].value, " caf\xc3\xa9 \xff");
	assert_string_equal(f->m->headers[8].value, "\r\n \r\n\tend");
	assert_string_equal(f->m->headers[9].name, "X-Colons");
	assert_string_equal(f->m->headers[9].value, " a: b: c");
	assert_string_equal(f->m->headers[10].value, " a\rb");
	assert_int_equal(message_visible_count(f->m), 11);
}

/* test_parse_line_ends - LF alone ends a line too (folds become CR LF),
 * and a last line without any line end is a line */
static void
test_parse_line_ends(void **state)
{
	struct fix *f = *state;

	parse(f, "A: 1\nB: 2\n\tb\r\nC: 3");
	assert_string_equal(fields(f), "A= 1|B= 2\r\n\tb|C= 3");
	parse(f, "");
	assert_int_equal(f->m->n_headers, 3);
	/* appended after what is there */
	parse(f, "D: 4\r\n");
	assert_string_equal(fields(f), "A= 1|B= 2\r\n\tb|C= 3|D= 4");
}

/* test_parse_nul - a NUL in a field is no reason to refuse the field (it
 * is one by the grammar); it becomes a space, and nothing after it is
 * lost */
static void
test_parse_nul(void **state)
{
	static const char block[] = "A: x\0y\r\n \0folded\0\r\nB: \0\r\n";
	struct fix *f = *state;
	const char *why = NULL;

	assert_true(message_parse_header(f->m, block, sizeof(block) - 1,
	    &why));
	assert_string_equal(fields(f), "A= x y\r\n  folded |B=  ");
	assert_int_equal(f->m->n_headers, 2);
	assert_int_equal(message_size(f->m), sizeof(block) - 1 + 2);
}

/* test_parse_errors - each bad line, with nothing of the block kept */
static void
test_parse_errors(void **state)
{
	static const struct {
		const char *text;
		size_t len;	/* 0: strlen */
		const char *why;
	} cases[] = {
		{ " starts folded\r\nA: b\r\n", 0,
		  "continuation line before the first header field" },
		{ "A: b\r\nno colon here\r\n", 0,
		  "header line without a field name" },
		{ "A: b\r\nB: c\r\n\tfolded\r\nC: d\r\nno colon\r\n", 0,
		  "header line without a field name" },
		{ "A: b\r\nBad Name: x\r\n", 0,
		  "header line without a field name" },
		{ "A: b\r\n: no name\r\n", 0,
		  "header line without a field name" },
		{ "A: b\r\nName : x\r\n", 0,
		  "header line without a field name" },
		{ "A: b\r\nX\x7f: x\r\n", 0,
		  "header line without a field name" },
		{ "A: b\r\nX\xc3\xa9: x\r\n", 0,
		  "header line without a field name" },
		{ "A: b\r\n\r\nC: d\r\n", 0, "empty line in the header" },
		{ "A: b\r\nX\0: d\r\n", 13,
		  "header line without a field name" },
	};
	struct fix *f = *state;
	const char *why;
	size_t i;

	message_prepend_header(f->m, "Received", " by us", true);
	parse(f, "Keep: me\r\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why = NULL;
		assert_false(message_parse_header(f->m, cases[i].text,
		    cases[i].len ? cases[i].len : strlen(cases[i].text),
		    &why));
		assert_non_null(why);
		assert_string_equal(why, cases[i].why);
		assert_string_equal(fields(f), "*Received= by us|Keep= me");
	}
}

/* test_prepend_visible - hidden fields are in the list but in no index */
static void
test_prepend_visible(void **state)
{
	struct fix *f = *state;

	parse(f, "From: a@example.com\r\nTo: b@example.com\r\n");
	message_prepend_header(f->m, "Received",
	    " from x\r\n\tby y; Mon, 1 Jan 2024 00:00:00 +0000", true);
	message_prepend_header(f->m, "X-Top", " visible", false);
	assert_int_equal(f->m->n_headers, 4);
	assert_int_equal(message_visible_count(f->m), 3);
	assert_string_equal(message_visible(f->m, 0)->name, "X-Top");
	assert_string_equal(message_visible(f->m, 1)->name, "From");
	assert_string_equal(message_visible(f->m, 2)->name, "To");
	assert_null(message_visible(f->m, 3));
	assert_true(f->m->headers[1].hidden);
	/* written exactly as given, hidden or not */
	assert_string_equal(written(f),
	    "X-Top: visible\r\n"
	    "Received: from x\r\n\tby y; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	    "From: a@example.com\r\nTo: b@example.com\r\n");
}

/* test_add_header - appended at the very end; the leading space and the
 * CR of LF folds added as Sendmail does */
static void
test_add_header(void **state)
{
	struct fix *f = *state;

	message_prepend_header(f->m, "Received", " by us", true);
	parse(f, "A: 1\r\n");
	message_add_header(f->m, "X-1", "plain", false);
	message_add_header(f->m, "X-2", " spaced", false);
	message_add_header(f->m, "X-3", "\ttabbed", false);
	message_add_header(f->m, "X-4", "given", true);
	message_add_header(f->m, "X-5", "a\n\tb\n c", false);
	message_add_header(f->m, "X-6", "a\r\n\tb", false);
	message_add_header(f->m, "X-7", "", false);
	message_add_header(f->m, "X-8", "", true);
	message_add_header(f->m, "X-9", "\n\tx", true);
	assert_string_equal(fields(f),
	    "*Received= by us|A= 1|X-1= plain|X-2= spaced|X-3=\ttabbed|"
	    "X-4=given|X-5= a\r\n\tb\r\n c|X-6= a\r\n\tb|X-7= |X-8=|"
	    "X-9=\r\n\tx");
	assert_int_equal(message_visible_count(f->m), 10);
	assert_string_equal(message_visible(f->m, 9)->name, "X-9");
}

/* test_insert_header - positions count visible fields only: a hidden
 * field stays above what is inserted at its place */
static void
test_insert_header(void **state)
{
	struct fix *f = *state;

	parse(f, "A: 1\r\nB: 2\r\n");
	message_prepend_header(f->m, "Received", " by us", true);
	/* a hidden field between A and B */
	message_insert_header(f->m, 1, "X-Tmp", "", true);
	f->m->headers[2].name = "Hidden";
	f->m->headers[2].hidden = true;
	assert_string_equal(fields(f),
	    "*Received= by us|A= 1|*Hidden=|B= 2");

	message_insert_header(f->m, 0, "I0", "zero", false);
	assert_string_equal(fields(f),
	    "*Received= by us|I0= zero|A= 1|*Hidden=|B= 2");
	/* before visible field 2 (B), i.e. after the hidden one */
	message_insert_header(f->m, 2, "I2", "two", false);
	assert_string_equal(fields(f),
	    "*Received= by us|I0= zero|A= 1|*Hidden=|I2= two|B= 2");
	message_insert_header(f->m, 4, "I4", "end", true);
	message_insert_header(f->m, 1000, "Ibig", "x\ny", false);
	assert_string_equal(fields(f),
	    "*Received= by us|I0= zero|A= 1|*Hidden=|I2= two|B= 2|I4=end|"
	    "Ibig= x\r\ny");
	assert_int_equal(message_visible_count(f->m), 6);
	assert_string_equal(message_visible(f->m, 0)->name, "I0");
}

/* test_change_header - the index-th visible field of that name (any
 * case), 0 as 1; empty deletes; missing is added only with a value */
static void
test_change_header(void **state)
{
	struct fix *f = *state;

	parse(f, "Subject: one\r\nX: x\r\nsubject: two\r\n");
	message_prepend_header(f->m, "Subject", " hidden", true);
	assert_string_equal(fields(f),
	    "*Subject= hidden|Subject= one|X= x|subject= two");

	message_change_header(f->m, 1, "SUBJECT", "first", false);
	assert_string_equal(fields(f),
	    "*Subject= hidden|Subject= first|X= x|subject= two");
	message_change_header(f->m, 0, "subject", "zero", true);
	assert_string_equal(fields(f),
	    "*Subject= hidden|Subject=zero|X= x|subject= two");
	message_change_header(f->m, 2, "Subject", "a\n b", false);
	assert_string_equal(fields(f),
	    "*Subject= hidden|Subject=zero|X= x|subject= a\r\n b");
	/* a third one is not there: added at the end (Sendmail) */
	message_change_header(f->m, 3, "Subject", "three", false);
	assert_string_equal(fields(f),
	    "*Subject= hidden|Subject=zero|X= x|subject= a\r\n b|"
	    "Subject= three");
	/* not there and empty: nothing */
	message_change_header(f->m, 9, "Subject", "", false);
	message_change_header(f->m, 1, "Missing", NULL, false);
	assert_int_equal(f->m->n_headers, 5);
	/* delete the first visible Subject: the hidden one stays */
	message_change_header(f->m, 1, "subject", "", false);
	assert_string_equal(fields(f),
	    "*Subject= hidden|X= x|subject= a\r\n b|Subject= three");
	message_change_header(f->m, 2, "subject", NULL, false);
	assert_string_equal(fields(f),
	    "*Subject= hidden|X= x|subject= a\r\n b");
	message_change_header(f->m, 1, "Missing", "new", false);
	assert_string_equal(fields(f),
	    "*Subject= hidden|X= x|subject= a\r\n b|Missing= new");
	assert_int_equal(message_visible_count(f->m), 3);
	assert_int_equal(message_size(f->m),
	    strlen(written(f)) + 2);
}

/* --- body ---------------------------------------------------------------- */

/* replace - chunks (NULL-terminated) as one replacement */
static void
replace(struct fix *f, const char *const *chunks)
{
	const char *why = NULL;
	size_t i;

	for (i = 0; chunks[i] != NULL; i++)
		assert_true(message_body_replace(f->m, chunks[i],
		    strlen(chunks[i]), i == 0, &why));
	assert_null(why);
}

/* test_body_line_ends - LF becomes CR LF, CR LF stays, a split CR LF
 * stays one line end, a lone CR stays a lone CR */
static void
test_body_line_ends(void **state)
{
	static const struct {
		const char *chunks[6];
		const char *want;
	} cases[] = {
		{ { "a\nb\r\nc", NULL }, "a\r\nb\r\nc" },
		{ { "line\r", "\nnext\n", NULL }, "line\r\nnext\r\n" },
		{ { "a\rb", NULL }, "a\rb" },
		{ { "x\r", "y", NULL }, "x\ry" },
		{ { "end\r", NULL }, "end\r" },
		{ { "\r", "\r", "\n", "\n", NULL }, "\r\r\n\r\n" },
		{ { "\n", "\n", NULL }, "\r\n\r\n" },
		{ { "a\r", "", "\nb", NULL }, "a\r\nb" },
		{ { "", NULL }, "" },
		{ { "\r\r\n\n\r", "\r\n", NULL }, "\r\r\n\r\n\r\r\n" },
	};
	struct fix *f = *state;
	size_t i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		replace(f, cases[i].chunks);
		assert_string_equal(body_text(f, &len), cases[i].want);
		assert_int_equal(len, strlen(cases[i].want));
	}
}

/* test_body_replace_again - a first chunk drops what came before it,
 * also the original body; later chunks append */
static void
test_body_replace_again(void **state)
{
	struct fix *f = *state;
	const char *why = NULL;

	assert_true(spool_append(f->m->body, "original\r\n", 10));
	parse(f, "A: b\r\n");
	assert_int_equal(message_size(f->m), 6 + 2 + 10);
	assert_true(message_body_replace(f->m, "new\n", 4, true, &why));
	assert_string_equal(body_text(f, NULL), "new\r\n");
	assert_true(message_body_replace(f->m, "more\n", 5, false, &why));
	assert_string_equal(body_text(f, NULL), "new\r\nmore\r\n");
	/* a CR left over from the last replacement is forgotten */
	assert_true(message_body_replace(f->m, "cr\r", 3, false, &why));
	assert_true(message_body_replace(f->m, "\nthird", 6, true, &why));
	assert_string_equal(body_text(f, NULL), "\r\nthird");
	assert_int_equal(message_size(f->m), 6 + 2 + 7);
	assert_null(why);
}

/* test_body_large - many MiB in odd chunk sizes: the spool goes to a
 * file (unlinked, so teardown finds the directory empty) and every line
 * end is right, also those split between chunks and conversion blocks */
static void
test_body_large(void **state)
{
	struct fix *f = *state;
	const size_t total = 3 * MIB + 12345;
	struct buf in = { 0 }, want = { 0 };
	const char *why = NULL;
	size_t i, off, n, len;
	char *got;

	for (i = 0; in.len < total; i++) {
		switch (i % 5) {
		case 0:
			buf_puts(&in, "\n");
			buf_puts(&want, "\r\n");
			break;
		case 1:
			buf_puts(&in, "\r\n");
			buf_puts(&want, "\r\n");
			break;
		case 2:
			buf_puts(&in, "lone\rcr");
			buf_puts(&want, "lone\rcr");
			break;
		default:
			buf_printf(&in, "text %zu", i);
			buf_printf(&want, "text %zu", i);
		}
	}
	for (off = 0, i = 0; off < in.len; off += n, i++) {
		n = 1 + (i * 7919) % 70000;
		if (n > in.len - off)
			n = in.len - off;
		assert_true(message_body_replace(f->m, in.data + off, n,
		    off == 0, &why));
	}
	assert_false(spool_in_memory(f->m->body));
	got = body_text(f, &len);
	assert_int_equal(len, want.len);
	assert_memory_equal(got, want.data, want.len);
	assert_int_equal(message_size(f->m), 2 + want.len);
	buf_free(&in);
	buf_free(&want);
}

/* test_body_spool_fails - a spool that cannot make its file: false and
 * the spool's reason */
static void
test_body_spool_fails(void **state)
{
	struct fix *f = *state;
	struct message *m;
	char *dir = arena_printf(f->a, "%s/missing", f->dir);
	char *want = arena_printf(f->a, "create temporary file in %s: No such "
	    "file or directory", dir);
	char big[100];
	const char *why = NULL;

	m = message_new(f->a, dir, 10);
	memset(big, 'x', sizeof(big));
	assert_true(message_body_replace(m, big, 10, true, &why));
	assert_false(message_body_replace(m, big, sizeof(big), false, &why));
	assert_non_null(why);
	assert_string_equal(why, want);
}

/* --- main ---------------------------------------------------------------- */

/* main - run the tests */
int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_new),
		T(test_add_rcpt_copies),
		T(test_change_sender),
		T(test_add_rcpt_text),
		T(test_delete_rcpt),
		T(test_parse_byte_exact),
		T(test_parse_line_ends),
		T(test_parse_nul),
		T(test_parse_errors),
		T(test_prepend_visible),
		T(test_add_header),
		T(test_insert_header),
		T(test_change_header),
		T(test_body_line_ends),
		T(test_body_replace_again),
		T(test_body_large),
		T(test_body_spool_fails),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
