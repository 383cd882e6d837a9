/*
 * test_relay_guard.c - the mta's own relay check: open-relay tricks from
 * an outside client, mynetworks, AUTH, <postmaster>, and table errors
 * that must never read as "allowed" or "denied"
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "conf.h"
#include "inet.h"
#include "log.h"
#include "mailaddr.h"
#include "matchlist.h"
#include "relay_guard.h"
#include "table.h"
#include "testutil.h"

#define OK	RELAY_GUARD_OK
#define DENIED	RELAY_GUARD_DENIED
#define ERROR	RELAY_GUARD_ERROR

#define RT	MAILADDR_ROUTING
#define LIT	MAILADDR_LITERAL
#define QU	MAILADDR_QUOTED
#define ND	MAILADDR_NO_DOMAIN
#define SR	MAILADDR_SOURCE_ROUTE

#define OUTSIDE	"198.51.100.7"
#define INSIDE	"192.0.2.10"

static char tmpdir[64];
static struct arena *arena;

/* setup - a fresh directory and arena per test */
static int
setup(void **state)
{
	(void)state;
	return testutil_setup(tmpdir, sizeof(tmpdir), "test_relay_guard",
	    &arena);
}

/* teardown - remove the directory */
static int
teardown(void **state)
{
	(void)state;
	return testutil_teardown(tmpdir, &arena);
}

/* list - open a list setting, failing the test if it does not open */
static struct matchlist *
list(const char *text, enum matchlist_kind kind)
{
	struct conf_list items;
	struct matchlist *ml;
	char *err = NULL;

	conf_split_list(arena, text, &items);
	if ((ml = matchlist_open(arena, &items, kind, &err)) == NULL)
		fail_msg("matchlist_open(%s): %s", text, err);
	return ml;
}

/* addr - a client address */
static const struct inet_addr *
addr(const char *text)
{
	struct inet_addr *a = arena_alloc(arena, sizeof(*a));

	if (!inet_parse(text, a))
		fail_msg("inet_parse(%s)", text);
	return a;
}

/* rcpt - a parsed recipient, with the flags mailaddr_parse must give */
static const struct mailaddr *
rcpt(const char *text, const char *domain, unsigned flags)
{
	struct mailaddr *a = arena_alloc(arena, sizeof(*a));
	const char *why = NULL;

	if (!mailaddr_parse(arena, text, a, &why))
		fail_msg("mailaddr_parse(%s): %s", text, why);
	if (strcmp(a->domain, domain) != 0 || a->flags != flags)
		fail_msg("%s: domain \"%s\" flags %#x, want \"%s\" %#x", text,
		    a->domain, a->flags, domain, flags);
	return a;
}

/* the recipients every client/list combination is asked about */
static const struct {
	const char *text, *domain;
	unsigned flags;
	bool ours;		/* may an outside client send to it */
} rcpts[] = {
	/* tricks: whatever they look like, never ours */
	{ "<user%other.example@ours.example>", "ours.example", RT, false },
	{ "<other.example!user@ours.example>", "ours.example", RT, false },
	{ "<\"user@other.example\"@ours.example>", "ours.example", RT | QU,
	  false },
	{ "<\"user%other.example\"@ours.example>", "ours.example", RT | QU,
	  false },
	{ "<user@other.example@ours.example>", "ours.example", RT, false },
	/* a source route to us, final domain elsewhere: the route is
	 * dropped, and what is left is someone else's domain */
	{ "<@ours.example:user@other.example>", "other.example", RT | SR,
	  false },
	/* the other way round: the final domain is ours, but the route
	 * still marks sender-specified routing */
	{ "<@other.example:user@ours.example>", "ours.example", RT | SR,
	  false },
	{ "<@ours.example,@ours.example:user@ours.example>", "ours.example",
	  RT | SR, false },
	/* literals: not ours even though relay_domains lists this one */
	{ "<user@[192.0.2.1]>", "[192.0.2.1]", LIT, false },
	{ "<user@[IPv6:2001:db8::1]>", "[IPv6:2001:db8::1]", LIT, false },
	{ "<user>", "", ND, false },
	{ "<host!user>", "", ND | RT, false },
	{ "<user%ours.example>", "", ND | RT, false },
	{ "<user@other.example>", "other.example", 0, false },
	{ "<user@sub.ours.example>", "sub.ours.example", 0, false },
	{ "<user@ours.example.other.example>", "ours.example.other.example",
	  0, false },
	{ "<user@xours.example>", "xours.example", 0, false },
	/* ours */
	{ "<user@ours.example>", "ours.example", 0, true },
	{ "<user@ours.example.>", "ours.example", 0, true },
	{ "<USER@OURS.EXAMPLE>", "ours.example", 0, true },
	{ "<\"john doe\"@Ours.Example>", "ours.example", QU, true },
	{ "<user@also.example>", "also.example", 0, true },
	/* RFC 5321: <postmaster> is always accepted */
	{ "<postmaster>", "", ND, true },
	{ "<PostMaster>", "", ND, true },
	/* but not dressed up as something else */
	{ "<\"postmaster\">", "", ND | QU, false },
	{ "<@other.example:postmaster>", "", ND | RT | SR, false },
	{ "<postmaster%other.example>", "", ND | RT, false },
};

