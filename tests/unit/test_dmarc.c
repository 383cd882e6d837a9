/*
 * test_dmarc.c - the dmarc module against a private nsd (testutil_nsd)
 * serving the DMARC records of tests/data/zones/dmarc.example.net
 *
 * As in test_spf.c, configs are built as filterd builds them and a fake
 * transaction stands in for filterd/txn.c; the SPF and DKIM outcomes
 * that the spf and dkim modules would leave are set by each test. The
 * public suffix list is a small file written by the test (see the zone
 * file), except where the Debian list itself is under test. pct=
 * sampling is made deterministic with dmarc_set_sampler.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "arena.h"
#include "buf.h"
#include "dmarc.h"
#include "dns.h"
#include "inet.h"
#include "mem.h"
#include "policy.h"
#include "table.h"
#include "fake_txn.h"
#include "testutil.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define CLIENT		"192.0.2.10"
#define Z		".dmarc.example.net"

/* --- fixture ------------------------------------------------------------- */

static struct testutil_nsd g;
static struct dns *dns_ok;	/* nsd */
static struct dns *dns_quiet;	/* the silent socket */

/* The test's public suffix list (see the zone file). */
static const char test_psl[] =
    "// the test's public suffix list\n"
    "net\n"
    "example.net\n"
    "\n"
    "dmarc.example.net   trailing words are ignored\n"
    "*.w.dmarc.example.net\n"
    "!keep.w.dmarc.example.net\n";

struct fix {
	struct fake_module mod;		/* the module, loaded */
	char *error;
	struct txn txn;
	struct policy_globals globals;
	char dir[256];
	char *psl;			/* path of test_psl */
	char *store;			/* the report store directory */
};

static struct fix F;
static unsigned pick_value;

/* pick - the sampler: pick_value */
static unsigned
pick(void)
{
	return pick_value;
}

/* group_setup - nsd and two resolvers */
static int
group_setup(void **state)
{
	(void)state;
	dmarc_set_sampler(pick);
	return testutil_dns_start(&g, "test_dmarc", TOP_SRCDIR, &dns_ok,
	    &dns_quiet);
}

