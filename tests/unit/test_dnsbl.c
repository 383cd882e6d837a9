/*
 * test_dnsbl.c - the dnsbl module against a private nsd (testutil_nsd)
 * serving the list zones in tests/data/zones/ (zen.example.net,
 * bl.example.net, wl.example.org, dbl.example.net)
 *
 * Configs are built as filterd builds them (fake_module_load:
 * conf_load_string, conf_apply with the module's settings, init); a small
 * fake transaction stands in for filterd/txn.c and the stage handlers are
 * called directly, with the module's conn and msg state kept across
 * stages as the core keeps them.
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
#include <time.h>

#include "arena.h"
#include "dns.h"
#include "dnsbl.h"
#include "inet.h"
#include "mailaddr.h"
#include "policy.h"
#include "table.h"
#include "fake_txn.h"
#include "testutil.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

/* --- fixture ------------------------------------------------------------- */

static struct testutil_nsd g;
static struct dns *dns_ok;	/* nsd */
static struct dns *dns_quiet;	/* the silent socket */

struct fix {
	struct fake_module mod;		/* the module, loaded */
	char *error;
	struct txn txn;
	struct policy_globals globals;
};

static struct fix F;

/* group_setup - nsd and two resolvers */
static int
group_setup(void **state)
{
	(void)state;
	return testutil_dns_start(&g, "test_dnsbl", TOP_SRCDIR, &dns_ok, &dns_quiet);
}

/* group_teardown - resolvers, then nsd */
static int
group_teardown(void **state)
{
	(void)state;
	return testutil_dns_stop(&g, &dns_ok, &dns_quiet);
}

/* unload - free the current config and transaction */
static void
unload(void)
{
	fake_module_unload(&F.mod);
	fake_txn_clear(&F.txn);
	free(F.error);
	memset(&F, 0, sizeof(F));
}

/* setup - an empty fixture */
static int
setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	return 0;
}

/* teardown - release everything */
static int
teardown(void **state)
{
	(void)state;
	unload();
	return 0;
}

/* load - "[dnsbl]" text into a config and a fresh connection from
 * client; true if init accepted it, else F.error holds the errors */
static bool
load(const char *text, const char *client, struct dns *dns)
{
	unload();
	F.globals.dns = dns;
	if (!fake_module_load(&dnsbl_module, "dnsbl.conf", text, &F.globals,
	    &F.mod, &F.error))
		return false;
	F.txn.conn_arena = arena_create();
	F.txn.msg_arena = arena_create();
	F.txn.addr_text = client;
	F.txn.name = "unknown";
	F.txn.mynetworks = TABLE_NOTFOUND;
	assert_true(inet_parse(client, &F.txn.addr));
	return true;
}

/* run - one stage's handler; the verdict into *v */
static enum policy_status
run(enum policy_stage stage, struct verdict *v)
{
	return fake_module_run(&F.mod, &F.txn, stage, v);
}

/* assert_dunno - no opinion, nothing listed */
static void
assert_dunno(const struct verdict *v)
{
	assert_int_equal(v->action, VERDICT_DUNNO);
	assert_null(v->code);
	assert_null(v->text);
	assert_null(v->authres);
}

/* --- tests --------------------------------------------------------------- */

