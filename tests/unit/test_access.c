/*
 * test_access.c - the access module: every restriction word, every table
 * action, lookup errors, relay tricks, config errors, the txn handler
 *
 * Configs are built the way filterd builds them: conf_load_string, then
 * conf_apply with access_module.settings, then access_module.init. Tables
 * are hash: files in a mkdtemp directory (removed afterwards) or inline:.
 * A small fake transaction stands in for filterd/txn.c so the stage
 * handler can be run too.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "access.h"
#include "arena.h"
#include "conf.h"
#include "inet.h"
#include "log.h"
#include "mailaddr.h"
#include "mem.h"
#include "policy.h"
#include "table.h"
#include "testutil.h"

/* --- fake transaction (the accessors access.c uses) -------------------- */

struct txn {
	struct arena *conn_arena, *msg_arena;
	const char *qid;
	struct inet_addr addr;
	bool have_addr;
	const char *addr_text, *name, *helo, *auth;
	const struct mailaddr *sender, *rcpt;
	const char *sender_raw, *rcpt_raw;
	enum table_result mynetworks;
	int mynetworks_calls;
	int headers;
	unsigned index[8];
	const char *hname[8], *hvalue[8];
};

/* txn_queue_id - fake: the field set up by the test */
const char *
txn_queue_id(const struct txn *txn)
{
	return txn->qid;
}

/* txn_client_addr - fake: the field set up by the test */
const struct inet_addr *
txn_client_addr(const struct txn *txn)
{
	return txn->have_addr ? &txn->addr : NULL;
}

/* txn_client_addr_text - fake: the field set up by the test */
const char *
txn_client_addr_text(const struct txn *txn)
{
	return txn->addr_text;
}

/* txn_client_name - fake: the field set up by the test */
const char *
txn_client_name(const struct txn *txn)
{
	return txn->name;
}

/* txn_helo - fake: the field set up by the test */
const char *
txn_helo(const struct txn *txn)
{
	return txn->helo;
}

/* txn_auth_user - fake: the field set up by the test */
const char *
txn_auth_user(const struct txn *txn)
{
	return txn->auth;
}

/* txn_sender - fake: the field set up by the test */
const struct mailaddr *
txn_sender(const struct txn *txn)
{
	return txn->sender;
}

/* txn_sender_raw - fake: the field set up by the test */
const char *
txn_sender_raw(const struct txn *txn)
{
	return txn->sender_raw;
}

/* txn_rcpt - fake: the field set up by the test */
const struct mailaddr *
txn_rcpt(const struct txn *txn)
{
	return txn->rcpt;
}

/* txn_rcpt_raw - fake: the field set up by the test */
const char *
txn_rcpt_raw(const struct txn *txn)
{
	return txn->rcpt_raw;
}

/* txn_in_mynetworks - fake: the field set up by the test */
enum table_result
txn_in_mynetworks(struct txn *txn)
{
	txn->mynetworks_calls++;
	return txn->mynetworks;
}

/* txn_conn_arena - fake: the field set up by the test */
struct arena *
txn_conn_arena(struct txn *txn)
{
	return txn->conn_arena;
}

/* txn_msg_arena - fake: the field set up by the test */
struct arena *
txn_msg_arena(struct txn *txn)
{
	return txn->msg_arena;
}

/* txn_insert_header - fake: record the call */
void
txn_insert_header(struct txn *txn, unsigned index, const char *name,
    const char *value)
{
	assert_true(txn->headers < 8);
	txn->index[txn->headers] = index;
	txn->hname[txn->headers] = name;
	txn->hvalue[txn->headers] = value;
	txn->headers++;
}

/* --- fixture ------------------------------------------------------------- */

struct fix {
	char dir[64];
	struct arena *arena;	/* the config's lifetime */
	struct arena *run;	/* one evaluation's strings */
	struct conf_file *cf;
	struct access_config *cfg;
	char *error;
	const struct access_header *headers;
};

static struct fix F;

static const struct policy_globals globals = {
	.authserv_id = "mx.example.org", .hostname = "mx.example.org",
};

/* setup - a temp dir and arenas for one test */
static int
setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	if (testutil_tmpdir(F.dir, sizeof(F.dir), "test_access") != 0)
		return -1;
	F.run = arena_create();
	return 0;
}

/* unload - deinit and free the current config */
static void
unload(void)
{
	if (F.cfg != NULL)
		access_module.deinit(F.cfg);
	arena_destroy(&F.arena);
	conf_file_free(&F.cf);
	free(F.cfg);
	F.cfg = NULL;
	free(F.error);
	F.error = NULL;
}

/* teardown - release everything and remove the temp dir */
static int
teardown(void **state)
{
	(void)state;
	unload();
	arena_destroy(&F.run);
	if (testutil_rmtree(F.dir) != 0)
		fprintf(stderr, "cannot remove %s\n", F.dir);
	return 0;
}

/* path - a file name in the temp dir (string in the run arena) */
static const char *
path(const char *name)
{
	return arena_printf(F.run, "%s/%s", F.dir, name);
}

/* write_file - create a file in the temp dir; returns its path */
static const char *
write_file(const char *name, const char *text)
{
	return testutil_put(F.run, F.dir, name, text);
}

/*
 * load - build a config from "[access]" text as filterd would. "$D" in
 * the text is replaced by the temp dir. Returns true if init accepted it;
 * otherwise F.error holds conf errors or init's error text.
 */
static bool
load(const char *fmt)
{
	struct conf_errors err = { 0 };
	struct policy_init pi = { 0 };
	struct buf text = { 0 };
	const char *p;

	unload();
	for (p = fmt; *p; p++) {
		if (p[0] == '$' && p[1] == 'D') {
			buf_puts(&text, F.dir);
			p++;
		} else
			buf_putc(&text, *p);
	}
	F.arena = arena_create();
	F.cfg = xcalloc(1, access_module.config_size);
	F.cf = conf_load_string("test.conf", buf_cstr(&text), &err);
	buf_free(&text);
	assert_non_null(F.cf);
	if (conf_apply(F.cf, "access", access_module.settings, F.cfg,
	    F.arena, &err) != 0 || err.count != 0) {
		F.error = xstrdup(buf_cstr(&err.text));
		conf_errors_free(&err);
		return false;
	}
	conf_errors_free(&err);
	pi.config = F.cfg;
	pi.arena = F.arena;
	pi.globals = &globals;
	pi.cf = F.cf;
	pi.section = "access";
	return access_module.init(&pi, &F.error);
}

/* load_ok - load and insist that it worked */
static void
load_ok(const char *fmt)
{
	if (!load(fmt))
		fail_msg("config refused: %s", F.error ? F.error : "?");
}

/* A simplified client and envelope for one evaluation. */
struct in {
	const char *addr;	/* NULL: 192.0.2.1 */
	const char *name;	/* NULL: unknown */
	const char *helo;
	const char *sender;	/* raw text, parsed here */
	const char *rcpt;
	const char *auth;
	enum table_result mynetworks;
};

/* parse - a mailaddr or NULL when the text does not parse */
static const struct mailaddr *
parse(const char *text)
{
	struct mailaddr *a;
	const char *why;

	if (text == NULL)
		return NULL;
	a = arena_alloc(F.run, sizeof(*a));
	if (!mailaddr_parse(F.run, text, a, &why))
		return NULL;
	return a;
}

/* eval - run one stage on a simplified input */
static struct verdict
eval(enum policy_stage stage, const struct in *s)
{
	struct access_input in = { 0 };
	struct inet_addr *a = arena_alloc(F.run, sizeof(*a));
	struct verdict v = { 0 };

	in.client_addr_text = s->addr ? s->addr : "192.0.2.1";
	assert_true(inet_parse(in.client_addr_text, a));
	in.client_addr = a;
	in.client_name = s->name ? s->name : "unknown";
	in.helo = s->helo;
	in.sender_raw = s->sender;
	in.sender = parse(s->sender);
	in.rcpt_raw = s->rcpt;
	in.rcpt = parse(s->rcpt);
	in.auth_user = s->auth;
	in.mynetworks = s->mynetworks;
	access_eval(F.cfg, stage, &in, F.run, &v, &F.headers);
	return v;
}

