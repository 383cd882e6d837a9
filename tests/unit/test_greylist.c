/*
 * test_greylist.c - the greylist module on a real LMDB store in a temp
 * directory (and, for a store that dies, on a Redis server started and
 * killed by the test)
 *
 * As in test_dnsbl.c, configs are built as filterd builds them
 * (fake_module_load: conf_load_string, conf_apply with the module's
 * settings, init) and a fake transaction (fake_txn.c) stands in for
 * filterd/txn.c. The test opens the module's LMDB store a second time
 * (one environment per path per process is shared) to check the keys and
 * records the module left.
 *
 * The module reads the real clock in whole seconds. Instead of waiting
 * five minutes, a test makes a triplet older by rewriting its record
 * through the store interface (age()); only test_real_clock sleeps, past
 * a 1 s delay. Checks whose numbers depend on the current second call
 * align() first, which waits for a fresh second when the current one is
 * nearly over, so that the few calls that follow all see one time().
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "greylist.h"
#include "greylist_store.h"
#include "inet.h"
#include "mailaddr.h"
#include "policy.h"
#include "table.h"
#include "fake_txn.h"
#include "testutil.h"

#define HOST		"mx.example.com"
#define DAY		86400
#define MAX_AGE		(35 * DAY)	/* the default max_age */
#define WINDOW		(2 * DAY)	/* the default retry_window */

/* --- fixture ------------------------------------------------------------- */

struct fix {
	char dir[256];
	char *lmdb;			/* "lmdb:DIR/gl.lmdb" */
	struct arena *a;		/* the test's addresses and keys */
	struct fake_module mod;		/* the module, loaded */
	char *error;
	struct greylist_store *store;	/* the test's own handle */
	struct txn txn;
	struct policy_globals globals;
	pid_t redis;			/* 0: none running */
};

static struct fix F;

/* unload - free the current config and transaction */
static void
unload(void)
{
	greylist_store_close(&F.store);
	fake_module_unload(&F.mod);
	fake_txn_clear(&F.txn);
	free(F.error);
	F.error = NULL;
}

/* redis_stop - kill the test's redis-server, if any */
static void
redis_stop(void)
{
	if (F.redis <= 0)
		return;
	kill(F.redis, SIGKILL);
	while (waitpid(F.redis, NULL, 0) < 0 && errno == EINTR)
		;
	F.redis = 0;
}

/* setup - a temp directory and an arena */
static int
setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	if (testutil_setup(F.dir, sizeof(F.dir), "test_greylist", &F.a) < 0)
		return -1;
	F.lmdb = arena_printf(F.a, "lmdb:%s/gl.lmdb", F.dir);
	return 0;
}

/* teardown - release everything */
static int
teardown(void **state)
{
	(void)state;
	unload();
	redis_stop();
	return testutil_teardown(F.dir, &F.a);
}

/* client - the client's address (NULL: not an IP connection) */
static void
client(const char *addr)
{
	memset(&F.txn.addr, 0, sizeof(F.txn.addr));
	F.txn.addr_text = "unknown";
	if (addr == NULL)
		return;
	assert_true(inet_parse(addr, &F.txn.addr));
	F.txn.addr_text = addr;
}

/* parse - an address in the test's arena */
static const struct mailaddr *
parse(const char *text)
{
	struct mailaddr *m = arena_alloc(F.a, sizeof(*m));
	const char *why;

	assert_true(mailaddr_parse(F.a, text, m, &why));
	return m;
}

/* sender - MAIL FROM (NULL: none) */
static void
sender(const char *text)
{
	F.txn.sender = text != NULL ? parse(text) : NULL;
}

/* load_text - a whole config into F; true if init accepted it, else
 * F.error holds the errors. The client is 192.0.2.10, the sender
 * alice@example.com, and a message is begun. */
static bool
load_text(const char *text)
{
	unload();
	F.globals.hostname = HOST;
	F.globals.authserv_id = HOST;
	if (!fake_module_load(&greylist_module, "greylist.conf", text,
	    &F.globals, &F.mod, &F.error))
		return false;
	F.txn.msg_arena = arena_create();
	F.txn.qid = "TESTQID";
	F.txn.name = "unknown";
	F.txn.mynetworks = TABLE_NOTFOUND;
	F.txn.globals = &F.globals;
	client("192.0.2.10");
	sender("alice@example.com");
	return true;
}

/* load - "[greylist]" (line 1), the LMDB store (line 2) and more
 * settings from line 3 on; must be accepted */
static void
load(const char *more)
{
	char *text = arena_printf(F.a, "[greylist]\nstore = %s\n%s", F.lmdb,
	    more);

	if (!load_text(text))
		fail_msg("config refused: %s", F.error);
}

/* load_error - like load, but must be refused with exactly want */
static void
load_error(const char *more, const char *want)
{
	char *text = arena_printf(F.a, "[greylist]\nstore = %s\n%s", F.lmdb,
	    more);

	assert_false(load_text(text));
	assert_non_null(F.error);
	assert_string_equal(F.error, want);
}

/* message - a new message, same client and sender: no recipients,
 * headers, SPF or DKIM outcome yet */
static void
message(void)
{
	arena_destroy(&F.txn.msg_arena);
	F.txn.msg_arena = arena_create();
	memset(F.mod.msg, 0, greylist_module.msg_size);
	F.txn.rcpt = NULL;
	F.txn.nrcpt = 0;
	F.txn.nheaders = 0;
	F.txn.hdr_name = F.txn.hdr_value = NULL;
	memset(&F.txn.spf, 0, sizeof(F.txn.spf));
	F.txn.ndkim = 0;
}

/* run - one stage's handler; the verdict into *v */
static enum policy_status
run(enum policy_stage stage, struct verdict *v)
{
	return fake_module_run(&F.mod, &F.txn, stage, v);
}

/* rcpt - RCPT TO:<text>; a recipient not deferred is accepted, as the
 * core would (it is then one of the message's recipients at EOM) */
static enum policy_status
rcpt(const char *text, struct verdict *v)
{
	enum policy_status r;

	F.txn.rcpt = parse(text);
	r = run(POLICY_RCPT, v);
	if (r == POLICY_DONE && v->action != VERDICT_DEFER) {
		assert_true(F.txn.nrcpt < FAKE_TXN_RCPTS);
		F.txn.rcpts[F.txn.nrcpt++] = F.txn.rcpt;
	}
	return r;
}

/* assert_defer - the greylisting reply with wait seconds */
static void
assert_defer(const struct verdict *v, long wait)
{
	char text[128];

	snprintf(text, sizeof(text), "Greylisted, please try again in %ld "
	    "seconds", wait);
	assert_int_equal(v->action, VERDICT_DEFER);
	assert_string_equal(v->code, "451");
	assert_string_equal(v->xcode, "4.7.1");
	assert_string_equal(v->text, text);
	assert_false(v->disconnect);
	assert_true(v->score == 0);
	assert_null(v->authres);
}

