/*
 * greylist.c - greylisting (module "greylist"; see greylist.h and
 * filterd.conf(5))
 *
 * Decided at RCPT, one triplet per recipient, unless the message is one
 * of the kinds at_data names: those are decided at the end of DATA for
 * all their recipients at once (a whole message deferred once rather
 * than recipient by recipient, address-verification probes that stop
 * after RCPT left alone, and DKIM results available). A greylisted
 * message gets reply_code 4.7.1 with the time to wait; a message that
 * passed after being delayed gets an X-Greylist header at the end of
 * the message.
 *
 * The store is opened when the config is loaded, so a wrong path or an
 * unreachable Redis is a startup error. At run time a store that fails
 * makes the handler fail: the core applies on_failure (default accept:
 * greylisting is a filter of convenience, and a broken store must not
 * stop mail), and the warning names the store and how many failures
 * there have been.
 *
 * Time is the real clock (time(2)) in whole seconds, as the records
 * keep it; tests use short delays rather than a fake clock.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "greylist.h"
#include "greylist_store.h"
#include "inet.h"
#include "log.h"
#include "lookup.h"
#include "mailaddr.h"
#include "mem.h"
#include "policy.h"
#include "table.h"

/* an identity's record is rewritten at most this often just to keep it
 * alive (its expiry moves with last) */
#define GREYLIST_AWL_REFRESH	3600
#define GREYLIST_NET_MAX	(INET_TEXT_MAX + 8)

/* which messages are decided at the end of DATA */
enum greylist_at_data {
	GREYLIST_AT_NULL_SENDER = 1 << 0,
	GREYLIST_AT_MULTI_RCPT = 1 << 1,
	GREYLIST_AT_UNPROVEN = 1 << 2,
};

/* what proves a sender's domain */
enum greylist_proof {
	GREYLIST_PROOF_SPF = 1 << 0,
	GREYLIST_PROOF_DKIM = 1 << 1,
};

struct greylist_word {
	const char *name;
	unsigned flag;
};

static const struct greylist_word greylist_at_data_words[] = {
	{ .name = "null_sender", .flag = GREYLIST_AT_NULL_SENDER },
	{ .name = "multiple_recipients", .flag = GREYLIST_AT_MULTI_RCPT },
	{ .name = "unproven", .flag = GREYLIST_AT_UNPROVEN },
	{ .name = NULL },
};

static const struct greylist_word greylist_proof_words[] = {
	{ .name = "spf", .flag = GREYLIST_PROOF_SPF },
	{ .name = "dkim", .flag = GREYLIST_PROOF_DKIM },
	{ .name = NULL },
};

struct greylist_config {
	const char *store;
	const char *key_prefix;
	double store_timeout;
	unsigned long store_connections;
	const char *redis_password;
	unsigned long redis_database;
	uint64_t lmdb_map_size;
	double delay;
	double retry_window;
	double max_age;
	unsigned long auto_whitelist_clients;
	unsigned long ipv4_prefix;
	unsigned long ipv6_prefix;
	struct conf_list proven_sender;
	struct conf_list at_data;
	const char *skip_clients;
	const char *skip_senders;
	const char *skip_recipients;
	struct conf_list only_if;
	unsigned long reply_code;
	const char *reply_text;
	bool add_header;
	/* runtime, filled by init */
	struct greylist_store *gstore;
	struct table *skip_client_t, *skip_sender_t, *skip_rcpt_t;
	unsigned at_data_flags;
	unsigned proofs;
	double only_score;		/* INFINITY: no score condition */
	long only_dnsbl;		/* LONG_MAX: no DNSBL condition */
	int64_t delay_s, window_s, max_age_s;
};

/* failures of the store, for the warnings (all configs together) */
static atomic_ulong greylist_store_failures;

/* per message */
struct greylist_msg {
	int exempt;			/* 0 not known yet, 1 yes, -1 no */
	const char *exempt_why;
	bool at_data;			/* decided at the end of DATA */
	int64_t delayed;		/* longest delay of a passed triplet */
	unsigned from_count;
	const char *from_domain;	/* of the only From field */
};

/* The outcome of one triplet. */
enum greylist_outcome {
	GREYLIST_NEW,			/* first try: greylisted */
	GREYLIST_EARLY,			/* retried before the delay */
	GREYLIST_PASSED,		/* retried in time: passes now */
	GREYLIST_KNOWN,			/* passed before */
	GREYLIST_WHITELISTED,		/* the identity is whitelisted */
};

static const char *const greylist_outcome_names[] = {
	[GREYLIST_NEW] = "new",
	[GREYLIST_EARLY] = "early",
	[GREYLIST_PASSED] = "passed",
	[GREYLIST_KNOWN] = "known",
	[GREYLIST_WHITELISTED] = "whitelisted",
};

/* What the update functions see and leave. */
struct greylist_step {
	const struct greylist_config *cfg;
	int64_t now;
	enum greylist_outcome outcome;
	int64_t wait;			/* NEW, EARLY: seconds to go */
	int64_t delayed;		/* PASSED: seconds it was delayed */
};

/* --- sender normalization ------------------------------------------------- */

/* greylist_lower - s in lower case, in arena */
static char *
greylist_lower(struct arena *arena, const char *s)
{
	char *r = arena_strdup(arena, s);

	for (char *p = r; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return r;
}

/* greylist_is_alnum - ASCII letters and digits */
static bool
greylist_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    (c >= 'A' && c <= 'Z');
}

/* greylist_batv_tag - a BATV tag: 10 letters and digits (K DDD HHHHHH) */
static bool
greylist_batv_tag(const char *s, size_t len)
{
	if (len != 10)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!greylist_is_alnum(s[i]))
			return false;
	return true;
}