#define N_RCPTS	(sizeof(rcpts) / sizeof(rcpts[0]))

/* check_all - every recipient for client (text or NULL): the ours ones
 * get ours_result, the others other_result */
static void
check_all(const struct relay_guard *g, const char *client, bool auth,
    enum relay_guard_result ours_result,
    enum relay_guard_result other_result)
{
	const struct inet_addr *a = client ? addr(client) : NULL;
	enum relay_guard_result got, want;
	size_t i;

	for (i = 0; i < N_RCPTS; i++) {
		want = rcpts[i].ours ? ours_result : other_result;
		got = relay_guard_check(g, a, auth, rcpt(rcpts[i].text,
		    rcpts[i].domain, rcpts[i].flags), arena);
		if (got != want)
			fail_msg("%s from %s%s: %d, want %d", rcpts[i].text,
			    client ? client : "(none)", auth ? " (auth)" : "",
			    got, want);
	}
}

/* guard - mynetworks and relay_domains from setting text */
static struct relay_guard
guard(const char *mynetworks, const char *relay_domains)
{
	struct relay_guard g = {
		.mynetworks = list(mynetworks, MATCHLIST_NETWORKS),
		.relay_domains = list(relay_domains, MATCHLIST_DOMAINS),
	};

	return g;
}

/* test_outside - an outside client gets only our domains */
static void
test_outside(void **state)
{
	struct relay_guard g;

	(void)state;
	g = guard("127.0.0.0/8, 192.0.2.0/24, [2001:db8::]/32",
	    "ours.example, [192.0.2.1], also.example");
	check_all(&g, OUTSIDE, false, OK, DENIED);
	check_all(&g, "2001:db9::1", false, OK, DENIED);
	/* no client address (unix socket): never in mynetworks */
	check_all(&g, NULL, false, OK, DENIED);
	assert_int_equal(relay_guard_client_trusted(&g, addr(OUTSIDE), arena),
	    0);
	assert_int_equal(relay_guard_client_trusted(&g, NULL, arena), 0);
}

/* test_trusted - mynetworks and authenticated clients may relay */
static void
test_trusted(void **state)
{
	struct relay_guard g;

	(void)state;
	g = guard("127.0.0.0/8, 192.0.2.0/24, [2001:db8::]/32",
	    "ours.example, also.example");
	check_all(&g, INSIDE, false, OK, OK);
	check_all(&g, "127.0.0.1", false, OK, OK);
	check_all(&g, "2001:db8::25", false, OK, OK);
	check_all(&g, "::ffff:192.0.2.10", false, OK, OK);
	check_all(&g, OUTSIDE, true, OK, OK);
	check_all(&g, NULL, true, OK, OK);
	assert_int_equal(relay_guard_client_trusted(&g, addr(INSIDE), arena),
	    1);
}

/* test_unset - no lists at all: only AUTH and <postmaster> pass */
static void
test_unset(void **state)
{
	struct relay_guard none = { 0 };
	struct relay_guard empty;
	const struct mailaddr *ours, *pm;

	(void)state;
	empty = guard("", "");
	ours = rcpt("<user@ours.example>", "ours.example", 0);
	pm = rcpt("<postmaster>", "", ND);
	assert_int_equal(relay_guard_check(&none, addr("127.0.0.1"), false,
	    ours, arena), DENIED);
	assert_int_equal(relay_guard_check(&empty, addr("127.0.0.1"), false,
	    ours, arena), DENIED);
	assert_int_equal(relay_guard_check(&none, addr(OUTSIDE), true, ours,
	    arena), OK);
	assert_int_equal(relay_guard_check(&none, addr(OUTSIDE), false, pm,
	    arena), OK);
	assert_int_equal(relay_guard_client_trusted(&none,
	    addr("127.0.0.1"), arena), 0);
}

/* test_null_sender - "<>" is no recipient anybody may have */
static void
test_null_sender(void **state)
{
	struct relay_guard g;
	struct mailaddr a;

	(void)state;
	g = guard("", "ours.example");
	assert_true(mailaddr_parse(arena, "<>", &a, NULL));
	assert_int_equal(relay_guard_check(&g, addr(OUTSIDE), false, &a,
	    arena), DENIED);
}