/* assert_dunno - no opinion, with reason (NULL: none) */
static void
assert_dunno(const struct verdict *v, const char *reason)
{
	assert_int_equal(v->action, VERDICT_DUNNO);
	assert_null(v->code);
	assert_null(v->xcode);
	assert_null(v->text);
	assert_true(v->score == 0);
	assert_null(v->authres);
	if (reason == NULL)
		assert_null(v->reason);
	else {
		assert_non_null(v->reason);
		assert_string_equal(v->reason, reason);
	}
}

/* rcpt_defer - RCPT to text is greylisted for wait seconds (reason) */
static void
rcpt_defer(const char *text, long wait, const char *reason)
{
	struct verdict v;

	assert_int_equal(rcpt(text, &v), POLICY_DONE);
	assert_defer(&v, wait);
	assert_non_null(v.reason);
	assert_string_equal(v.reason, reason);
}

/* rcpt_dunno - RCPT to text passes (reason) */
static void
rcpt_dunno(const char *text, const char *reason)
{
	struct verdict v;

	assert_int_equal(rcpt(text, &v), POLICY_DONE);
	assert_dunno(&v, reason);
}

/* header - pass one header; no opinion */
static void
header(const char *name, const char *value)
{
	struct verdict v;

	assert_int_equal(fake_module_header(&F.mod, &F.txn, name, value, &v),
	    POLICY_DONE);
	assert_dunno(&v, NULL);
}

/* dkim - one more DKIM outcome of the message: result for d=domain,
 * s=selector */
static void
dkim(const char *result, const char *domain, const char *selector)
{
	assert_true(F.txn.ndkim < FAKE_TXN_DKIM);
	F.txn.dkim[F.txn.ndkim++] = (struct txn_dkim){ .result = result,
	    .domain = domain, .selector = selector };
}

/* eom_dunno - EOM passes (reason) and adds no header */
static void
eom_dunno(const char *reason)
{
	struct verdict v;

	assert_int_equal(run(POLICY_EOM, &v), POLICY_DONE);
	assert_dunno(&v, reason);
	assert_int_equal(F.txn.nheaders, 0);
}

/* eom_defer - EOM defers the message for wait seconds (reason) */
static void
eom_defer(long wait, const char *reason)
{
	struct verdict v;

	assert_int_equal(run(POLICY_EOM, &v), POLICY_DONE);
	assert_defer(&v, wait);
	assert_non_null(v.reason);
	assert_string_equal(v.reason, reason);
	assert_int_equal(F.txn.nheaders, 0);
}

/* xgreylist - the X-Greylist header as of time t */
static char *
xgreylist(long delayed, time_t t)
{
	char date[64];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	return arena_printf(F.a, "X-Greylist: delayed %ld seconds by "
	    "postern-filterd at " HOST "; %s", delayed, date);
}

/* eom_header - EOM passes (reason) and adds exactly one X-Greylist
 * header saying delayed, dated now */
static void
eom_header(long delayed, const char *reason)
{
	struct verdict v;
	time_t t0, t1;

	t0 = time(NULL);
	assert_int_equal(run(POLICY_EOM, &v), POLICY_DONE);
	t1 = time(NULL);
	assert_dunno(&v, reason);
	assert_int_equal(F.txn.nheaders, 1);
	/* the date is the second of the call: t0, or t1 if it ticked */
	if (strcmp(F.txn.headers[0], xgreylist(delayed, t0)) != 0)
		assert_string_equal(F.txn.headers[0], xgreylist(delayed, t1));
}

/* align - when less than 0.4 s of this second is left, wait for the
 * next one (and 20 ms more: time() may lag the precise clock by a tick) */
static void
align(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_nsec < 600000000L)
		return;
	ts.tv_nsec = 1000000000L - ts.tv_nsec + 20000000L;
	ts.tv_sec = 0;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec = 1;
		ts.tv_nsec -= 1000000000L;
	}
	nanosleep(&ts, NULL);
}

/* until - sleep until ms milliseconds after the start of second t */
static void
until(int64_t t, long ms)
{
	struct timespec ts = { .tv_sec = (time_t)t + ms / 1000,
	    .tv_nsec = (ms % 1000) * 1000000L };

	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) != 0)
		;
}

/* store - the test's handle on the module's LMDB store */
static struct greylist_store *
store(void)
{
	char *why = NULL;

	if (F.store == NULL && !greylist_store_open(F.lmdb, NULL, &F.store,
	    &why))
		fail_msg("store: %s", why);
	return F.store;
}

/* rec - key's live record, which must be there */
static struct greylist_record
rec(const char *key)
{
	struct greylist_store_why why = { .text = "" };
	struct greylist_record r = { 0 };
	enum greylist_store_result res;

	res = greylist_store_get(store(), key, (int64_t)time(NULL), &r, &why);
	if (res != GREYLIST_STORE_FOUND)
		fail_msg("no record \"%s\" (%d: %s)", key, (int)res, why.text);
	return r;
}

/* assert_no_rec - key has no live record */
static void
assert_no_rec(const char *key)
{
	struct greylist_record r;

	assert_int_equal(greylist_store_get(store(), key, (int64_t)time(NULL),
	    &r, NULL), GREYLIST_STORE_NOTFOUND);
}

/* count_fn - greylist_store_walk: count records */
static bool
count_fn(void *ctx, const char *key, const struct greylist_record *r)
{
	(void)key;
	(void)r;
	(*(int *)ctx)++;
	return true;
}

/* nrecs - how many live records there are */
static int
nrecs(void)
{
	int n = 0;

	assert_int_not_equal(greylist_store_walk(store(), "",
	    (int64_t)time(NULL), count_fn, &n, NULL), GREYLIST_STORE_ERROR);
	return n;
}

struct age_ctx {
	int64_t now, secs;
};

/* age_fn - first and last secs before now, the rest kept */
static bool
age_fn(void *ctx, const struct greylist_record *old,
    struct greylist_record *new_r)
{
	struct age_ctx *c = ctx;

	assert_non_null(old);
	*new_r = *old;
	new_r->first = new_r->last = c->now - c->secs;
	return true;
}

/* age - make key's record as if it was first (and last) seen secs ago,
 * early in a second (align) so that the checks that follow see that age */
static void
age(const char *key, int64_t secs)
{
	struct age_ctx c;

	align();
	c = (struct age_ctx){ .now = (int64_t)time(NULL), .secs = secs };

	assert_int_equal(greylist_store_update(store(), key, c.now, age_fn,
	    &c, NULL), GREYLIST_STORE_FOUND);
}

/* --- sender normalization ------------------------------------------------ */

