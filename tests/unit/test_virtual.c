/*
 * test_virtual.c - virtual_alias_maps expansion: key order, "@domain"
 * values, recursion, loops, limits, duplicates, table errors and bad
 * values
 *
 * An answer is compared as one line: "SAME", "ERR why", or the expanded
 * addresses in order separated by single spaces, so a stray or missing
 * address shows up.
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

#include "arena.h"
#include "buf.h"
#include "table.h"
#include "testutil.h"
#include "virtual.h"

static char tmpdir[64];
static struct arena *arena;

/* setup - a fresh directory and arena per test */
static int
setup(void **state)
{
	(void)state;
	return testutil_setup(tmpdir, sizeof(tmpdir), "test_virtual",
	    &arena);
}

/* teardown - remove the directory */
static int
teardown(void **state)
{
	(void)state;
	return testutil_teardown(tmpdir, &arena);
}

/* open_table - spec must open */
static struct table *
open_table(const char *spec)
{
	struct table *t;
	char *err = NULL;

	t = table_open(spec, &err);
	if (t == NULL)
		fail_msg("table_open(%s): %s", spec, err);
	return t;
}

/* open_file - a hash: table of text in tmpdir/name */
static struct table *
open_file(const char *name, const char *text)
{
	testutil_replace(arena, tmpdir, name, text);
	return open_table(arena_printf(arena, "hash:%s/%s", tmpdir, name));
}

/* expand - the answer for rcpt as one line */
static const char *
expand(struct table *t, const char *rcpt)
{
	const char **out = (const char **)&out, *why = "UNSET";
	size_t n = 99, i;
	struct buf b = { 0 };
	const char *s;

	switch (virtual_expand(t, rcpt, arena, &out, &n, &why)) {
	case VIRTUAL_SAME:
		assert_null(out);
		assert_int_equal(n, 0);
		return "SAME";
	case VIRTUAL_ERROR:
		assert_null(out);
		assert_int_equal(n, 0);
		return arena_printf(arena, "ERR %s", why);
	case VIRTUAL_EXPANDED:
		break;
	default:
		fail_msg("unknown answer");
	}
	assert_string_equal(why, "UNSET");
	assert_true(n >= 1);
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i > 0 ? " " : "", out[i]);
	s = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return s;
}

/* test_no_entry - nothing matches: SAME, whatever the form */
static void
test_no_entry(void **state)
{
	struct table *t;

	(void)state;
	t = open_table("inline:{ {a@x.example=b@y.example}, "
	    "{@x.example=c@y.example} }");
	assert_string_equal(expand(t, "a@other.example"), "SAME");
	assert_string_equal(expand(t, "a+b@other.example"), "SAME");
	assert_string_equal(expand(t, "x.example@other.example"), "SAME");
	/* "<>" is nobody's address */
	assert_string_equal(expand(t, "<>"), "SAME");
	assert_string_equal(expand(t, "a@@"),
	    "ERR recipient \"a@@\": empty domain");
	table_close(&t);
}

/* test_one_to_one - one address for another, any case, <> or not */
static void
test_one_to_one(void **state)
{
	struct table *t;

	(void)state;
	t = open_table("inline:{ {a@x.example=B@Y.Example} }");
	assert_string_equal(expand(t, "a@x.example"), "B@y.example");
	assert_string_equal(expand(t, "A@X.EXAMPLE"), "B@y.example");
	assert_string_equal(expand(t, "<a@x.example>"), "B@y.example");
	table_close(&t);
}

/* test_one_to_many - commas and white space, in order */
static void
test_one_to_many(void **state)
{
	struct table *t;

	(void)state;
	t = open_file("virtual",
	    "list@x.example b@y.example,c@y.example\td@y.example ,\n"
	    "  e@y.example\n"
	    "quoted@x.example \"f g,h\"@y.example, i@y.example\n");
	assert_string_equal(expand(t, "list@x.example"),
	    "b@y.example c@y.example d@y.example e@y.example");
	assert_string_equal(expand(t, "quoted@x.example"),
	    "\"f g,h\"@y.example i@y.example");
	table_close(&t);
}