/*
 * greylist_unbatv - the local part inside a BATV wrapping (in arena), or
 * NULL. prvs=TAG=local is the draft's form; prvs=local=TAG is what some
 * senders wrote for years; msprvs1= is the same under another name;
 * btv1==TAG==local another scheme's.
 */
static const char *
greylist_unbatv(struct arena *arena, const char *local)
{
	static const char *const prefixes[] = { "prvs=", "msprvs1=", NULL };
	const char *rest, *eq, *last;
	size_t i, plen;

	if (strncmp(local, "btv1==", 6) == 0) {
		eq = strstr(local + 6, "==");
		return eq != NULL && eq[2] != '\0' ? eq + 2 : NULL;
	}
	for (i = 0; prefixes[i] != NULL; i++) {
		plen = strlen(prefixes[i]);
		if (strncmp(local, prefixes[i], plen) != 0)
			continue;
		rest = local + plen;
		if ((eq = strchr(rest, '=')) == NULL)
			return NULL;
		if (eq[1] != '\0' &&
		    greylist_batv_tag(rest, (size_t)(eq - rest)))
			return eq + 1;
		last = strrchr(rest, '=');
		if (last > rest &&
		    greylist_batv_tag(last + 1, strlen(last + 1)))
			return arena_strndup(arena, rest,
			    (size_t)(last - rest));
		return NULL;
	}
	return NULL;
}

/*
 * greylist_unsrs - SRS0=HASH=TT=domain=local / SRS1=HASH=fwd==HASH=TT=
 * domain=local into local and domain (in arena); false if it is not SRS
 */
static bool
greylist_unsrs(struct arena *arena, const char *local, const char **local_r,
    const char **domain_r)
{
	const char *p, *f[3];
	int i;

	if (strncmp(local, "srs0=", 5) == 0)
		p = local + 5;
	else if (strncmp(local, "srs1=", 5) == 0) {
		/* SRS1's inner SRS0 part follows the "==" */
		if ((p = strstr(local + 5, "==")) == NULL)
			return false;
		p += 2;
	} else
		return false;
	/* HASH=TT=domain=local: three '='-ended fields, then local */
	for (i = 0; i < 3; i++) {
		f[i] = p;
		if ((p = strchr(p, '=')) == NULL || p == f[i])
			return false;
		p++;
	}
	if (*p == '\0')
		return false;
	*domain_r = arena_strndup(arena, f[2], (size_t)(p - 1 - f[2]));
	*local_r = p;
	return true;
}

/* greylist_untag - VERP and per-message tags of a local part as "#":
 * digit runs, and tokens of 10+ letters and digits holding a digit */
static char *
greylist_untag(struct arena *arena, const char *local)
{
	struct buf b = { 0 };
	const char *p = local, *t;
	bool digit, alpha;
	char *r;

	while (*p != '\0') {
		if (!greylist_is_alnum(*p)) {
			buf_putc(&b, *p++);
			continue;
		}
		digit = alpha = false;
		for (t = p; greylist_is_alnum(*t); t++) {
			if (*t >= '0' && *t <= '9')
				digit = true;
			else
				alpha = true;
		}
		if (digit && (!alpha || t - p >= 10))
			buf_putc(&b, '#');
		else
			buf_append(&b, p, (size_t)(t - p));
		p = t;
	}
	r = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return r;
}

/* greylist_normalize_sender - see greylist.h */
const char *
greylist_normalize_sender(struct arena *arena, const struct mailaddr *sender)
{
	const char *local, *domain, *inner;
	char *plus, *l;

	if (sender == NULL || (sender->flags & MAILADDR_NULL) != 0)
		return "<>";
	local = greylist_lower(arena, sender->local);
	domain = greylist_lower(arena, sender->domain);
	if (!greylist_unsrs(arena, local, &local, &domain) &&
	    (inner = greylist_unbatv(arena, local)) != NULL)
		local = inner;
	l = arena_strdup(arena, local);
	if ((plus = strchr(l, '+')) != NULL && plus != l)
		*plus = '\0';
	l = greylist_untag(arena, l);
	if (*domain == '\0')
		return l;
	return arena_printf(arena, "%s@%s", l, domain);
}

/* --- keys ----------------------------------------------------------------- */

/* greylist_field - one key field: bytes outside 0x21..0x7e and '%' as
 * %XX, so that a space always separates fields */
static void
greylist_field(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x21 || c > 0x7e || c == '%') {
			buf_putc(b, '%');
			buf_putc(b, hex[c >> 4]);
			buf_putc(b, hex[c & 15]);
		} else
			buf_putc(b, (char)c);
	}
}

/* greylist_key - "KIND f1 f2 ..." in arena; NULL when it would be too
 * long for a store key (such an address is not greylisted) */
static const char *
greylist_key(struct arena *arena, char kind, const char *identity,
    const char *sender, const char *rcpt)
{
	struct buf b = { 0 };
	const char *r = NULL;

	buf_putc(&b, kind);
	buf_putc(&b, ' ');
	greylist_field(&b, identity);
	if (sender != NULL) {
		buf_putc(&b, ' ');
		greylist_field(&b, sender);
		buf_putc(&b, ' ');
		greylist_field(&b, rcpt);
	}
	if (b.len <= GREYLIST_STORE_KEY_MAX)
		r = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return r;
}

/* --- decisions ------------------------------------------------------------ */

/* greylist_triplet_fn - the triplet rules (greylist_store_update_fn) */
static bool
greylist_triplet_fn(void *ctx, const struct greylist_record *old,
    struct greylist_record *new_r)
{
	struct greylist_step *s = ctx;
	const struct greylist_config *cfg = s->cfg;