/* test_bad_items - every bad item reported with FILE:LINE and why */
static void
test_bad_items(void **state)
{
	(void)state;
	assert_false(load("[dnsbl]\n"
	    "client_sites = zen.example.net=127.0.0.[2..x],\n"
	    "  bl.example.net*abc, a..b.example, wl.example.org&0,\n"
	    "  x.example.net=127.0.0, y.example.net=127.0.0.[4..2],\n"
	    "  ok.example.net=127.0.[0..255].[1;3;5..7]*-2\n"
	    "domain_sites = dbl.example.net&0x1ff\n",
	    "192.0.2.1", dns_ok));
	assert_string_equal(F.error,
	    "dnsbl.conf:2: client_sites: bad item "
	    "'zen.example.net=127.0.0.[2..x]': range end is not a number "
	    "from 0 to 255\n"
	    "dnsbl.conf:2: client_sites: bad item 'bl.example.net*abc': "
	    "weight is not an integer\n"
	    "dnsbl.conf:2: client_sites: bad item 'a..b.example': "
	    "not a DNS zone name\n"
	    "dnsbl.conf:2: client_sites: bad item 'wl.example.org&0': "
	    "mask must be a number from 1 to 255\n"
	    "dnsbl.conf:2: client_sites: bad item 'x.example.net=127.0.0': "
	    "filter needs four octets\n"
	    "dnsbl.conf:2: client_sites: bad item "
	    "'y.example.net=127.0.0.[4..2]': range end is below its start\n"
	    "dnsbl.conf:6: domain_sites: bad item 'dbl.example.net&0x1ff': "
	    "mask must be a number from 1 to 255\n");
	/* the settings' own checks */
	assert_false(load("[dnsbl]\nthreshold = 0\n"
	    "allowlist_threshold = 1\nreply_code = 250\n", "192.0.2.1",
	    dns_ok));
	assert_non_null(strstr(F.error, "dnsbl.conf:2: "));
	assert_non_null(strstr(F.error, "must be 1 or more"));
	assert_non_null(strstr(F.error, "must be 0 or less"));
	assert_non_null(strstr(F.error, "from 400 to 599"));
	/* sites without a resolver */
	assert_false(load("[dnsbl]\nclient_sites = zen.example.net\n",
	    "192.0.2.1", NULL));
	assert_string_equal(F.error, "dnsbl: no DNS resolver configured\n");
}

/* test_listed - a listing: reply with the list's TXT, score, reason */
static void
test_listed(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dnsbl]\nclient_sites = zen.example.net\n"
	    "score_weight = 2.5\n", "192.0.2.10", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.code, "554");
	assert_string_equal(v.xcode, "5.7.1");
	assert_string_equal(v.text, "Service unavailable; client "
	    "[192.0.2.10] blocked using zen.example.net; "
	    "Listed as a spam source");
	assert_string_equal(v.reason, "zen.example.net=127.0.0.4(+1) "
	    "total=1");
	assert_true(v.score == 2.5);
	assert_null(v.authres);
	assert_false(v.disconnect);
}