/* group_teardown - resolvers, then nsd */
static int
group_teardown(void **state)
{
	(void)state;
	dmarc_set_sampler(NULL);
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

/* setup - an empty fixture with a temp directory, the test's list and
 * an empty store directory */
static int
setup(void **state)
{
	char path[512];
	FILE *fp;

	(void)state;
	memset(&F, 0, sizeof(F));
	pick_value = 0;
	if (testutil_tmpdir(F.dir, sizeof(F.dir), "test_dmarc") < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/psl.dat", F.dir);
	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	fputs(test_psl, fp);
	fclose(fp);
	F.psl = strdup(path);
	snprintf(path, sizeof(path), "%s/store", F.dir);
	F.store = strdup(path);
	return mkdir(F.store, 0700);
}

/* teardown - release everything */
static int
teardown(void **state)
{
	(void)state;
	unload();
	free(F.psl);
	free(F.store);
	return testutil_rmtree(F.dir);
}

/* load_psl - "[dmarc]" text (plus a public_suffix_list line naming psl,
 * unless NULL) into a config, and a fresh message from CLIENT; true if
 * init accepted it, else F.error holds the errors */
static bool
load_psl(const char *text, const char *psl, struct dns *dns)
{
	char *conf;
	bool ok;

	unload();
	F.globals.dns = dns;
	conf = psl != NULL ? xasprintf("%spublic_suffix_list = %s\n", text,
	    psl) : xstrdup(text);
	ok = fake_module_load(&dmarc_module, "dmarc.conf", conf, &F.globals,
	    &F.mod, &F.error);
	free(conf);
	if (!ok)
		return false;
	F.txn.msg_arena = arena_create();
	F.txn.qid = "TESTQID";
	F.txn.addr_text = CLIENT;
	F.txn.mynetworks = TABLE_NOTFOUND;
	assert_true(inet_parse(CLIENT, &F.txn.addr));
	return true;
}

/* load - load_psl with the test's list */
static bool
load(const char *text, struct dns *dns)
{
	return load_psl(text, F.psl, dns);
}

/* load_store - load with report_store = F.store and more settings */
static bool
load_store(const char *more)
{
	char text[1024];

	snprintf(text, sizeof(text), "[dmarc]\nreport_store = %s\n%s",
	    F.store, more);
	return load(text, dns_ok);
}

/* run - one stage's handler; the verdict into *v */
static enum policy_status
run(enum policy_stage stage, struct verdict *v)
{
	return fake_module_run(&F.mod, &F.txn, stage, v);
}

/* message - a new message: no SPF or DKIM outcome yet */
static void
message(void)
{
	arena_destroy(&F.txn.msg_arena);
	F.txn.msg_arena = arena_create();
	memset(F.mod.msg, 0, dmarc_module.msg_size);
	memset(&F.txn.spf, 0, sizeof(F.txn.spf));
	F.txn.ndkim = 0;
}

/* header - pass one header; the HEADER verdict must be no opinion */
static void
header(const char *name, const char *value)
{
	struct verdict v;

	assert_int_equal(fake_module_header(&F.mod, &F.txn, name, value, &v),
	    POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DUNNO);
	assert_null(v.authres);
}

/* spf - the SPF outcome the spf module would leave */
static void
spf(const char *result, const char *domain, bool helo)
{
	F.txn.spf = (struct txn_spf){
		.result = result, .domain = domain, .helo = helo,
	};
}

/* dkim - add a DKIM outcome the dkim module would leave */
static void
dkim(const char *result, const char *domain, const char *selector)
{
	assert_true(F.txn.ndkim < FAKE_TXN_DKIM);
	F.txn.dkim[F.txn.ndkim++] = (struct txn_dkim){
		.result = result, .domain = domain, .selector = selector,
	};
}

/* eom - run EOM; must answer DONE */
static void
eom(struct verdict *v)
{
	assert_int_equal(run(POLICY_EOM, v), POLICY_DONE);
	if (v->authres != NULL) {
		assert_null(strchr(v->authres, '\r'));
		assert_null(strchr(v->authres, '\n'));
	}
}

/* check_from - a message From: value with the given SPF pass domain
 * (NULL: none) and no DKIM; its EOM verdict into *v */
static void
check_from(const char *from, const char *spf_pass, struct verdict *v)
{
	message();
	header("Subject", "hello");
	header("From", from);
	if (spf_pass != NULL)
		spf("pass", spf_pass, false);
	eom(v);
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

/* assert_reject - 550 5.7.1 with text */
static void
assert_reject(const struct verdict *v, const char *text)
{
	assert_int_equal(v->action, VERDICT_REJECT);
	assert_string_equal(v->code, "550");
	assert_string_equal(v->xcode, "5.7.1");
	assert_string_equal(v->text, text);
}

/* store_lines - the lines of the store's files (at most one file is
 * expected: the test runs within a day, or right across midnight, when
 * both files are read in name order); malloc'ed, "" when none */
static char *
store_lines(void)
{
	struct dirent **names;
	struct buf b = { 0 };
	char path[600], line[4096];
	FILE *fp;
	int n, i;

	n = scandir(F.store, &names, NULL, alphasort);
	assert_true(n >= 0);
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			assert_int_equal(strlen(names[i]->d_name), 14);
			assert_string_equal(names[i]->d_name + 10, ".log");
			snprintf(path, sizeof(path), "%s/%s", F.store,
			    names[i]->d_name);
			fp = fopen(path, "r");
			assert_non_null(fp);
			while (fgets(line, sizeof(line), fp) != NULL)
				buf_puts(&b, line);
			fclose(fp);
		}
		free(names[i]);
	}
	free(names);
	if (b.len == 0)
		return calloc(1, 1);
	return buf_steal(&b);
}

/* assert_store_line - the store holds exactly one line, equal to want
 * after its time field (which must be within the last minute) */
static void
assert_store_line(const char *want)
{
	char *lines = store_lines(), *tab, *end;
	long long t;

	assert_int_equal(strncmp(lines, "1\t", 2), 0);
	t = strtoll(lines + 2, &end, 10);
	assert_true(*end == '\t');
	assert_true(t <= (long long)time(NULL) &&
	    t > (long long)time(NULL) - 60);
	tab = end + 1;
	assert_string_equal(tab, want);
	free(lines);
}

/* assert_store_empty - nothing was stored */
static void
assert_store_empty(void)
{
	char *lines = store_lines();

	assert_string_equal(lines, "");
	free(lines);
}

/* --- tests --------------------------------------------------------------- */

/* test_settings - bad values and files with FILE:LINE; no resolver */
static void
test_settings(void **state)
{
	struct arena *a;
	char *path;

	(void)state;
	assert_false(load("[dmarc]\nreject_action = defer\n"
	    "temperror_action = reject\nquarantine_action = bounce\n",
	    dns_ok));
	assert_non_null(strstr(F.error, "dmarc.conf:2: "));
	assert_non_null(strstr(F.error, "must be none, quarantine or "
	    "reject"));
	assert_non_null(strstr(F.error, "dmarc.conf:3: "));
	assert_non_null(strstr(F.error, "must be defer or none"));
	assert_non_null(strstr(F.error, "dmarc.conf:4: "));
	assert_non_null(strstr(F.error, "bounce"));

	assert_false(load_psl("[dmarc]\n", "/nonexistent/psl.dat", dns_ok));
	assert_string_equal(F.error, "dmarc.conf:2: public_suffix_list: "
	    "/nonexistent/psl.dat: No such file or directory (Debian: "
	    "apt-get install publicsuffix)\n");
	assert_false(load_psl("[dmarc]\n", F.dir, dns_ok));
	assert_non_null(strstr(F.error, "dmarc.conf:2: public_suffix_list: "));
	assert_non_null(strstr(F.error, ": not a regular file"));
	a = arena_create();
	path = testutil_put(a, F.dir, "empty.dat", "// nothing\n\n");
	assert_false(load_psl("[dmarc]\n", path, dns_ok));
	assert_non_null(strstr(F.error, "empty.dat: no rules in the file"));
	arena_destroy(&a);
	assert_false(load_psl("[dmarc]\npublic_suffix_list = \"\"\n", NULL,
	    dns_ok));
	assert_string_equal(F.error, "dmarc.conf:2: public_suffix_list: "
	    "must name the public suffix list file\n");

	assert_false(load("[dmarc]\n\nreport_store = /nonexistent/store\n",
	    dns_ok));
	assert_string_equal(F.error, "dmarc.conf:3: report_store: "
	    "/nonexistent/store: No such file or directory\n");
	assert_false(load("[dmarc]\nreport_store = /etc/passwd\n", dns_ok));
	assert_string_equal(F.error, "dmarc.conf:2: report_store: "
	    "/etc/passwd: not a directory\n");

	assert_false(load("[dmarc]\n", NULL));
	assert_string_equal(F.error, "dmarc: no DNS resolver configured\n");

	/* the defaults, with Debian's list */
	assert_true(load_psl("[dmarc]\n", NULL, dns_ok));
}

/* test_pass - aligned pass through SPF only, through DKIM only; the
 * exact Authentication-Results fragment */
static void
test_pass(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dmarc]\n", dns_ok));
	/* SPF only */
	check_from("<user@reject" Z ">", "reject" Z, &v);
	assert_dunno(&v);
	assert_string_equal(v.authres, "dmarc=pass (p=reject sp=reject "
	    "dis=none) header.from=reject.dmarc.example.net");
	assert_string_equal(v.reason, "dmarc=pass "
	    "from=reject.dmarc.example.net policy=reject.dmarc.example.net "
	    "p=reject dis=none");
	/* DKIM only: SPF failed, an unaligned signature failed too */
	message();
	header("From", "user@reject" Z);
	spf("fail", "reject" Z, false);
	dkim("fail", "reject" Z, "s1");
	dkim("pass", "reject" Z, "s2");
	eom(&v);
	assert_dunno(&v);
	assert_string_equal(v.authres, "dmarc=pass (p=reject sp=reject "
	    "dis=none) header.from=reject.dmarc.example.net");
	/* the HELO identity of a null sender counts like MAIL FROM */
	message();
	header("From", "user@reject" Z);
	spf("pass", "mx.reject" Z, true);
	eom(&v);
	assert_dunno(&v);
	assert_string_equal(v.authres, "dmarc=pass (p=reject sp=reject "
	    "dis=none) header.from=reject.dmarc.example.net");
	/* a record in two strings, and one behind a CNAME */
	check_from("user@split" Z, "split" Z, &v);
	assert_string_equal(v.authres, "dmarc=pass (p=reject sp=reject "
	    "dis=none) header.from=split.dmarc.example.net");
	check_from("user@cname" Z, NULL, &v);
	assert_reject(&v, "Unauthenticated mail from "
	    "cname.dmarc.example.net is refused by its DMARC policy");
}

