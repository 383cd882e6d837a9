/*
 * test_spf.c - the spf module against a private nsd (testutil_nsd)
 * serving the SPF records of tests/data/zones/spf.example.org
 *
 * As in test_dnsbl.c, configs are built as filterd builds them and a
 * fake transaction stands in for filterd/txn.c; it keeps the headers the
 * module queues so that they can be compared as they would be applied.
 * The client is 192.0.2.10 (libspf2 passes any loopback client without
 * a lookup, so loopback addresses would prove nothing).
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
#include "inet.h"
#include "mailaddr.h"
#include "policy.h"
#include "spf.h"
#include "table.h"
#include "fake_txn.h"
#include "testutil.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define CLIENT	"192.0.2.10"
#define HOST	"mx.example.net"

/* --- fixture ------------------------------------------------------------- */

static struct testutil_nsd g;
static struct dns *dns_ok;	/* nsd */
static struct dns *dns_quiet;	/* the silent socket */

struct fix {
	struct fake_module mod;		/* the module, loaded */
	char *error;
	struct txn txn;
	struct mailaddr sender;		/* txn.sender points here */
	struct policy_globals globals;
	char dir[256];
};

static struct fix F;

/* group_setup - nsd and two resolvers */
static int
group_setup(void **state)
{
	(void)state;
	return testutil_dns_start(&g, "test_spf", TOP_SRCDIR, &dns_ok, &dns_quiet);
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
	F.error = NULL;
}

/* setup - an empty fixture with a temp directory */
static int
setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	return testutil_tmpdir(F.dir, sizeof(F.dir), "test_spf");
}

/* teardown - release everything */
static int
teardown(void **state)
{
	(void)state;
	unload();
	return testutil_rmtree(F.dir);
}

/* load - "[spf]" text into a config and a fresh connection from client;
 * true if init accepted it, else F.error holds the errors */