/* reply_is - compare a verdict with "CODE XCODE text" */
static void
reply_is(const struct verdict *v, enum verdict_action action,
    const char *expect)
{
	char *got;

	if (v->action != action)
		fail_msg("action %d, expected %d (text %s)", (int)v->action,
		    (int)action, v->text ? v->text : "NULL");
	assert_non_null(v->code);
	assert_non_null(v->xcode);
	assert_non_null(v->text);
	got = arena_printf(F.run, "%s %s %s", v->code, v->xcode, v->text);
	assert_string_equal(got, expect);
}

#define REJECTS(v, text)	reply_is(&(v), VERDICT_REJECT, (text))
#define DEFERS(v, text)		reply_is(&(v), VERDICT_DEFER, (text))

/* passes - no opinion, no reply, the given reason (NULL: none) */
static void
passes(const struct verdict *v, const char *reason)
{
	if (v->action != VERDICT_DUNNO)
		fail_msg("action %d, expected DUNNO (text %s)",
		    (int)v->action, v->text ? v->text : "NULL");
	assert_null(v->code);
	assert_null(v->text);
	if (reason == NULL)
		assert_null(v->reason);
	else {
		assert_non_null(v->reason);
		assert_string_equal(v->reason, reason);
	}
}

/* rcpt - evaluate RCPT for a recipient from an outside client */
static struct verdict
rcpt(const char *to)
{
	struct in s = { .sender = "<a@sender.example>", .rcpt = to };

	return eval(POLICY_RCPT, &s);
}

#define OURS \
	"[access]\n" \
	"relay_domains = relay.example, .sub.relay.example\n" \
	"local_domains = ours.example\n"

/* --- the default relay policy -------------------------------------------- */

/* test_default_relay - the default relay_restrictions */
static void
test_default_relay(void **state)
{
	struct verdict v;
	struct in s = { .sender = "<a@b.example>",
	    .rcpt = "<victim@example.net>" };

	(void)state;
	load_ok(OURS);
	v = eval(POLICY_RCPT, &s);
	REJECTS(v, "554 5.7.1 <victim@example.net>: Relay access denied");
	assert_string_equal(v.reason, "relay=reject_unauth_destination");
	assert_false(v.disconnect);

	s.mynetworks = TABLE_FOUND;
	v = eval(POLICY_RCPT, &s);
	passes(&v, "relay=permit_mynetworks");

	s.mynetworks = TABLE_NOTFOUND;
	s.auth = "alice";
	v = eval(POLICY_RCPT, &s);
	passes(&v, "relay=permit_sasl_authenticated");

	s.auth = "";
	v = eval(POLICY_RCPT, &s);
	REJECTS(v, "554 5.7.1 <victim@example.net>: Relay access denied");

	s.auth = NULL;
	s.mynetworks = TABLE_ERROR;
	v = eval(POLICY_RCPT, &s);
	DEFERS(v, "451 4.3.0 <victim@example.net>: Temporary lookup failure");

	passes((v = rcpt("<u@ours.example>"), &v), NULL);
	passes((v = rcpt("<u@relay.example>"), &v), NULL);
	passes((v = rcpt("<u@a.sub.relay.example>"), &v), NULL);
	v = rcpt("<u@sub.relay.example>");
	REJECTS(v, "554 5.7.1 <u@sub.relay.example>: Relay access denied");

	/* no opinion at the stages whose lists are empty */
	v = eval(POLICY_CONNECT, &s);
	passes(&v, NULL);
	v = eval(POLICY_DATA, &s);
	passes(&v, NULL);
}

/* test_default_no_domains - no domains: outsiders reach no one */
static void
test_default_no_domains(void **state)
{
	struct verdict v;

	(void)state;
	/* nothing configured: only trusted clients may send anywhere */
	load_ok("");
	v = rcpt("<u@ours.example>");
	REJECTS(v, "554 5.7.1 <u@ours.example>: Relay access denied");
}

/* --- relay tricks ------------------------------------------------------ */

/* test_relay_tricks - routing and syntax tricks */
static void
test_relay_tricks(void **state)
{
	static const struct {
		const char *rcpt;
		const char *reply;	/* NULL: accepted */
	} cases[] = {
		{ "<user%victim.example@ours.example>",
		  "554 5.7.1 <user%victim.example@ours.example>: "
		  "Relay access denied" },
		{ "<victim.example!user@ours.example>",
		  "554 5.7.1 <victim.example!user@ours.example>: "
		  "Relay access denied" },
		{ "<\"user@victim.example\"@ours.example>",
		  "554 5.7.1 <\"user@victim.example\"@ours.example>: "
		  "Relay access denied" },
		{ "<@ours.example:user@victim.example>",
		  "554 5.7.1 <user@victim.example>: Relay access denied" },
		{ "<@victim.example:user@ours.example>",
		  "554 5.7.1 <user@ours.example>: Relay access denied" },
		{ "<@a.example,@ours.example:user@victim.example>",
		  "554 5.7.1 <user@victim.example>: Relay access denied" },
		{ "<user@victim.example@ours.example>",
		  "554 5.7.1 <\"user@victim.example\"@ours.example>: "
		  "Relay access denied" },
		{ "<user@[192.0.2.1]>",
		  "554 5.7.1 <user@[192.0.2.1]>: Relay access denied" },
		{ "<user@[IPv6:2001:db8::1]>",
		  "554 5.7.1 <user@[IPv6:2001:db8::1]>: Relay access denied" },
		{ "<user@OURS.EXAMPLE.>", NULL },
		{ "<USER@Relay.Example>", NULL },
		{ "user@ours.example", NULL },
		{ "<user@ours.example..>",
		  "501 5.1.3 Bad recipient address syntax" },
		{ "<user@ours..example>",
		  "501 5.1.3 Bad recipient address syntax" },
		{ "<user@ours.example",
		  "501 5.1.3 Bad recipient address syntax" },
		{ "<user@victim.example%ours.example>",
		  "501 5.1.3 Bad recipient address syntax" },
		{ "<user@ours.example:25>",
		  "501 5.1.3 Bad recipient address syntax" },
		{ "<user@ours.example@>",
		  "501 5.1.3 Bad recipient address syntax" },
		{ "<user@ours.example >",
		  "501 5.1.3 Bad recipient address syntax" },
		{ "<user@ours.example\r\nRCPT TO:<v@victim.example>>",
		  "501 5.1.3 Bad recipient address syntax" },
		{ "<USER%VICTIM.EXAMPLE@OURS.EXAMPLE>",
		  "554 5.7.1 <USER%VICTIM.EXAMPLE@ours.example>: "
		  "Relay access denied" },
		{ "<\"user%victim.example\"@ours.example>",
		  "554 5.7.1 <user%victim.example@ours.example>: "
		  "Relay access denied" },
		{ "<\"user\"@ours.example>", NULL },
		{ "<user@sub.ours.example>",
		  "554 5.7.1 <user@sub.ours.example>: Relay access denied" },
		{ "<user@ours.example.evil.example>",
		  "554 5.7.1 <user@ours.example.evil.example>: "
		  "Relay access denied" },
		{ "<user@evilours.example>",
		  "554 5.7.1 <user@evilours.example>: Relay access denied" },
		{ "<>", "554 5.7.1 <>: Relay access denied" },
		{ "<user>", "554 5.7.1 <user>: Relay access denied" },
		{ "<postmaster>", NULL },
		{ "<PostMaster>", NULL },
		{ "<postmaster%victim.example>",
		  "554 5.7.1 <postmaster%victim.example>: "
		  "Relay access denied" },
	};
	struct verdict v;
	size_t i;

	(void)state;
	load_ok(OURS);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = rcpt(cases[i].rcpt);
		if (cases[i].reply == NULL) {
			if (v.action != VERDICT_DUNNO)
				fail_msg("%s: refused: %s", cases[i].rcpt,
				    v.text);
			continue;
		}
		if (v.action == VERDICT_DUNNO)
			fail_msg("%s: accepted", cases[i].rcpt);
		REJECTS(v, cases[i].reply);
	}
}

