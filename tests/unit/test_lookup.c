/*
 * test_lookup.c - access(5) key order: mail addresses, domains, client
 * addresses, pattern tables asked once, errors end the search
 *
 * The order is checked exactly: a table holds every expected key (value =
 * the key), the lookup must return the first one; that key is removed and
 * the lookup must return the next, and so on until nothing is found.
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
#include "inet.h"
#include "log.h"
#include "lookup.h"
#include "mailaddr.h"
#include "table.h"
#include "testutil.h"

static struct arena *arena;

/* One way of asking: mail address, domain, address, or client. */
struct ask {
	enum table_result (*fn)(struct table *, const struct ask *,
	    const char **);
	const char *text;	/* address or name */
	const char *addr;	/* lookup_client's address */
	const char *const *never;	/* keys that must never be tried */
};

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

/* ask_mail - parse and lookup_mail */
static enum table_result
ask_mail(struct table *t, const struct ask *a, const char **v)
{
	struct mailaddr m;
	const char *err;

	if (!mailaddr_parse(arena, a->text, &m, &err))
		fail_msg("mailaddr_parse(%s): %s", a->text, err);
	return lookup_mail(t, &m, arena, v);
}

/* ask_domain - lookup_domain */
static enum table_result
ask_domain(struct table *t, const struct ask *a, const char **v)
{
	return lookup_domain(t, a->text, arena, v);
}

/* ask_addr - parse and lookup_addr */
static enum table_result
ask_addr(struct table *t, const struct ask *a, const char **v)
{
	struct inet_addr ia;

	assert_true(inet_parse(a->text, &ia));
	return lookup_addr(t, &ia, arena, v);
}

/* ask_client - lookup_client with name and address */
static enum table_result
ask_client(struct table *t, const struct ask *a, const char **v)
{
	struct inet_addr ia;

	assert_true(inet_parse(a->addr, &ia));
	return lookup_client(t, a->text, &ia, arena, v);
}

/* inline_of - an inline table mapping each key to itself, skipping one
 * prefix of the list, plus the keys that must never be tried */
static struct table *
inline_of(const char *const *keys, size_t from, const char *const *never)
{
	struct buf b = { 0 };
	struct table *t;
	char *err = NULL;
	size_t i;

	buf_puts(&b, "inline:{ {decoy=never}");
	for (i = from; keys[i] != NULL; i++)
		buf_printf(&b, ", {%s=%s}", keys[i], keys[i]);
	for (i = 0; never != NULL && never[i] != NULL; i++)
		buf_printf(&b, ", {%s=WRONG %s}", never[i], never[i]);
	buf_puts(&b, " }");
	if ((t = table_open(buf_cstr(&b), &err)) == NULL)
		fail_msg("%s: %s", buf_cstr(&b), err);
	buf_free(&b);
	return t;
}

/* check_order - keys must be tried exactly in this order */
static void
check_order(const struct ask *a, const char *const *keys)
{
	struct table *t;
	const char *v;
	size_t i;

	for (i = 0; keys[i] != NULL; i++) {
		t = inline_of(keys, i, a->never);
		v = NULL;
		if (a->fn(t, a, &v) != TABLE_FOUND)
			fail_msg("%s: key %zu \"%s\" not found", a->text, i,
			    keys[i]);
		assert_string_equal(v, keys[i]);
		table_close(&t);
	}
	t = inline_of(keys, i, a->never);
	if (a->fn(t, a, &v) != TABLE_NOTFOUND)
		fail_msg("%s: found \"%s\" after the last key", a->text, v);
	table_close(&t);
}

/* test_mail_order - user@domain, domain, parents, user@ */
static void
test_mail_order(void **state)
{
	static const char *const keys[] = {
		"user@mx.sub.example.com", "mx.sub.example.com",
		".sub.example.com", ".example.com", ".com", "user@", NULL,
	};
	static const char *const never[] = {
		"user", "mx", "sub.example.com", "example.com", "com",
		"@mx.sub.example.com", "user@sub.example.com", NULL,
	};
	const struct ask a = { .fn = ask_mail,
	    .text = "<User@MX.Sub.Example.COM>", .never = never };

	(void)state;
	check_order(&a, keys);
}