static bool
load(const char *text, const char *client, struct dns *dns)
{
	unload();
	F.globals.dns = dns;
	F.globals.hostname = HOST;
	if (!fake_module_load(&spf_module, "spf.conf", text, &F.globals,
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

/* helo - HELO name, run the HELO stage */
static enum policy_status
helo(const char *name, struct verdict *v)
{
	F.txn.helo = name;
	return run(POLICY_HELO, v);
}

/* mail - a new message from local@domain ("" for <>), run MAIL */
static enum policy_status
mail(const char *local, const char *domain, struct verdict *v)
{
	arena_destroy(&F.txn.msg_arena);
	F.txn.msg_arena = arena_create();
	F.txn.nheaders = 0;
	memset(&F.txn.spf, 0, sizeof(F.txn.spf));
	memset(F.mod.msg, 0, spf_module.msg_size);
	F.txn.sender = &F.sender;
	F.sender.local = local;
	F.sender.domain = domain;
	F.sender.full = *local == '\0' ? "" : arena_printf(
	    F.txn.msg_arena, "%s@%s", local, domain);
	return run(POLICY_MAIL, v);
}

/* result_of - the authres result for user@domain from CLIENT, after
 * HELO mail.spf.example.org */
static const char *
result_of(const char *domain)
{
	static char out[64];
	struct verdict v;
	const char *sp;

	assert_int_equal(helo("mail.spf.example.org", &v), POLICY_DONE);
	assert_int_equal(mail("user", domain, &v), POLICY_DONE);
	assert_non_null(v.authres);
	assert_true(strncmp(v.authres, "spf=", 4) == 0);
	sp = strchr(v.authres, ' ');
	assert_non_null(sp);
	snprintf(out, sizeof(out), "%.*s", (int)(sp - v.authres - 4),
	    v.authres + 4);
	return out;
}

/* assert_dunno - no action */
static void
assert_dunno(const struct verdict *v)
{
	assert_int_equal(v->action, VERDICT_DUNNO);
	assert_null(v->code);
	assert_null(v->xcode);
	assert_null(v->text);
}

/* --- tests --------------------------------------------------------------- */

/* test_settings - bad values with FILE:LINE; a bad table; no resolver */
static void
test_settings(void **state)
{
	(void)state;
	assert_false(load("[spf]\nmailfrom_fail = bounce\n"
	    "max_record_length = 10\n", CLIENT, dns_ok));
	assert_non_null(strstr(F.error, "spf.conf:2: "));
	assert_non_null(strstr(F.error, "bounce"));
	assert_non_null(strstr(F.error, "spf.conf:3: "));
	assert_non_null(strstr(F.error, "must be from 64 to 4096"));

	assert_false(load("[spf]\n\nskip_clients = hash:/nonexistent/x\n",
	    CLIENT, dns_ok));
	assert_non_null(strstr(F.error, "spf.conf:3: skip_clients: table "
	    "hash:/nonexistent/x: "));

	assert_false(load("[spf]\n", CLIENT, NULL));
	assert_string_equal(F.error, "spf: no DNS resolver configured\n");
}

/* test_pass - the whole output of a pass: authres, both Received-SPF
 * headers (mailfrom on top), no action */
static void
test_pass(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[spf]\n", CLIENT, dns_ok));
	assert_int_equal(helo("mail.spf.example.org", &v), POLICY_DONE);
	assert_dunno(&v);
	assert_null(v.authres);
	assert_string_equal(v.reason, "spf helo=pass");
	assert_int_equal(mail("user", "pass.spf.example.org", &v),
	    POLICY_DONE);
	assert_dunno(&v);
	assert_string_equal(v.authres,
	    "spf=pass smtp.mailfrom=user@pass.spf.example.org");
	assert_string_equal(v.reason, "spf mailfrom=pass");
	/* the outcome stays in the transaction for DMARC */
	assert_string_equal(F.txn.spf.result, "pass");
	assert_string_equal(F.txn.spf.domain, "pass.spf.example.org");
	assert_false(F.txn.spf.helo);
	assert_int_equal(F.txn.nheaders, 2);
	assert_string_equal(F.txn.headers[0], "Received-SPF: pass "
	    "(mx.example.net: domain of pass.spf.example.org designates "
	    "192.0.2.10 as permitted sender) client-ip=192.0.2.10; "
	    "envelope-from=\"user@pass.spf.example.org\"; "
	    "helo=mail.spf.example.org; receiver=mx.example.net; "
	    "identity=mailfrom;");
	assert_string_equal(F.txn.headers[1], "Received-SPF: pass "
	    "(mx.example.net: domain of mail.spf.example.org designates "
	    "192.0.2.10 as permitted sender) client-ip=192.0.2.10; "
	    "envelope-from=\"user@pass.spf.example.org\"; "
	    "helo=mail.spf.example.org; receiver=mx.example.net; "
	    "identity=helo;");

	/* received_spf = no: no headers, authres still there */
	assert_true(load("[spf]\nreceived_spf = no\n", CLIENT, dns_ok));
	assert_string_equal(result_of("pass.spf.example.org"), "pass");
	assert_int_equal(F.txn.nheaders, 0);
}

/* test_results - every result and its default action */
static void
test_results(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[spf]\n", CLIENT, dns_ok));
	assert_int_equal(helo("mail.spf.example.org", &v), POLICY_DONE);
	assert_int_equal(mail("user", "fail.spf.example.org", &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.code, "550");
	assert_string_equal(v.xcode, "5.7.23");
	assert_string_equal(v.text, "SPF fail for sender domain "
	    "fail.spf.example.org from client 192.0.2.10");
	assert_string_equal(v.authres,
	    "spf=fail smtp.mailfrom=user@fail.spf.example.org");
	assert_string_equal(F.txn.headers[0], "Received-SPF: fail "
	    "(mx.example.net: domain of fail.spf.example.org does not "
	    "designate 192.0.2.10 as permitted sender) "
	    "client-ip=192.0.2.10; "
	    "envelope-from=\"user@fail.spf.example.org\"; "
	    "helo=mail.spf.example.org; receiver=mx.example.net; "
	    "identity=mailfrom;");

	assert_int_equal(mail("user", "softfail.spf.example.org", &v),
	    POLICY_DONE);
	assert_dunno(&v);
	assert_string_equal(v.authres,
	    "spf=softfail smtp.mailfrom=user@softfail.spf.example.org");
	assert_int_equal(mail("user", "neutral.spf.example.org", &v),
	    POLICY_DONE);
	assert_dunno(&v);
	assert_string_equal(v.authres,
	    "spf=neutral smtp.mailfrom=user@neutral.spf.example.org");
	assert_string_equal(F.txn.headers[0], "Received-SPF: neutral "
	    "(mx.example.net: 192.0.2.10 is neither permitted nor denied "
	    "by domain of neutral.spf.example.org) client-ip=192.0.2.10; "
	    "envelope-from=\"user@neutral.spf.example.org\"; "
	    "helo=mail.spf.example.org; receiver=mx.example.net; "
	    "identity=mailfrom;");
	/* no record at all, and no such name */
	assert_string_equal(result_of("nospf.spf.example.org"), "none");
	assert_string_equal(result_of("nx.spf.example.org"), "none");
	/* an address literal or a single label is "none" unasked */
	assert_string_equal(result_of("[192.0.2.1]"), "none");
	assert_string_equal(result_of("localhost"), "none");
	assert_string_equal(F.txn.headers[0], "Received-SPF: none "
	    "client-ip=192.0.2.10; envelope-from=\"user@localhost\"; "
	    "helo=mail.spf.example.org; receiver=mx.example.net; "
	    "identity=mailfrom;");
}

/* test_permerror - syntax errors, two records, loops, an include of a
 * name without a record */
static void
test_permerror(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[spf]\nmailfrom_permerror = reject\n", CLIENT,
	    dns_ok));
	assert_string_equal(result_of("syntax.spf.example.org"), "permerror");
	assert_string_equal(result_of("two.spf.example.org"), "permerror");
	assert_string_equal(result_of("loop.spf.example.org"), "permerror");
	assert_string_equal(result_of("incloop.spf.example.org"), "permerror");
	assert_string_equal(result_of("incnone.spf.example.org"), "permerror");
	assert_int_equal(mail("user", "two.spf.example.org", &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.code, "550");
	assert_string_equal(v.xcode, "5.7.24");
	assert_string_equal(v.reason, "spf mailfrom=permerror");
}

/* test_chains - include and redirect */
static void
test_chains(void **state)
{
	(void)state;
	assert_true(load("[spf]\n", CLIENT, dns_ok));
	assert_string_equal(result_of("inc.spf.example.org"), "pass");
	assert_string_equal(result_of("inc2.spf.example.org"), "pass");
	assert_string_equal(result_of("redir.spf.example.org"), "fail");
	/* the included record does not match another client: fail */
	assert_true(load("[spf]\n", "192.0.2.11", dns_ok));
	assert_string_equal(result_of("inc2.spf.example.org"), "fail");
}

/* test_limits - 10 DNS-querying terms are fine, 11 are not; two void
 * lookups are fine, the third is permerror with a problem= key */
static void
test_limits(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[spf]\n", CLIENT, dns_ok));
	assert_string_equal(result_of("lim10.spf.example.org"), "fail");
	assert_string_equal(result_of("lim11.spf.example.org"), "permerror");
	assert_string_equal(result_of("void2.spf.example.org"), "pass");
	assert_string_equal(result_of("void3.spf.example.org"), "permerror");
	assert_int_equal(mail("user", "void3.spf.example.org", &v),
	    POLICY_DONE);
	assert_dunno(&v);
	assert_string_equal(v.reason,
	    "spf mailfrom=permerror (void lookup limit)");
	assert_string_equal(F.txn.headers[0], "Received-SPF: permerror "
	    "(mx.example.net: permanent error in processing domain of "
	    "void3.spf.example.org) client-ip=192.0.2.10; "
	    "envelope-from=\"user@void3.spf.example.org\"; "
	    "helo=mail.spf.example.org; problem=\"void lookup limit\"; "
	    "receiver=mx.example.net; identity=mailfrom;");
}

/* test_hardening - an over-long record and the refused macro forms are
 * permerror; the allowed forms work; a local part over 64 bytes is
 * permerror unasked */
static void
test_hardening(void **state)
{
	struct verdict v;
	char local[80];

	(void)state;
	assert_true(load("[spf]\n", CLIENT, dns_ok));
	assert_string_equal(result_of("short.spf.example.org"), "pass");
	assert_string_equal(result_of("long.spf.example.org"), "permerror");
	assert_int_equal(mail("user", "long.spf.example.org", &v), POLICY_DONE);
	assert_string_equal(v.reason,
	    "spf mailfrom=permerror (record too long)");
	assert_string_equal(result_of("macro.spf.example.org"), "pass");
	assert_string_equal(result_of("upper.spf.example.org"), "permerror");
	assert_string_equal(result_of("delim.spf.example.org"), "permerror");
	assert_string_equal(result_of("digits.spf.example.org"), "permerror");
	assert_string_equal(result_of("zero.spf.example.org"), "permerror");
	assert_string_equal(result_of("digitsr.spf.example.org"), "permerror");
	/* a hostile explanation turns the fail into permerror */
	assert_string_equal(result_of("exp.spf.example.org"), "permerror");
	assert_int_equal(mail("user", "exp.spf.example.org", &v), POLICY_DONE);
	assert_string_equal(v.reason,
	    "spf mailfrom=permerror (refused macro)");
	/* a longer limit lets the long record through */
	assert_true(load("[spf]\nmax_record_length = 500\n", CLIENT,
	    dns_ok));
	assert_string_equal(result_of("long.spf.example.org"), "pass");

	memset(local, 'a', 65);
	local[65] = '\0';
	assert_int_equal(mail(local, "pass.spf.example.org", &v), POLICY_DONE);
	assert_string_equal(v.reason,
	    "spf mailfrom=permerror (local part too long)");
	local[64] = '\0';
	assert_int_equal(mail(local, "pass.spf.example.org", &v), POLICY_DONE);
	assert_string_equal(v.reason, "spf mailfrom=pass");
}

/* test_temperror - a server that never answers: temperror, deferred
 * by default at MAIL, no action at HELO */
static void
test_temperror(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[spf]\n", CLIENT, dns_quiet));
	assert_int_equal(helo("mail.spf.example.org", &v), POLICY_DONE);
	assert_dunno(&v);
	assert_string_equal(v.reason, "spf helo=temperror");
	assert_int_equal(mail("user", "pass.spf.example.org", &v),
	    POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DEFER);
	assert_string_equal(v.code, "451");
	assert_string_equal(v.xcode, "4.7.24");
	assert_string_equal(v.text, "SPF temperror for sender domain "
	    "pass.spf.example.org from client 192.0.2.10");
	assert_string_equal(v.authres,
	    "spf=temperror smtp.mailfrom=user@pass.spf.example.org");
}

/* test_helo - the HELO identity has its own actions; the null sender
 * takes the HELO result under the mailfrom actions */
static void
test_helo(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[spf]\nhelo_fail = reject\nmailfrom_fail = none\n",
	    CLIENT, dns_ok));
	assert_int_equal(helo("badhelo.spf.example.org", &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.code, "550");
	assert_string_equal(v.xcode, "5.7.23");
	assert_string_equal(v.text, "SPF fail for HELO name "
	    "badhelo.spf.example.org from client 192.0.2.10");
	assert_string_equal(v.reason, "spf helo=fail");
	/* mailfrom_fail = none: the null sender is not rejected */
	assert_int_equal(mail("", "", &v), POLICY_DONE);
	assert_dunno(&v);
	assert_string_equal(v.authres,
	    "spf=fail smtp.helo=badhelo.spf.example.org");
	assert_string_equal(F.txn.spf.result, "fail");
	assert_string_equal(F.txn.spf.domain, "badhelo.spf.example.org");
	assert_true(F.txn.spf.helo);
	assert_int_equal(F.txn.nheaders, 1);
	assert_string_equal(F.txn.headers[0], "Received-SPF: fail "
	    "(mx.example.net: domain of badhelo.spf.example.org does not "
	    "designate 192.0.2.10 as permitted sender) "
	    "client-ip=192.0.2.10; envelope-from=\"\"; "
	    "helo=badhelo.spf.example.org; receiver=mx.example.net; "
	    "identity=helo;");

	/* defaults: HELO fail does nothing, the null sender's fail
	 * rejects; a second HELO is checked again */
	assert_true(load("[spf]\n", CLIENT, dns_ok));
	assert_int_equal(helo("mail.spf.example.org", &v), POLICY_DONE);
	assert_int_equal(helo("badhelo.spf.example.org", &v), POLICY_DONE);
	assert_dunno(&v);
	assert_int_equal(mail("", "", &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.text, "SPF fail for HELO name "
	    "badhelo.spf.example.org from client 192.0.2.10");

	/* untrusted HELO text is quoted, never raw; a literal is none */
	assert_true(load("[spf]\n", CLIENT, dns_ok));
	assert_int_equal(helo("bad\"name\r\nX-Evil: 1", &v), POLICY_DONE);
	assert_string_equal(v.reason, "spf helo=none");
	assert_int_equal(mail("", "", &v), POLICY_DONE);
	assert_string_equal(v.authres,
	    "spf=none smtp.helo=\"bad\\\"name??X-Evil: 1\"");
	assert_string_equal(F.txn.headers[0], "Received-SPF: none "
	    "client-ip=192.0.2.10; envelope-from=\"\"; "
	    "helo=\"bad\\\"name??X-Evil: 1\"; receiver=mx.example.net; "
	    "identity=helo;");
	/* no HELO at all */
	F.txn.helo = NULL;
	memset(F.mod.conn, 0, spf_module.conn_size);
	assert_int_equal(mail("", "", &v), POLICY_DONE);
	assert_string_equal(v.authres, "spf=none smtp.helo=\"\"");
}

/* test_quoting - an address that is not a dot-atom is quoted */
static void
test_quoting(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[spf]\n", CLIENT, dns_ok));
	assert_int_equal(helo("mail.spf.example.org", &v), POLICY_DONE);
	assert_int_equal(mail("a b\"c", "pass.spf.example.org", &v),
	    POLICY_DONE);
	assert_string_equal(v.authres,
	    "spf=pass smtp.mailfrom=\"a b\\\"c@pass.spf.example.org\"");
	assert_string_equal(F.txn.headers[0], "Received-SPF: pass "
	    "(mx.example.net: domain of pass.spf.example.org designates "
	    "192.0.2.10 as permitted sender) client-ip=192.0.2.10; "
	    "envelope-from=\"a b\\\"c@pass.spf.example.org\"; "
	    "helo=mail.spf.example.org; receiver=mx.example.net; "
	    "identity=mailfrom;");
}

/* test_exempt - mynetworks, authenticated and skip_clients clients are
 * not checked (the silent server would make any check temperror); a
 * lookup error fails */
static void
test_exempt(void **state)
{
	struct verdict v;
	char text[512];

	(void)state;
	assert_true(load("[spf]\n", CLIENT, dns_quiet));
	F.txn.mynetworks = TABLE_FOUND;
	assert_int_equal(helo("mail.spf.example.org", &v), POLICY_DONE);
	assert_dunno(&v);
	assert_null(v.reason);
	assert_int_equal(mail("user", "pass.spf.example.org", &v),
	    POLICY_DONE);
	assert_dunno(&v);
	assert_null(v.authres);
	assert_null(F.txn.spf.result);
	assert_int_equal(F.txn.nheaders, 0);
	F.txn.mynetworks = TABLE_ERROR;
	assert_int_equal(mail("user", "pass.spf.example.org", &v),
	    POLICY_FAILED);
	F.txn.mynetworks = TABLE_NOTFOUND;
	F.txn.auth = "alice";
	assert_int_equal(mail("user", "pass.spf.example.org", &v),
	    POLICY_DONE);
	assert_null(v.authres);
	F.txn.auth = NULL;
	assert_int_equal(mail("user", "pass.spf.example.org", &v),
	    POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DEFER);

	testutil_put(F.txn.conn_arena, F.dir, "skip", "192.0.2.10 OK\n");
	snprintf(text, sizeof(text), "[spf]\nskip_clients = hash:%s/skip\n",
	    F.dir);
	assert_true(load(text, CLIENT, dns_quiet));
	assert_int_equal(mail("user", "pass.spf.example.org", &v),
	    POLICY_DONE);
	assert_dunno(&v);
	assert_null(v.authres);
	assert_true(load(text, "192.0.2.11", dns_quiet));
	assert_int_equal(mail("user", "pass.spf.example.org", &v),
	    POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DEFER);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_settings, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_results, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_permerror, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hardening, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_temperror, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_helo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quoting, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_exempt, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