/* test_relay_subdomains - ".domain" matches subdomains only */
static void
test_relay_subdomains(void **state)
{
	struct verdict v;

	(void)state;
	load_ok("[access]\nrelay_domains = .ours.example\n");
	passes((v = rcpt("<user@sub.ours.example>"), &v), NULL);
	passes((v = rcpt("<user@a.b.ours.example>"), &v), NULL);
	v = rcpt("<user@ours.example>");
	REJECTS(v, "554 5.7.1 <user@ours.example>: Relay access denied");
	v = rcpt("<user@xours.example>");
	REJECTS(v, "554 5.7.1 <user@xours.example>: Relay access denied");
}

/* test_relay_literal_listed - an address literal is ours only when listed */
static void
test_relay_literal_listed(void **state)
{
	struct verdict v;

	(void)state;
	load_ok("[access]\nrelay_domains = [192.0.2.1]\n");
	passes((v = rcpt("<user@[192.0.2.1]>"), &v), NULL);
	v = rcpt("<user@[192.0.2.2]>");
	REJECTS(v, "554 5.7.1 <user@[192.0.2.2]>: Relay access denied");
}

/* test_relay_untrusted_routing - routing for trusted clients */
static void
test_relay_untrusted_routing(void **state)
{
	struct verdict v;
	struct in s = { .sender = "<a@b.example>",
	    .rcpt = "<user%victim.example@ours.example>",
	    .mynetworks = TABLE_FOUND };

	(void)state;
	load_ok(OURS "allow_untrusted_routing = yes\n");
	passes((v = rcpt("<user%victim.example@ours.example>"), &v), NULL);
	passes((v = rcpt("<@x.example:user@ours.example>"), &v), NULL);
	/* the final domain still has to be ours */
	v = rcpt("<@ours.example:user@victim.example>");
	REJECTS(v, "554 5.7.1 <user@victim.example>: Relay access denied");

	/* without it, only trusted clients may use routing */
	load_ok(OURS);
	v = eval(POLICY_RCPT, &s);
	passes(&v, "relay=permit_mynetworks");
}

/* test_relay_codes - defer_unauth_destination and relay_domains_reject_code */
static void
test_relay_codes(void **state)
{
	struct verdict v;

	(void)state;
	load_ok(OURS "relay_restrictions = defer_unauth_destination\n");
	v = rcpt("<victim@example.net>");
	DEFERS(v, "454 4.7.1 <victim@example.net>: Relay access denied");
	assert_string_equal(v.reason, "relay=defer_unauth_destination");
	passes((v = rcpt("<u@ours.example>"), &v), NULL);

	load_ok(OURS "relay_domains_reject_code = 550\n");
	v = rcpt("<victim@example.net>");
	REJECTS(v, "550 5.7.1 <victim@example.net>: Relay access denied");

	load_ok(OURS "relay_domains_reject_code = 450\n"
	    "relay_restrictions = reject_unauth_destination\n"
	    "recipient_restrictions = defer_unauth_destination\n");
	v = rcpt("<victim@example.net>");
	DEFERS(v, "450 4.7.1 <victim@example.net>: Relay access denied");
}

/* test_relay_lookup_errors - domain list errors tempfail, never relay */
static void
test_relay_lookup_errors(void **state)
{
	struct verdict v;

	(void)state;
	write_file("relay", "relay.example OK\n");
	write_file("local", "ours.example OK\n");
	load_ok("[access]\nrelay_domains = hash:$D/relay\n"
	    "local_domains = hash:$D/local\n");
	passes((v = rcpt("<u@relay.example>"), &v), NULL);
	passes((v = rcpt("<u@ours.example>"), &v), NULL);

	/* relay_domains unreadable: no recipient there may pass */
	assert_int_equal(unlink(path("relay")), 0);
	table_refresh_all();
	passes((v = rcpt("<u@ours.example>"), &v), NULL);
	v = rcpt("<u@relay.example>");
	DEFERS(v, "451 4.3.0 <u@relay.example>: Temporary lookup failure");
	v = rcpt("<u@victim.example>");
	DEFERS(v, "451 4.3.0 <u@victim.example>: Temporary lookup failure");

	/* local_domains unreadable: checked first, so every domain fails */
	write_file("relay", "relay.example OK\n");
	assert_int_equal(unlink(path("local")), 0);
	table_refresh_all();
	v = rcpt("<u@relay.example>");
	DEFERS(v, "451 4.3.0 <u@relay.example>: Temporary lookup failure");
	assert_string_equal(v.reason, "relay=reject_unauth_destination");
}

/* --- the generic words ------------------------------------------------- */

/* test_permit_reject_defer - the generic words, their texts and codes */
static void
test_permit_reject_defer(void **state)
{
	struct verdict v;
	struct in s = { .helo = "mail.example.com",
	    .sender = "<a@sender.example>", .rcpt = "<u@ours.example>" };

	(void)state;
	load_ok(OURS "client_restrictions = reject\n"
	    "helo_restrictions = defer\n"
	    "sender_restrictions = permit, reject\n"
	    "recipient_restrictions = REJECT\n");
	v = eval(POLICY_CONNECT, &s);
	REJECTS(v, "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: "
	    "Access denied");
	assert_string_equal(v.reason, "client=reject");
	v = eval(POLICY_HELO, &s);
	DEFERS(v, "450 4.3.2 <mail.example.com>: Helo command rejected: "
	    "Try again later");
	v = eval(POLICY_MAIL, &s);
	passes(&v, "sender=permit");
	v = eval(POLICY_RCPT, &s);
	REJECTS(v, "554 5.7.1 <u@ours.example>: Recipient address rejected: "
	    "Access denied");
	assert_string_equal(v.reason, "recipient=reject");

	s.name = "host.example.com";
	s.addr = "2001:db8::5";
	v = eval(POLICY_CONNECT, &s);
	REJECTS(v, "554 5.7.1 <host.example.com[2001:db8::5]>: Client host "
	    "rejected: Access denied");
	s.addr = NULL;

	load_ok(OURS "reject_code = 550\ndefer_code = 421\n"
	    "client_restrictions = reject\nhelo_restrictions = defer\n");
	v = eval(POLICY_CONNECT, &s);
	REJECTS(v, "550 5.7.1 <host.example.com[192.0.2.1]>: Client host "
	    "rejected: Access denied");
	assert_false(v.disconnect);
	v = eval(POLICY_HELO, &s);
	DEFERS(v, "421 4.3.2 <mail.example.com>: Helo command rejected: "
	    "Try again later");
	assert_true(v.disconnect);
}

/* test_relay_then_recipient - both RCPT lists must pass */
static void
test_relay_then_recipient(void **state)
{
	struct verdict v;
	struct in s = { .sender = "<a@b.example>", .rcpt = "<u@ours.example>",
	    .mynetworks = TABLE_FOUND };

	(void)state;
	/* a permit in relay_restrictions does not skip the second list */
	load_ok(OURS "recipient_restrictions = reject_non_fqdn_recipient, "
	    "reject\n");
	v = eval(POLICY_RCPT, &s);
	REJECTS(v, "554 5.7.1 <u@ours.example>: Recipient address rejected: "
	    "Access denied");
	/* a relay refusal ends it before the recipient list runs */
	s.mynetworks = TABLE_NOTFOUND;
	s.rcpt = "<u@victim.example>";
	v = eval(POLICY_RCPT, &s);
	REJECTS(v, "554 5.7.1 <u@victim.example>: Relay access denied");

	load_ok(OURS "recipient_restrictions = permit_mynetworks\n");
	s.rcpt = "<u@ours.example>";
	s.mynetworks = TABLE_FOUND;
	v = eval(POLICY_RCPT, &s);
	passes(&v, "relay=permit_mynetworks recipient=permit_mynetworks");
	s.mynetworks = TABLE_NOTFOUND;
	v = eval(POLICY_RCPT, &s);
	passes(&v, NULL);
}

/* test_permit_sasl - permit_sasl_authenticated */
static void
test_permit_sasl(void **state)
{
	struct verdict v;
	struct in s = { .sender = "<a@b.example>" };

	(void)state;
	load_ok(OURS "sender_restrictions = permit_sasl_authenticated, "
	    "reject\n");
	v = eval(POLICY_MAIL, &s);
	REJECTS(v, "554 5.7.1 <a@b.example>: Sender address rejected: "
	    "Access denied");
	s.auth = "bob";
	v = eval(POLICY_MAIL, &s);
	passes(&v, "sender=permit_sasl_authenticated");
}