/* test_fail_reject - no aligned pass under p=reject: 550, and the
 * reject_action choices */
static void
test_fail_reject(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dmarc]\n", dns_ok));
	/* passes, but for another organizational domain */
	message();
	header("From", "\"Boss\" <boss@reject" Z ">");
	spf("pass", "other" Z, false);
	dkim("pass", "other" Z, "s");
	eom(&v);
	assert_reject(&v, "Unauthenticated mail from "
	    "reject.dmarc.example.net is refused by its DMARC policy");
	assert_string_equal(v.authres, "dmarc=fail (p=reject sp=reject "
	    "dis=reject) header.from=reject.dmarc.example.net");
	assert_string_equal(v.reason, "dmarc=fail "
	    "from=reject.dmarc.example.net policy=reject.dmarc.example.net "
	    "p=reject dis=reject");
	/* aligned but failed */
	message();
	header("From", "boss@reject" Z);
	spf("softfail", "reject" Z, false);
	dkim("fail", "reject" Z, "s");
	eom(&v);
	assert_int_equal(v.action, VERDICT_REJECT);
	/* nothing at all */
	check_from("boss@reject" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_REJECT);

	assert_true(load("[dmarc]\nreject_action = none\n", dns_ok));
	check_from("boss@reject" Z, NULL, &v);
	assert_dunno(&v);
	assert_string_equal(v.authres, "dmarc=fail (p=reject sp=reject "
	    "dis=none) header.from=reject.dmarc.example.net");
	assert_string_equal(v.reason, "dmarc=fail "
	    "from=reject.dmarc.example.net policy=reject.dmarc.example.net "
	    "p=reject dis=none local_policy");

	assert_true(load("[dmarc]\nreject_action = quarantine\n", dns_ok));
	check_from("boss@reject" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
	assert_string_equal(v.authres, "dmarc=fail (p=reject sp=reject "
	    "dis=quarantine) header.from=reject.dmarc.example.net");
}

