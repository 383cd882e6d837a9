/*
 * test_matchlist.c - mynetworks / relay_domains lists: literals,
 * .subdomains, tables, negation, order, errors
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "conf.h"
#include "inet.h"
#include "log.h"
#include "matchlist.h"
#include "table.h"
#include "testutil.h"

static char tmpdir[64];
static struct arena *arena;

/* setup - a fresh directory and arena per test */
static int
setup(void **state)
{
	(void)state;
	return testutil_setup(tmpdir, sizeof(tmpdir), "test_matchlist", &arena);
}

/* teardown - remove the directory */
static int
teardown(void **state)
{
	(void)state;
	return testutil_teardown(tmpdir, &arena);
}

/* put - write tmpdir/name (new inode) and return the path */
static char *
put(const char *name, const char *text)
{
	return testutil_replace(arena, tmpdir, name, text);
}

/* open_list - split the setting text and open it */
static struct matchlist *
open_list(const char *text, enum matchlist_kind kind)
{
	struct conf_list items;
	struct matchlist *ml;
	char *err = NULL;

	conf_split_list(arena, text, &items);
	if ((ml = matchlist_open(arena, &items, kind, &err)) == NULL)
		fail_msg("matchlist_open(%s): %s", text, err);
	return ml;
}

/* open_err - expect failure, return the error text */
static const char *
open_err(const char *text, enum matchlist_kind kind)
{
	struct conf_list items;
	char *err = NULL, *copy;

	conf_split_list(arena, text, &items);
	assert_null(matchlist_open(arena, &items, kind, &err));
	assert_non_null(err);
	copy = arena_strdup(arena, err);
	free(err);
	return copy;
}

/* addr - match one address text */
static enum table_result
addr(struct matchlist *ml, const char *text)
{
	struct inet_addr a;

	if (!inet_parse(text, &a))
		fail_msg("inet_parse(%s)", text);
	return matchlist_addr(ml, &a);
}

/* test_networks - networks, negation, first match */
static void
test_networks(void **state)
{
	struct matchlist *ml;
	struct inet_addr none = { 0 };

	(void)state;
	ml = open_list("127.0.0.0/8, [::1]/128 !192.0.2.128/25,192.0.2.0/24 "
	    "2001:db8::/32 [2001:db8:ffff::1] 198.51.100.7",
	    MATCHLIST_NETWORKS);
	assert_int_equal(addr(ml, "127.1.2.3"), TABLE_FOUND);
	assert_int_equal(addr(ml, "::1"), TABLE_FOUND);
	assert_int_equal(addr(ml, "192.0.2.200"), TABLE_NOTFOUND);
	assert_int_equal(addr(ml, "192.0.2.5"), TABLE_FOUND);
	assert_int_equal(addr(ml, "2001:db8:1::5"), TABLE_FOUND);
	assert_int_equal(addr(ml, "2001:db9::5"), TABLE_NOTFOUND);
	assert_int_equal(addr(ml, "198.51.100.7"), TABLE_FOUND);
	assert_int_equal(addr(ml, "198.51.100.8"), TABLE_NOTFOUND);
	assert_int_equal(addr(ml, "::ffff:127.0.0.1"), TABLE_FOUND);
	assert_int_equal(matchlist_addr(ml, &none), TABLE_NOTFOUND);

	/* the first match answers: here the wider network comes first */
	ml = open_list("192.0.2.0/24, !192.0.2.128/25", MATCHLIST_NETWORKS);
	assert_int_equal(addr(ml, "192.0.2.200"), TABLE_FOUND);

	ml = open_list("", MATCHLIST_NETWORKS);
	assert_int_equal(addr(ml, "127.0.0.1"), TABLE_NOTFOUND);
}

/* test_network_tables - table items in address order */
static void
test_network_tables(void **state)
{
	struct matchlist *ml;

	(void)state;
	put("nets", "10.0.0.0/8 any value\n");
	put("hosts", "172.16 x\n2001:db8:1: y\n");
	ml = open_list(arena_printf(arena, "!cidr:%s/nets, 10.0.0.0/7, "
	    "hash:%s/hosts, inline:{ 192.0.2.1=yes }", tmpdir, tmpdir),
	    MATCHLIST_NETWORKS);
	assert_int_equal(addr(ml, "10.1.2.3"), TABLE_NOTFOUND);
	assert_int_equal(addr(ml, "11.1.2.3"), TABLE_FOUND);
	/* hash tables get the truncated address keys */
	assert_int_equal(addr(ml, "172.16.5.5"), TABLE_FOUND);
	assert_int_equal(addr(ml, "172.17.5.5"), TABLE_NOTFOUND);
	assert_int_equal(addr(ml, "2001:db8:1::1"), TABLE_FOUND);
	assert_int_equal(addr(ml, "192.0.2.1"), TABLE_FOUND);
	assert_int_equal(addr(ml, "192.0.2.2"), TABLE_NOTFOUND);
}