/* test_recursion - two levels, leaves kept in order */
static void
test_recursion(void **state)
{
	struct table *t;

	(void)state;
	t = open_file("virtual",
	    "all@x.example staff@x.example, z@y.example\n"
	    "staff@x.example b@x.example c@x.example\n"
	    "b@x.example b@y.example\n");
	assert_string_equal(expand(t, "all@x.example"),
	    "b@y.example c@x.example z@y.example");
	assert_string_equal(expand(t, "staff@x.example"),
	    "b@y.example c@x.example");
	table_close(&t);
}

/* test_key_order - user+ext@d, then user@d, then @d; the first found
 * wins */
static void
test_key_order(void **state)
{
	struct table *t;

	(void)state;
	t = open_table("inline:{ {u+e@x.example=ext@y.example}, "
	    "{u@x.example=user@y.example}, {@x.example=catch@y.example} }");
	assert_string_equal(expand(t, "u+e@x.example"), "ext@y.example");
	assert_string_equal(expand(t, "u+f@x.example"), "user@y.example");
	assert_string_equal(expand(t, "u@x.example"), "user@y.example");
	assert_string_equal(expand(t, "v+e@x.example"), "catch@y.example");
	assert_string_equal(expand(t, "v@X.Example"), "catch@y.example");
	/* a leading '+' is no extension */
	assert_string_equal(expand(t, "+u@x.example"), "catch@y.example");
	table_close(&t);
	t = open_table("inline:{ {u@x.example=user@y.example} }");
	assert_string_equal(expand(t, "u+e@x.example"), "user@y.example");
	assert_string_equal(expand(t, "u+@x.example"), "user@y.example");
	table_close(&t);
}

/* test_catch_all_domain - "@other" keeps the local part (with its
 * extension) */
static void
test_catch_all_domain(void **state)
{
	struct table *t;

	(void)state;
	t = open_table("inline:{ {@x.example=@Y.Example}, "
	    "{boss@x.example=@z.example, audit@z.example} }");
	assert_string_equal(expand(t, "Joe@x.example"), "Joe@y.example");
	assert_string_equal(expand(t, "joe+tag@x.example"),
	    "joe+tag@y.example");
	assert_string_equal(expand(t, "boss@x.example"),
	    "boss@z.example audit@z.example");
	table_close(&t);
}

/* test_self_reference - a@x -> a@x, b@y keeps a@x and ends there */
static void
test_self_reference(void **state)
{
	struct table *t;

	(void)state;
	t = open_table("inline:{ {a@x.example=a@x.example, b@y.example} }");
	assert_string_equal(expand(t, "a@x.example"),
	    "a@x.example b@y.example");
	assert_string_equal(expand(t, "A@x.example"),
	    "a@x.example b@y.example");
	table_close(&t);
	/* the domain catch-all pointing back at its own domain */
	t = open_table("inline:{ {@x.example=@x.example} }");
	assert_string_equal(expand(t, "a@x.example"), "a@x.example");
	table_close(&t);
}

/* test_loop - a -> b, b -> a stops when a comes back and keeps it */
static void
test_loop(void **state)
{
	struct table *t;

	(void)state;
	t = open_table("inline:{ {a@x.example=b@x.example}, "
	    "{b@x.example=a@x.example} }");
	assert_string_equal(expand(t, "a@x.example"), "a@x.example");
	assert_string_equal(expand(t, "b@x.example"), "b@x.example");
	table_close(&t);
	/* a loop on another branch's path is no loop here: c is expanded
	 * under a, and again on its own */
	t = open_table("inline:{ {a@x.example=c@x.example, d@x.example}, "
	    "{c@x.example=a@x.example, e@x.example}, "
	    "{d@x.example=c@x.example} }");
	assert_string_equal(expand(t, "a@x.example"),
	    "a@x.example e@x.example");
	table_close(&t);
}