/* test_quarantine - p=quarantine and p=none, and quarantine_action */
static void
test_quarantine(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dmarc]\n", dns_ok));
	check_from("a@quar" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
	assert_null(v.code);
	assert_string_equal(v.text, "Unauthenticated mail from "
	    "quar.dmarc.example.net is quarantined by its DMARC policy");
	assert_string_equal(v.authres, "dmarc=fail (p=quarantine "
	    "sp=quarantine dis=quarantine) header.from=quar.dmarc.example.net");
	check_from("a@none" Z, NULL, &v);
	assert_dunno(&v);
	assert_string_equal(v.authres, "dmarc=fail (p=none sp=none dis=none) "
	    "header.from=none.dmarc.example.net");
	check_from("a@none" Z, "none" Z, &v);
	assert_string_equal(v.authres, "dmarc=pass (p=none sp=none dis=none) "
	    "header.from=none.dmarc.example.net");

	assert_true(load("[dmarc]\nquarantine_action = none\n", dns_ok));
	check_from("a@quar" Z, NULL, &v);
	assert_dunno(&v);
	assert_string_equal(v.authres, "dmarc=fail (p=quarantine "
	    "sp=quarantine dis=none) header.from=quar.dmarc.example.net");
	assert_true(load("[dmarc]\nquarantine_action = reject\n", dns_ok));
	check_from("a@quar" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.authres, "dmarc=fail (p=quarantine "
	    "sp=quarantine dis=reject) header.from=quar.dmarc.example.net");
}

/* test_alignment - relaxed (same organizational domain) and strict
 * (same name) for SPF and DKIM */
static void
test_alignment(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dmarc]\n", dns_ok));
	/* relaxed: subdomains of the From domain, and its parent within
	 * the same organizational domain */
	check_from("a@reject" Z, "bounce.reject" Z, &v);
	assert_string_equal(v.authres, "dmarc=pass (p=reject sp=reject "
	    "dis=none) header.from=reject.dmarc.example.net");
	check_from("a@mail.reject" Z, "reject" Z, &v);
	assert_string_equal(v.authres, "dmarc=pass (p=reject sp=reject "
	    "dis=none) header.from=mail.reject.dmarc.example.net");
	/* case and a trailing dot do not matter */
	check_from("a@reject" Z, "Bounce.REJECT.dmarc.example.net.", &v);
	assert_string_equal(v.authres, "dmarc=pass (p=reject sp=reject "
	    "dis=none) header.from=reject.dmarc.example.net");
	message();
	header("From", "a@reject" Z);
	dkim("pass", "mail.reject" Z, "s");
	eom(&v);
	assert_dunno(&v);
	/* a public suffix is no organizational domain */
	check_from("a@reject" Z, "dmarc.example.net", &v);
	assert_int_equal(v.action, VERDICT_REJECT);

	/* strict: exact names only */
	check_from("a@strict" Z, "mail.strict" Z, &v);
	assert_reject(&v, "Unauthenticated mail from "
	    "strict.dmarc.example.net is refused by its DMARC policy");
	message();
	header("From", "a@strict" Z);
	dkim("pass", "mail.strict" Z, "s");
	eom(&v);
	assert_int_equal(v.action, VERDICT_REJECT);
	message();
	header("From", "a@strict" Z);
	dkim("pass", "strict" Z, "s");
	eom(&v);
	assert_dunno(&v);
	assert_string_equal(v.authres, "dmarc=pass (p=reject sp=reject "
	    "dis=none) header.from=strict.dmarc.example.net");
	check_from("a@Strict.Dmarc.Example.Net.", "STRICT.dmarc.example.net",
	    &v);
	assert_string_equal(v.authres, "dmarc=pass (p=reject sp=reject "
	    "dis=none) header.from=strict.dmarc.example.net");
}

/* test_org_domain - the record of the organizational domain and its
 * sp=; public suffix wildcard and exception rules */