/* --- HELO, sender and recipient syntax words --------------------------- */

/* test_helo_words - both HELO name words */
static void
test_helo_words(void **state)
{
	static const struct {
		const char *helo;
		const char *fqdn;	/* reject_non_fqdn_helo_hostname */
		const char *valid;	/* reject_invalid_helo_hostname */
	} cases[] = {
		{ "mail.example.com", NULL, NULL },
		{ "mail.example.com.", NULL, NULL },
		{ "Mail-1.Example.COM", NULL, NULL },
		{ "localhost",
		  "504 5.5.2 <localhost>: Helo command rejected: need "
		  "fully-qualified hostname", NULL },
		{ "mail.example.com..",
		  "504 5.5.2 <mail.example.com..>: Helo command rejected: "
		  "need fully-qualified hostname",
		  "501 5.5.2 <mail.example.com..>: Helo command rejected: "
		  "Invalid name" },
		{ "bad_host!",
		  "504 5.5.2 <bad_host!>: Helo command rejected: need "
		  "fully-qualified hostname",
		  "501 5.5.2 <bad_host!>: Helo command rejected: Invalid "
		  "name" },
		{ "-bad.example.com",
		  "504 5.5.2 <-bad.example.com>: Helo command rejected: need "
		  "fully-qualified hostname",
		  "501 5.5.2 <-bad.example.com>: Helo command rejected: "
		  "Invalid name" },
		{ "192.0.2.7",
		  "504 5.5.2 <192.0.2.7>: Helo command rejected: need "
		  "fully-qualified hostname", NULL },
		{ "[192.0.2.7]", NULL, NULL },
		{ "[IPv6:2001:db8::7]", NULL, NULL },
		{ "[192.0.2.300]",
		  "501 5.5.2 <[192.0.2.300]>: Helo command rejected: invalid "
		  "ip address",
		  "501 5.5.2 <[192.0.2.300]>: Helo command rejected: invalid "
		  "ip address" },
		{ "[mail.example.com]",
		  "501 5.5.2 <[mail.example.com]>: Helo command rejected: "
		  "invalid ip address",
		  "501 5.5.2 <[mail.example.com]>: Helo command rejected: "
		  "invalid ip address" },
		{ "bad\r\nhelo",
		  "504 5.5.2 <bad??helo>: Helo command rejected: need "
		  "fully-qualified hostname",
		  "501 5.5.2 <bad??helo>: Helo command rejected: Invalid "
		  "name" },
	};
	struct verdict v;
	struct in s = { 0 };
	size_t i;
	int pass;

	(void)state;
	for (pass = 0; pass < 2; pass++) {
		load_ok(pass == 0 ?
		    "[access]\nhelo_restrictions = "
		    "reject_non_fqdn_helo_hostname\n" :
		    "[access]\nhelo_restrictions = "
		    "reject_invalid_helo_hostname\n");
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const char *want = pass == 0 ? cases[i].fqdn :
			    cases[i].valid;

			s.helo = cases[i].helo;
			v = eval(POLICY_HELO, &s);
			if (want == NULL) {
				if (v.action != VERDICT_DUNNO)
					fail_msg("%s: refused: %s",
					    cases[i].helo, v.text);
				continue;
			}
			REJECTS(v, want);
		}
		/* no HELO at all: nothing to check */
		s.helo = NULL;
		v = eval(POLICY_HELO, &s);
		passes(&v, NULL);
	}
	load_ok("[access]\ninvalid_hostname_reject_code = 550\n"
	    "non_fqdn_reject_code = 450\n"
	    "helo_restrictions = reject_invalid_helo_hostname, "
	    "reject_non_fqdn_helo_hostname\n");
	s.helo = "a..b";
	v = eval(POLICY_HELO, &s);
	REJECTS(v, "550 5.5.2 <a..b>: Helo command rejected: Invalid name");
	s.helo = "host";
	v = eval(POLICY_HELO, &s);
	DEFERS(v, "450 4.5.2 <host>: Helo command rejected: need "
	    "fully-qualified hostname");
}

/* test_non_fqdn_addresses - non-FQDN addresses */
static void
test_non_fqdn_addresses(void **state)
{
	struct verdict v;
	struct in s = { .rcpt = "<u@ours.example>" };

	(void)state;
	load_ok(OURS "sender_restrictions = reject_non_fqdn_sender\n"
	    "recipient_restrictions = reject_non_fqdn_sender, "
	    "reject_non_fqdn_recipient\n");
	s.sender = "<user@localhost>";
	v = eval(POLICY_MAIL, &s);
	REJECTS(v, "504 5.5.2 <user@localhost>: Sender address rejected: "
	    "need fully-qualified address");
	assert_string_equal(v.reason, "sender=reject_non_fqdn_sender");
	s.sender = "<user>";
	v = eval(POLICY_MAIL, &s);
	REJECTS(v, "504 5.5.2 <user>: Sender address rejected: need "
	    "fully-qualified address");
	s.sender = "<user@-x.example>";
	v = eval(POLICY_MAIL, &s);
	REJECTS(v, "504 5.5.2 <user@-x.example>: Sender address rejected: "
	    "need fully-qualified address");
	s.sender = "<>";
	passes((v = eval(POLICY_MAIL, &s), &v), NULL);
	s.sender = "<user@[192.0.2.1]>";
	passes((v = eval(POLICY_MAIL, &s), &v), NULL);
	s.sender = "<user@Example.COM.>";
	passes((v = eval(POLICY_MAIL, &s), &v), NULL);
	s.sender = "<user@bad..example>";
	v = eval(POLICY_MAIL, &s);
	REJECTS(v, "501 5.1.7 Bad sender address syntax");

	s.sender = "<a@b.example>";
	s.rcpt = "<u@ours.example>";
	s.mynetworks = TABLE_FOUND;
	passes((v = eval(POLICY_RCPT, &s), &v), "relay=permit_mynetworks");
	s.rcpt = "<u@localhost>";
	v = eval(POLICY_RCPT, &s);
	REJECTS(v, "504 5.5.2 <u@localhost>: Recipient address rejected: "
	    "need fully-qualified address");
	assert_string_equal(v.reason, "recipient=reject_non_fqdn_recipient");
	s.rcpt = "<u@[IPv6:2001:db8::1]>";
	passes((v = eval(POLICY_RCPT, &s), &v), "relay=permit_mynetworks");
	s.rcpt = "<u@x..y>";
	v = eval(POLICY_RCPT, &s);
	REJECTS(v, "501 5.1.3 Bad recipient address syntax");
}

/* test_unlisted_recipient - local_recipients */
static void
test_unlisted_recipient(void **state)
{
	struct verdict v;

	(void)state;
	write_file("users", "alice@ours.example OK\nbob@relay.example OK\n"
	    ".sub.relay.example OK\n");
	load_ok(OURS "local_recipients = hash:$D/users\n"
	    "recipient_restrictions = reject_unlisted_recipient\n");
	passes((v = rcpt("<alice@ours.example>"), &v), NULL);
	passes((v = rcpt("<Alice@OURS.example>"), &v), NULL);
	passes((v = rcpt("<postmaster@ours.example>"), &v), NULL);
	passes((v = rcpt("<bob@relay.example>"), &v), NULL);
	passes((v = rcpt("<anyone@x.sub.relay.example>"), &v), NULL);
	v = rcpt("<carol@ours.example>");
	REJECTS(v, "550 5.1.1 <carol@ours.example>: Recipient address "
	    "rejected: User unknown in local recipient table");
	assert_string_equal(v.reason, "recipient=reject_unlisted_recipient");
	v = rcpt("<postmaster@relay.example>");
	REJECTS(v, "550 5.1.1 <postmaster@relay.example>: Recipient address "
	    "rejected: User unknown in relay recipient table");
	v = rcpt("<alice%x@ours.example>");
	REJECTS(v, "554 5.7.1 <alice%x@ours.example>: Relay access denied");

	load_ok(OURS "local_recipients = hash:$D/users\n"
	    "unknown_local_recipient_reject_code = 450\n"
	    "unknown_relay_recipient_reject_code = 551\n"
	    "relay_restrictions = reject_unlisted_recipient, "
	    "reject_unauth_destination\n");
	v = rcpt("<carol@ours.example>");
	DEFERS(v, "450 4.1.1 <carol@ours.example>: Recipient address "
	    "rejected: User unknown in local recipient table");
	v = rcpt("<carol@relay.example>");
	REJECTS(v, "551 5.1.1 <carol@relay.example>: Recipient address "
	    "rejected: User unknown in relay recipient table");
	/* not our domain: not this word's business */
	v = rcpt("<carol@victim.example>");
	REJECTS(v, "554 5.7.1 <carol@victim.example>: Relay access denied");

	/* the table breaks: tempfail, never "unknown" and never "known" */
	assert_int_equal(unlink(path("users")), 0);
	table_refresh_all();
	v = rcpt("<alice@ours.example>");
	DEFERS(v, "451 4.3.0 <alice@ours.example>: Temporary lookup failure");

	/* without a table the word does nothing, as in Postfix */
	load_ok(OURS "recipient_restrictions = reject_unlisted_recipient\n");
	passes((v = rcpt("<carol@ours.example>"), &v), NULL);
}

