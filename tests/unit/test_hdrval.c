/*
 * test_hdrval.c - untrusted text as header values (lib/hdrval.c)
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "hdrval.h"

/* out - run one writer on s, return the text (static buffer) */
static const char *
out(void (*fn)(struct buf *, const char *), const char *s)
{
	static char text[256];
	struct buf b = { 0 };

	fn(&b, s);
	snprintf(text, sizeof(text), "%s", buf_cstr(&b));
	buf_free(&b);
	return text;
}

/* test_dot_atom - the RFC 5322 rules exactly */
static void
test_dot_atom(void **state)
{
	(void)state;
	assert_true(hdrval_dot_atom("a.b-c", 5));
	assert_true(hdrval_dot_atom("x!#$%&'*+/=?^_`{|}~", 19));
	assert_false(hdrval_dot_atom("", 0));
	assert_false(hdrval_dot_atom(".a", 2));
	assert_false(hdrval_dot_atom("a.", 2));
	assert_false(hdrval_dot_atom("a..b", 4));
	assert_false(hdrval_dot_atom("a b", 3));
	assert_false(hdrval_dot_atom("a\"b", 3));
	assert_false(hdrval_dot_atom("\xc3\xa9", 2));
	assert_true(hdrval_dot_atom("ab.", 2));	/* only len counts */
}

/* test_quote - escapes, controls and non-ASCII as '?', always quoted */
static void
test_quote(void **state)
{
	(void)state;
	assert_string_equal(out(hdrval_quote, "a"), "\"a\"");
	assert_string_equal(out(hdrval_quote, ""), "\"\"");
	assert_string_equal(out(hdrval_quote, "a\"b\\c"), "\"a\\\"b\\\\c\"");
	assert_string_equal(out(hdrval_quote, "x\r\nX-Evil: 1"),
	    "\"x??X-Evil: 1\"");
	assert_string_equal(out(hdrval_quote, "\t\x7f\xc3\xa9"),
	    "\"????\"");
}

/* test_value_address - bare when safe, quoted otherwise */
static void
test_value_address(void **state)
{
	(void)state;
	assert_string_equal(out(hdrval_value, "mail.example.com"),
	    "mail.example.com");
	assert_string_equal(out(hdrval_value, "bad name"), "\"bad name\"");
	assert_string_equal(out(hdrval_value, ""), "\"\"");
	assert_string_equal(out(hdrval_address, "user@example.com"),
	    "user@example.com");
	assert_string_equal(out(hdrval_address, "@example.com"),
	    "@example.com");
	assert_string_equal(out(hdrval_address, "a b@example.com"),
	    "\"a b@example.com\"");
	assert_string_equal(out(hdrval_address, "user@"), "\"user@\"");
	assert_string_equal(out(hdrval_address, "no-at"), "\"no-at\"");
	assert_string_equal(out(hdrval_address, "u@ex\nample"),
	    "\"u@ex?ample\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dot_atom),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_value_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