/* test_mail_quoted_and_bare - quoted local part, no domain, literal */
static void
test_mail_quoted_and_bare(void **state)
{
	static const char *const quoted[] = {
		"\"john doe\"@example.org", "example.org", ".org",
		"\"john doe\"@", NULL,
	};
	static const char *const bare[] = { "postmaster", "postmaster@", NULL };
	static const char *const literal[] = {
		"u@[192.0.2.1]", "[192.0.2.1]", "u@", NULL,
	};
	const struct ask q = { .fn = ask_mail,
	    .text = "<\"john doe\"@example.org>" };
	static const char *const never_bare[] = { "@", NULL };
	const struct ask b = { .fn = ask_mail, .text = "postmaster",
	    .never = never_bare };
	static const char *const never_lit[] = {
		".0.2.1]", ".2.1]", ".1]", "192.0.2.1", NULL,
	};
	const struct ask l = { .fn = ask_mail, .text = "u@[192.0.2.1]",
	    .never = never_lit };

	(void)state;
	check_order(&q, quoted);
	check_order(&b, bare);
	check_order(&l, literal);
}

/* test_mail_null_sender - the null sender is the key "<>" */
static void
test_mail_null_sender(void **state)
{
	static const char *const keys[] = { "<>", NULL };
	const struct ask a = { .fn = ask_mail, .text = "<>" };

	(void)state;
	check_order(&a, keys);
}

/* test_domain_order - name, then parent domains */
static void
test_domain_order(void **state)
{
	static const char *const keys[] = {
		"mail.sub.example.com", ".sub.example.com", ".example.com",
		".com", NULL,
	};
	static const char *const dotted[] = {
		"mail.example.com.", ".example.com.", ".com.", NULL,
	};
	const struct ask a = { .fn = ask_domain,
	    .text = "Mail.Sub.Example.com" };
	const struct ask d = { .fn = ask_domain, .text = "mail.example.com." };
	struct table *t;
	const char *v;

	(void)state;
	check_order(&a, keys);
	check_order(&d, dotted);
	t = inline_of(keys, 0, NULL);
	assert_int_equal(lookup_domain(t, "", arena, &v), TABLE_NOTFOUND);
	table_close(&t);
}

/* test_addr_order_v4 - octets removed one at a time */
static void
test_addr_order_v4(void **state)
{
	static const char *const keys[] = {
		"192.0.2.1", "192.0.2", "192.0", "192", NULL,
	};
	const struct ask a = { .fn = ask_addr, .text = "192.0.2.1" };
	const struct ask m = { .fn = ask_addr, .text = "::ffff:192.0.2.1" };

	(void)state;
	check_order(&a, keys);
	check_order(&m, keys);
}

/* test_addr_order_v6 - cut at the last ":" as Postfix does */
static void
test_addr_order_v6(void **state)
{
	static const char *const keys[] = {
		"2001:db8:1:2::1", "2001:db8:1:2:", "2001:db8:1:2",
		"2001:db8:1", "2001:db8", "2001", NULL,
	};
	static const char *const full[] = {
		"2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5",
		"2001:db8:1:2:3:4", "2001:db8:1:2:3", "2001:db8:1:2",
		"2001:db8:1", "2001:db8", "2001", NULL,
	};
	static const char *const loop[] = { "::1", NULL };
	const struct ask a = { .fn = ask_addr,
	    .text = "2001:0DB8:1:2:0:0:0:1" };
	const struct ask b = { .fn = ask_addr,
	    .text = "2001:db8:1:2:3:4:5:6" };
	static const char *const never_loop[] = { ":", NULL };
	const struct ask c = { .fn = ask_addr, .text = "[::1]",
	    .never = never_loop };

	(void)state;
	check_order(&a, keys);
	check_order(&b, full);
	check_order(&c, loop);
}

/* test_client_order - name order, then address order */
static void
test_client_order(void **state)
{
	static const char *const keys[] = {
		"mx.example.com", ".example.com", ".com", "192.0.2.1",
		"192.0.2", "192.0", "192", NULL,
	};
	static const char *const addr_only[] = {
		"192.0.2.1", "192.0.2", "192.0", "192", NULL,
	};
	const struct ask a = { .fn = ask_client, .text = "mx.example.com",
	    .addr = "192.0.2.1" };
	static const char *const never_names[] = {
		"unknown", "[192.0.2.1]", ".0.2.1]", NULL,
	};
	const struct ask u = { .fn = ask_client, .text = "unknown",
	    .addr = "192.0.2.1", .never = never_names };
	const struct ask l = { .fn = ask_client, .text = "[192.0.2.1]",
	    .addr = "192.0.2.1", .never = never_names };
	struct table *t;
	const char *v;

	(void)state;
	check_order(&a, keys);
	check_order(&u, addr_only);
	check_order(&l, addr_only);
	/* "unknown" is never looked up as a name */
	t = table_open("inline:{unknown=bad}", &(char *){ NULL });
	assert_non_null(t);
	assert_int_equal(ask_client(t, &u, &v), TABLE_NOTFOUND);
	assert_int_equal(lookup_client(t, "unknown", NULL, arena, &v),
	    TABLE_NOTFOUND);
	table_close(&t);
}