	s->wait = s->delayed = 0;
	if (old == NULL) {
		/* absent, or expired: a retry after retry_window, or a pass
		 * older than max_age, starts over */
		s->outcome = GREYLIST_NEW;
		s->wait = cfg->delay_s;
		*new_r = (struct greylist_record){
			.first = s->now, .last = s->now, .count = 0,
			.expires = s->now + cfg->window_s,
		};
		return true;
	}
	if (old->count == 0 && s->now - old->first < cfg->delay_s) {
		/* last = this try (greylist.h), so that a sender that keeps
		 * retrying shows apart from one that gave up */
		s->outcome = GREYLIST_EARLY;
		s->wait = old->first + cfg->delay_s - s->now;
		*new_r = *old;
		new_r->last = s->now;
		new_r->expires = old->first + cfg->window_s;
		return true;
	}
	if (old->count == 0) {
		s->outcome = GREYLIST_PASSED;
		s->delayed = s->now - old->first;
	} else
		s->outcome = GREYLIST_KNOWN;
	*new_r = (struct greylist_record){
		.first = old->first, .last = s->now, .count = old->count + 1,
		.expires = s->now + cfg->max_age_s,
	};
	return true;
}

/* greylist_awl_check_fn - whether the identity is whitelisted; keeps a
 * whitelisted identity alive, at most one write an hour */
static bool
greylist_awl_check_fn(void *ctx, const struct greylist_record *old,
    struct greylist_record *new_r)
{
	struct greylist_step *s = ctx;
	const struct greylist_config *cfg = s->cfg;

	s->outcome = GREYLIST_NEW;	/* "not whitelisted" */
	if (old == NULL || old->count < (int64_t)cfg->auto_whitelist_clients)
		return false;
	s->outcome = GREYLIST_WHITELISTED;
	if (s->now - old->last < GREYLIST_AWL_REFRESH)
		return false;
	*new_r = *old;
	new_r->last = s->now;
	new_r->expires = s->now + cfg->max_age_s;
	return true;
}

/* greylist_awl_count_fn - one more triplet passed for the identity */
static bool
greylist_awl_count_fn(void *ctx, const struct greylist_record *old,
    struct greylist_record *new_r)
{
	struct greylist_step *s = ctx;

	*new_r = (struct greylist_record){
		.first = old != NULL ? old->first : s->now,
		.last = s->now,
		.count = old != NULL ? old->count + 1 : 1,
		.expires = s->now + s->cfg->max_age_s,
	};
	return true;
}

/* greylist_store_failed - log a store error; always POLICY_FAILED */
static enum policy_status
greylist_store_failed(struct txn *txn, const struct greylist_store_why *why)
{
	unsigned long n = atomic_fetch_add(&greylist_store_failures, 1) + 1;

	/* the reason names the store already */
	log_msg(LOG_WARNING, txn_queue_id(txn), "greylist: store error: %s "
	    "(%lu store error%s since start)", why->text, n,
	    n == 1 ? "" : "s");
	return POLICY_FAILED;
}

/*
 * greylist_decide - one triplet: the identity's whitelisting first, then
 * the triplet itself; a triplet that passes for the first time counts for
 * its identity. *step_r tells what happened.
 */
static enum policy_status
greylist_decide(const struct greylist_config *cfg, struct txn *txn,
    const char *identity, const char *sender, const char *rcpt,
    struct greylist_step *step_r)
{
	struct arena *arena = txn_msg_arena(txn);
	struct greylist_store_why why;
	struct greylist_step awl;
	const char *tkey, *ckey;

	*step_r = (struct greylist_step){
		.cfg = cfg, .now = (int64_t)time(NULL),
	};
	awl = *step_r;
	ckey = greylist_key(arena, 'c', identity, NULL, NULL);
	tkey = greylist_key(arena, 't', identity, sender, rcpt);
	if (ckey == NULL || tkey == NULL) {
		/* a 500-byte address is not worth remembering */
		step_r->outcome = GREYLIST_KNOWN;
		return POLICY_DONE;
	}
	if (cfg->auto_whitelist_clients > 0) {
		if (greylist_store_update(cfg->gstore, ckey, awl.now,
		    greylist_awl_check_fn, &awl, &why) == GREYLIST_STORE_ERROR)
			return greylist_store_failed(txn, &why);
		if (awl.outcome == GREYLIST_WHITELISTED) {
			step_r->outcome = GREYLIST_WHITELISTED;
			return POLICY_DONE;
		}
	}
	if (greylist_store_update(cfg->gstore, tkey, step_r->now,
	    greylist_triplet_fn, step_r, &why) == GREYLIST_STORE_ERROR)
		return greylist_store_failed(txn, &why);
	if (step_r->outcome == GREYLIST_PASSED &&
	    cfg->auto_whitelist_clients > 0 &&
	    greylist_store_update(cfg->gstore, ckey, awl.now,
	    greylist_awl_count_fn, &awl, &why) == GREYLIST_STORE_ERROR)
		/* the triplet passed; only the counting is lost */
		(void)greylist_store_failed(txn, &why);
	return POLICY_DONE;
}

/* --- who is greylisted ---------------------------------------------------- */

/* greylist_skip_result - found with a value other than DUNNO: 1; not
 * found: 0; error: -1. Called after the lookup, never with it as an
 * argument: the order in which arguments are evaluated is unspecified,
 * so value could be read before the lookup has set it. */
static int
greylist_skip_result(enum table_result r, const char *value)
{
	if (r == TABLE_ERROR)
		return -1;
	return r == TABLE_FOUND &&
	    (value == NULL || strcasecmp(value, "DUNNO") != 0);
}

/* greylist_exempt - whether the message escapes greylisting (*why_r);
 * -1 on a lookup error */