/* test_relay_domains_error - a hash: table that breaks at run time */
static void
test_relay_domains_error(void **state)
{
	struct relay_guard g;
	char *path;

	(void)state;
	path = testutil_replace(arena, tmpdir, "relay",
	    "ours.example 1\nalso.example 1\n");
	g = guard("192.0.2.0/24", arena_printf(arena, "hash:%s", path));
	check_all(&g, OUTSIDE, false, OK, DENIED);

	/* a line without a value: the reload fails, the table answers
	 * error, and so does the guard where it needs the table */
	testutil_replace(arena, tmpdir, "relay", "ours.example\n");
	table_refresh_all();
	for (size_t i = 0; i < N_RCPTS; i++) {
		const struct mailaddr *a = rcpt(rcpts[i].text,
		    rcpts[i].domain, rcpts[i].flags);
		enum relay_guard_result want;

		/* flagged addresses and <postmaster> need no lookup */
		if (a->flags & (RT | LIT | ND))
			want = rcpts[i].ours ? OK : DENIED;
		else
			want = ERROR;
		if (relay_guard_check(&g, addr(OUTSIDE), false, a, arena) !=
		    want)
			fail_msg("%s with broken relay_domains: want %d",
			    rcpts[i].text, want);
	}
	/* trusted clients need no relay_domains */
	check_all(&g, INSIDE, false, OK, OK);
	check_all(&g, OUTSIDE, true, OK, OK);

	/* gone altogether: still an error, never "not ours" */
	assert_int_equal(unlink(path), 0);
	table_refresh_all();
	assert_int_equal(relay_guard_check(&g, addr(OUTSIDE), false,
	    rcpt("<user@ours.example>", "ours.example", 0), arena), ERROR);
	assert_int_equal(relay_guard_check(&g, addr(OUTSIDE), false,
	    rcpt("<user@other.example>", "other.example", 0), arena), ERROR);

	/* fixed: answers come back */
	testutil_replace(arena, tmpdir, "relay", "ours.example 1\n"
	    "also.example 1\n");
	table_refresh_all();
	check_all(&g, OUTSIDE, false, OK, DENIED);
}

/* test_mynetworks_error - a cidr: table of networks that breaks */
static void
test_mynetworks_error(void **state)
{
	struct relay_guard g;
	const struct mailaddr *ours, *other, *lit;

	(void)state;
	testutil_replace(arena, tmpdir, "nets", "192.0.2.0/24 ok\n");
	g = guard(arena_printf(arena, "127.0.0.1 cidr:%s/nets", tmpdir),
	    "ours.example also.example");
	check_all(&g, INSIDE, false, OK, OK);
	ours = rcpt("<user@ours.example>", "ours.example", 0);
	other = rcpt("<user@other.example>", "other.example", 0);
	lit = rcpt("<user@[192.0.2.1]>", "[192.0.2.1]", LIT);

	testutil_replace(arena, tmpdir, "nets", "192.0.2.1/24 host bits\n");
	table_refresh_all();
	assert_int_equal(relay_guard_client_trusted(&g, addr(INSIDE), arena),
	    -1);
	assert_int_equal(relay_guard_client_trusted(&g, addr(OUTSIDE),
	    arena), -1);
	/* items before the broken table still answer */
	assert_int_equal(relay_guard_client_trusted(&g, addr("127.0.0.1"),
	    arena), 1);
	assert_int_equal(relay_guard_check(&g, addr("127.0.0.1"), false,
	    other, arena), OK);
	/* the client may or may not be trusted: no refusal */
	assert_int_equal(relay_guard_check(&g, addr(INSIDE), false, other,
	    arena), ERROR);
	assert_int_equal(relay_guard_check(&g, addr(OUTSIDE), false, lit,
	    arena), ERROR);
	/* but whatever mynetworks would say, these are allowed */
	assert_int_equal(relay_guard_check(&g, addr(OUTSIDE), false, ours,
	    arena), OK);
	assert_int_equal(relay_guard_check(&g, addr(OUTSIDE), true, other,
	    arena), OK);
	assert_int_equal(relay_guard_check(&g, addr(OUTSIDE), false,
	    rcpt("<postmaster>", "", ND), arena), OK);
	/* no client address needs no lookup */
	assert_int_equal(relay_guard_check(&g, NULL, false, other, arena),
	    DENIED);
}

/* check_null - a bug: no guard */
static void
check_null(void)
{
	struct mailaddr a = { .local = "u", .domain = "d", .full = "u@d" };

	(void)relay_guard_check(NULL, NULL, false, &a, NULL);
}

/* test_null - NULL arguments are bugs */
static void
test_null(void **state)
{
	(void)state;
	testutil_expect_abort(check_null);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trusted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_sender, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_relay_domains_error,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_mynetworks_error, setup,
		    teardown),
		cmocka_unit_test(test_null),
	};

	log_init("test_relay_guard", true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