/* test_normalize - the table of greylist.h's rules */
static void
test_normalize(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		/* case; ordinary names untouched */
		{ "John.Smith@Example.COM", "john.smith@example.com" },
		{ "user2@mail2.example.com", "user2@mail2.example.com" },
		{ "user-abcdefgh1@example.com",
		  "user-abcdefgh1@example.com" },
		{ "\"John Smith\"@Example.com", "john smith@example.com" },
		{ "Postmaster", "postmaster" },
		/* the null sender */
		{ "<>", "<>" },
		/* BATV */
		{ "prvs=0123a1b2c3=Alice@Example.com", "alice@example.com" },
		{ "prvs=alice=0123a1b2c3@example.com", "alice@example.com" },
		{ "msprvs1=19772a1b2c=bounces@example.com",
		  "bounces@example.com" },
		{ "btv1==0123a1b2c3==alice@example.com",
		  "alice@example.com" },
		{ "PRVS=0123A1B2C3=Bob+News@Example.COM", "bob@example.com" },
		/* SRS */
		{ "SRS0=HhHh=AB=Orig.Example=Alice@fwd.example.net",
		  "alice@orig.example" },
		{ "SRS1=XxXx=fwd1.example==HhHh=AB=orig.example=alice"
		  "@fwd2.example", "alice@orig.example" },
		{ "SRS0=HhHh=AB=orig.example=bob+x@fwd.example.net",
		  "bob@orig.example" },
		/* +extension */
		{ "bob+lists@example.com", "bob@example.com" },
		{ "+ext@example.com", "+ext@example.com" },
		/* VERP and bounce tags */
		{ "owner-list-123@lists.example.org",
		  "owner-list-#@lists.example.org" },
		{ "bounce-mc.us5_1234567.89012-alice=example.org@mcsv.net",
		  "bounce-mc.us5_#.#-alice=example.org@mcsv.net" },
		{ "bounce-3f2a9c81d7e4@example.com", "bounce-#@example.com" },
		{ "msg-a1b2c3d4e5@example.com", "msg-#@example.com" },
		/* malformed SRS and BATV: left as they are */
		{ "SRS0=abc@example.com", "srs0=abc@example.com" },
		{ "SRS0==AB=d=l@x.example", "srs0==ab=d=l@x.example" },
		{ "SRS0=h=t=d=@x.example", "srs0=h=t=d=@x.example" },
		{ "SRS1=xxxx=fwd@x.example", "srs1=xxxx=fwd@x.example" },
		{ "SRS1=x==@x.example", "srs1=x==@x.example" },
		{ "prvs=@example.com", "prvs=@example.com" },
		{ "prvs==@example.com", "prvs==@example.com" },
		{ "prvs=short=bob@example.com", "prvs=short=bob@example.com" },
		{ "prvs=0123a1b2c3=@example.com", "prvs=#=@example.com" },
		{ "btv1==0123a1b2c3@example.com", "btv1==#@example.com" },
		{ "btv1==tag==@example.com", "btv1==tag==@example.com" },
	};
	struct arena *arena = arena_create();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const struct mailaddr *m = parse(t[i].in);
		const char *got = greylist_normalize_sender(arena, m);

		if (strcmp(got, t[i].out) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", t[i].in, got,
			    t[i].out);
	}
	assert_string_equal(greylist_normalize_sender(arena, NULL), "<>");
	arena_destroy(&arena);
}

/* --- RCPT ---------------------------------------------------------------- */

/* test_triplet - new, early, passed, known, with the store's records */
static void
test_triplet(void **state)
{
	const char *k = "t 192.0.2.0/24 alice@example.com bob@example.net";
	struct greylist_record r;
	int64_t t;

	(void)state;
	load("");
	align();
	t = (int64_t)time(NULL);
	rcpt_defer("<Bob@Example.NET>", 300, "192.0.2.0/24 new");
	r = rec(k);
	assert_int_equal(r.count, 0);
	assert_int_equal(r.first, t);
	assert_int_equal(r.last, t);
	assert_int_equal(r.expires, t + WINDOW);
	assert_no_rec("c 192.0.2.0/24");
	assert_int_equal(nrecs(), 1);

	/* a retry before the delay: the time still to wait; the try is
	 * recorded as the last one */
	message();
	age(k, 100);
	t = (int64_t)time(NULL);
	rcpt_defer("bob@example.net", 200, "192.0.2.0/24 early");
	r = rec(k);
	assert_int_equal(r.count, 0);
	assert_int_equal(r.first, t - 100);
	assert_int_equal(r.last, t);
	assert_int_equal(r.expires, t - 100 + WINDOW);
	message();
	age(k, 299);
	rcpt_defer("bob@example.net", 1, "192.0.2.0/24 early");
	eom_dunno(NULL);

	/* after the delay: passes, and the message gets the header */
	message();
	age(k, 400);
	t = (int64_t)time(NULL);
	rcpt_dunno("bob@example.net", "192.0.2.0/24 passed after 400s");
	r = rec(k);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.first, t - 400);
	assert_int_equal(r.last, t);
	assert_int_equal(r.expires, t + MAX_AGE);
	eom_header(400, NULL);
	r = rec("c 192.0.2.0/24");
	assert_int_equal(r.count, 1);
	assert_int_equal(r.first, t);
	assert_int_equal(r.last, t);
	assert_int_equal(r.expires, t + MAX_AGE);

	/* known later: no header */
	message();
	age(k, 1000);
	t = (int64_t)time(NULL);
	rcpt_dunno("bob@example.net", "192.0.2.0/24 known");
	eom_dunno(NULL);
	r = rec(k);
	assert_int_equal(r.count, 2);
	assert_int_equal(r.last, t);
	assert_int_equal(r.expires, t + MAX_AGE);
	/* a known triplet does not count for the identity again */
	assert_int_equal(rec("c 192.0.2.0/24").count, 1);
	assert_int_equal(nrecs(), 2);
}

/* test_real_clock - delay = 1s on the real clock: early within the
 * second, passed in the next, expired at retry_window = 2s */
static void
test_real_clock(void **state)
{
	int64_t t;

	(void)state;
	load("delay = 1s\nretry_window = 2s\n");
	align();
	t = (int64_t)time(NULL);
	rcpt_defer("bob@example.net", 1, "192.0.2.0/24 new");
	rcpt_defer("carol@example.net", 1, "192.0.2.0/24 new");
	message();
	rcpt_defer("bob@example.net", 1, "192.0.2.0/24 early");
	until(t + 1, 200);
	message();
	rcpt_dunno("bob@example.net", "192.0.2.0/24 passed after 1s");
	eom_header(1, NULL);
	until(t + 2, 200);
	/* carol's first try is retry_window old: it starts over */
	message();
	rcpt_defer("carol@example.net", 1, "192.0.2.0/24 new");
	rcpt_dunno("bob@example.net", "192.0.2.0/24 known");
	eom_dunno(NULL);
}