static int
greylist_exempt(const struct greylist_config *cfg, struct txn *txn,
    const char **why_r)
{
	struct arena *arena = txn_msg_arena(txn);
	const struct mailaddr *sender = txn_sender(txn);
	const char *value = NULL;
	enum table_result r;
	int skip;

	if (txn_auth_user(txn) != NULL) {
		*why_r = "authenticated";
		return 1;
	}
	switch (txn_in_mynetworks(txn)) {
	case TABLE_FOUND:
		*why_r = "mynetworks";
		return 1;
	case TABLE_ERROR:
		return -1;
	default:
		break;
	}
	if (txn_client_addr(txn) == NULL) {
		*why_r = "no client address";
		return 1;
	}
	if (cfg->skip_client_t != NULL) {
		r = lookup_client(cfg->skip_client_t, txn_client_name(txn),
		    txn_client_addr(txn), arena, &value);
		if ((skip = greylist_skip_result(r, value)) != 0) {
			*why_r = "skip_clients";
			return skip;
		}
	}
	if (cfg->skip_sender_t != NULL && sender != NULL) {
		r = lookup_mail(cfg->skip_sender_t, sender, arena, &value);
		if ((skip = greylist_skip_result(r, value)) != 0) {
			*why_r = "skip_senders";
			return skip;
		}
	}
	if ((cfg->only_score != INFINITY || cfg->only_dnsbl != LONG_MAX) &&
	    txn_score(txn) < cfg->only_score &&
	    txn_dnsbl_weight(txn) < cfg->only_dnsbl) {
		*why_r = arena_printf(arena, "only_if not reached (score %.2f, "
		    "dnsbl %ld)", txn_score(txn), txn_dnsbl_weight(txn));
		return 1;
	}
	return 0;
}

/* greylist_msg_exempt - greylist_exempt once per message */
static int
greylist_msg_exempt(const struct greylist_config *cfg, struct txn *txn,
    struct greylist_msg *m)
{
	int r;

	if (m->exempt != 0)
		return m->exempt > 0;
	if ((r = greylist_exempt(cfg, txn, &m->exempt_why)) < 0)
		return -1;
	m->exempt = r > 0 ? 1 : -1;
	return r;
}

/* greylist_rcpt_exempt - skip_recipients; -1 on a lookup error */
static int
greylist_rcpt_exempt(const struct greylist_config *cfg, struct txn *txn,
    const struct mailaddr *rcpt)
{
	const char *value = NULL;
	enum table_result r;

	if (cfg->skip_rcpt_t == NULL || rcpt == NULL)
		return 0;
	r = lookup_mail(cfg->skip_rcpt_t, rcpt, txn_msg_arena(txn), &value);
	return greylist_skip_result(r, value);
}

/* greylist_spf_domain - the MAIL FROM domain when SPF passed for it */
static const char *
greylist_spf_domain(const struct greylist_config *cfg, struct txn *txn)
{
	const struct txn_spf *spf = txn_spf(txn);
	const struct mailaddr *sender = txn_sender(txn);

	if ((cfg->proofs & GREYLIST_PROOF_SPF) == 0 || spf == NULL ||
	    spf->result == NULL || strcmp(spf->result, "pass") != 0 ||
	    spf->helo || spf->domain == NULL || sender == NULL ||
	    *sender->domain == '\0' ||
	    strcasecmp(spf->domain, sender->domain) != 0)
		return NULL;
	return sender->domain;
}

/* greylist_dkim_domain - the d= of a passing signature for the From
 * domain (the same name or a parent of it) */
static const char *
greylist_dkim_domain(const struct greylist_config *cfg, struct txn *txn,
    const struct greylist_msg *m)
{
	size_t i, n, flen, dlen;
	const char *from = m->from_domain, *d;

	if ((cfg->proofs & GREYLIST_PROOF_DKIM) == 0 || from == NULL ||
	    m->from_count != 1)
		return NULL;
	flen = strlen(from);
	n = txn_dkim_count(txn);
	for (i = 0; i < n; i++) {
		const struct txn_dkim *k = txn_dkim_at(txn, i);

		if (k->result == NULL || strcmp(k->result, "pass") != 0 ||
		    (d = k->domain) == NULL || (dlen = strlen(d)) == 0 ||
		    strchr(d, '.') == NULL)
			continue;
		if (strcasecmp(d, from) == 0 || (flen > dlen &&
		    from[flen - dlen - 1] == '.' &&
		    strcasecmp(from + flen - dlen, d) == 0))
			return d;
	}
	return NULL;
}

/* greylist_identity - "@domain" of a proven sender, else the client's
 * network; NULL without a client address */
static const char *
greylist_identity(const struct greylist_config *cfg, struct txn *txn,
    const char *proven)
{
	const struct inet_addr *a = txn_client_addr(txn);
	char net[GREYLIST_NET_MAX];

	if (proven != NULL)
		return arena_printf(txn_msg_arena(txn), "@%s", proven);
	if (a == NULL)
		return NULL;
	return arena_strdup(txn_msg_arena(txn), inet_network_key(a,
	    a->family == AF_INET ? (unsigned)cfg->ipv4_prefix :
	    (unsigned)cfg->ipv6_prefix, net, sizeof(net)));
}

/* greylist_rcpt_text - the recipient as keyed: lower case */
static const char *
greylist_rcpt_text(struct txn *txn, const struct mailaddr *rcpt)
{
	return greylist_lower(txn_msg_arena(txn), rcpt->full);
}

/*
 * greylist_reply_text - reply_text with "%d" as the seconds to wait,
 * "%r" as the recipient domain and "%%" as "%"; any other byte is literal
 * (the admin's text is never a printf format)
 */