/* --- access tables ------------------------------------------------------ */

/* test_check_client_access - check_client_access keys, DUNNO */
static void
test_check_client_access(void **state)
{
	struct verdict v;
	struct in s = { 0 };

	(void)state;
	write_file("clients", "192.0.2.1 REJECT\n"
	    "198.51.100 OK\n"
	    "2001:db8:1 REJECT bad v6 net\n"
	    ".spam.example DEFER come back later\n"
	    "good.spam.example DUNNO\n");
	load_ok("[access]\nclient_restrictions = check_client_access "
	    "hash:$D/clients, reject\n");
	v = eval(POLICY_CONNECT, &s);
	REJECTS(v, "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: "
	    "Access denied");
	assert_string_equal(v.reason, arena_printf(F.run,
	    "client=check_client_access hash:%s/clients", F.dir));
	s.addr = "198.51.100.9";
	v = eval(POLICY_CONNECT, &s);
	assert_int_equal(v.action, VERDICT_DUNNO);
	assert_string_equal(v.reason, arena_printf(F.run,
	    "client=check_client_access hash:%s/clients", F.dir));
	s.addr = "2001:db8:1::9";
	v = eval(POLICY_CONNECT, &s);
	REJECTS(v, "554 5.7.1 <unknown[2001:db8:1::9]>: Client host "
	    "rejected: bad v6 net");
	s.addr = "203.0.113.5";
	s.name = "mx.spam.example";
	v = eval(POLICY_CONNECT, &s);
	DEFERS(v, "450 4.7.1 <mx.spam.example[203.0.113.5]>: Client host "
	    "rejected: come back later");
	/* DUNNO: no more keys of this table, on to "reject" */
	s.name = "good.spam.example";
	v = eval(POLICY_CONNECT, &s);
	REJECTS(v, "554 5.7.1 <good.spam.example[203.0.113.5]>: Client host "
	    "rejected: Access denied");
	assert_string_equal(v.reason, "client=reject");
}

/* test_check_helo_sender_rcpt_access - the other three check words */
static void
test_check_helo_sender_rcpt_access(void **state)
{
	struct verdict v;
	struct in s = { .helo = "friend.example.com",
	    .sender = "<a@b.example>", .rcpt = "<u@ours.example>" };

	(void)state;
	write_file("helo", ".example.com REJECT no such friends\n");
	write_file("senders", "<> REJECT no bounces\n"
	    "spammer@ OK\nspam.example REJECT spam domain\n");
	write_file("rcpts", "u@ours.example 550 5.1.1 Gone\n"
	    "ours.example DEFER\n");
	load_ok(OURS "helo_restrictions = check_helo_access hash:$D/helo\n"
	    "sender_restrictions = check_sender_access hash:$D/senders, "
	    "reject\n"
	    "recipient_restrictions = check_recipient_access hash:$D/rcpts\n");
	v = eval(POLICY_HELO, &s);
	REJECTS(v, "554 5.7.1 <friend.example.com>: Helo command rejected: "
	    "no such friends");
	s.helo = "example.com";
	passes((v = eval(POLICY_HELO, &s), &v), NULL);

	s.sender = "<>";
	v = eval(POLICY_MAIL, &s);
	REJECTS(v, "554 5.7.1 <>: Sender address rejected: no bounces");
	s.sender = "<spammer@anywhere.example>";
	passes((v = eval(POLICY_MAIL, &s), &v), arena_printf(F.run,
	    "sender=check_sender_access hash:%s/senders", F.dir));
	s.sender = "<x@Spam.Example>";
	v = eval(POLICY_MAIL, &s);
	REJECTS(v, "554 5.7.1 <x@spam.example>: Sender address rejected: "
	    "spam domain");
	/* parent domains only match as ".domain" */
	s.sender = "<x@mx.spam.example>";
	v = eval(POLICY_MAIL, &s);
	REJECTS(v, "554 5.7.1 <x@mx.spam.example>: Sender address rejected: "
	    "Access denied");
	assert_string_equal(v.reason, "sender=reject");
	s.sender = "<x@y@z>";
	v = eval(POLICY_MAIL, &s);
	REJECTS(v, "554 5.7.1 <\"x@y\"@z>: Sender address rejected: "
	    "Access denied");
	s.sender = "<bad address>";
	v = eval(POLICY_MAIL, &s);
	REJECTS(v, "501 5.1.7 Bad sender address syntax");

	s.sender = "<a@b.example>";
	v = eval(POLICY_RCPT, &s);
	REJECTS(v, "550 5.1.1 <u@ours.example>: Recipient address rejected: "
	    "Gone");
	s.rcpt = "<v@ours.example>";
	v = eval(POLICY_RCPT, &s);
	DEFERS(v, "450 4.7.1 <v@ours.example>: Recipient address rejected: "
	    "Access denied");
}