/* test_networks - ipv4_prefix and ipv6_prefix group clients */
static void
test_networks(void **state)
{
	(void)state;
	load("");
	rcpt_defer("bob@example.net", 300, "192.0.2.0/24 new");
	message();
	client("192.0.2.99");
	age("t 192.0.2.0/24 alice@example.com bob@example.net", 10);
	rcpt_defer("bob@example.net", 290, "192.0.2.0/24 early");
	message();
	client("192.0.3.1");
	rcpt_defer("bob@example.net", 300, "192.0.3.0/24 new");
	rec("t 192.0.3.0/24 alice@example.com bob@example.net");
	message();
	age("t 192.0.2.0/24 alice@example.com bob@example.net", 400);
	client("192.0.2.200");
	rcpt_dunno("bob@example.net", "192.0.2.0/24 passed after 400s");

	client("2001:db8:1:2::10");
	message();
	rcpt_defer("bob@example.net", 300, "2001:db8:1:2::/64 new");
	message();
	client("2001:db8:1:2:ffff:ffff:ffff:ffff");
	age("t 2001:db8:1:2::/64 alice@example.com bob@example.net", 10);
	rcpt_defer("bob@example.net", 290, "2001:db8:1:2::/64 early");
	message();
	client("2001:db8:1:3::10");
	rcpt_defer("bob@example.net", 300, "2001:db8:1:3::/64 new");

	load("ipv4_prefix = 32\nipv6_prefix = 128\n");
	rcpt_defer("bob@example.net", 300, "192.0.2.10/32 new");
	message();
	client("192.0.2.11");
	rcpt_defer("bob@example.net", 300, "192.0.2.11/32 new");
	message();
	client("192.0.2.10");
	age("t 192.0.2.10/32 alice@example.com bob@example.net", 10);
	rcpt_defer("bob@example.net", 290, "192.0.2.10/32 early");
	message();
	client("2001:db8:1:2::10");
	rcpt_defer("bob@example.net", 300, "2001:db8:1:2::10/128 new");
	message();
	client("2001:db8:1:2::11");
	rcpt_defer("bob@example.net", 300, "2001:db8:1:2::11/128 new");
	rec("t 2001:db8:1:2::10/128 alice@example.com bob@example.net");
	rec("t 2001:db8:1:2::11/128 alice@example.com bob@example.net");
	assert_int_equal(nrecs(), 9);
}

/* test_sender_rcpt - the sender is keyed normalized, the recipient in
 * lower case; different senders and recipients are different triplets */
static void
test_sender_rcpt(void **state)
{
	(void)state;
	load("");
	sender("prvs=0123a1b2c3=Alice+news@Example.COM");
	rcpt_defer("Bob@Example.NET", 300, "192.0.2.0/24 new");
	rec("t 192.0.2.0/24 alice@example.com bob@example.net");
	message();
	sender("alice@example.com");
	age("t 192.0.2.0/24 alice@example.com bob@example.net", 10);
	rcpt_defer("bob@example.net", 290, "192.0.2.0/24 early");
	rcpt_defer("carol@example.net", 300, "192.0.2.0/24 new");
	message();
	sender("bounce-3f2a9c81d7e4@example.com");
	rcpt_defer("bob@example.net", 300, "192.0.2.0/24 new");
	message();
	sender("bounce-77aa88bb99cc@example.com");
	age("t 192.0.2.0/24 bounce-#@example.com bob@example.net", 10);
	rcpt_defer("bob@example.net", 290, "192.0.2.0/24 early");
	message();
	sender("<>");
	rcpt_defer("bob@example.net", 300, "192.0.2.0/24 new");
	rec("t 192.0.2.0/24 <> bob@example.net");
	assert_int_equal(nrecs(), 4);
}

/* test_key_escaping - bytes outside 0x21..0x7e and '%' as %XX; keys too
 * long for the store are not greylisted */
static void
test_key_escaping(void **state)
{
	struct buf b = { 0 };
	int i;

	(void)state;
	load("");
	sender("\"John Smith\"@example.com");
	rcpt_defer("\"bob x\"@example.net", 300, "192.0.2.0/24 new");
	rec("t 192.0.2.0/24 john%20smith@example.com "
	    "\"bob%20x\"@example.net");
	message();
	sender("a%b@example.com");
	rcpt_defer("bob@example.net", 300, "192.0.2.0/24 new");
	rec("t 192.0.2.0/24 a%25b@example.com bob@example.net");

	/* 120 escaped spaces make the key longer than the store takes */
	message();
	buf_putc(&b, '"');
	for (i = 0; i < 120; i++)
		buf_puts(&b, "a ");
	buf_puts(&b, "\"@example.com");
	sender(buf_cstr(&b));
	buf_free(&b);
	rcpt_dunno("postmaster@a-rather-long-domain-name.example.net",
	    "192.0.2.0/24 known");
	eom_dunno(NULL);
	assert_int_equal(nrecs(), 2);
}

/* test_spf_proven - SPF pass for the MAIL FROM domain keys the triplet
 * on the domain, so its other networks are the same sender */
static void
test_spf_proven(void **state)
{
	const char *k = "t @example.com alice@example.com bob@example.net";

	(void)state;
	load("");
	F.txn.spf = (struct txn_spf){ .result = "pass",
	    .domain = "Example.COM" };
	rcpt_defer("bob@example.net", 300, "@example.com new");
	age(k, 400);
	message();
	client("198.51.100.7");
	F.txn.spf = (struct txn_spf){ .result = "pass",
	    .domain = "example.com" };
	rcpt_dunno("bob@example.net", "@example.com passed after 400s");
	eom_header(400, NULL);
	rec("c @example.com");

	/* not proofs: the HELO identity, another domain, softfail */
	message();
	F.txn.spf = (struct txn_spf){ .result = "pass",
	    .domain = "example.com", .helo = true };
	rcpt_defer("bob@example.net", 300, "198.51.100.0/24 new");
	message();
	F.txn.spf = (struct txn_spf){ .result = "pass",
	    .domain = "example.org" };
	rcpt_defer("carol@example.net", 300, "198.51.100.0/24 new");
	message();
	F.txn.spf = (struct txn_spf){ .result = "softfail",
	    .domain = "example.com" };
	rcpt_defer("dave@example.net", 300, "198.51.100.0/24 new");
	rec("t 198.51.100.0/24 alice@example.com dave@example.net");
	message();
	sender("<>");
	F.txn.spf = (struct txn_spf){ .result = "pass",
	    .domain = "mx.example.com", .helo = true };
	rcpt_defer("bob@example.net", 300, "198.51.100.0/24 new");
	rec("t 198.51.100.0/24 <> bob@example.net");

	/* proven_sender without spf: the network again */
	load("proven_sender =\n");
	F.txn.spf = (struct txn_spf){ .result = "pass",
	    .domain = "example.com" };
	rcpt_defer("bob@example.net", 300, "192.0.2.0/24 new");
	load("proven_sender = dkim\n");
	F.txn.spf = (struct txn_spf){ .result = "pass",
	    .domain = "example.com" };
	rcpt_defer("carol@example.net", 300, "192.0.2.0/24 new");
	load("proven_sender = SPF\n");
	F.txn.spf = (struct txn_spf){ .result = "pass",
	    .domain = "example.com" };
	rcpt_dunno("bob@example.net", "@example.com known");
}