static const char *
greylist_reply_text(struct arena *arena, const char *fmt, int64_t wait,
    const char *rcpt_domain)
{
	struct buf b = { 0 };
	const char *p;
	char *out;

	for (p = fmt; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'd') {
			buf_printf(&b, "%" PRId64, wait);
			p++;
		} else if (p[0] == '%' && p[1] == 'r') {
			buf_puts(&b, rcpt_domain);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			buf_putc(&b, '%');
			p++;
		} else
			buf_putc(&b, *p);
	}
	out = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return out;
}

/* greylist_defer - the 4xx verdict */
static void
greylist_defer(const struct greylist_config *cfg, struct txn *txn,
    int64_t wait, const char *rcpt_domain, struct verdict *v)
{
	struct arena *arena = txn_msg_arena(txn);

	v->action = VERDICT_DEFER;
	v->code = arena_printf(arena, "%lu", cfg->reply_code);
	v->xcode = "4.7.1";
	v->text = greylist_reply_text(arena, cfg->reply_text,
	    wait > 0 ? wait : 1, rcpt_domain);
}

/* greylist_at_data - whether the message is decided at the end of DATA */
static bool
greylist_is_at_data(const struct greylist_config *cfg, struct txn *txn)
{
	const struct mailaddr *sender = txn_sender(txn);
	unsigned f = cfg->at_data_flags;

	if ((f & GREYLIST_AT_MULTI_RCPT) != 0)
		return true;
	if ((f & GREYLIST_AT_NULL_SENDER) != 0 && (sender == NULL ||
	    (sender->flags & MAILADDR_NULL) != 0))
		return true;
	return (f & GREYLIST_AT_UNPROVEN) != 0 &&
	    greylist_spf_domain(cfg, txn) == NULL;
}

/* --- handlers ------------------------------------------------------------- */

/* greylist_rcpt - RCPT: one triplet, or leave it to the end of DATA */
static enum policy_status
greylist_rcpt(const struct policy_call *call, struct verdict *v)
{
	const struct greylist_config *cfg = call->config;
	struct greylist_msg *m = call->msg;
	struct txn *txn = call->txn;
	struct arena *arena = txn_msg_arena(txn);
	const struct mailaddr *rcpt = txn_rcpt(txn);
	const char *identity, *proven;
	struct greylist_step step;
	int r;

	if (m == NULL)
		log_panic("greylist: RCPT without message state");
	if ((r = greylist_msg_exempt(cfg, txn, m)) != 0) {
		v->reason = r > 0 ? m->exempt_why : NULL;
		return r < 0 ? POLICY_FAILED : POLICY_DONE;
	}
	if (rcpt == NULL)
		return POLICY_DONE;	/* the MTA refuses it anyway */
	if ((r = greylist_rcpt_exempt(cfg, txn, rcpt)) != 0) {
		v->reason = "skip_recipients";
		return r < 0 ? POLICY_FAILED : POLICY_DONE;
	}
	if (m->at_data || greylist_is_at_data(cfg, txn)) {
		m->at_data = true;
		v->reason = "decided at end of data";
		return POLICY_DONE;
	}
	proven = greylist_spf_domain(cfg, txn);
	if ((identity = greylist_identity(cfg, txn, proven)) == NULL)
		return POLICY_DONE;
	if (greylist_decide(cfg, txn, identity,
	    greylist_normalize_sender(arena, txn_sender(txn)),
	    greylist_rcpt_text(txn, rcpt), &step) != POLICY_DONE)
		return POLICY_FAILED;
	v->reason = arena_printf(arena, "%s %s", identity,
	    greylist_outcome_names[step.outcome]);
	switch (step.outcome) {
	case GREYLIST_NEW:
	case GREYLIST_EARLY:
		greylist_defer(cfg, txn, step.wait, rcpt->domain, v);
		break;
	case GREYLIST_PASSED:
		if (step.delayed > m->delayed)
			m->delayed = step.delayed;
		v->reason = arena_printf(arena, "%s passed after %" PRId64
		    "s", identity, step.delayed);
		break;
	default:
		break;
	}
	return POLICY_DONE;
}

/* greylist_address_list - whether a header value is a list: a ','
 * outside quoted strings and comments (display names such as
 * "Smith, Alice" are common, and such a From has one address) */
static bool
greylist_address_list(const char *value)
{
	const char *p;
	bool quoted = false;
	int depth = 0;

	for (p = value; *p != '\0'; p++) {
		if (*p == '\\' && (quoted || depth > 0)) {
			if (*++p == '\0')
				break;
		} else if (quoted)
			quoted = *p != '"';
		else if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && *p == '"')
			quoted = true;
		else if (depth == 0 && *p == ',')
			return true;
	}
	return false;
}

/* greylist_from_domain - the domain of a From field's single address,
 * lower case; NULL when there is not exactly one plain address. A
 * wrong guess only changes which identity a message is keyed on, and
 * only toward a domain with a passing DKIM signature. */
static const char *
greylist_from_domain(struct arena *arena, const char *value)
{
	const char *lt = strrchr(value, '<'), *s, *e, *at;
	struct mailaddr a;
	const char *why;

	if (lt != NULL) {
		s = lt + 1;
		if ((e = strchr(s, '>')) == NULL)
			return NULL;
	} else {
		for (s = value; *s == ' ' || *s == '\t'; s++)
			;
		for (e = s; *e != '\0' && *e != ' ' && *e != '\t' &&
		    *e != '\r' && *e != '\n' && *e != '('; e++)
			;
	}
	if (greylist_address_list(value) ||
	    (at = memchr(s, '@', e - s)) == NULL)
		return NULL;
	if (!mailaddr_parse(arena, arena_strndup(arena, s, (size_t)(e - s)),
	    &a, &why) || *a.domain == '\0' ||
	    (a.flags & MAILADDR_LITERAL) != 0)
		return NULL;
	return a.domain;
}