/* test_table_actions - every table action, reply codes and status codes */
static void
test_table_actions(void **state)
{
	static const struct {
		const char *value;
		enum verdict_action action;
		const char *reply;	/* "CODE XCODE text" or NULL */
		bool disconnect;
	} cases[] = {
		{ "OK", VERDICT_DUNNO, NULL, false },
		{ "ok whatever", VERDICT_DUNNO, NULL, false },
		{ "RELAY", VERDICT_DUNNO, NULL, false },
		{ "1234567890", VERDICT_DUNNO, NULL, false },
		{ "REJECT", VERDICT_REJECT,
		  "554 5.7.1 <s@x.example>: Sender address rejected: "
		  "Access denied", false },
		{ "reject Go away", VERDICT_REJECT,
		  "554 5.7.1 <s@x.example>: Sender address rejected: "
		  "Go away", false },
		{ "REJECT 5.7.0 Policy", VERDICT_REJECT,
		  "554 5.7.0 <s@x.example>: Sender address rejected: "
		  "Policy", false },
		{ "REJECT 4.7.0 Odd", VERDICT_REJECT,
		  "554 5.7.0 <s@x.example>: Sender address rejected: "
		  "Odd", false },
		{ "REJECT 5.1.1 No such user", VERDICT_REJECT,
		  "554 5.1.7 <s@x.example>: Sender address rejected: "
		  "No such user", false },
		{ "REJECT 5.7.1.2 x", VERDICT_REJECT,
		  "554 5.7.1 <s@x.example>: Sender address rejected: "
		  "5.7.1.2 x", false },
		{ "DEFER", VERDICT_DEFER,
		  "450 4.7.1 <s@x.example>: Sender address rejected: "
		  "Access denied", false },
		{ "DEFER 4.2.0 Busy", VERDICT_DEFER,
		  "450 4.2.0 <s@x.example>: Sender address rejected: "
		  "Busy", false },
		{ "550 Bad", VERDICT_REJECT,
		  "550 5.7.1 <s@x.example>: Sender address rejected: Bad",
		  false },
		{ "551 5.1.6 Moved", VERDICT_REJECT,
		  "551 5.1.7 <s@x.example>: Sender address rejected: Moved",
		  false },
		{ "450 Later", VERDICT_DEFER,
		  "450 4.7.1 <s@x.example>: Sender address rejected: Later",
		  false },
		{ "452 5.3.4 Wrong class", VERDICT_DEFER,
		  "452 4.3.4 <s@x.example>: Sender address rejected: Wrong "
		  "class", false },
		{ "421 Bye", VERDICT_DEFER,
		  "421 4.7.1 <s@x.example>: Sender address rejected: Bye",
		  true },
		{ "521 Go", VERDICT_REJECT,
		  "521 5.7.1 <s@x.example>: Sender address rejected: Go",
		  true },
		{ "550", VERDICT_DUNNO, NULL, false },
		{ "reject_unauth_destination", VERDICT_DEFER,
		  "451 4.3.5 Server configuration error", false },
		{ "permit_sasl_authenticated, defer", VERDICT_DEFER,
		  "450 4.3.2 <s@x.example>: Sender address rejected: "
		  "Try again later", false },
		{ "permit_mynetworks reject", VERDICT_REJECT,
		  "554 5.7.1 <s@x.example>: Sender address rejected: "
		  "Access denied", false },
		{ "permit", VERDICT_DUNNO, NULL, false },
		{ "BOGUS", VERDICT_DEFER,
		  "451 4.3.5 Server configuration error", false },
		{ "REDIRECT a@b.example", VERDICT_DEFER,
		  "451 4.3.5 Server configuration error", false },
		{ "BCC a@b.example", VERDICT_DEFER,
		  "451 4.3.5 Server configuration error", false },
		{ "FILTER smtp:[127.0.0.1]:10025", VERDICT_DEFER,
		  "451 4.3.5 Server configuration error", false },
		{ "DEFER_IF_PERMIT x", VERDICT_DEFER,
		  "451 4.3.5 Server configuration error", false },
		{ "check_sender_access", VERDICT_DEFER,
		  "451 4.3.5 Server configuration error", false },
		{ "permit_mynetworks hash:/x", VERDICT_DEFER,
		  "451 4.3.5 Server configuration error", false },
		/* nothing decided: on to the "reject" after the table */
		{ "DUNNO", VERDICT_REJECT,
		  "554 5.7.1 <s@x.example>: Sender address rejected: "
		  "Access denied", false },
		{ "INFO noted", VERDICT_REJECT,
		  "554 5.7.1 <s@x.example>: Sender address rejected: "
		  "Access denied", false },
		{ "WARN careful", VERDICT_REJECT,
		  "554 5.7.1 <s@x.example>: Sender address rejected: "
		  "Access denied", false },
	};
	struct verdict v;
	struct in s = { .sender = "<s@x.example>" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = xasprintf("s@x.example %s\n", cases[i].value);

		write_file("t", text);
		free(text);
		load_ok("[access]\nsender_restrictions = check_sender_access "
		    "hash:$D/t, reject\n");
		v = eval(POLICY_MAIL, &s);
		if (v.action != cases[i].action)
			fail_msg("\"%s\": action %d, expected %d (%s)",
			    cases[i].value, (int)v.action,
			    (int)cases[i].action, v.text ? v.text : "-");
		if (cases[i].reply == NULL) {
			assert_null(v.code);
			continue;
		}
		reply_is(&v, cases[i].action, cases[i].reply);
		assert_int_equal(v.disconnect, cases[i].disconnect);
	}
}

/* test_action_codes - access_map_*_code, status codes fitted to the subject */
static void
test_action_codes(void **state)
{
	struct verdict v;
	struct in s = { .helo = "h.example", .sender = "<s@x.example>" };

	(void)state;
	load_ok("[access]\naccess_map_reject_code = 550\n"
	    "access_map_defer_code = 451\n"
	    "helo_restrictions = check_helo_access "
	    "inline:{ { h.example = REJECT 5.1.1 x } }\n"
	    "sender_restrictions = check_helo_access "
	    "inline:{ h.example=DEFER }\n");
	v = eval(POLICY_HELO, &s);
	/* an address status code does not fit a HELO name */
	REJECTS(v, "550 5.0.0 <h.example>: Helo command rejected: x");
	v = eval(POLICY_MAIL, &s);
	DEFERS(v, "451 4.7.1 <h.example>: Helo command rejected: "
	    "Access denied");
	assert_string_equal(v.reason, "sender=check_helo_access "
	    "inline:{ h.example=DEFER }");
}

/* test_discard_and_hold - DISCARD ends, HOLD waits for a later reject */
static void
test_discard_and_hold(void **state)
{
	struct verdict v;
	struct in s = { .sender = "<s@x.example>", .rcpt = "<u@ours.example>" };

	(void)state;
	write_file("t", "s@x.example HOLD\nt@x.example HOLD look at it\n"
	    "d@x.example DISCARD\ne@x.example DISCARD spam trap\n");
	load_ok(OURS "sender_restrictions = check_sender_access hash:$D/t\n"
	    "recipient_restrictions = check_sender_access hash:$D/t, "
	    "reject_non_fqdn_recipient\n");
	v = eval(POLICY_MAIL, &s);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
	assert_string_equal(v.text, "<s@x.example>: Sender address triggers "
	    "HOLD action");
	assert_string_equal(v.reason, arena_printf(F.run,
	    "sender=check_sender_access hash:%s/t", F.dir));
	s.sender = "<t@x.example>";
	v = eval(POLICY_MAIL, &s);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
	assert_string_equal(v.text, "<t@x.example>: Sender address look at "
	    "it");
	/* a later reject wins over HOLD */
	s.rcpt = "<u@localhost>";
	s.mynetworks = TABLE_FOUND;
	v = eval(POLICY_RCPT, &s);
	REJECTS(v, "504 5.5.2 <u@localhost>: Recipient address rejected: "
	    "need fully-qualified address");
	s.rcpt = "<u@ours.example>";
	v = eval(POLICY_RCPT, &s);
	assert_int_equal(v.action, VERDICT_QUARANTINE);

	s.sender = "<d@x.example>";
	v = eval(POLICY_MAIL, &s);
	assert_int_equal(v.action, VERDICT_DISCARD);
	assert_null(v.code);
	assert_string_equal(v.text, "<d@x.example>: Sender address triggers "
	    "DISCARD action");
	s.sender = "<e@x.example>";
	v = eval(POLICY_MAIL, &s);
	assert_int_equal(v.action, VERDICT_DISCARD);
	assert_string_equal(v.text, "<e@x.example>: Sender address spam "
	    "trap");
}

/* test_prepend - PREPEND headers: order, bad entries, stages */
static void
test_prepend(void **state)
{
	struct verdict v;
	struct in s = { .sender = "<s@x.example>", .rcpt = "<u@ours.example>",
	    .helo = "h.example" };
	const struct access_header *h;

	(void)state;
	write_file("t", "s@x.example PREPEND X-Seen: by\taccess\n"
	    "x.example PREPEND X-Domain:\tx\n"
	    "bad@x.example PREPEND no header here\n"
	    "h.example PREPEND X-Helo: h\n");
	load_ok(OURS "helo_restrictions = check_helo_access hash:$D/t\n"
	    "sender_restrictions = check_sender_access hash:$D/t, "
	    "check_sender_access inline:{ { x.example = PREPEND X-Two: 2 } }\n"
	    "recipient_restrictions = check_sender_access hash:$D/t, "
	    "reject\n");
	v = eval(POLICY_MAIL, &s);
	passes(&v, NULL);
	h = F.headers;
	assert_non_null(h);
	assert_string_equal(h->name, "X-Seen");
	assert_string_equal(h->value, "by\taccess");
	h = h->next;
	assert_non_null(h);
	assert_string_equal(h->name, "X-Two");
	assert_string_equal(h->value, "2");
	assert_null(h->next);

	/* the parent-domain entry, and nothing for a malformed entry */
	s.sender = "<y@x.example>";
	v = eval(POLICY_MAIL, &s);
	assert_non_null(F.headers);
	assert_string_equal(F.headers->name, "X-Domain");
	assert_string_equal(F.headers->value, "x");
	s.sender = "<bad@x.example>";
	v = eval(POLICY_MAIL, &s);
	assert_non_null(F.headers);
	assert_string_equal(F.headers->name, "X-Two");
	assert_null(F.headers->next);

	/* a refused recipient gets no headers */
	s.sender = "<s@x.example>";
	v = eval(POLICY_RCPT, &s);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_null(F.headers);

	/* no message at HELO: ignored with a warning */
	v = eval(POLICY_HELO, &s);
	passes(&v, NULL);
	assert_null(F.headers);
}