/* test_pattern_tables_asked_once - no partial keys for pattern tables */
static void
test_pattern_tables_asked_once(void **state)
{
	char dir[64], *err = NULL;
	struct table *t;
	struct mailaddr m;
	struct inet_addr ia;
	const char *v, *perr;

	(void)state;
	assert_int_equal(testutil_tmpdir(dir, sizeof(dir), "test_lookup"), 0);
	/* each pattern matches only a partial key: never asked */
	testutil_put(arena, dir, "re",
	    "/^example\\.com$/ domain\n"
	    "/^\\.example\\.com$/ parent\n"
	    "/^user@$/ local\n"
	    "/^192\\.0\\.2$/ net\n"
	    "/^\\.com$/ tld\n");
	t = table_open(arena_printf(arena, "regexp:%s/re", dir), &err);
	assert_non_null(t);
	assert_true(mailaddr_parse(arena, "user@example.com", &m, &perr));
	assert_int_equal(lookup_mail(t, &m, arena, &v), TABLE_NOTFOUND);
	assert_int_equal(lookup_domain(t, "mx.example.com", arena, &v),
	    TABLE_NOTFOUND);
	assert_true(inet_parse("192.0.2.1", &ia));
	assert_int_equal(lookup_addr(t, &ia, arena, &v), TABLE_NOTFOUND);
	assert_int_equal(lookup_client(t, "mx.example.com", &ia, arena, &v),
	    TABLE_NOTFOUND);
	/* the whole key is asked, as written (case kept) */
	assert_int_equal(lookup_domain(t, "Example.COM", arena, &v),
	    TABLE_FOUND);
	assert_string_equal(v, "domain");
	table_close(&t);

	/* cidr gets the client address */
	testutil_put(arena, dir, "nets", "192.0.2.0/24 net\n");
	t = table_open(arena_printf(arena, "cidr:%s/nets", dir), &err);
	assert_non_null(t);
	assert_int_equal(lookup_client(t, "mx.example.com", &ia, arena, &v),
	    TABLE_FOUND);
	assert_string_equal(v, "net");
	table_close(&t);
	assert_int_equal(testutil_rmtree(dir), 0);
}

/* test_error_ends_search - an error is never "not found" */
static void
test_error_ends_search(void **state)
{
	char dir[64], *err = NULL, *path;
	struct table *t;
	struct mailaddr m;
	struct inet_addr ia;
	const char *v = "untouched", *perr;

	(void)state;
	assert_int_equal(testutil_tmpdir(dir, sizeof(dir), "test_lookup"), 0);
	path = testutil_put(arena, dir, "access",
	    "user@ OK\n192 OK\n.com OK\n");
	t = table_open(arena_printf(arena, "hash:%s", path), &err);
	assert_non_null(t);
	assert_true(mailaddr_parse(arena, "user@example.com", &m, &perr));
	assert_int_equal(lookup_mail(t, &m, arena, &v), TABLE_FOUND);
	/* the file breaks: an error, never "not listed" */
	unlink(path);
	testutil_put(arena, dir, "access", "user@\n");
	assert_false(table_refresh(t));
	v = "untouched";
	assert_int_equal(lookup_mail(t, &m, arena, &v), TABLE_ERROR);
	assert_true(inet_parse("192.0.2.1", &ia));
	assert_int_equal(lookup_addr(t, &ia, arena, &v), TABLE_ERROR);
	assert_int_equal(lookup_domain(t, "example.com", arena, &v),
	    TABLE_ERROR);
	assert_int_equal(lookup_client(t, "mx.example.com", &ia, arena, &v),
	    TABLE_ERROR);
	assert_string_equal(v, "untouched");
	table_close(&t);
	assert_int_equal(testutil_rmtree(dir), 0);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mail_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_mail_quoted_and_bare,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_mail_null_sender, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_domain_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_addr_order_v4, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_addr_order_v6, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pattern_tables_asked_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_ends_search, setup,
		    teardown),
	};

	log_init("test_lookup", true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