/* test_rfc5782 - 127.0.0.2 listed, 127.0.0.1 not; own reply text */
static void
test_rfc5782(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dnsbl]\nclient_sites = zen.example.net\n"
	    "reply_code = 450\nreply_text = %s is on %s (100%%)\n",
	    "127.0.0.2", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.code, "450");
	assert_string_equal(v.xcode, "4.7.1");
	assert_string_equal(v.text, "127.0.0.2 is on zen.example.net "
	    "(100%); Test entry, see https://zen.example.net/q?127.0.0.2");

	assert_true(load("[dnsbl]\nclient_sites = zen.example.net\n",
	    "127.0.0.1", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_dunno(&v);
	assert_null(v.reason);
	assert_true(v.score == 0);
}

/* test_weights - weights add up over CONNECT and HELO: below the
 * threshold no opinion (but score), crossing it at HELO rejects naming
 * the heaviest list */
static void
test_weights(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dnsbl]\n"
	    "client_sites = zen.example.net*2, bl.example.net*2\n"
	    "domain_sites = dbl.example.net\n"
	    "threshold = 5\nscore_weight = 0.5\n", "192.0.2.10", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_dunno(&v);
	assert_string_equal(v.reason, "zen.example.net=127.0.0.4(+2) "
	    "bl.example.net=127.0.0.2(+2) total=4");
	assert_true(v.score == 2.0);

	/* a HELO name not listed: still 4 */
	F.txn.helo = "good.example.com";
	assert_int_equal(run(POLICY_HELO, &v), POLICY_DONE);
	assert_dunno(&v);
	assert_string_equal(v.reason, "total=4");
	assert_true(v.score == 0);

	/* a second HELO replaces the first one's weight: 4 + 1 = 5 */
	F.txn.helo = "helo.example.com.";
	assert_int_equal(run(POLICY_HELO, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.reason, "dbl.example.net[helo.example.com]="
	    "127.0.1.5(+1) total=5");
	assert_string_equal(v.text, "Service unavailable; client "
	    "[192.0.2.10] blocked using zen.example.net; "
	    "Listed as a spam source");
	assert_true(v.score == 0.5);
}

/* test_allowlist - a negative weight cancels a listing; below
 * allowlist_threshold the connection is exempt from later stages */
static void
test_allowlist(void **state)
{
	static const char conf[] = "[dnsbl]\n"
	    "client_sites = bl.example.net, "
	    "wl.example.org=127.0.[0..255].[1..3]*-2\n"
	    "domain_sites = dbl.example.net*5\n";
	char text[256];
	struct verdict v;

	(void)state;
	assert_true(load(conf, "192.0.2.14", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_dunno(&v);
	assert_string_equal(v.reason, "bl.example.net=127.0.0.2(+1) "
	    "wl.example.org=127.0.10.2(-2) total=-1");
	assert_true(v.score == -1);
	/* without allowlist_threshold a listed HELO still rejects */
	F.txn.helo = "helo.example.com";
	assert_int_equal(run(POLICY_HELO, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.reason, "dbl.example.net[helo.example.com]="
	    "127.0.1.5(+5) total=4");

	snprintf(text, sizeof(text), "%sallowlist_threshold = -1\n", conf);
	assert_true(load(text, "192.0.2.14", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_dunno(&v);
	assert_string_equal(v.reason, "allowlisted bl.example.net="
	    "127.0.0.2(+1) wl.example.org=127.0.10.2(-2) total=-1");
	F.txn.helo = "helo.example.com";
	assert_int_equal(run(POLICY_HELO, &v), POLICY_DONE);
	assert_dunno(&v);
	assert_null(v.reason);
	assert_true(v.score == 0);
}

/* test_error_answers - 127.255.255.254 and an answer outside 127/8 are
 * errors (POLICY_FAILED), never listings; a decision the failed list
 * could not have changed still stands */
static void
test_error_answers(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dnsbl]\nclient_sites = zen.example.net\n",
	    "192.0.2.11", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_FAILED);
	assert_dunno(&v);
	assert_null(v.reason);
	assert_true(v.score == 0);

	assert_true(load("[dnsbl]\nclient_sites = zen.example.net\n",
	    "192.0.2.12", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_FAILED);
	assert_dunno(&v);

	/* 192.0.2.11 is on bl (+2) and zen fails: rejected anyway */
	assert_true(load("[dnsbl]\nclient_sites = zen.example.net,"
	    " bl.example.net*2\nthreshold = 2\n", "192.0.2.11", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.reason, "bl.example.net=127.0.0.2(+2) "
	    "total=2");
	/* ... but not when the failed list is an allowlist that could
	 * have cancelled it */
	assert_true(load("[dnsbl]\nclient_sites = zen.example.net*-1,"
	    " bl.example.net*2\nthreshold = 2\n", "192.0.2.11", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_FAILED);
	assert_int_equal(v.action, VERDICT_DUNNO);
	assert_string_equal(v.reason, "bl.example.net=127.0.0.2(+2) "
	    "total=2");
	assert_true(v.score == 2);
}

/* test_filter - return-code filters and bit masks exclude codes; the
 * list's TXT is sanitized */
static void
test_filter(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dnsbl]\n"
	    "client_sites = zen.example.net=127.0.0.[2..4]\n",
	    "192.0.2.13", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_dunno(&v);
	assert_null(v.reason);

	assert_true(load("[dnsbl]\n"
	    "client_sites = zen.example.net=127.0.0.[2..4]\n",
	    "192.0.2.10", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);

	/* without a filter code 10 lists; TXT "bad\ttext" cleaned */
	assert_true(load("[dnsbl]\nclient_sites = zen.example.net\n",
	    "192.0.2.13", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.text, "Service unavailable; client "
	    "[192.0.2.13] blocked using zen.example.net; bad?text");

	/* &0x4: code 4 has the bit, code 2 does not */
	assert_true(load("[dnsbl]\nclient_sites = zen.example.net&0x4\n",
	    "192.0.2.10", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_true(load("[dnsbl]\nclient_sites = zen.example.net&0x4\n",
	    "127.0.0.2", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_dunno(&v);
}

/* test_ipv6 - 32 reversed nibbles */
static void
test_ipv6(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dnsbl]\nclient_sites = zen.example.net\n",
	    "2001:db8::25", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.text, "Service unavailable; client "
	    "[2001:db8::25] blocked using zen.example.net");
	assert_string_equal(v.reason, "zen.example.net=127.0.0.3(+1) "
	    "total=1");

	assert_true(load("[dnsbl]\nclient_sites = zen.example.net\n",
	    "2001:db8::26", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_dunno(&v);
}

/* test_timeout - a silent server: failed, not "not listed" */
static void
test_timeout(void **state)
{
	struct verdict v;
	double t0 = policy_now();

	(void)state;
	assert_true(load("[dnsbl]\n"
	    "client_sites = zen.example.net, bl.example.net\n",
	    "192.0.2.10", dns_quiet));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_FAILED);
	assert_dunno(&v);
	/* both lists waited for together */
	assert_true(policy_now() - t0 < 0.55 * testutil_slack());
}

/* test_exempt - mynetworks and authenticated clients are not asked
 * about (the silent server would make any query fail); a mynetworks
 * lookup error fails */
static void
test_exempt(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dnsbl]\nclient_sites = zen.example.net\n",
	    "192.0.2.10", dns_quiet));
	F.txn.mynetworks = TABLE_FOUND;
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_dunno(&v);
	assert_null(v.reason);
	F.txn.mynetworks = TABLE_ERROR;
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_FAILED);
	F.txn.mynetworks = TABLE_NOTFOUND;
	F.txn.auth = "alice";
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_dunno(&v);
	F.txn.auth = NULL;
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_FAILED);
}

/* test_rhsbl - the sender domain at MAIL, the client name at CONNECT;
 * "unknown" and literals are not asked about */
static void
test_rhsbl(void **state)
{
	static const struct mailaddr bad = {
		.local = "x", .domain = "bad.example.com",
		.full = "x@bad.example.com",
	};
	static const struct mailaddr good = {
		.local = "x", .domain = "example.com",
		.full = "x@example.com",
	};
	static const struct mailaddr literal = {
		.local = "x", .domain = "[192.0.2.1]",
		.full = "x@[192.0.2.1]",
	};
	struct verdict v;

	(void)state;
	assert_true(load("[dnsbl]\ndomain_sites = dbl.example.net\n",
	    "192.0.2.50", dns_ok));
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_dunno(&v);
	F.txn.sender = &good;
	assert_int_equal(run(POLICY_MAIL, &v), POLICY_DONE);
	assert_dunno(&v);
	F.txn.sender = &bad;
	assert_int_equal(run(POLICY_MAIL, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.text, "Service unavailable; client "
	    "[192.0.2.50] blocked using dbl.example.net; "
	    "Domain used by spammers");
	assert_string_equal(v.reason, "dbl.example.net[bad.example.com]="
	    "127.0.1.2(+1) total=1");

	/* check_sender = no; literals never asked (silent server) */
	assert_true(load("[dnsbl]\ndomain_sites = dbl.example.net\n"
	    "check_sender = no\n", "192.0.2.50", dns_ok));
	F.txn.sender = &bad;
	assert_int_equal(run(POLICY_MAIL, &v), POLICY_DONE);
	assert_dunno(&v);
	assert_true(load("[dnsbl]\ndomain_sites = dbl.example.net\n",
	    "192.0.2.50", dns_quiet));
	F.txn.sender = &literal;
	F.txn.helo = "[192.0.2.50]";
	assert_int_equal(run(POLICY_HELO, &v), POLICY_DONE);
	assert_int_equal(run(POLICY_MAIL, &v), POLICY_DONE);
	assert_dunno(&v);

	/* the verified client name */
	assert_true(load("[dnsbl]\ndomain_sites = dbl.example.net\n",
	    "192.0.2.50", dns_ok));
	F.txn.name = "rdns.example.com";
	assert_int_equal(run(POLICY_CONNECT, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.reason, "dbl.example.net[rdns.example.com]="
	    "127.0.1.6(+1) total=1");
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_items, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc5782, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_weights, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_allowlist, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_error_answers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_exempt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rhsbl, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