/* --- auto-whitelisting --------------------------------------------------- */

/* test_auto_whitelist - an identity that passed auto_whitelist_clients
 * different triplets is no longer greylisted; 0 never whitelists */
static void
test_auto_whitelist(void **state)
{
	const char *c = "c 192.0.2.0/24";
	struct greylist_record r;
	int64_t t;

	(void)state;
	load("auto_whitelist_clients = 2\n");
	rcpt_defer("r1@example.net", 300, "192.0.2.0/24 new");
	rcpt_defer("r2@example.net", 300, "192.0.2.0/24 new");
	message();
	age("t 192.0.2.0/24 alice@example.com r1@example.net", 400);
	rcpt_dunno("r1@example.net", "192.0.2.0/24 passed after 400s");
	assert_int_equal(rec(c).count, 1);
	/* a known triplet again does not count */
	message();
	rcpt_dunno("r1@example.net", "192.0.2.0/24 known");
	assert_int_equal(rec(c).count, 1);
	rcpt_defer("r3@example.net", 300, "192.0.2.0/24 new");
	message();
	age("t 192.0.2.0/24 alice@example.com r2@example.net", 400);
	t = (int64_t)time(NULL);
	rcpt_dunno("r2@example.net", "192.0.2.0/24 passed after 400s");
	eom_header(400, NULL);
	r = rec(c);
	assert_int_equal(r.count, 2);
	assert_int_equal(r.last, t);
	assert_int_equal(r.expires, t + MAX_AGE);

	/* whitelisted: any new triplet of the network, and r3 */
	message();
	client("192.0.2.77");
	sender("someone@else.example");
	rcpt_dunno("r4@example.net", "192.0.2.0/24 whitelisted");
	rcpt_dunno("r3@example.net", "192.0.2.0/24 whitelisted");
	eom_dunno(NULL);
	assert_no_rec("t 192.0.2.0/24 someone@else.example r4@example.net");
	/* kept alive at most once an hour */
	message();
	age(c, 100);
	t = (int64_t)time(NULL);
	rcpt_dunno("r4@example.net", "192.0.2.0/24 whitelisted");
	assert_int_equal(rec(c).last, t - 100);
	message();
	age(c, 3700);
	t = (int64_t)time(NULL);
	rcpt_dunno("r4@example.net", "192.0.2.0/24 whitelisted");
	r = rec(c);
	assert_int_equal(r.count, 2);
	assert_int_equal(r.last, t);
	assert_int_equal(r.expires, t + MAX_AGE);
	/* another network is not */
	message();
	client("198.51.100.7");
	rcpt_defer("r4@example.net", 300, "198.51.100.0/24 new");

	/* 0: never whitelisted, and passes are not counted */
	load("auto_whitelist_clients = 0\n");
	rcpt_defer("r5@example.net", 300, "192.0.2.0/24 new");
	client("203.0.113.5");
	rcpt_defer("r5@example.net", 300, "203.0.113.0/24 new");
	message();
	age("t 203.0.113.0/24 alice@example.com r5@example.net", 400);
	rcpt_dunno("r5@example.net", "203.0.113.0/24 passed after 400s");
	assert_no_rec("c 203.0.113.0/24");
	assert_int_equal(rec(c).count, 2);
}

/* --- exemptions ---------------------------------------------------------- */

/* test_exempt - authenticated, mynetworks, no address; decided once per
 * message; a mynetworks error is a failure, never "not listed" */
static void
test_exempt(void **state)
{
	struct verdict v;

	(void)state;
	load("");
	F.txn.auth = "alice";
	rcpt_dunno("bob@example.net", "authenticated");
	F.txn.auth = NULL;
	rcpt_dunno("carol@example.net", "authenticated");
	eom_dunno(NULL);
	message();
	F.txn.mynetworks = TABLE_FOUND;
	rcpt_dunno("bob@example.net", "mynetworks");
	eom_dunno(NULL);
	message();
	F.txn.mynetworks = TABLE_ERROR;
	assert_int_equal(rcpt("bob@example.net", &v), POLICY_FAILED);
	F.txn.mynetworks = TABLE_NOTFOUND;
	message();
	client(NULL);
	rcpt_dunno("bob@example.net", "no client address");
	eom_dunno(NULL);
	assert_int_equal(nrecs(), 0);
	message();
	client("192.0.2.10");
	rcpt_defer("bob@example.net", 300, "192.0.2.0/24 new");
}

/* test_skip_tables - skip_clients, skip_senders, skip_recipients: found
 * with any value but DUNNO skips */
static void
test_skip_tables(void **state)
{
	(void)state;
	load("skip_clients = inline:{ 192.0.2.10=OK, 192.0.2.11=DUNNO,\n"
	    "  .trusted.example=OK }\n"
	    "skip_senders = inline:{ example.org=OK, bad@example.org=dunno }\n"
	    "skip_recipients = inline:{ postmaster@example.net=OK,\n"
	    "  abuse@example.net=DUNNO, example.info=PERMIT }\n");
	rcpt_dunno("bob@example.net", "skip_clients");
	eom_dunno(NULL);
	message();
	client("192.0.2.11");
	rcpt_defer("bob@example.net", 300, "192.0.2.0/24 new");
	message();
	client("198.51.100.7");
	F.txn.name = "mx1.Trusted.Example";
	rcpt_dunno("bob@example.net", "skip_clients");
	message();
	F.txn.name = "unknown";
	rcpt_defer("bob@example.net", 300, "198.51.100.0/24 new");

	message();
	sender("carol@example.org");
	rcpt_dunno("bob@example.net", "skip_senders");
	message();
	sender("bad@example.org");
	rcpt_defer("bob@example.net", 300, "198.51.100.0/24 new");

	message();
	sender("alice@example.com");
	rcpt_dunno("postmaster@example.net", "skip_recipients");
	rcpt_dunno("x@example.info", "skip_recipients");
	rcpt_defer("abuse@example.net", 300, "198.51.100.0/24 new");
	rcpt_defer("carol@example.net", 300, "198.51.100.0/24 new");
	eom_dunno(NULL);
	assert_no_rec("t 198.51.100.0/24 alice@example.com "
	    "postmaster@example.net");
	assert_int_equal(nrecs(), 5);
}

