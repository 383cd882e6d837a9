/*
 * test_authres.c - Authentication-Results formatting and forgery checks
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "authres.h"

/* test_none - nothing checked gives "id; none" */
static void
test_none(void **state)
{
	struct arena *a = arena_create();

	(void)state;
	assert_string_equal(authres_build(a, "mx.example.com", NULL, 0),
	    "mx.example.com; none");
	arena_destroy(&a);
	assert_null(a);
}

/* test_fragments - one folded line per method, in order */
static void
test_fragments(void **state)
{
	struct arena *a = arena_create();
	const char *frags[] = {
		"spf=pass smtp.mailfrom=a@example.org",
		"dkim=pass header.d=example.org",
	};

	(void)state;
	assert_string_equal(authres_build(a, "mx.example.com", frags, 2),
	    "mx.example.com;\n\tspf=pass smtp.mailfrom=a@example.org;\n\t"
	    "dkim=pass header.d=example.org");
	arena_destroy(&a);
}

/* test_is_ours - authserv-id comparison as RFC 8601 asks */
static void
test_is_ours(void **state)
{
	(void)state;
	assert_true(authres_is_ours("mx.example.com; spf=pass",
	    "mx.example.com"));
	assert_true(authres_is_ours(" MX.Example.COM; none", "mx.example.com"));
	assert_true(authres_is_ours("mx.example.com 1; dkim=pass",
	    "mx.example.com"));
	assert_true(authres_is_ours("(comment) mx.example.com; none",
	    "mx.example.com"));
	assert_true(authres_is_ours("\"mx.example.com\"; none",
	    "mx.example.com"));
	assert_true(authres_is_ours("mx.example.com.; none", "mx.example.com"));
	assert_true(authres_is_ours("mx.example.com(c); none",
	    "mx.example.com"));
	assert_true(authres_is_ours("\n\tmx.example.com;\n\tspf=pass",
	    "mx.example.com"));
	assert_false(authres_is_ours("other.example; spf=pass",
	    "mx.example.com"));
	assert_false(authres_is_ours("mx.example.com.evil; spf=pass",
	    "mx.example.com"));
	assert_false(authres_is_ours("x-mx.example.com; spf=pass",
	    "mx.example.com"));
	assert_false(authres_is_ours("", "mx.example.com"));
	assert_false(authres_is_ours("; none", "mx.example.com"));
	assert_false(authres_is_ours("(unterminated comment mx.example.com",
	    "mx.example.com"));
}

/* test_quote - tokens stay, others are quoted without controls */
static void
test_quote(void **state)
{
	struct arena *a = arena_create();

	(void)state;
	assert_true(authres_token_ok("example.com"));
	assert_false(authres_token_ok("a b"));
	assert_false(authres_token_ok(""));
	assert_false(authres_token_ok("a;b"));
	assert_string_equal(authres_quote(a, "example.com"), "example.com");
	assert_string_equal(authres_quote(a, "a b"), "\"a b\"");
	assert_string_equal(authres_quote(a, "x\"y\\z"), "\"x\\\"y\\\\z\"");
	assert_string_equal(authres_quote(a, "evil\r\nX-Header: 1"),
	    "\"evilX-Header: 1\"");
	assert_string_equal(authres_quote(a, ""), "\"\"");
	arena_destroy(&a);
}

/* main - run the group */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_is_ours),
		cmocka_unit_test(test_quote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