/* test_table_lookup_error - a broken table tempfails every check word */
static void
test_table_lookup_error(void **state)
{
	struct verdict v;
	struct in s = { .helo = "h.example", .sender = "<s@x.example>",
	    .rcpt = "<u@ours.example>" };

	(void)state;
	write_file("t", "nothing.example OK\n");
	load_ok(OURS "client_restrictions = check_client_access hash:$D/t\n"
	    "helo_restrictions = check_helo_access hash:$D/t\n"
	    "sender_restrictions = check_sender_access hash:$D/t\n"
	    "recipient_restrictions = check_recipient_access hash:$D/t\n");
	passes((v = eval(POLICY_CONNECT, &s), &v), NULL);
	assert_int_equal(unlink(path("t")), 0);
	table_refresh_all();
	v = eval(POLICY_CONNECT, &s);
	DEFERS(v, "451 4.3.0 <unknown[192.0.2.1]>: Temporary lookup failure");
	assert_string_equal(v.reason, arena_printf(F.run,
	    "client=check_client_access hash:%s/t", F.dir));
	v = eval(POLICY_HELO, &s);
	DEFERS(v, "451 4.3.0 <h.example>: Temporary lookup failure");
	v = eval(POLICY_MAIL, &s);
	DEFERS(v, "451 4.3.0 <s@x.example>: Temporary lookup failure");
	v = eval(POLICY_RCPT, &s);
	DEFERS(v, "451 4.3.0 <u@ours.example>: Temporary lookup failure");
}

/* test_table_value_stage - restriction words in table values */
static void
test_table_value_stage(void **state)
{
	struct verdict v;
	struct in s = { .sender = "<s@x.example>", .rcpt = "<u@ours.example>",
	    .mynetworks = TABLE_FOUND };

	(void)state;
	/* a restriction in a value runs in the list that found it */
	load_ok(OURS "client_restrictions = check_client_access "
	    "inline:{ 192.0.2.1=reject_unauth_destination }\n"
	    "recipient_restrictions = check_client_access "
	    "inline:{ 192.0.2.1=reject_unauth_destination }\n");
	v = eval(POLICY_CONNECT, &s);
	DEFERS(v, "451 4.3.5 Server configuration error");
	passes((v = eval(POLICY_RCPT, &s), &v), "relay=permit_mynetworks");
	s.rcpt = "<u@victim.example>";
	v = eval(POLICY_RCPT, &s);
	REJECTS(v, "554 5.7.1 <u@victim.example>: Relay access denied");
	assert_string_equal(v.reason, "recipient=check_client_access "
	    "inline:{ 192.0.2.1=reject_unauth_destination }");

	/* generic words in a value speak about the table's subject */
	load_ok(OURS "recipient_restrictions = check_client_access "
	    "inline:{ 192.0.2.1=defer }\n");
	s.rcpt = "<u@ours.example>";
	v = eval(POLICY_RCPT, &s);
	DEFERS(v, "450 4.7.1 <unknown[192.0.2.1]>: Client host rejected: "
	    "Access denied");
	load_ok(OURS "recipient_restrictions = check_client_access "
	    "inline:{ { 192.0.2.1 = permit_mynetworks defer } }\n");
	s.mynetworks = TABLE_NOTFOUND;
	v = eval(POLICY_RCPT, &s);
	DEFERS(v, "450 4.3.2 <unknown[192.0.2.1]>: Client host rejected: "
	    "Try again later");
	s.mynetworks = TABLE_ERROR;
	v = eval(POLICY_RCPT, &s);
	DEFERS(v, "451 4.3.0 <u@ours.example>: Temporary lookup failure");
}

/* test_implicit_table - a bare table in a list, case-insensitive words */
static void
test_implicit_table(void **state)
{
	struct verdict v;
	struct in s = { .sender = "<s@x.example>" };

	(void)state;
	/* Postfix shorthand: a bare table is the list's own check */
	load_ok("[access]\nsender_restrictions = "
	    "inline:{ s@x.example=REJECT }\n");
	v = eval(POLICY_MAIL, &s);
	REJECTS(v, "554 5.7.1 <s@x.example>: Sender address rejected: "
	    "Access denied");
	assert_string_equal(v.reason,
	    "sender=check_sender_access inline:{ s@x.example=REJECT }");
	/* words are case-insensitive, as in Postfix */
	load_ok("[access]\nsender_restrictions = Check_Sender_Access "
	    "inline:{ s@x.example=REJECT }\n");
	v = eval(POLICY_MAIL, &s);
	assert_int_equal(v.action, VERDICT_REJECT);
}

/* --- config errors ------------------------------------------------------ */

/* test_config_errors - init and conf errors with FILE:LINE */
static void
test_config_errors(void **state)
{
	(void)state;
	assert_false(load("# x\n[access]\nclient_restrictions = permit, "
	    "permit_mynetwork\n"));
	assert_string_equal(F.error, "test.conf:3: client_restrictions: "
	    "unknown restriction \"permit_mynetwork\"\n");

	assert_false(load("[access]\nhelo_restrictions = reject\n"
	    "sender_restrictions = check_sender_access\n"
	    "recipient_restrictions = check_recipient_access, reject\n"));
	assert_string_equal(F.error,
	    "test.conf:3: sender_restrictions: check_sender_access needs a "
	    "table (type:name)\n"
	    "test.conf:4: recipient_restrictions: check_recipient_access "
	    "needs a table (type:name)\n");

	assert_false(load("[access]\n"
	    "client_restrictions = check_recipient_access inline:{a=b}, "
	    "permit_sasl_authenticated, reject_unauth_destination\n"
	    "helo_restrictions = reject_non_fqdn_sender\n"));
	assert_string_equal(F.error,
	    "test.conf:2: client_restrictions: check_recipient_access cannot "
	    "be used here: it needs what the client first sends at RCPT\n"
	    "test.conf:2: client_restrictions: permit_sasl_authenticated "
	    "cannot be used here: it needs what the client first sends at "
	    "MAIL\n"
	    "test.conf:2: client_restrictions: reject_unauth_destination "
	    "cannot be used here: it needs what the client first sends at "
	    "RCPT\n"
	    "test.conf:3: helo_restrictions: reject_non_fqdn_sender cannot "
	    "be used here: it needs what the client first sends at MAIL\n");

	assert_false(load("[access]\n\n"
	    "relay_restrictions = permit_mynetworks\n"
	    "recipient_restrictions = permit_sasl_authenticated\n"));
	assert_string_equal(F.error, "test.conf:3: relay_restrictions: "
	    "neither relay_restrictions nor recipient_restrictions can refuse "
	    "relaying: add reject_unauth_destination, "
	    "defer_unauth_destination, reject or defer\n");
	/* any of them in the recipient list will do, as in Postfix */
	assert_true(load("[access]\nrelay_restrictions =\n"
	    "recipient_restrictions = permit_mynetworks, defer\n"));
	assert_false(load("[access]\nrelay_restrictions =\n"));
	assert_string_equal(F.error, "test.conf:2: relay_restrictions: "
	    "neither relay_restrictions nor recipient_restrictions can refuse "
	    "relaying: add reject_unauth_destination, "
	    "defer_unauth_destination, reject or defer\n");

	assert_false(load("[access]\n"
	    "client_restrictions = check_client_access hash:$D/missing\n"));
	assert_non_null(strstr(F.error, "test.conf:2: client_restrictions: "
	    "table hash:"));
	assert_non_null(strstr(F.error, "/missing"));
	assert_int_equal(F.error[strlen(F.error) - 1], '\n');

	write_file("bad", "key-without-value\nok OK\nalso-bad\n");
	assert_false(load("[access]\n"
	    "local_recipients = hash:$D/bad\n"));
	assert_non_null(strstr(F.error, "test.conf:2: local_recipients: "));
	assert_non_null(strstr(F.error, "/bad:1:"));
	assert_non_null(strstr(F.error, "/bad:3:"));

	assert_false(load("[access]\nlocal_domains = bad/domain, "
	    "example.com\nrelay_domains = a@b\n"));
	assert_string_equal(F.error,
	    "test.conf:3: relay_domains: bad domain \"a@b\"\n"
	    "test.conf:2: local_domains: bad domain \"bad/domain\"\n");

	/* the conf layer checks the codes */
	assert_false(load("[access]\nreject_code = 250\n"));
	assert_non_null(strstr(F.error, "test.conf:2:"));
	assert_false(load("[access]\naccess_map_defer_code = 550\n"));
	assert_non_null(strstr(F.error, "test.conf:2:"));
	assert_true(load("[access]\nreject_code = 450\n"));
}