/* chain - a hash table u0 -> u1 -> ... -> u<links> */
static struct table *
chain(int links)
{
	struct buf b = { 0 };
	struct table *t;
	int i;

	for (i = 0; i < links; i++)
		buf_printf(&b, "u%d@x.example u%d@x.example\n", i, i + 1);
	t = open_file("chain", buf_cstr(&b));
	buf_free(&b);
	return t;
}

/* test_depth_limit - VIRTUAL_DEPTH_MAX rewrites pass, one more fails */
static void
test_depth_limit(void **state)
{
	struct table *t;

	(void)state;
	t = chain(VIRTUAL_DEPTH_MAX);
	assert_string_equal(expand(t, "u0@x.example"),
	    arena_printf(arena, "u%d@x.example", VIRTUAL_DEPTH_MAX));
	table_close(&t);
	t = chain(VIRTUAL_DEPTH_MAX + 1);
	assert_string_equal(expand(t, "u0@x.example"),
	    arena_printf(arena, "ERR %s: \"u0@x.example\" nests more than 20 "
	    "levels deep (at key \"u20@x.example\")", table_spec(t)));
	assert_string_equal(expand(t, "u1@x.example"), "u21@x.example");
	table_close(&t);
}

/* fan_out - a hash table list@x.example -> n distinct addresses, plus
 * the first one again */
static struct table *
fan_out(int n)
{
	struct buf b = { 0 };
	struct table *t;
	int i;

	buf_puts(&b, "list@x.example");
	for (i = 0; i < n; i++)
		buf_printf(&b, "%sm%d@y.example", i % 8 == 0 ? "\n " : ", ",
		    i);
	buf_puts(&b, " M0@y.example\n");
	t = open_file("fan", buf_cstr(&b));
	buf_free(&b);
	return t;
}

/* test_results_limit - VIRTUAL_RESULTS_MAX distinct addresses pass (a
 * duplicate does not count), one more fails */
static void
test_results_limit(void **state)
{
	const char **out, *why;
	struct table *t;
	size_t n;

	(void)state;
	t = fan_out(VIRTUAL_RESULTS_MAX);
	assert_int_equal(virtual_expand(t, "list@x.example", arena, &out, &n,
	    &why), VIRTUAL_EXPANDED);
	assert_int_equal(n, VIRTUAL_RESULTS_MAX);
	assert_string_equal(out[0], "m0@y.example");
	assert_string_equal(out[n - 1], arena_printf(arena, "m%d@y.example",
	    VIRTUAL_RESULTS_MAX - 1));
	table_close(&t);
	t = fan_out(VIRTUAL_RESULTS_MAX + 1);
	assert_string_equal(expand(t, "list@x.example"),
	    arena_printf(arena, "ERR %s: \"list@x.example\" expands to more "
	    "than 1000 addresses", table_spec(t)));
	table_close(&t);
}

/* test_steps_limit - shared members at every level would take 2^20
 * walks for two results: the walk is cut off */
static void
test_steps_limit(void **state)
{
	struct buf b = { 0 };
	struct table *t;
	int i;

	(void)state;
	for (i = 0; i < VIRTUAL_DEPTH_MAX; i++)
		buf_printf(&b, "a%d@x.example a%d@x.example b%d@x.example\n"
		    "b%d@x.example a%d@x.example b%d@x.example\n", i, i + 1,
		    i + 1, i, i + 1, i + 1);
	t = open_file("diamond", buf_cstr(&b));
	buf_free(&b);
	assert_string_equal(expand(t, "a0@x.example"),
	    arena_printf(arena, "ERR %s: \"a0@x.example\" takes more than "
	    "20000 steps to expand", table_spec(t)));
	/* ten levels are 2^11 - 1 steps: fine */
	assert_string_equal(expand(t, "a10@x.example"),
	    "a20@x.example b20@x.example");
	table_close(&t);
}

/* test_duplicates - the first kept, case-insensitively, across levels */
static void
test_duplicates(void **state)
{
	struct table *t;

	(void)state;
	t = open_file("virtual",
	    "list@x.example c@y.example, B@Y.example, sub@x.example, "
	    "b@y.example, C@y.example\n"
	    "sub@x.example b@y.example d@y.example c@Y.EXAMPLE\n");
	assert_string_equal(expand(t, "list@x.example"),
	    "c@y.example B@y.example d@y.example");
	table_close(&t);
}