/* greylist_header - HEADER: the From domain, for DKIM proof */
static enum policy_status
greylist_header(const struct policy_call *call, struct verdict *v)
{
	const struct greylist_config *cfg = call->config;
	struct greylist_msg *m = call->msg;
	struct txn *txn = call->txn;

	(void)v;
	if (m == NULL || !m->at_data ||
	    (cfg->proofs & GREYLIST_PROOF_DKIM) == 0 ||
	    strcasecmp(txn_header_name(txn), "From") != 0)
		return POLICY_DONE;
	if (m->from_count++ == 0)
		m->from_domain = greylist_from_domain(txn_msg_arena(txn),
		    txn_header_value(txn));
	return POLICY_DONE;
}

/* greylist_eom_decide - end of DATA: every recipient's triplet; the
 * message is deferred when any of them is not through yet */
static enum policy_status
greylist_eom_decide(const struct greylist_config *cfg, struct txn *txn,
    struct greylist_msg *m, struct verdict *v)
{
	struct arena *arena = txn_msg_arena(txn);
	const char *identity, *sender, *proven, *first_domain = "";
	struct greylist_step step;
	int64_t wait = 0;
	size_t i, n = txn_rcpt_count(txn), held = 0, passed = 0, skipped = 0;
	int r;

	if ((proven = greylist_spf_domain(cfg, txn)) == NULL)
		proven = greylist_dkim_domain(cfg, txn, m);
	if ((identity = greylist_identity(cfg, txn, proven)) == NULL)
		return POLICY_DONE;
	sender = greylist_normalize_sender(arena, txn_sender(txn));
	for (i = 0; i < n; i++) {
		const struct mailaddr *rcpt = txn_rcpt_at(txn, i);

		if ((r = greylist_rcpt_exempt(cfg, txn, rcpt)) != 0) {
			if (r < 0)
				return POLICY_FAILED;
			skipped++;
			continue;
		}
		if (greylist_decide(cfg, txn, identity, sender,
		    greylist_rcpt_text(txn, rcpt), &step) != POLICY_DONE)
			return POLICY_FAILED;
		if (step.outcome == GREYLIST_NEW ||
		    step.outcome == GREYLIST_EARLY) {
			if (held++ == 0)
				first_domain = rcpt->domain;
			if (step.wait > wait)
				wait = step.wait;
		} else if (step.outcome == GREYLIST_PASSED) {
			passed++;
			if (step.delayed > m->delayed)
				m->delayed = step.delayed;
		}
	}
	if (held > 0) {
		m->delayed = 0;
		greylist_defer(cfg, txn, wait, first_domain, v);
		v->reason = arena_printf(arena, "%s at end of data: %zu of "
		    "%zu recipients greylisted", identity, held, n);
		return POLICY_DONE;
	}
	v->reason = arena_printf(arena, "%s at end of data: %zu passed now, "
	    "%zu before, %zu skipped", identity, passed, n - passed - skipped,
	    skipped);
	return POLICY_DONE;
}

/* greylist_eom - EOM: decide what waited for the end of DATA; the
 * X-Greylist header for a message that was delayed */
static enum policy_status
greylist_eom(const struct policy_call *call, struct verdict *v)
{
	const struct greylist_config *cfg = call->config;
	struct greylist_msg *m = call->msg;
	struct txn *txn = call->txn;
	const struct policy_globals *g = txn_globals(txn);
	char date[64];
	struct tm tm;
	time_t now;

	if (m == NULL)
		log_panic("greylist: EOM without message state");
	if (m->exempt > 0)
		return POLICY_DONE;
	if (m->at_data) {
		if (greylist_eom_decide(cfg, txn, m, v) != POLICY_DONE)
			return POLICY_FAILED;
		if (v->action == VERDICT_DEFER)
			return POLICY_DONE;
	}
	if (m->delayed <= 0 || !cfg->add_header)
		return POLICY_DONE;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	txn_add_header(txn, "X-Greylist", arena_printf(txn_msg_arena(txn),
	    "delayed %" PRId64 " seconds by postern-filterd at %s; %s",
	    m->delayed, g != NULL && g->hostname != NULL ? g->hostname :
	    "localhost", date));
	return POLICY_DONE;
}

/* --- init ----------------------------------------------------------------- */

/* greylist_words - a list of words into flags */
static unsigned
greylist_words(const struct policy_init *pi, const char *setting,
    const struct conf_list *list, const struct greylist_word *words,
    struct buf *err)
{
	unsigned flags = 0;
	size_t i, k;

	for (i = 0; i < list->n; i++) {
		for (k = 0; words[k].name != NULL; k++)
			if (strcasecmp(list->items[i], words[k].name) == 0)
				break;
		if (words[k].name == NULL) {
			struct buf known = { 0 };

			for (k = 0; words[k].name != NULL; k++)
				buf_printf(&known, "%s%s", k ? ", " : "",
				    words[k].name);
			conf_setting_error(err, pi->cf, pi->section,
			    setting, "unknown word '%s' "
			    "(known: %s)", list->items[i], buf_cstr(&known));
			buf_free(&known);
			continue;
		}
		flags |= words[k].flag;
	}
	return flags;
}

/* greylist_only_if - "score>=N" and "dnsbl>=N" items */
static void
greylist_only_if(const struct policy_init *pi, struct greylist_config *cfg,
    struct buf *err)
{
	const struct conf_list *l = &cfg->only_if;
	char *end;
	size_t i;