static void
test_org_domain(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dmarc]\n", dns_ok));
	/* the domain itself: p= */
	check_from("a@parent" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
	assert_string_equal(v.authres, "dmarc=fail (p=quarantine sp=reject "
	    "dis=quarantine) header.from=parent.dmarc.example.net");
	/* a subdomain without a record: the parent's sp= */
	check_from("a@a.b.parent" Z, NULL, &v);
	assert_reject(&v, "Unauthenticated mail from "
	    "a.b.parent.dmarc.example.net is refused by the DMARC policy of "
	    "parent.dmarc.example.net");
	assert_string_equal(v.authres, "dmarc=fail (p=quarantine sp=reject "
	    "dis=reject) header.from=a.b.parent.dmarc.example.net");
	assert_string_equal(v.reason, "dmarc=fail "
	    "from=a.b.parent.dmarc.example.net "
	    "policy=parent.dmarc.example.net sp=reject dis=reject");
	/* relaxed alignment with the organizational domain passes */
	check_from("a@a.b.parent" Z, "parent" Z, &v);
	assert_string_equal(v.authres, "dmarc=pass (p=quarantine sp=reject "
	    "dis=none) header.from=a.b.parent.dmarc.example.net");
	/* no sp=: p= for subdomains too */
	check_from("a@sub.nosp" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
	assert_string_equal(v.authres, "dmarc=fail (p=quarantine "
	    "sp=quarantine dis=quarantine) "
	    "header.from=sub.nosp.dmarc.example.net");
	/* "!keep.w": keep.w.dmarc.example.net is an organizational domain */
	check_from("a@m.keep.w" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.text, "Unauthenticated mail from "
	    "m.keep.w.dmarc.example.net is refused by the DMARC policy of "
	    "keep.w.dmarc.example.net");
	/* "*.w": other.w.dmarc.example.net is a public suffix, so
	 * m.other.w is its own organizational domain: no fallback (to
	 * other.w's record, nor to w's) */
	check_from("a@m.other.w" Z, NULL, &v);
	assert_dunno(&v);
	assert_string_equal(v.authres, "dmarc=none "
	    "header.from=m.other.w.dmarc.example.net");

	/* Debian's list: the organizational domain of these names is
	 * example.net, whose zone nsd does not serve (an error, not none) */
	assert_true(load_psl("[dmarc]\n", NULL, dns_ok));
	check_from("a@a.parent" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_DEFER);
	assert_non_null(strstr(v.reason, "(DNS error at _dmarc.example.net: "));
	check_from("a@reject" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_REJECT);
}

/* test_pct - sampling steps a failing message down one policy */
static void
test_pct(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dmarc]\n", dns_ok));
	/* pct=0 never enforces, whatever the sample: still a failure */
	pick_value = 0;
	check_from("a@pct0" Z, NULL, &v);
	assert_dunno(&v);
	assert_string_equal(v.authres, "dmarc=fail (p=quarantine "
	    "sp=quarantine dis=none) header.from=pct0.dmarc.example.net");
	assert_string_equal(v.reason, "dmarc=fail "
	    "from=pct0.dmarc.example.net policy=pct0.dmarc.example.net "
	    "p=quarantine dis=none sampled_out");
	/* p=reject; pct=0: quarantine (RFC 7489 §6.6.4) */
	check_from("a@pct0r" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
	assert_string_equal(v.authres, "dmarc=fail (p=reject sp=reject "
	    "dis=quarantine) header.from=pct0r.dmarc.example.net");
	/* pct=50: samples 0..49 enforce, 50..99 do not */
	pick_value = 49;
	check_from("a@pct50" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_REJECT);
	pick_value = 50;
	check_from("a@pct50" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
	/* pct=100 (the default) always enforces */
	pick_value = 99;
	check_from("a@reject" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_REJECT);
	/* a pass is never sampled */
	pick_value = 99;
	check_from("a@pct0" Z, "pct0" Z, &v);
	assert_string_equal(v.reason, "dmarc=pass "
	    "from=pct0.dmarc.example.net policy=pct0.dmarc.example.net "
	    "p=quarantine dis=none");
}

/* test_none - no DMARC record: none, never an action */
static void
test_none(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dmarc]\n", dns_ok));
	check_from("a@nx" Z, NULL, &v);
	assert_dunno(&v);
	assert_string_equal(v.authres,
	    "dmarc=none header.from=nx.dmarc.example.net");
	assert_string_equal(v.reason, "dmarc=none from=nx.dmarc.example.net");
	/* only TXT records that are not DMARC */
	check_from("a@txtonly" Z, NULL, &v);
	assert_string_equal(v.authres,
	    "dmarc=none header.from=txtonly.dmarc.example.net");
	/* a single label */
	check_from("root@localhost", NULL, &v);
	assert_string_equal(v.authres, "dmarc=none header.from=localhost");
}

/* test_dns_error - a timeout is temperror (deferred by default), never
 * "none"; temperror_action = none lets it through */
static void
test_dns_error(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dmarc]\n", dns_quiet));
	check_from("a@reject" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_DEFER);
	assert_string_equal(v.code, "451");
	assert_string_equal(v.xcode, "4.7.1");
	assert_string_equal(v.text, "Cannot check mail from "
	    "reject.dmarc.example.net against its DMARC policy now; try "
	    "again later");
	assert_string_equal(v.authres,
	    "dmarc=temperror header.from=reject.dmarc.example.net");
	assert_string_equal(v.reason, "dmarc=temperror "
	    "from=reject.dmarc.example.net (DNS error at "
	    "_dmarc.reject.dmarc.example.net: timeout)");
	/* nx has no record at all: still an error when DNS fails */
	check_from("a@nx" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_DEFER);
	assert_string_equal(v.authres,
	    "dmarc=temperror header.from=nx.dmarc.example.net");

	assert_true(load("[dmarc]\ntemperror_action = none\n", dns_quiet));
	check_from("a@reject" Z, NULL, &v);
	assert_dunno(&v);
	assert_string_equal(v.authres,
	    "dmarc=temperror header.from=reject.dmarc.example.net");
}

/* test_identifier_temperror - an aligned identifier with a temporary
 * error defers a failure that would be enforced, not one under p=none */