/* test_table_error - a broken file answers ERROR, never SAME; also in
 * the middle of an expansion */
static void
test_table_error(void **state)
{
	struct table *t;

	(void)state;
	t = open_file("virtual", "a@x.example b@x.example\n");
	assert_string_equal(expand(t, "a@x.example"), "b@x.example");
	testutil_replace(arena, tmpdir, "virtual", "a@x.example\n");
	table_refresh_all();
	assert_string_equal(expand(t, "a+e@X.example"),
	    arena_printf(arena, "ERR %s: lookup error for \"a+e@x.example\"",
	    table_spec(t)));
	assert_string_equal(expand(t, "z@x.example"),
	    arena_printf(arena, "ERR %s: lookup error for \"z@x.example\"",
	    table_spec(t)));
	testutil_replace(arena, tmpdir, "virtual", "a@x.example b@x.example\n");
	table_refresh_all();
	assert_string_equal(expand(t, "a@x.example"), "b@x.example");
	table_close(&t);
}

/* test_bad_value - any address that does not parse is an error naming
 * the key and the value; nothing is half expanded */
static void
test_bad_value(void **state)
{
	struct table *t;

	(void)state;
	t = open_table("inline:{ {a@x.example=b@y.example, c@y..example}, "
	    "{n@x.example=nodomain}, {z@x.example=<>}, "
	    "{deep@x.example=a@x.example}, {q@x.example=\"b@y.example}, "
	    "{e@x.example=,} }");
	assert_string_equal(expand(t, "a@x.example"),
	    arena_printf(arena, "ERR %s: key \"a@x.example\": bad address "
	    "\"c@y..example\" in \"b@y.example, c@y..example\": empty label "
	    "in domain",
	    table_spec(t)));
	assert_string_equal(expand(t, "deep@x.example"),
	    arena_printf(arena, "ERR %s: key \"a@x.example\": bad address "
	    "\"c@y..example\" in \"b@y.example, c@y..example\": empty label "
	    "in domain",
	    table_spec(t)));
	assert_string_equal(expand(t, "n@x.example"),
	    arena_printf(arena, "ERR %s: key \"n@x.example\": bad address "
	    "\"nodomain\" in \"nodomain\": no domain", table_spec(t)));
	assert_string_equal(expand(t, "z@x.example"),
	    arena_printf(arena, "ERR %s: key \"z@x.example\": bad address "
	    "\"<>\" in \"<>\": null address", table_spec(t)));
	assert_string_equal(expand(t, "q@x.example"),
	    arena_printf(arena, "ERR %s: key \"q@x.example\": bad address "
	    "\"\"b@y.example\" in \"\"b@y.example\": unbalanced quotes in "
	    "local part", table_spec(t)));
	assert_string_equal(expand(t, "e@x.example"),
	    arena_printf(arena, "ERR %s: key \"e@x.example\": empty value",
	    table_spec(t)));
	table_close(&t);
}

/* test_pattern - a regexp table is asked once with the whole address,
 * and "@other" works on its results too */
static void
test_pattern(void **state)
{
	struct table *t;

	(void)state;
	testutil_replace(arena, tmpdir, "re",
	    "/^u@x\\.example$/ WRONG@bare.example\n"
	    "/^@x\\.example$/ WRONG@domain.example\n"
	    "/^(.*)\\+.*@x\\.example$/ $1@y.example\n"
	    "/^old@/ @new.example\n");
	t = open_table(arena_printf(arena, "regexp:%s/re", tmpdir));
	assert_string_equal(expand(t, "u+e@x.example"), "u@y.example");
	assert_string_equal(expand(t, "v@x.example"), "SAME");
	assert_string_equal(expand(t, "old@x.example"), "old@new.example");
	table_close(&t);
}

/* main - run the group */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_entry, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_one_to_one, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_one_to_many, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_recursion, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_key_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_catch_all_domain, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_self_reference, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_results_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_steps_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_table_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_value, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pattern, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