/* test_skip_error - a skip table that cannot be read fails the handler,
 * at RCPT and at the end of DATA */
static void
test_skip_error(void **state)
{
	struct verdict v;
	char *senders, *rcpts;

	(void)state;
	senders = testutil_put(F.a, F.dir, "senders", "example.org OK\n");
	rcpts = testutil_put(F.a, F.dir, "rcpts", "example.info OK\n");
	load(arena_printf(F.a, "skip_senders = hash:%s\n"
	    "skip_recipients = hash:%s\n"
	    "at_data = multiple_recipients\n", senders, rcpts));
	rcpt_dunno("bob@example.net", "decided at end of data");
	assert_int_equal(unlink(rcpts), 0);
	table_refresh_all();
	assert_int_equal(run(POLICY_EOM, &v), POLICY_FAILED);
	message();
	assert_int_equal(rcpt("bob@example.net", &v), POLICY_FAILED);
	message();
	assert_int_equal(unlink(senders), 0);
	table_refresh_all();
	assert_int_equal(rcpt("bob@example.net", &v), POLICY_FAILED);
	assert_int_equal(nrecs(), 0);
}

/* test_only_if - greylisted only from a score or DNSBL weight on */
static void
test_only_if(void **state)
{
	(void)state;
	load("only_if = score>=5\n");
	F.txn.score = 4;
	F.txn.dnsbl_weight = 3;
	rcpt_dunno("r1@example.net", "only_if not reached (score 4.00, "
	    "dnsbl 3)");
	message();
	F.txn.score = 5;
	rcpt_defer("r1@example.net", 300, "192.0.2.0/24 new");
	message();
	F.txn.score = 6.5;
	rcpt_defer("r2@example.net", 300, "192.0.2.0/24 new");

	load("only_if = dnsbl>=1\n");
	F.txn.score = 100;
	rcpt_dunno("r3@example.net", "only_if not reached (score 100.00, "
	    "dnsbl 0)");
	message();
	F.txn.dnsbl_weight = -2;
	rcpt_dunno("r3@example.net", "only_if not reached (score 100.00, "
	    "dnsbl -2)");
	message();
	F.txn.dnsbl_weight = 1;
	rcpt_defer("r3@example.net", 300, "192.0.2.0/24 new");

	load("only_if = score>=5, dnsbl>=2\n");
	F.txn.score = 4.99;
	F.txn.dnsbl_weight = 1;
	rcpt_dunno("r4@example.net", "only_if not reached (score 4.99, "
	    "dnsbl 1)");
	message();
	F.txn.dnsbl_weight = 2;
	rcpt_defer("r4@example.net", 300, "192.0.2.0/24 new");
	message();
	F.txn.dnsbl_weight = 0;
	F.txn.score = 7;
	rcpt_defer("r5@example.net", 300, "192.0.2.0/24 new");
	assert_int_equal(nrecs(), 5);
}

/* --- decided at the end of DATA ------------------------------------------ */

/* test_at_data_null_sender - bounces are decided at EOM for all their
 * recipients; other senders at RCPT */
static void
test_at_data_null_sender(void **state)
{
	(void)state;
	load("at_data = null_sender\n");
	sender("<>");
	rcpt_dunno("bob@example.net", "decided at end of data");
	rcpt_dunno("carol@example.net", "decided at end of data");
	assert_int_equal(nrecs(), 0);
	eom_defer(300, "192.0.2.0/24 at end of data: 2 of 2 recipients "
	    "greylisted");
	rec("t 192.0.2.0/24 <> bob@example.net");
	rec("t 192.0.2.0/24 <> carol@example.net");

	message();
	sender("alice@example.com");
	rcpt_defer("bob@example.net", 300, "192.0.2.0/24 new");

	message();
	sender("<>");
	rcpt_dunno("bob@example.net", "decided at end of data");
	rcpt_dunno("carol@example.net", "decided at end of data");
	/* the longest delay aged last, in the second of the check */
	age("t 192.0.2.0/24 <> bob@example.net", 400);
	age("t 192.0.2.0/24 <> carol@example.net", 500);
	eom_header(500, "192.0.2.0/24 at end of data: 2 passed now, 0 "
	    "before, 0 skipped");
	message();
	rcpt_dunno("bob@example.net", "decided at end of data");
	eom_dunno("192.0.2.0/24 at end of data: 0 passed now, 1 before, "
	    "0 skipped");
}

/* test_at_data_multi - every message decided at EOM: deferred once with
 * the longest wait, passed together with one header */
static void
test_at_data_multi(void **state)
{
	const char *kb = "t 192.0.2.0/24 alice@example.com bob@example.net";
	const char *kc = "t 192.0.2.0/24 alice@example.com carol@example.net";

	(void)state;
	load("at_data = multiple_recipients\n");
	rcpt_dunno("bob@example.net", "decided at end of data");
	eom_defer(300, "192.0.2.0/24 at end of data: 1 of 1 recipients "
	    "greylisted");
	message();
	rcpt_dunno("bob@example.net", "decided at end of data");
	rcpt_dunno("carol@example.net", "decided at end of data");
	age(kb, 100);
	eom_defer(300, "192.0.2.0/24 at end of data: 2 of 2 recipients "
	    "greylisted");
	message();
	rcpt_dunno("bob@example.net", "decided at end of data");
	rcpt_dunno("carol@example.net", "decided at end of data");
	age(kb, 250);
	age(kc, 200);
	eom_defer(100, "192.0.2.0/24 at end of data: 2 of 2 recipients "
	    "greylisted");
	message();
	rcpt_dunno("bob@example.net", "decided at end of data");
	rcpt_dunno("carol@example.net", "decided at end of data");
	age(kc, 350);
	age(kb, 400);
	eom_header(400, "192.0.2.0/24 at end of data: 2 passed now, 0 "
	    "before, 0 skipped");
	assert_int_equal(rec(kb).count, 1);
	assert_int_equal(rec(kc).count, 1);
	/* one recipient known, one new: deferred, no header */
	message();
	rcpt_dunno("bob@example.net", "decided at end of data");
	rcpt_dunno("dave@example.net", "decided at end of data");
	eom_defer(300, "192.0.2.0/24 at end of data: 1 of 2 recipients "
	    "greylisted");
	assert_int_equal(rec(kb).count, 2);
}

/* test_at_data_dkim - unproven messages wait for DKIM: a passing
 * signature of the From domain (or a parent) keys on that domain */