/* test_defaults_without_file - init on defaults with no config file */
static void
test_defaults_without_file(void **state)
{
	struct policy_init pi = { 0 };
	struct conf_errors err = { 0 };
	struct verdict v;

	(void)state;
	unload();
	F.arena = arena_create();
	F.cfg = xcalloc(1, access_module.config_size);
	assert_int_equal(conf_apply(NULL, "access", access_module.settings,
	    F.cfg, F.arena, &err), 0);
	conf_errors_free(&err);
	pi.config = F.cfg;
	pi.arena = F.arena;
	pi.globals = &globals;
	pi.section = "access";
	assert_true(access_module.init(&pi, &F.error));
	v = rcpt("<u@example.net>");
	REJECTS(v, "554 5.7.1 <u@example.net>: Relay access denied");
}

/* test_init_failure_releases - a refused config leaks nothing */
static void
test_init_failure_releases(void **state)
{
	(void)state;
	/* tables opened before an error are closed with the arena (ASan) */
	write_file("ok", "a OK\n");
	assert_false(load("[access]\n"
	    "client_restrictions = check_client_access hash:$D/ok, "
	    "nonsense\n"));
	/* init failed: the core calls no deinit, the arena cleans up */
	free(F.cfg);
	F.cfg = NULL;
	arena_destroy(&F.arena);
}

/* --- the stage handler ------------------------------------------------- */

/* test_handler - the stage handler reads the txn and queues headers */
static void
test_handler(void **state)
{
	struct txn txn = { 0 };
	struct access_msg_space { unsigned char b[64]; } msg = { { 0 } };
	struct policy_call call = { 0 };
	struct verdict v = { 0 };
	const char *why;
	struct mailaddr sender, to;

	(void)state;
	assert_true(access_module.msg_size <= sizeof(msg));
	assert_non_null(access_module.stage[POLICY_CONNECT]);
	assert_non_null(access_module.stage[POLICY_RCPT]);
	assert_null(access_module.stage[POLICY_DATA]);
	assert_null(access_module.stage[POLICY_EOM]);
	write_file("t", "s@x.example PREPEND X-A: 1\n");
	load_ok(OURS "sender_restrictions = check_sender_access hash:$D/t, "
	    "check_sender_access inline:{ { s@x.example = PREPEND X-B: 2 } }\n"
	    "recipient_restrictions = check_sender_access hash:$D/t\n");
	txn.conn_arena = arena_create();
	txn.msg_arena = arena_create();
	txn.qid = "4Abc";
	assert_true(inet_parse("192.0.2.1", &txn.addr));
	txn.have_addr = true;
	txn.addr_text = "192.0.2.1";
	txn.name = "unknown";
	txn.helo = "h.example";
	assert_true(mailaddr_parse(txn.msg_arena, "<s@x.example>", &sender,
	    &why));
	txn.sender = &sender;
	txn.sender_raw = "<s@x.example>";
	call.txn = &txn;
	call.config = F.cfg;
	call.msg = &msg;

	/* nothing to do at CONNECT: mynetworks is not even asked */
	call.stage = POLICY_CONNECT;
	call.msg = NULL;
	assert_int_equal(access_module.stage[POLICY_CONNECT](&call, &v),
	    POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DUNNO);
	assert_int_equal(txn.mynetworks_calls, 0);

	call.stage = POLICY_MAIL;
	call.msg = &msg;
	assert_int_equal(access_module.stage[POLICY_MAIL](&call, &v),
	    POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DUNNO);
	assert_int_equal(txn.headers, 2);
	assert_int_equal(txn.index[0], 0);
	assert_string_equal(txn.hname[0], "X-A");
	assert_string_equal(txn.hvalue[0], "1");
	assert_int_equal(txn.index[1], 1);
	assert_string_equal(txn.hname[1], "X-B");

	/* RCPT: relay check on the real recipient, headers go below */
	call.stage = POLICY_RCPT;
	assert_true(mailaddr_parse(txn.msg_arena, "<u@ours.example>", &to,
	    &why));
	txn.rcpt = &to;
	txn.rcpt_raw = "<u@ours.example>";
	memset(&v, 0, sizeof(v));
	assert_int_equal(access_module.stage[POLICY_RCPT](&call, &v),
	    POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DUNNO);
	assert_int_equal(txn.headers, 3);
	assert_int_equal(txn.index[2], 2);
	assert_string_equal(txn.hname[2], "X-A");

	assert_true(mailaddr_parse(txn.msg_arena, "<u%v@ours.example>", &to,
	    &why));
	txn.rcpt_raw = "<u%v@ours.example>";
	memset(&v, 0, sizeof(v));
	assert_int_equal(access_module.stage[POLICY_RCPT](&call, &v),
	    POLICY_DONE);
	REJECTS(v, "554 5.7.1 <u%v@ours.example>: Relay access denied");
	assert_int_equal(txn.headers, 3);

	/* trusted client: the txn's mynetworks answer is used */
	txn.mynetworks = TABLE_FOUND;
	memset(&v, 0, sizeof(v));
	assert_int_equal(access_module.stage[POLICY_RCPT](&call, &v),
	    POLICY_DONE);
	passes(&v, "relay=permit_mynetworks");
	assert_true(txn.mynetworks_calls > 0);

	/* unparseable recipient */
	txn.rcpt = NULL;
	txn.rcpt_raw = "<u@@>";
	txn.mynetworks = TABLE_NOTFOUND;
	memset(&v, 0, sizeof(v));
	assert_int_equal(access_module.stage[POLICY_RCPT](&call, &v),
	    POLICY_DONE);
	REJECTS(v, "501 5.1.3 Bad recipient address syntax");

	arena_destroy(&txn.conn_arena);
	arena_destroy(&txn.msg_arena);
}

/* test_module - the module description */
static void
test_module(void **state)
{
	const struct conf_setting *s;
	int n = 0;

	(void)state;
	assert_string_equal(access_module.name, "access");
	assert_int_equal(access_module.on_failure, POLICY_FAIL_TEMPFAIL);
	assert_true(access_module.flags & POLICY_ADDS_HEADERS);
	assert_false(access_module.flags & POLICY_NEEDS_BODY);
	for (s = access_module.settings; s->name != NULL; s++) {
		assert_non_null(s->help);
		n++;
	}
	assert_int_equal(n, 18);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_default_relay),
		T(test_default_no_domains),
		T(test_relay_tricks),
		T(test_relay_subdomains),
		T(test_relay_literal_listed),
		T(test_relay_untrusted_routing),
		T(test_relay_codes),
		T(test_relay_lookup_errors),
		T(test_permit_reject_defer),
		T(test_relay_then_recipient),
		T(test_permit_sasl),
		T(test_helo_words),
		T(test_non_fqdn_addresses),
		T(test_unlisted_recipient),
		T(test_check_client_access),
		T(test_check_helo_sender_rcpt_access),
		T(test_table_actions),
		T(test_action_codes),
		T(test_discard_and_hold),
		T(test_prepend),
		T(test_table_lookup_error),
		T(test_table_value_stage),
		T(test_implicit_table),
		T(test_config_errors),
		T(test_defaults_without_file),
		T(test_init_failure_releases),
		T(test_handler),
		T(test_module),
#undef T
	};

	log_init("test_access", true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