/* test_domains - exact names, .subdomains, negation */
static void
test_domains(void **state)
{
	struct matchlist *ml;

	(void)state;
	ml = open_list("Example.COM, .example.net !bad.example.org "
	    ".example.org", MATCHLIST_DOMAINS);
	assert_int_equal(matchlist_domain(ml, "example.com"), TABLE_FOUND);
	assert_int_equal(matchlist_domain(ml, "EXAMPLE.com."), TABLE_FOUND);
	assert_int_equal(matchlist_domain(ml, "sub.example.com"),
	    TABLE_NOTFOUND);
	assert_int_equal(matchlist_domain(ml, "example.net"), TABLE_NOTFOUND);
	assert_int_equal(matchlist_domain(ml, "a.example.net"), TABLE_FOUND);
	assert_int_equal(matchlist_domain(ml, "A.B.EXAMPLE.NET"), TABLE_FOUND);
	assert_int_equal(matchlist_domain(ml, "xexample.net"), TABLE_NOTFOUND);
	assert_int_equal(matchlist_domain(ml, "bad.example.org"),
	    TABLE_NOTFOUND);
	assert_int_equal(matchlist_domain(ml, "good.example.org"),
	    TABLE_FOUND);
	assert_int_equal(matchlist_domain(ml, "example.org"), TABLE_NOTFOUND);
	assert_int_equal(matchlist_domain(ml, ""), TABLE_NOTFOUND);
	assert_int_equal(matchlist_domain(ml, NULL), TABLE_NOTFOUND);
}

/* test_domain_tables_and_errors - table items and table errors */
static void
test_domain_tables_and_errors(void **state)
{
	struct matchlist *ml;
	char *path;

	(void)state;
	path = put("relay", "relay.example 1\n.sub.example 1\n");
	ml = open_list(arena_printf(arena, "first.example hash:%s "
	    "last.example", path), MATCHLIST_DOMAINS);
	assert_int_equal(matchlist_domain(ml, "Relay.Example"), TABLE_FOUND);
	assert_int_equal(matchlist_domain(ml, "a.sub.example"), TABLE_FOUND);
	assert_int_equal(matchlist_domain(ml, "sub.example"), TABLE_NOTFOUND);
	assert_int_equal(matchlist_domain(ml, "last.example"), TABLE_FOUND);

	/* the table breaks: items before it still answer, the rest errs */
	put("relay", "relay.example\n");
	table_refresh_all();
	assert_int_equal(matchlist_domain(ml, "first.example"), TABLE_FOUND);
	assert_int_equal(matchlist_domain(ml, "relay.example"), TABLE_ERROR);
	assert_int_equal(matchlist_domain(ml, "last.example"), TABLE_ERROR);
	put("relay", "relay.example 1\n");
	table_refresh_all();
	assert_int_equal(matchlist_domain(ml, "relay.example"), TABLE_FOUND);
}

/* test_network_table_error - a broken network table answers error */
static void
test_network_table_error(void **state)
{
	struct matchlist *ml;

	(void)state;
	put("nets", "192.0.2.0/24 ok\n");
	ml = open_list(arena_printf(arena, "127.0.0.1 cidr:%s/nets", tmpdir),
	    MATCHLIST_NETWORKS);
	assert_int_equal(addr(ml, "192.0.2.9"), TABLE_FOUND);
	put("nets", "192.0.2.1/24 broken\n");
	table_refresh_all();
	assert_int_equal(addr(ml, "127.0.0.1"), TABLE_FOUND);
	assert_int_equal(addr(ml, "192.0.2.9"), TABLE_ERROR);
	assert_int_equal(addr(ml, "198.51.100.1"), TABLE_ERROR);
}

/* test_open_errors - bad items are all reported */
static void
test_open_errors(void **state)
{
	const char *err;
	char *want;

	(void)state;
	err = open_err(arena_printf(arena, "300.1.1.1, 192.0.2.1/24 "
	    "hash:%s/none, nosuch:/x, 10.0.0.0/8, !", tmpdir),
	    MATCHLIST_NETWORKS);
	want = arena_printf(arena,
	    "bad network \"300.1.1.1\": bad address\n"
	    "bad network \"192.0.2.1/24\": non-null host address bits\n"
	    "%s/none: cannot open: %s\n"
	    "bad network \"nosuch:/x\": bad address\n"
	    "empty list item \"!\"", tmpdir, strerror(ENOENT));
	assert_string_equal(err, want);

	err = open_err("nosuch:/x, a/b, user@example.com ok.example",
	    MATCHLIST_DOMAINS);
	assert_string_equal(err,
	    "bad domain \"nosuch:/x\" (unknown table type?)\n"
	    "bad domain \"a/b\"\n"
	    "bad domain \"user@example.com\"");
}

/* test_list_file - /path items read from a file */
static void
test_list_file(void **state)
{
	struct matchlist *ml;
	char *path, *want;
	const char *err;

	(void)state;
	path = put("mynetworks",
	    "# trusted networks\n"
	    "192.0.2.0/24, 198.51.100.0/24\n"
	    "  !10.1.0.0/16 10.0.0.0/8\n");
	ml = open_list(arena_printf(arena, "127.0.0.1 %s", path),
	    MATCHLIST_NETWORKS);
	assert_int_equal(addr(ml, "127.0.0.1"), TABLE_FOUND);
	assert_int_equal(addr(ml, "198.51.100.3"), TABLE_FOUND);
	assert_int_equal(addr(ml, "10.1.0.1"), TABLE_NOTFOUND);
	assert_int_equal(addr(ml, "10.2.0.1"), TABLE_FOUND);

	path = put("badnets", "192.0.2.0/24\n\n1.2.3.4/8 /etc/other\n");
	err = open_err(path, MATCHLIST_NETWORKS);
	want = arena_printf(arena,
	    "%s:3: bad network \"1.2.3.4/8\": non-null host address bits\n"
	    "%s:3: file \"/etc/other\" named inside a list file", path, path);
	assert_string_equal(err, want);
	err = open_err(arena_printf(arena, "%s/absent", tmpdir),
	    MATCHLIST_NETWORKS);
	assert_string_equal(err, arena_printf(arena,
	    "%s/absent: cannot open: %s", tmpdir, strerror(ENOENT)));
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_networks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_network_tables, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domain_tables_and_errors,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_network_table_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list_file, setup,
		    teardown),
	};

	log_init("test_matchlist", true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