static void
test_identifier_temperror(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dmarc]\n", dns_ok));
	message();
	header("From", "a@reject" Z);
	dkim("temperror", "reject" Z, "s");
	eom(&v);
	assert_int_equal(v.action, VERDICT_DEFER);
	assert_string_equal(v.code, "451");
	assert_string_equal(v.xcode, "4.7.1");
	assert_string_equal(v.authres, "dmarc=temperror (p=reject "
	    "sp=reject dis=none) header.from=reject.dmarc.example.net");
	assert_string_equal(v.reason, "dmarc=temperror "
	    "from=reject.dmarc.example.net policy=reject.dmarc.example.net "
	    "p=reject dis=none (an aligned identifier had a temporary "
	    "error)");
	/* SPF too */
	message();
	header("From", "a@reject" Z);
	spf("temperror", "reject" Z, false);
	eom(&v);
	assert_int_equal(v.action, VERDICT_DEFER);
	/* an unaligned one does not count */
	message();
	header("From", "a@reject" Z);
	dkim("temperror", "other" Z, "s");
	eom(&v);
	assert_int_equal(v.action, VERDICT_REJECT);
	/* p=none: a plain failure */
	message();
	header("From", "a@none" Z);
	dkim("temperror", "none" Z, "s");
	eom(&v);
	assert_dunno(&v);
	assert_string_equal(v.authres, "dmarc=fail (p=none sp=none dis=none) "
	    "header.from=none.dmarc.example.net");
	/* an aligned pass wins */
	message();
	header("From", "a@reject" Z);
	dkim("temperror", "reject" Z, "s1");
	dkim("pass", "reject" Z, "s2");
	eom(&v);
	assert_dunno(&v);

	/* temperror_action = none: accepted, reported as a local policy */
	assert_true(load_store("temperror_action = none\n"));
	message();
	header("From", "a@reject" Z);
	dkim("temperror", "reject" Z, "s");
	eom(&v);
	assert_dunno(&v);
	assert_string_equal(v.authres, "dmarc=temperror (p=reject "
	    "sp=reject dis=none) header.from=reject.dmarc.example.net");
	assert_store_line("192.0.2.10\treject.dmarc.example.net\t"
	    "reject.dmarc.example.net\treject\treject\t100\tr\tr\t0\t"
	    "none\tfail\tfail\tlocal_policy\t\tmfrom\tnone\t"
	    "reject.dmarc.example.net,s,temperror\n");
}

/* test_records - several records, bad records, hostile records */
static void
test_records(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dmarc]\n", dns_ok));
	/* several DMARC records: no policy (RFC 7489 §6.6.3) */
	check_from("a@two" Z, NULL, &v);
	assert_dunno(&v);
	assert_string_equal(v.authres,
	    "dmarc=none header.from=two.dmarc.example.net");
	assert_string_equal(v.reason, "dmarc=none from=two.dmarc.example.net "
	    "(several DMARC records at _dmarc.two.dmarc.example.net)");
	/* ... and discovery ends there: no fallback to parent's sp=reject */
	check_from("a@x.parent" Z, NULL, &v);
	assert_dunno(&v);
	assert_string_equal(v.authres,
	    "dmarc=none header.from=x.parent.dmarc.example.net");
	/* malformed: permerror, no action by default */
	check_from("a@bad" Z, NULL, &v);
	assert_dunno(&v);
	assert_string_equal(v.authres,
	    "dmarc=permerror header.from=bad.dmarc.example.net");
	assert_string_equal(v.reason, "dmarc=permerror "
	    "from=bad.dmarc.example.net (bad DMARC record at "
	    "_dmarc.bad.dmarc.example.net: Found DMARC record contained a "
	    "bad token value)");
	check_from("a@nop" Z, NULL, &v);
	assert_string_equal(v.reason, "dmarc=permerror "
	    "from=nop.dmarc.example.net (bad DMARC record at "
	    "_dmarc.nop.dmarc.example.net: Found DMARC record lacked a "
	    "required p= entry)");
	check_from("a@rep" Z, NULL, &v);
	assert_string_equal(v.reason, "dmarc=permerror "
	    "from=rep.dmarc.example.net (bad DMARC record at "
	    "_dmarc.rep.dmarc.example.net: repeated tag)");
	check_from("a@long" Z, NULL, &v);
	assert_string_equal(v.reason, "dmarc=permerror "
	    "from=long.dmarc.example.net (bad DMARC record at "
	    "_dmarc.long.dmarc.example.net: tag too long)");
	/* the rf= that would overrun libopendmarc never reaches it */
	check_from("a@hostile" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.authres, "dmarc=fail (p=reject sp=reject "
	    "dis=reject) header.from=hostile.dmarc.example.net");

	assert_true(load("[dmarc]\npermerror_action = reject\n", dns_ok));
	check_from("a@bad" Z, NULL, &v);
	assert_reject(&v, "DMARC check failed: bad DMARC record at "
	    "_dmarc.bad.dmarc.example.net: Found DMARC record contained a "
	    "bad token value");
	assert_true(load("[dmarc]\npermerror_action = quarantine\n", dns_ok));
	check_from("a@bad" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
}