static void
test_at_data_dkim(void **state)
{
	static const struct {
		const char *from, *from2, *result, *d;
	} no[] = {
		{ "alice@example.com", NULL, "pass", "unrelated.example" },
		{ "alice@example.com", NULL, "fail", "example.com" },
		{ "alice@example.com", NULL, "temperror", "example.com" },
		{ "alice@example.com", "alice@example.com", "pass",
		  "example.com" },
		{ "alice@example.com", NULL, "pass", "mail.example.com" },
		{ "alice@badexample.com", NULL, "pass", "example.com" },
		{ "alice@example.com", NULL, "pass", "com" },
		{ "alice@example.com, bob@example.com", NULL, "pass",
		  "example.com" },
		{ "\"Smith, Alice\" <alice@example.com>, bob@example.com",
		  NULL, "pass", "example.com" },
		{ "alice@example.com (Alice), bob@example.com", NULL, "pass",
		  "example.com" },
		{ "alice@[192.0.2.1]", NULL, "pass", "example.com" },
		{ "undisclosed", NULL, "pass", "example.com" },
		{ "<>", NULL, "pass", "example.com" },
		{ NULL, NULL, "pass", "example.com" },
	};
	const char *k = "t @example.com alice@example.com carol@example.net";
	struct verdict v;
	char *to;
	size_t i;

	(void)state;
	load("at_data = unproven\n");
	/* SPF proved the sender: decided at RCPT */
	F.txn.spf = (struct txn_spf){ .result = "pass",
	    .domain = "example.com" };
	rcpt_defer("bob@example.net", 300, "@example.com new");

	message();
	rcpt_dunno("carol@example.net", "decided at end of data");
	header("Subject", "hello");
	header("From", "Alice <alice@Mail.Example.COM>");
	dkim("fail", "mail.example.com", "s1");
	dkim("pass", "example.com", "s2");
	eom_defer(300, "@example.com at end of data: 1 of 1 recipients "
	    "greylisted");
	rec(k);

	/* the retry comes from another network */
	message();
	client("198.51.100.7");
	rcpt_dunno("carol@example.net", "decided at end of data");
	header("From", "alice@example.com (Alice)");
	dkim("pass", "example.com", "s2");
	age(k, 400);
	eom_header(400, "@example.com at end of data: 1 passed now, 0 "
	    "before, 0 skipped");
	/* a comma in a display name or a comment is no list */
	message();
	rcpt_dunno("carol@example.net", "decided at end of data");
	header("From", "\"Alice \\\"Smith, A.\\\"\" <alice@example.com>");
	dkim("pass", "example.com", "s2");
	eom_dunno("@example.com at end of data: 0 passed now, 1 before, "
	    "0 skipped");
	message();
	rcpt_dunno("carol@example.net", "decided at end of data");
	header("From", "alice@example.com (Smith, Alice)");
	dkim("pass", "example.com", "s2");
	eom_dunno("@example.com at end of data: 0 passed now, 1 before, "
	    "0 skipped");

	/* no proof: keyed on the network */
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		message();
		to = arena_printf(F.a, "r%zu@example.net", i);
		rcpt_dunno(to, "decided at end of data");
		if (no[i].from != NULL)
			header("From", no[i].from);
		if (no[i].from2 != NULL)
			header("From", no[i].from2);
		dkim(no[i].result, no[i].d, "s");
		assert_int_equal(run(POLICY_EOM, &v), POLICY_DONE);
		if (v.reason == NULL || strcmp(v.reason, "198.51.100.0/24 at "
		    "end of data: 1 of 1 recipients greylisted") != 0)
			fail_msg("From %s, d=%s %s: %s", no[i].from != NULL ?
			    no[i].from : "(none)", no[i].d, no[i].result,
			    v.reason != NULL ? v.reason : "(no reason)");
		assert_defer(&v, 300);
		rec(arena_printf(F.a, "t 198.51.100.0/24 alice@example.com "
		    "%s", to));
	}

	/* proven_sender without dkim */
	load("at_data = unproven\nproven_sender = spf\n");
	client("198.51.100.7");
	rcpt_dunno("carol@example.net", "decided at end of data");
	header("From", "alice@example.com");
	dkim("pass", "example.com", "s2");
	eom_defer(300, "198.51.100.0/24 at end of data: 1 of 1 recipients "
	    "greylisted");
}

/* --- replies ------------------------------------------------------------- */

/* test_reply - reply_code, reply_text (%d, %r, %%; nothing else is a
 * format), add_header = no */