	cfg->only_score = INFINITY;
	cfg->only_dnsbl = LONG_MAX;
	for (i = 0; i < l->n; i++) {
		const char *it = l->items[i];

		if (strncasecmp(it, "score>=", 7) == 0) {
			errno = 0;
			cfg->only_score = strtod(it + 7, &end);
			if (it[7] != '\0' && *end == '\0' && errno == 0 &&
			    isfinite(cfg->only_score))
				continue;
		} else if (strncasecmp(it, "dnsbl>=", 7) == 0) {
			errno = 0;
			cfg->only_dnsbl = strtol(it + 7, &end, 10);
			if (it[7] != '\0' && *end == '\0' && errno == 0)
				continue;
		}
		conf_setting_error(err, pi->cf, pi->section,
		    "only_if", "bad item '%s' (use "
		    "score>=NUMBER or dnsbl>=INTEGER, without spaces)", it);
	}
}

/* greylist_table - open one skip table (NULL spec: none) */
static struct table *
greylist_table(const struct policy_init *pi, const char *setting,
    const char *spec, struct buf *err)
{
	struct table *t;
	char *why = NULL;

	if (spec == NULL || *spec == '\0')
		return NULL;
	if ((t = table_open(spec, &why)) == NULL)
		conf_setting_error(err, pi->cf, pi->section,
		    setting, "table %s: %s", spec,
		    why != NULL ? why : "cannot open");
	free(why);
	return t;
}

/* greylist_deinit - close what init opened */
static void
greylist_deinit(void *config)
{
	struct greylist_config *cfg = config;

	table_close(&cfg->skip_client_t);
	table_close(&cfg->skip_sender_t);
	table_close(&cfg->skip_rcpt_t);
	greylist_store_close(&cfg->gstore);
}

/* greylist_store_opt - the store options of a config */
static struct greylist_store_options
greylist_store_opt(const struct greylist_config *cfg)
{
	return (struct greylist_store_options){
		.key_prefix = cfg->key_prefix,
		.timeout = cfg->store_timeout,
		.connections = (unsigned)cfg->store_connections,
		.password = cfg->redis_password,
		.database = cfg->redis_database,
		.map_size = cfg->lmdb_map_size,
	};
}

/* greylist_init - check the settings, open the tables and the store */
static bool
greylist_init(struct policy_init *pi, char **error_r)
{
	struct greylist_config *cfg = pi->config;
	struct greylist_store_options opt = greylist_store_opt(cfg);
	const char *user = pi->globals != NULL ? pi->globals->user : NULL;
	struct buf err = { 0 };
	struct passwd *pw;
	char *why = NULL;

	cfg->delay_s = llround(cfg->delay);
	cfg->window_s = llround(cfg->retry_window);
	cfg->max_age_s = llround(cfg->max_age);
	if (cfg->window_s <= cfg->delay_s)
		conf_setting_error(&err, pi->cf, pi->section,
		    "retry_window", "must be longer than "
		    "delay (%" PRId64 "s)", cfg->delay_s);
	if (cfg->max_age_s < 1)
		conf_setting_error(&err, pi->cf, pi->section,
		    "max_age", "must be 1s or more");
	cfg->at_data_flags = greylist_words(pi, "at_data", &cfg->at_data,
	    greylist_at_data_words, &err);
	cfg->proofs = greylist_words(pi, "proven_sender",
	    &cfg->proven_sender, greylist_proof_words, &err);
	greylist_only_if(pi, cfg, &err);
	cfg->skip_client_t = greylist_table(pi, "skip_clients",
	    cfg->skip_clients, &err);
	cfg->skip_sender_t = greylist_table(pi, "skip_senders",
	    cfg->skip_senders, &err);
	cfg->skip_rcpt_t = greylist_table(pi, "skip_recipients",
	    cfg->skip_recipients, &err);
	/* the store is opened as root, at start; filterd then runs as
	 * its user, who must own the files to open them at a reload */
	if (geteuid() == 0 && user != NULL && *user != '\0' &&
	    strcmp(user, "root") != 0) {
		if ((pw = getpwnam(user)) == NULL)
			conf_setting_error(&err, pi->cf, pi->section,
			    "store", "user %s: no such "
			    "user to own the store", user);
		else {
			opt.chown = true;
			opt.uid = pw->pw_uid;
			opt.gid = pw->pw_gid;
		}
	}
	if (err.len == 0 && !greylist_store_open(cfg->store, &opt,
	    &cfg->gstore, &why)) {
		conf_setting_error(&err, pi->cf, pi->section,
		    "store", "%s", why);
		free(why);
	}
	if (err.len > 0) {
		greylist_deinit(cfg);
		*error_r = buf_steal(&err);
		return false;
	}
	buf_free(&err);
	return true;
}

/* --- settings ------------------------------------------------------------- */

/* greylist_spec_valid - "type:name"; whether the type exists is the
 * store's to say when it is opened */
static bool
greylist_spec_valid(const void *value, const char **error_r)
{
	const char *spec = *(const char *const *)value;
	const char *colon = strchr(spec, ':');

	if (colon != NULL && colon != spec && colon[1] != '\0')
		return true;
	*error_r = "expected TYPE:NAME (lmdb:PATH or redis:ADDRESS)";
	return false;
}

#define GREYLIST_OFF(f)	offsetof(struct greylist_config, f)