/* test_from - the From header forms of RFC 5322 and its mistakes */
static void
test_from(void **state)
{
	static const struct {
		const char *value;
		const char *authres;
	} cases[] = {
		/* display names, comments, routes, groups */
		{ "\"Doe, John\" <john@reject" Z ">",
		  "dmarc=pass (p=reject sp=reject dis=none) "
		  "header.from=reject.dmarc.example.net" },
		{ "John (the boss, really) Doe <john@Reject.DMARC.example."
		  "NET.>", "dmarc=pass (p=reject sp=reject dis=none) "
		  "header.from=reject.dmarc.example.net" },
		{ "john@reject" Z " (John \\) Doe)",
		  "dmarc=pass (p=reject sp=reject dis=none) "
		  "header.from=reject.dmarc.example.net" },
		{ "\r\n\t<@relay.example,@r2.example:john@reject" Z ">",
		  "dmarc=pass (p=reject sp=reject dis=none) "
		  "header.from=reject.dmarc.example.net" },
		{ "Team: a@reject" Z ", \"b c\"@reject" Z ";",
		  "dmarc=pass (p=reject sp=reject dis=none) "
		  "header.from=reject.dmarc.example.net" },
		{ "a@reject" Z ",, B <b@REJECT" Z ">",
		  "dmarc=pass (p=reject sp=reject dis=none) "
		  "header.from=reject.dmarc.example.net" },
		/* nothing to evaluate */
		{ "undisclosed-recipients:;", "dmarc=permerror" },
		{ "", "dmarc=permerror" },
		{ "<>", "dmarc=permerror" },
		{ "john", "dmarc=permerror" },
		{ "@reject" Z, "dmarc=permerror" },
		{ "\"unbalanced <john@reject" Z ">", "dmarc=permerror" },
		{ "(unbalanced john@reject" Z, "dmarc=permerror" },
		{ "john@reject" Z " <other@other" Z ">", "dmarc=permerror" },
		{ "a@reject" Z "\r\nInjected: header", "dmarc=permerror" },
		{ "G: x@reject" Z ", H: y@other" Z ";;", "dmarc=permerror" },
		/* a domain that is no DNS name: quoted, cleaned */
		{ "john@[192.0.2.1]",
		  "dmarc=permerror header.from=\"[192.0.2.1]\"" },
		{ "john@[1.2.3.4\r\n\x01\"]",
		  "dmarc=permerror header.from=\"[1.2.3.4???\\\"]\"" },
		{ "john@ex\xc3\xa4mple.example",
		  "dmarc=permerror header.from=\"ex??mple.example\"" },
		{ "john@a..b.example", "dmarc=permerror "
		  "header.from=\"a..b.example\"" },
	};
	struct verdict v;
	size_t i;

	(void)state;
	assert_true(load("[dmarc]\n", dns_ok));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_from(cases[i].value, "reject" Z, &v);
		if (strcmp(v.authres, cases[i].authres) != 0)
			fail_msg("From: %s\n got: %s\nwant: %s",
			    cases[i].value, v.authres, cases[i].authres);
	}
	/* the reasons say why */
	check_from("\"unbalanced <john@reject" Z ">", NULL, &v);
	assert_string_equal(v.reason, "dmarc=permerror (From header does "
	    "not parse: unbalanced quotes)");
	check_from("undisclosed-recipients:;", NULL, &v);
	assert_string_equal(v.reason,
	    "dmarc=permerror (no address in the From header)");
	check_from("john@[192.0.2.1]", NULL, &v);
	assert_string_equal(v.reason, "dmarc=permerror (From domain is not "
	    "a DNS domain name)");
	assert_dunno(&v);
}

/* test_from_count - no From, several From fields, several domains */
static void
test_from_count(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load("[dmarc]\n", dns_ok));
	/* no From at all */
	message();
	header("Subject", "no from");
	header("X-From", "a@reject" Z);
	eom(&v);
	assert_dunno(&v);
	assert_string_equal(v.authres, "dmarc=permerror");
	assert_string_equal(v.reason, "dmarc=permerror (no From header)");
	/* two From fields of one domain: evaluated */
	message();
	header("From", "a@reject" Z);
	header("FROM", "b@Reject" Z);
	eom(&v);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.authres, "dmarc=fail (p=reject sp=reject "
	    "dis=reject) header.from=reject.dmarc.example.net");
	/* two From fields of two domains: multiple_from_action */
	message();
	header("From", "a@reject" Z);
	header("from", "b@none" Z);
	spf("pass", "none" Z, false);
	eom(&v);
	assert_reject(&v, "Messages with From addresses in several domains "
	    "are not accepted");
	assert_string_equal(v.authres, "dmarc=permerror "
	    "header.from=reject.dmarc.example.net");
	assert_string_equal(v.reason, "dmarc=permerror "
	    "from=reject.dmarc.example.net (From addresses in several "
	    "domains)");
	/* one field, two domains */
	check_from("a@none" Z ", b@reject" Z, "none" Z, &v);
	assert_int_equal(v.action, VERDICT_REJECT);

	assert_true(load("[dmarc]\nmultiple_from_action = none\n", dns_ok));
	check_from("a@none" Z ", b@reject" Z, "none" Z, &v);
	assert_dunno(&v);
	assert_string_equal(v.authres, "dmarc=permerror "
	    "header.from=none.dmarc.example.net");
	assert_true(load("[dmarc]\nmultiple_from_action = quarantine\n",
	    dns_ok));
	check_from("a@none" Z ", b@reject" Z, "none" Z, &v);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
}