static void
test_reply(void **state)
{
	struct verdict v;

	(void)state;
	load("reply_code = 450\n"
	    "reply_text = Greylisted (%s) for %r: retry in %d seconds, "
	    "100%% sure%\n"
	    "add_header = no\n");
	assert_int_equal(rcpt("bob@Example.NET", &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DEFER);
	assert_string_equal(v.code, "450");
	assert_string_equal(v.xcode, "4.7.1");
	assert_string_equal(v.text, "Greylisted (%s) for example.net: retry "
	    "in 300 seconds, 100% sure%");
	message();
	age("t 192.0.2.0/24 alice@example.com bob@example.net", 400);
	rcpt_dunno("bob@example.net", "192.0.2.0/24 passed after 400s");
	eom_dunno(NULL);

	/* at the end of data: the first greylisted recipient's domain */
	load("at_data = multiple_recipients\nreply_text = wait %d s (%r)\n");
	rcpt_dunno("bob@example.net", "decided at end of data");
	rcpt_dunno("x@Two.Example", "decided at end of data");
	rcpt_dunno("y@three.example", "decided at end of data");
	assert_int_equal(run(POLICY_EOM, &v), POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DEFER);
	assert_string_equal(v.code, "451");
	assert_string_equal(v.text, "wait 300 s (two.example)");
}

/* test_zero_delay - delay = 0s: the first try is refused (for at least a
 * second), any retry passes, and nothing was delayed to report */
static void
test_zero_delay(void **state)
{
	(void)state;
	load("delay = 0s\n");
	align();
	rcpt_defer("bob@example.net", 1, "192.0.2.0/24 new");
	message();
	rcpt_dunno("bob@example.net", "192.0.2.0/24 passed after 0s");
	eom_dunno(NULL);
}

/* --- errors -------------------------------------------------------------- */

/* test_init_errors - every bad setting with FILE:LINE */
static void
test_init_errors(void **state)
{
	char *text, *want;

	(void)state;
	load_error("delay = 10m\nretry_window = 5m\n",
	    "greylist.conf:4: retry_window: must be longer than delay "
	    "(600s)\n");
	load_error("delay = 10m\nretry_window = 10m\n",
	    "greylist.conf:4: retry_window: must be longer than delay "
	    "(600s)\n");
	load_error("delay = 3d\n",
	    "greylist.conf:1: retry_window: must be longer than delay "
	    "(259200s)\n");
	load_error("max_age = 0s\n",
	    "greylist.conf:3: max_age: must be 1s or more\n");
	load_error("at_data = null_sender, sometimes\n",
	    "greylist.conf:3: at_data: unknown word 'sometimes' (known: "
	    "null_sender, multiple_recipients, unproven)\n");
	load_error("proven_sender = spf, ptr\n",
	    "greylist.conf:3: proven_sender: unknown word 'ptr' (known: "
	    "spf, dkim)\n");
	load_error("only_if = score>5\n",
	    "greylist.conf:3: only_if: bad item 'score>5' (use "
	    "score>=NUMBER or dnsbl>=INTEGER, without spaces)\n");
	load_error("only_if = dnsbl>=1.5, score>=, score>=x, spam\n",
	    "greylist.conf:3: only_if: bad item 'dnsbl>=1.5' (use "
	    "score>=NUMBER or dnsbl>=INTEGER, without spaces)\n"
	    "greylist.conf:3: only_if: bad item 'score>=' (use "
	    "score>=NUMBER or dnsbl>=INTEGER, without spaces)\n"
	    "greylist.conf:3: only_if: bad item 'score>=x' (use "
	    "score>=NUMBER or dnsbl>=INTEGER, without spaces)\n"
	    "greylist.conf:3: only_if: bad item 'spam' (use "
	    "score>=NUMBER or dnsbl>=INTEGER, without spaces)\n");
	load_error("ipv4_prefix = 0\n",
	    "greylist.conf:3: bad value '0' for 'ipv4_prefix': must be from "
	    "1 to 32\n");
	load_error("ipv4_prefix = 33\n",
	    "greylist.conf:3: bad value '33' for 'ipv4_prefix': must be from "
	    "1 to 32\n");
	load_error("ipv6_prefix = 0\n",
	    "greylist.conf:3: bad value '0' for 'ipv6_prefix': must be from "
	    "1 to 128\n");
	load_error("reply_code = 550\n",
	    "greylist.conf:3: bad value '550' for 'reply_code': must be "
	    "from 400 to 499\n");
	load_error("skip_clients = nosuch:foo\n",
	    "greylist.conf:3: skip_clients: table nosuch:foo: table "
	    "\"nosuch:foo\": unsupported table type \"nosuch\"\n");
	text = arena_printf(F.a, "skip_recipients = hash:%s/missing\n",
	    F.dir);
	want = arena_printf(F.a, "greylist.conf:3: skip_recipients: table "
	    "hash:%s/missing: %s/missing: cannot open: No such file or "
	    "directory\n", F.dir, F.dir);
	load_error(text, want);
	/* all errors at once, and no store opened while there are any */
	assert_false(load_text("[greylist]\nstore = nosuch:x\n"
	    "at_data = never\nskip_senders = inline:{ a=OK }\n"
	    "proven_sender = dns\nretry_window = 1s\n"));
	assert_string_equal(F.error,
	    "greylist.conf:6: retry_window: must be longer than delay "
	    "(300s)\n"
	    "greylist.conf:3: at_data: unknown word 'never' (known: "
	    "null_sender, multiple_recipients, unproven)\n"
	    "greylist.conf:5: proven_sender: unknown word 'dns' (known: "
	    "spf, dkim)\n");

	/* the store */
	assert_false(load_text("[greylist]\nstore = nosuch:x\n"));
	assert_string_equal(F.error, "greylist.conf:2: store: nosuch:x: not "
	    "a greylist store (use lmdb:PATH or redis:unix:PATH or "
	    "redis:HOST:PORT)\n");
	assert_false(load_text("[greylist]\n\nstore = lmdb:\n"));
	assert_string_equal(F.error, "greylist.conf:3: bad value 'lmdb:' for "
	    "'store': expected TYPE:NAME (lmdb:PATH or redis:ADDRESS)\n");
	assert_false(load_text(arena_printf(F.a, "[greylist]\n"
	    "store = lmdb:%s/no/such/dir/gl.lmdb\n", F.dir)));
	want = arena_printf(F.a, "greylist.conf:2: store: lmdb:%s/no/such/"
	    "dir/gl.lmdb: %s/no/such/dir/gl.lmdb: open: No such file or "
	    "directory\n", F.dir, F.dir);
	assert_string_equal(F.error, want);
}

/* redis_start - a redis-server on the unix socket sock, in the test's
 * directory; waits until it accepts connections */
static void
redis_start(const char *sock)
{
	struct stat st;
	int i, fd;

	F.redis = fork();
	assert_true(F.redis >= 0);
	if (F.redis == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("redis-server", "redis-server", "--port", "0",
		    "--unixsocket", sock, "--unixsocketperm", "700",
		    "--save", "", "--appendonly", "no", "--dir", F.dir,
		    (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && stat(sock, &st) != 0; i++) {
		struct timespec ts = { .tv_nsec = 10000000L };

		assert_int_equal(waitpid(F.redis, NULL, WNOHANG), 0);
		nanosleep(&ts, NULL);
	}
	assert_int_equal(stat(sock, &st), 0);
}

/* test_store_failure - a store that stops answering fails the handler
 * (the core then applies on_failure) */
static void
test_store_failure(void **state)
{
	struct verdict v;
	char *sock;

	(void)state;
	assert_int_equal(greylist_module.on_failure, POLICY_FAIL_ACCEPT);
	sock = arena_printf(F.a, "%s/r.sock", F.dir);
	redis_start(sock);
	if (!load_text(arena_printf(F.a, "[greylist]\n"
	    "store = redis:unix:%s\nat_data = null_sender\n", sock)))
		fail_msg("config refused: %s", F.error);
	rcpt_defer("bob@example.net", 300, "192.0.2.0/24 new");
	message();
	sender("<>");
	rcpt_dunno("bob@example.net", "decided at end of data");
	redis_stop();
	assert_int_equal(run(POLICY_EOM, &v), POLICY_FAILED);
	message();
	sender("alice@example.com");
	assert_int_equal(rcpt("bob@example.net", &v), POLICY_FAILED);
	assert_int_equal(rcpt("carol@example.net", &v), POLICY_FAILED);
	/* and a server that is not there is a startup error */
	assert_false(load_text(arena_printf(F.a, "[greylist]\n"
	    "store = redis:unix:%s\n", sock)));
	assert_string_equal(F.error, arena_printf(F.a, "greylist.conf:2: "
	    "store: redis:unix:%s: cannot connect to unix:%s: Connection "
	    "refused\n", sock, sock));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_normalize, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_triplet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_clock, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_networks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sender_rcpt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_key_escaping, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_spf_proven, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_auto_whitelist, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_exempt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skip_tables, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_skip_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_only_if, setup, teardown),
		cmocka_unit_test_setup_teardown(test_at_data_null_sender,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_at_data_multi, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_at_data_dkim, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_delay, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_init_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_failure, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