static const struct conf_setting greylist_settings[] = {
	{ .name = "store", .type = CONF_STRING,
	  .def = "lmdb:/var/lib/postern/greylist.lmdb",
	  .offset = GREYLIST_OFF(store),
	  .validate = greylist_spec_valid,
	  .help = "lmdb:PATH, redis:unix:PATH or redis:HOST[:PORT]" },
	{ .name = "key_prefix", .type = CONF_STRING,
	  .def = "postern:greylist:", .offset = GREYLIST_OFF(key_prefix),
	  .help = "Redis: put before every key" },
	{ .name = "store_timeout", .type = CONF_DURATION, .def = "1s",
	  .offset = GREYLIST_OFF(store_timeout),
	  .help = "Redis: connect and command timeout" },
	{ .name = "store_connections", .type = CONF_UINT, .def = "4",
	  .offset = GREYLIST_OFF(store_connections),
	  .help = "Redis: connections kept for concurrent messages" },
	{ .name = "redis_password", .type = CONF_STRING, .def = "",
	  .offset = GREYLIST_OFF(redis_password),
	  .help = "Redis: AUTH password (empty: none)" },
	{ .name = "redis_database", .type = CONF_UINT, .def = "0",
	  .offset = GREYLIST_OFF(redis_database),
	  .help = "Redis: database number" },
	{ .name = "lmdb_map_size", .type = CONF_SIZE, .def = "1G",
	  .offset = GREYLIST_OFF(lmdb_map_size),
	  .help = "LMDB: largest size of the store" },
	{ .name = "delay", .type = CONF_DURATION, .def = "5m",
	  .offset = GREYLIST_OFF(delay), .min = "0s",
	  .help = "how long a new triplet is refused" },
	{ .name = "retry_window", .type = CONF_DURATION, .def = "2d",
	  .offset = GREYLIST_OFF(retry_window),
	  .help = "the first retry must come within this" },
	{ .name = "max_age", .type = CONF_DURATION, .def = "35d",
	  .offset = GREYLIST_OFF(max_age),
	  .help = "a passed triplet or identity unseen this long is "
	  "forgotten" },
	{ .name = "auto_whitelist_clients", .type = CONF_UINT, .def = "5",
	  .offset = GREYLIST_OFF(auto_whitelist_clients),
	  .help = "an identity that passed this many triplets is no longer "
	  "greylisted (0: never)" },
	{ .name = "ipv4_prefix", .type = CONF_UINT, .def = "24",
	  .offset = GREYLIST_OFF(ipv4_prefix),
	  .min = "1", .max = "32",
	  .help = "IPv4 client network bits (32: exact address)" },
	{ .name = "ipv6_prefix", .type = CONF_UINT, .def = "64",
	  .offset = GREYLIST_OFF(ipv6_prefix),
	  .min = "1", .max = "128",
	  .help = "IPv6 client network bits (128: exact address)" },
	{ .name = "proven_sender", .type = CONF_LIST, .def = "spf, dkim",
	  .offset = GREYLIST_OFF(proven_sender),
	  .help = "what makes the sender's domain the identity: spf, dkim" },
	{ .name = "at_data", .type = CONF_LIST, .def = "",
	  .offset = GREYLIST_OFF(at_data),
	  .help = "decided at end of DATA: null_sender, "
	  "multiple_recipients, unproven" },
	{ .name = "skip_clients", .type = CONF_TABLE, .def = NULL,
	  .offset = GREYLIST_OFF(skip_clients),
	  .help = "clients never greylisted (name or address lookups)" },
	{ .name = "skip_senders", .type = CONF_TABLE, .def = NULL,
	  .offset = GREYLIST_OFF(skip_senders),
	  .help = "senders never greylisted" },
	{ .name = "skip_recipients", .type = CONF_TABLE, .def = NULL,
	  .offset = GREYLIST_OFF(skip_recipients),
	  .help = "recipients never greylisted" },
	{ .name = "only_if", .type = CONF_LIST, .def = "",
	  .offset = GREYLIST_OFF(only_if),
	  .help = "greylist only when score>=N or dnsbl>=N (empty: always)" },
	{ .name = "reply_code", .type = CONF_UINT, .def = "451",
	  .offset = GREYLIST_OFF(reply_code),
	  .min = "400", .max = "499",
	  .help = "reply code for a greylisted recipient" },
	{ .name = "reply_text", .type = CONF_STRING,
	  .def = "Greylisted, please try again in %d seconds",
	  .offset = GREYLIST_OFF(reply_text),
	  .help = "reply text: %d = seconds to wait, %r = recipient domain" },
	{ .name = "add_header", .type = CONF_BOOL, .def = "yes",
	  .offset = GREYLIST_OFF(add_header),
	  .help = "X-Greylist header on messages that were delayed" },
	{ .name = NULL },
};

/* greylist_read_settings - see greylist.h */
bool
greylist_read_settings(struct conf_file *cf, const char *section,
    struct arena *arena, struct greylist_settings *r,
    struct conf_errors *err)
{
	struct greylist_config *cfg = arena_alloc(arena, sizeof(*cfg));

	memset(cfg, 0, sizeof(*cfg));
	if (conf_apply(cf, section, greylist_settings, cfg, arena, err) > 0)
		return false;
	*r = (struct greylist_settings){
		.store = cfg->store,
		.opt = greylist_store_opt(cfg),
		.auto_whitelist_clients = cfg->auto_whitelist_clients,
	};
	return true;
}

const struct policy_module greylist_module = {
	.name = "greylist",
	.summary = "greylisting on an embedded LMDB or a shared Redis store",
	.settings = greylist_settings,
	.config_size = sizeof(struct greylist_config),
	.init = greylist_init,
	.deinit = greylist_deinit,
	.msg_size = sizeof(struct greylist_msg),
	.stage = {
		[POLICY_RCPT] = greylist_rcpt,
		[POLICY_HEADER] = greylist_header,
		[POLICY_EOM] = greylist_eom,
	},
	.flags = POLICY_ADDS_HEADERS,
	.on_failure = POLICY_FAIL_ACCEPT,
};