/* test_exempt - mynetworks and authenticated clients: nothing at all;
 * a mynetworks lookup error fails the module */
static void
test_exempt(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load_store(""));
	F.txn.mynetworks = TABLE_FOUND;
	check_from("a@reject" Z, NULL, &v);
	assert_dunno(&v);
	assert_null(v.authres);
	assert_null(v.reason);
	F.txn.mynetworks = TABLE_NOTFOUND;
	F.txn.auth = "alice";
	check_from("a@reject" Z, NULL, &v);
	assert_dunno(&v);
	assert_null(v.authres);
	F.txn.auth = NULL;
	F.txn.mynetworks = TABLE_ERROR;
	message();
	header("From", "a@reject" Z);
	assert_int_equal(run(POLICY_EOM, &v), POLICY_FAILED);
	assert_store_empty();
}

/* test_store - one line per message with a policy, none otherwise */
static void
test_store(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(load_store(""));
	/* no record, a DNS error, a bad record, a bad From: nothing */
	check_from("a@nx" Z, NULL, &v);
	check_from("a@bad" Z, NULL, &v);
	check_from("a@[192.0.2.1]", NULL, &v);
	assert_store_empty();

	/* a pass with everything to report: escaped untrusted text */
	message();
	header("From", "a@hostile" Z);
	spf("pass", "bounce.hostile" Z, false);
	dkim("pass", "hostile" Z, "sel\t1");
	dkim("fail", "x,y;z%" Z, "s 2");
	dkim("policy", "other" Z, NULL);
	eom(&v);
	assert_dunno(&v);
	assert_store_line("192.0.2.10\thostile.dmarc.example.net\t"
	    "hostile.dmarc.example.net\treject\treject\t100\tr\tr\t1:d\t"
	    "none\tpass\tpass\t\tbounce.hostile.dmarc.example.net\tmfrom\t"
	    "pass\thostile.dmarc.example.net,sel%091,pass;"
	    "x%2Cy%3Bz%25.dmarc.example.net,s%202,fail;"
	    "other.dmarc.example.net,,policy\n");
}

/* test_store_fail - a rejected and a sampled failure, an organizational
 * domain's record, a HELO identity, no SPF outcome */
static void
test_store_fail(void **state)
{
	struct verdict v;
	char *lines;

	(void)state;
	assert_true(load_store(""));
	message();
	header("From", "a@x.y.parent" Z);
	spf("fail", "mx.example.org", true);
	eom(&v);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_store_line("192.0.2.10\tx.y.parent.dmarc.example.net\t"
	    "parent.dmarc.example.net\tquarantine\treject\t100\tr\tr\t0\t"
	    "reject\tfail\tfail\t\tmx.example.org\thelo\tfail\t\n");

	/* sampled out, without any SPF outcome */
	testutil_rmtree(F.store);
	assert_int_equal(mkdir(F.store, 0700), 0);
	pick_value = 10;
	check_from("a@pct0r" Z, NULL, &v);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
	assert_store_line("192.0.2.10\tpct0r.dmarc.example.net\t"
	    "pct0r.dmarc.example.net\treject\treject\t0\tr\tr\t0\t"
	    "quarantine\tfail\tfail\tsampled_out\t\tmfrom\tnone\t\n");

	/* a local override, and a deferred message is not stored */
	testutil_rmtree(F.store);
	assert_int_equal(mkdir(F.store, 0700), 0);
	message();
	header("From", "a@reject" Z);
	dkim("temperror", "reject" Z, "s");
	eom(&v);
	assert_int_equal(v.action, VERDICT_DEFER);
	assert_store_empty();
	assert_true(load_store("reject_action = none\n"));
	check_from("a@strict" Z, "strict" Z, &v);
	check_from("a@strict" Z, NULL, &v);
	lines = store_lines();
	assert_non_null(strstr(lines, "\tstrict.dmarc.example.net\t"
	    "strict.dmarc.example.net\treject\treject\t100\ts\ts\t0\tnone\t"
	    "fail\tpass\t\tstrict.dmarc.example.net\tmfrom\tpass\t\n"));
	assert_non_null(strstr(lines, "\tstrict.dmarc.example.net\t"
	    "strict.dmarc.example.net\treject\treject\t100\ts\ts\t0\tnone\t"
	    "fail\tfail\tlocal_policy\t\tmfrom\tnone\t\n"));
	free(lines);
	/* an unwritable store is logged, the message goes on */
	testutil_rmtree(F.store);
	check_from("a@strict" Z, NULL, &v);
	assert_dunno(&v);
	assert_string_equal(v.authres, "dmarc=fail (p=reject sp=reject "
	    "dis=none) header.from=strict.dmarc.example.net");
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_settings, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_reject, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_quarantine, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_alignment, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_org_domain, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dns_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_identifier_temperror,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_records, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_from, setup, teardown),
		cmocka_unit_test_setup_teardown(test_from_count, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_exempt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_fail, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
