/*
 * dkim.c - DKIM signing and verification (see dkim.h)
 *
 * The libopendkim adapter: no libopendkim type leaves this file. One
 * DKIM_LIB per loaded config, shared by all threads (libopendkim allows
 * that once its options are set); one DKIM handle per signature made and
 * one for verification per message, each used by one thread at a time.
 *
 * Flow of a message: HEADER keeps every header field (name and value as
 * the MTA sent them, leading space included: simple canonicalization
 * needs the bytes) and counts From fields. EOH decides: a client that
 * may sign gets one signing handle per key the tables select for the
 * From address; everyone else gets a verifying handle. Each handle is
 * fed the kept headers, then every body chunk at BODY; EOM finishes
 * them. Handles are freed by a cleanup on the message arena, so an
 * abort, a dropped connection or an earlier module's verdict frees them
 * as surely as the end of the message.
 *
 * DNS: libopendkim asks through four hooks; start() does the whole query
 * through lib/dns (blocking, with lib/dns's timeout and cache) and copies
 * the answer packet, wait() hands it over, cancel() frees it.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <opendkim/dkim.h>

#include "authres.h"
#include "buf.h"
#include "dkim.h"
#include "dkim_key.h"
#include "dkim_tables.h"
#include "dns.h"
#include "hdrval.h"
#include "log.h"
#include "lookup.h"
#include "mem.h"

#define DK_MAX_SIGNERS	8	/* signatures made per message */

enum dk_act {
	DK_ACT_NONE, DK_ACT_REJECT, DK_ACT_DEFER, DK_ACT_QUARANTINE,
	DK_ACT_FAILURE,
};

static const char *const dk_act_names[] = {
	[DK_ACT_NONE] = "none",
	[DK_ACT_REJECT] = "reject",
	[DK_ACT_DEFER] = "defer",
	[DK_ACT_QUARANTINE] = "quarantine",
	[DK_ACT_FAILURE] = "failure",
	NULL,
};

enum dk_ltag { DK_LTAG_POLICY, DK_LTAG_ACCEPT };

static const char *const dk_ltag_names[] = {
	[DK_LTAG_POLICY] = "policy",
	[DK_LTAG_ACCEPT] = "accept",
	NULL,
};

enum dk_signfail { DK_SF_DEFER, DK_SF_ACCEPT };

static const char *const dk_signfail_names[] = {
	[DK_SF_DEFER] = "defer",
	[DK_SF_ACCEPT] = "accept",
	NULL,
};

/* canonicalization names, OpenDKIM's spelling ("relaxed" alone is
 * relaxed/simple, RFC 6376 §3.5) */
static const char *const dk_canon_names[] = {
	"relaxed/relaxed", "relaxed/simple", "simple/relaxed",
	"simple/simple", "relaxed", "simple", NULL,
};

static const struct {
	dkim_canon_t header, body;
} dk_canons[] = {
	{ DKIM_CANON_RELAXED, DKIM_CANON_RELAXED },
	{ DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE },
	{ DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED },
	{ DKIM_CANON_SIMPLE, DKIM_CANON_SIMPLE },
	{ DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE },
	{ DKIM_CANON_SIMPLE, DKIM_CANON_SIMPLE },
};

/* A-R result of a signature, and the worst outcome it counts as */
enum dk_res {
	DKR_PASS, DKR_FAIL, DKR_POLICY, DKR_NEUTRAL,
	DKR_TEMPERROR, DKR_PERMERROR,
};

static const char *const dk_res_names[] = {
	[DKR_PASS] = "pass",
	[DKR_FAIL] = "fail",
	[DKR_POLICY] = "policy",
	[DKR_NEUTRAL] = "neutral",
	[DKR_TEMPERROR] = "temperror",
	[DKR_PERMERROR] = "permerror",
};

/* What libopendkim's per-signature errors mean (RFC 8601 §2.7.1): a key
 * that cannot be had now is temperror, no usable key is permerror, a
 * signature that does not verify is fail, a signature that cannot be
 * parsed is neutral. Errors not listed are neutral. */
static const struct {
	int error;
	enum dk_res res;
	const char *why;
} dk_errors[] = {
	{ DKIM_SIGERROR_KEYFAIL, DKR_TEMPERROR, "key lookup failed" },
	{ DKIM_SIGERROR_NOKEY, DKR_PERMERROR, "no key" },
	{ DKIM_SIGERROR_DNSSYNTAX, DKR_PERMERROR, "bad key record" },
	{ DKIM_SIGERROR_MULTIREPLY, DKR_PERMERROR, "several key records" },
	{ DKIM_SIGERROR_KEYDECODE, DKR_PERMERROR, "key not decodable" },
	{ DKIM_SIGERROR_KEYVERSION, DKR_PERMERROR, "unknown key version" },
	{ DKIM_SIGERROR_KEYTYPEUNKNOWN, DKR_PERMERROR, "unknown key type" },
	{ DKIM_SIGERROR_KEYTYPEMISSING, DKR_PERMERROR, "key type missing" },
	{ DKIM_SIGERROR_KEYUNKNOWNHASH, DKR_PERMERROR, "unknown key hash" },
	{ DKIM_SIGERROR_KEYHASHMISMATCH, DKR_PERMERROR,
	  "key does not allow the hash" },
	{ DKIM_SIGERROR_NOTEMAILKEY, DKR_PERMERROR, "not an e-mail key" },
	{ DKIM_SIGERROR_KEYREVOKED, DKR_FAIL, "key revoked" },
	{ DKIM_SIGERROR_BADSIG, DKR_FAIL, "signature did not verify" },
	{ DKIM_SIGERROR_EXPIRED, DKR_FAIL, "signature expired" },
	{ DKIM_SIGERROR_FUTURE, DKR_FAIL, "signature in the future" },
	{ DKIM_SIGERROR_TOOLARGE_L, DKR_FAIL, "l= beyond the body" },
	{ DKIM_SIGERROR_SUBDOMAIN, DKR_FAIL, "unauthorized subdomain" },
	{ DKIM_SIGERROR_KEYTOOSMALL, DKR_POLICY, "key too small" },
	{ DKIM_SIGERROR_INVALID_A, DKR_NEUTRAL, "unknown algorithm" },
	{ DKIM_SIGERROR_OK, DKR_NEUTRAL, NULL },
};

struct dk_config {
	/* settings */
	bool verify;
	bool sign;
	const char *key_table;
	const char *signing_table;
	const char *domain;
	const char *selector;
	const char *key_file;
	const char *internal_hosts;
	int canon;
	struct conf_list sign_headers;
	struct conf_list oversign_headers;
	bool multiple_signatures;
	unsigned long max_signatures;
	unsigned long min_key_bits;
	double signature_ttl;
	double clock_drift;
	int on_badsig, on_nokey, on_dnserror;
	int length_tag;
	int sign_failure;

	/* made by init */
	DKIM_LIB *lib;
	struct dkim_tables *tables;
	struct dkim_key key;		/* key_file */
	bool have_key;
	struct table *internal;
	const char **signhdrs, **oversignhdrs;
};

struct dk_hdr {
	const char *name, *value;
};

struct dk_msg {
	struct dk_hdr *hdrs;
	size_t nhdrs, hdr_cap;
	size_t nfrom;
	const char *from;		/* the first From field's value */
	bool decided;			/* EOH seen */
	DKIM *verify;
	DKIM *sign[DK_MAX_SIGNERS];
	struct dkim_signer signer[DK_MAX_SIGNERS];
	size_t nsign;
	const char *broken;		/* a handle failed: why (static) */
};

/* One DNS query handed to libopendkim. */
struct dk_query {
	int status;			/* DKIM_DNS_* */
	size_t bytes;
	int dnssec;
};

/* --- DNS hooks ---------------------------------------------------------- */

/* dk_dns_init - nothing to set up: the resolver belongs to the config */
static int
dk_dns_init(void **srv)
{
	(void)srv;
	return DKIM_DNS_SUCCESS;
}

/* dk_dns_close - nothing to tear down (see dk_dns_init) */
static void
dk_dns_close(void *srv)
{
	(void)srv;
}

/* dk_dns_nxdomain - an NXDOMAIN reply for a name lib/dns or we refuse
 * without asking (not a usable DNS name): no key, not a DNS failure.
 * libopendkim reads the question back, so the reply carries one; a name
 * that cannot be put in wire form is asked as the root. */
static size_t
dk_dns_nxdomain(const unsigned char *name, int type, unsigned char *buf,
    size_t buflen)
{
	static const unsigned char hdr[12] = { 0, 0, 0x81, 0x83, 0, 1 };
	unsigned char wire[256];
	size_t n = 0, start = 0, len = strlen((const char *)name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && name[i] != '.')
			continue;
		if (i == start || i - start > 63 || n + 1 + (i - start) + 1 >
		    sizeof(wire)) {
			n = 0;		/* empty or long label: the root */
			break;
		}
		wire[n++] = (unsigned char)(i - start);
		memcpy(wire + n, name + start, i - start);
		n += i - start;
		start = i + 1;
	}
	wire[n++] = 0;
	if (buflen < sizeof(hdr) + n + 4)
		return 0;
	memcpy(buf, hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), wire, n);
	buf[sizeof(hdr) + n] = (unsigned char)(type >> 8);
	buf[sizeof(hdr) + n + 1] = (unsigned char)type;
	buf[sizeof(hdr) + n + 2] = 0;
	buf[sizeof(hdr) + n + 3] = 1;		/* class IN */
	return sizeof(hdr) + n + 4;
}

/* dk_dns_hostname - a key name made of letters, digits, '-', '_' and
 * dots only: s= and d= come from the message, and anything else cannot
 * name a key (a resolver would refuse it, which must not read as a DNS
 * failure) */
static bool
dk_dns_hostname(const unsigned char *name)
{
	for (; *name != '\0'; name++)
		if (!isalnum(*name) && *name != '-' && *name != '_' &&
		    *name != '.')
			return false;
	return true;
}

/* dk_dns_start - the whole query, now; the answer packet into buf */
static int
dk_dns_start(void *srv, int type, unsigned char *query, unsigned char *buf,
    size_t buflen, void **qh)
{
	struct dk_query *q = xcalloc(1, sizeof(*q));
	struct arena *arena = arena_create();
	struct dns_answer a;

	q->status = DKIM_DNS_ERROR;
	q->dnssec = DKIM_DNSSEC_UNKNOWN;
	if (!dk_dns_hostname(query)) {
		q->bytes = dk_dns_nxdomain(query, type, buf, buflen);
		q->status = q->bytes > 0 ? DKIM_DNS_SUCCESS : DKIM_DNS_ERROR;
		arena_destroy(&arena);
		*qh = q;
		return 0;
	}
	switch (dns_query(srv, (const char *)query, type, arena, &a)) {
	case DNS_FOUND:
	case DNS_NOTFOUND:
		if (a.packet != NULL && a.packet_len > 0 &&
		    a.packet_len <= buflen) {
			memcpy(buf, a.packet, a.packet_len);
			q->bytes = a.packet_len;
		} else if (a.packet == NULL)
			q->bytes = dk_dns_nxdomain(query, type, buf, buflen);
		else
			break;		/* larger than libopendkim's buffer */
		if (q->bytes > 0)
			q->status = DKIM_DNS_SUCCESS;
		q->dnssec = a.secure ? DKIM_DNSSEC_SECURE :
		    DKIM_DNSSEC_INSECURE;
		break;
	case DNS_ERROR:
		break;
	}
	arena_destroy(&arena);
	*qh = q;
	return 0;
}

/* dk_dns_wait - the answer start() already has */
static int
dk_dns_wait(void *srv, void *qh, struct timeval *timeout, size_t *bytes,
    int *error, int *dnssec)
{
	struct dk_query *q = qh;

	(void)srv;
	(void)timeout;
	if (bytes != NULL)
		*bytes = q->bytes;
	if (error != NULL)
		*error = 0;
	if (dnssec != NULL)
		*dnssec = q->dnssec;
	return q->status;
}

/* dk_dns_cancel - libopendkim is done with a query */
static int
dk_dns_cancel(void *srv, void *qh)
{
	(void)srv;
	free(qh);
	return DKIM_DNS_SUCCESS;
}

/* --- helpers ------------------------------------------------------------ */

/* dk_free_handle - arena cleanup of one libopendkim handle */
static void
dk_free_handle(void *d)
{
	dkim_free(d);
}

/* dk_hdr_array - a conf list as libopendkim's NULL-terminated array */
static const char **
dk_hdr_array(struct arena *arena, const struct conf_list *l)
{
	const char **a = arena_alloc(arena, (l->n + 1) * sizeof(*a));

	for (size_t i = 0; i < l->n; i++)
		a[i] = l->items[i];
	return a;
}

/* dk_from_address - the one address of a From field as local part and
 * lower-case domain; false for no address, several addresses, a group
 * or an address without a domain (such a message is not signed) */
static bool
dk_from_address(struct arena *arena, const char *value,
    const char **local_r, const char **domain_r)
{
	struct buf plain = { 0 }, angle = { 0 };
	struct buf *to = &plain;
	const char *addr, *at;
	bool quoted = false, ok = false;
	int depth = 0, nangle = 0;
	char *d;
	size_t dl;

	for (const char *p = value; *p != '\0'; p++) {
		if (quoted) {
			if (*p == '\\' && p[1] != '\0')
				buf_putc(to, *++p);
			else if (*p == '"')
				quoted = false;
			else
				buf_putc(to, *p);
			continue;
		}
		if (depth > 0) {	/* a comment, possibly nested */
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
			continue;
		}
		switch (*p) {
		case '(':
			depth++;
			continue;
		case '"':
			quoted = true;
			continue;
		case '<':
			if (nangle++ > 0)
				goto out;
			to = &angle;
			continue;
		case '>':
			if (to != &angle)
				goto out;
			to = &plain;
			continue;
		case ',':
		case ';':
		case ':':
			if (to != &angle)
				goto out;	/* a list or a group */
			break;
		default:
			if (isspace((unsigned char)*p))
				continue;
		}
		buf_putc(to, *p);
	}
	if (quoted || depth > 0 || to == &angle)
		goto out;
	addr = nangle > 0 ? buf_cstr(&angle) : buf_cstr(&plain);
	at = strrchr(addr, '@');
	if (at == NULL || at == addr || at[1] == '\0')
		goto out;
	*local_r = arena_strndup(arena, addr, (size_t)(at - addr));
	d = arena_strdup(arena, at + 1);
	dl = strlen(d);
	if (d[dl - 1] == '.')
		d[--dl] = '\0';
	for (size_t i = 0; i < dl; i++)
		d[i] = (char)tolower((unsigned char)d[i]);
	*domain_r = d;
	ok = dl > 0;
out:
	buf_free(&plain);
	buf_free(&angle);
	return ok;
}

/* dk_is_signer - whether this client's mail is signed: internal hosts
 * (internal_hosts, else mynetworks) and authenticated clients; -1 on a
 * lookup error */
static int
dk_is_signer(const struct dk_config *cfg, struct txn *txn)
{
	const char *value;

	if (txn_auth_user(txn) != NULL)
		return 1;
	if (cfg->internal == NULL) {
		switch (txn_in_mynetworks(txn)) {
		case TABLE_FOUND:
			return 1;
		case TABLE_NOTFOUND:
			return 0;
		default:
			return -1;
		}
	}
	switch (lookup_client(cfg->internal, txn_client_name(txn),
	    txn_client_addr(txn), txn_msg_arena(txn), &value)) {
	case TABLE_FOUND:
		return 1;
	case TABLE_NOTFOUND:
		return 0;
	default:
		return -1;
	}
}

/* dk_lib_broken - a status that means libopendkim itself failed (as
 * opposed to judging hostile input, which verification must survive) */
static bool
dk_lib_broken(DKIM_STAT st)
{
	return st == DKIM_STAT_INTERNAL || st == DKIM_STAT_NORESOURCE ||
	    st == DKIM_STAT_INVALID;
}

/* dk_feed_headers - every kept header, then the end of headers; false
 * (with msg->broken) when the handle cannot go on. A signing handle must
 * take everything; a verifying one may find the input malformed, which
 * its signatures' results will say. */
static bool
dk_feed_headers(struct dk_msg *msg, DKIM *d, bool signing)
{
	struct buf b = { 0 };
	DKIM_STAT st;
	bool ok = true;

	for (size_t i = 0; i < msg->nhdrs && ok; i++) {
		buf_reset(&b);
		buf_printf(&b, "%s:", msg->hdrs[i].name);
		/* MTAs fold header values with a bare LF; libopendkim parses
		 * the signature's own field wrongly unless folds are CRLF
		 * (its FIXCRLF flag covers canonicalization only) */
		for (const char *p = msg->hdrs[i].value; *p != '\0'; p++) {
			if (*p == '\n' && (p == msg->hdrs[i].value ||
			    p[-1] != '\r'))
				buf_putc(&b, '\r');
			buf_putc(&b, *p);
		}
		st = dkim_header(d, (u_char *)buf_cstr(&b), b.len);
		if (st != DKIM_STAT_OK && (signing || dk_lib_broken(st))) {
			msg->broken = "a header field was refused";
			ok = false;
		}
	}
	buf_free(&b);
	if (ok) {
		st = dkim_eoh(d);
		if (st != DKIM_STAT_OK && (signing || dk_lib_broken(st))) {
			msg->broken = "the header was refused";
			ok = false;
		}
	}
	return ok;
}

/* dk_prescreen - only the first max_signatures are checked; the rest
 * are reported as policy (a bound on the work a message can cause) */
static DKIM_CBSTAT
dk_prescreen(DKIM *d, DKIM_SIGINFO **sigs, int nsigs)
{
	const struct dk_config *cfg = dkim_get_user_context(d);

	for (int i = (int)cfg->max_signatures; i < nsigs; i++)
		dkim_sig_ignore(sigs[i]);
	return DKIM_CBSTAT_CONTINUE;
}

/* --- stages ------------------------------------------------------------- */

/* dk_header_stage - keep a header field for the handles made at EOH */
static enum policy_status
dk_header_stage(const struct policy_call *call, struct verdict *v)
{
	struct dk_msg *msg = call->msg;
	struct arena *arena = txn_msg_arena(call->txn);
	const char *name = txn_header_name(call->txn);
	const char *value = txn_header_raw(call->txn);

	(void)v;
	if (msg == NULL || name == NULL)
		log_panic("dkim: HEADER stage without message or header");
	if (msg->nhdrs == msg->hdr_cap) {
		size_t cap = msg->hdr_cap ? msg->hdr_cap * 2 : 32;
		struct dk_hdr *n = arena_alloc(arena, cap * sizeof(*n));

		if (msg->nhdrs > 0)
			memcpy(n, msg->hdrs, msg->nhdrs * sizeof(*n));
		msg->hdrs = n;
		msg->hdr_cap = cap;
	}
	msg->hdrs[msg->nhdrs].name = arena_strdup(arena, name);
	msg->hdrs[msg->nhdrs].value = arena_strdup(arena,
	    value != NULL ? value : "");
	msg->nhdrs++;
	if (strcasecmp(name, "From") == 0 && msg->nfrom++ == 0)
		msg->from = msg->hdrs[msg->nhdrs - 1].value;
	return POLICY_DONE;
}

/* dk_start_signing - one signing handle per selected key */
static void
dk_start_signing(const struct dk_config *cfg, const struct policy_call
    *call, struct dk_msg *msg)
{
	struct arena *arena = txn_msg_arena(call->txn);
	const char *qid = txn_queue_id(call->txn);
	const char *local, *domain;
	size_t n = 0;

	if (msg->nfrom != 1 || !dk_from_address(arena, msg->from, &local,
	    &domain)) {
		log_msg(LOG_INFO, qid, "dkim: not signed: %s",
		    msg->nfrom == 0 ? "no From field" : msg->nfrom > 1 ?
		    "several From fields" : "no single From address");
		return;
	}
	if (cfg->tables != NULL)
		n = dkim_tables_select(cfg->tables, local, domain,
		    cfg->multiple_signatures, arena, msg->signer,
		    DK_MAX_SIGNERS);
	else if (cfg->have_key && strcasecmp(domain, cfg->domain) == 0) {
		msg->signer[0] = (struct dkim_signer){
			.keyname = "key_file", .domain = cfg->domain,
			.selector = cfg->selector, .key = &cfg->key,
		};
		n = 1;
	}
	if (n == 0) {
		log_msg(LOG_INFO, qid, "dkim: not signed: no key for %s",
		    domain);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct dkim_signer *s = &msg->signer[i];
		DKIM_STAT st;
		DKIM *d = dkim_sign(cfg->lib, (const u_char *)(qid != NULL ?
		    qid : "NOQUEUE"), NULL, (dkim_sigkey_t)s->key->pem,
		    (const u_char *)s->selector, (const u_char *)s->domain,
		    dk_canons[cfg->canon].header,
		    dk_canons[cfg->canon].body,
		    s->key->type == DKIM_KEY_ED25519 ?
		    DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256, -1, &st);

		if (d == NULL) {
			msg->broken = "cannot start a signature";
			return;
		}
		arena_cleanup(arena, dk_free_handle, d);
		msg->sign[msg->nsign++] = d;
		if (s->identity != NULL && dkim_set_signer(d,
		    (const u_char *)s->identity) != DKIM_STAT_OK) {
			msg->broken = "bad signer identity";
			return;
		}
		if (!dk_feed_headers(msg, d, true))
			return;
	}
}

/* dk_eoh_stage - sign or verify: make the handles, feed them the header */
static enum policy_status
dk_eoh_stage(const struct policy_call *call, struct verdict *v)
{
	const struct dk_config *cfg = call->config;
	struct dk_msg *msg = call->msg;
	struct arena *arena = txn_msg_arena(call->txn);
	const char *qid = txn_queue_id(call->txn);
	DKIM_STAT st;
	int signer;

	(void)v;
	msg->decided = true;
	if ((signer = dk_is_signer(cfg, call->txn)) < 0)
		return POLICY_FAILED;
	if (signer) {
		if (cfg->sign)
			dk_start_signing(cfg, call, msg);
		return POLICY_DONE;
	}
	if (!cfg->verify)
		return POLICY_DONE;
	msg->verify = dkim_verify(cfg->lib, (const u_char *)(qid != NULL ?
	    qid : "NOQUEUE"), NULL, &st);
	if (msg->verify == NULL) {
		msg->broken = "cannot start verifying";
		return POLICY_DONE;
	}
	arena_cleanup(arena, dk_free_handle, msg->verify);
	dkim_set_user_context(msg->verify, (void *)cfg);
	dk_feed_headers(msg, msg->verify, false);
	return POLICY_DONE;
}

/* dk_body_stage - one body chunk to every handle */
static enum policy_status
dk_body_stage(const struct policy_call *call, struct verdict *v)
{
	struct dk_msg *msg = call->msg;
	size_t len;
	const unsigned char *chunk = txn_body_chunk(call->txn, &len);

	(void)v;
	if (msg->broken != NULL || len == 0)
		return POLICY_DONE;
	if (msg->verify != NULL) {
		DKIM_STAT st = dkim_body(msg->verify, (u_char *)chunk, len);

		if (dk_lib_broken(st))
			msg->broken = "the body was refused";
	}
	for (size_t i = 0; i < msg->nsign; i++)
		if (dkim_body(msg->sign[i], (u_char *)chunk, len) !=
		    DKIM_STAT_OK)
			msg->broken = "the body was refused";
	return POLICY_DONE;
}

/* dk_sign_finish - each signature inserted at the top, CRs removed;
 * a message that cannot be signed is deferred (sign_failure) */
static enum policy_status
dk_sign_finish(const struct dk_config *cfg, const struct policy_call
    *call, struct dk_msg *msg, struct verdict *v)
{
	struct arena *arena = txn_msg_arena(call->txn);
	const char *qid = txn_queue_id(call->txn);
	struct buf names = { 0 };

	for (size_t i = 0; i < msg->nsign && msg->broken == NULL; i++) {
		u_char *sig = NULL;
		size_t len = 0;
		char *value, *o;

		if (dkim_eom(msg->sign[i], NULL) != DKIM_STAT_OK ||
		    dkim_getsighdr_d(msg->sign[i], strlen("DKIM-Signature: "),
		    &sig, &len) != DKIM_STAT_OK || sig == NULL) {
			msg->broken = "signing failed";
			break;
		}
		value = arena_alloc(arena, len + 1);
		o = value;
		for (size_t k = 0; k < len; k++)
			if (sig[k] != '\r')
				*o++ = (char)sig[k];
		*o = '\0';
		/* the last selected goes on top: the first stays first */
		txn_insert_header(call->txn, 0, "DKIM-Signature", value);
		buf_printf(&names, "%s%s/%s(%s)", i > 0 ? "," : "",
		    msg->signer[i].domain, msg->signer[i].selector,
		    dkim_key_type_name(msg->signer[i].key->type));
	}
	if (msg->broken != NULL) {
		buf_free(&names);
		log_msg(LOG_WARNING, qid, "dkim: cannot sign: %s",
		    msg->broken);
		if (cfg->sign_failure == DK_SF_ACCEPT) {
			v->reason = "dkim not signed (sign_failure=accept)";
			return POLICY_DONE;
		}
		v->action = VERDICT_DEFER;
		v->code = "451";
		v->xcode = "4.3.0";
		v->text = "cannot DKIM-sign the message, try again later";
		v->reason = arena_printf(arena, "dkim signing failed: %s",
		    msg->broken);
		return POLICY_DONE;
	}
	if (msg->nsign > 0) {
		v->reason = arena_printf(arena, "dkim signed %s",
		    buf_cstr(&names));
		log_msg(LOG_INFO, qid, "dkim: signed %s", buf_cstr(&names));
	}
	buf_free(&names);
	return POLICY_DONE;
}

/* dk_sig_alg - the a= tag as written: libopendkim's own name for the
 * algorithm defaults to rsa-sha1 for signatures it stopped parsing
 * (expired ones, for instance) */
static const u_char *
dk_sig_alg(DKIM_SIGINFO *sig)
{
	return dkim_sig_gettagvalue(sig, false, (u_char *)"a");
}

/* dk_sig_outcome - one signature's result and why (static text). What
 * RFC 8301 forbids (rsa-sha1, RSA keys under min_key_bits) is policy
 * whether or not it verified; so is a pass the message's shape makes
 * unsafe (not exactly one From field, an l= tag). */
static enum dk_res
dk_sig_outcome(const struct dk_config *cfg, const struct dk_msg *msg,
    DKIM *d, DKIM_SIGINFO *sig, const char **why_r)
{
	const u_char *alg = dk_sig_alg(sig);
	unsigned int bits = 0;
	ssize_t signlen = -1;
	int err;
	size_t i;

	*why_r = NULL;
	if ((dkim_sig_getflags(sig) & DKIM_SIGFLAG_IGNORE) != 0) {
		*why_r = "over the signature limit";
		return DKR_POLICY;
	}
	if (alg != NULL && strcasecmp((const char *)alg, "rsa-sha1") == 0) {
		*why_r = "rsa-sha1 not accepted";
		return DKR_POLICY;
	}
	if (alg != NULL && strncasecmp((const char *)alg, "rsa-", 4) == 0 &&
	    dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK && bits > 0 &&
	    bits < cfg->min_key_bits) {
		*why_r = "key too small";
		return DKR_POLICY;
	}
	if (DKIM_SIG_CHECK(sig)) {
		if (msg->nfrom != 1) {
			*why_r = msg->nfrom == 0 ? "no From field" :
			    "several From fields";
			return DKR_POLICY;
		}
		if (cfg->length_tag == DK_LTAG_POLICY &&
		    dkim_sig_getcanonlen(d, sig, NULL, NULL, &signlen) ==
		    DKIM_STAT_OK && signlen >= 0) {
			*why_r = "l= tag: body partly unsigned";
			return DKR_POLICY;
		}
		return DKR_PASS;
	}
	if (dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH) {
		*why_r = "body hash did not verify";
		return DKR_FAIL;
	}
	err = dkim_sig_geterror(sig);
	for (i = 0; dk_errors[i].error != DKIM_SIGERROR_OK; i++)
		if (dk_errors[i].error == err)
			return *why_r = dk_errors[i].why, dk_errors[i].res;
	*why_r = err != DKIM_SIGERROR_OK ? "bad signature syntax" :
	    "not verified";
	return DKR_NEUTRAL;
}


/* dk_sig_authres - one "dkim=" fragment for a signature */
static void
dk_sig_authres(struct arena *arena, DKIM *d, DKIM_SIGINFO *sig,
    enum dk_res res, const char *why, struct buf *b)
{
	const u_char *domain = dkim_sig_getdomain(sig);
	const u_char *selector = dkim_sig_getselector(sig);
	const u_char *alg = dk_sig_alg(sig);
	unsigned int bits = 0;
	u_char identity[256];
	char sub[16];
	size_t sublen = sizeof(sub);

	buf_printf(b, "dkim=%s", dk_res_names[res]);
	/* libopendkim knows the size of RSA keys only */
	if (alg != NULL && strcasecmp((const char *)alg,
	    "ed25519-sha256") == 0 && (DKIM_SIG_CHECK(sig) ||
	    dkim_sig_geterror(sig) == DKIM_SIGERROR_BADSIG))
		bits = 256;
	else if (dkim_sig_getkeysize(sig, &bits) != DKIM_STAT_OK)
		bits = 0;
	if (bits > 0)
		buf_printf(b, " (%u-bit key%s%s)", bits, why != NULL ?
		    "; " : "", why != NULL ? why : "");
	else if (why != NULL)
		buf_printf(b, " (%s)", why);
	if (domain != NULL)
		buf_printf(b, " header.d=%s",
		    authres_quote(arena, (const char *)domain));
	if (dkim_sig_getidentity(d, sig, identity, sizeof(identity)) ==
	    DKIM_STAT_OK && identity[0] != '\0') {
		buf_puts(b, " header.i=");
		hdrval_address(b, (const char *)identity);
	}
	if (selector != NULL)
		buf_printf(b, " header.s=%s",
		    authres_quote(arena, (const char *)selector));
	if (alg != NULL)
		buf_printf(b, " header.a=%s",
		    authres_quote(arena, (const char *)alg));
	/* 8 leading characters of b= (RFC 6008) */
	if (dkim_get_sigsubstring(d, sig, sub, &sublen) == DKIM_STAT_OK &&
	    sublen > 0 && sublen < sizeof(sub)) {
		sub[sublen] = '\0';
		buf_printf(b, " header.b=%s", authres_quote(arena, sub));
	}
}

/* dk_act - the verdict for an action on a verification outcome */
static enum policy_status
dk_act(int action, const char *what, struct verdict *v)
{
	switch (action) {
	case DK_ACT_REJECT:
		v->action = VERDICT_REJECT;
		v->code = "550";
		v->xcode = "5.7.20";
		v->text = what;
		break;
	case DK_ACT_DEFER:
		v->action = VERDICT_DEFER;
		v->code = "451";
		v->xcode = "4.7.5";
		v->text = what;
		break;
	case DK_ACT_QUARANTINE:
		v->action = VERDICT_QUARANTINE;
		v->text = what;
		break;
	case DK_ACT_FAILURE:
		return POLICY_FAILED;
	default:
		break;
	}
	return POLICY_DONE;
}

/* dk_verify_finish - results of every signature: A-R, the outcomes
 * for DMARC, and an action when none passed */
static enum policy_status
dk_verify_finish(const struct dk_config *cfg, const struct policy_call
    *call, struct dk_msg *msg, struct verdict *v)
{
	struct arena *arena = txn_msg_arena(call->txn);
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;
	bool seen[DKR_PERMERROR + 1] = { false };
	struct buf b = { 0 };
	DKIM_STAT st;

	st = dkim_eom(msg->verify, NULL);
	if (dk_lib_broken(st)) {
		log_msg(LOG_WARNING, txn_queue_id(call->txn),
		    "dkim: cannot verify: %s", dkim_getresultstr(st));
		return POLICY_FAILED;
	}
	if (st == DKIM_STAT_NOSIG || dkim_getsiglist(msg->verify, &sigs,
	    &nsigs) != DKIM_STAT_OK || nsigs == 0)
		return POLICY_DONE;	/* not signed: nothing to say */
	for (int i = 0; i < nsigs; i++) {
		const char *why;
		enum dk_res r = dk_sig_outcome(cfg, msg, msg->verify,
		    sigs[i], &why);
		const u_char *d = dkim_sig_getdomain(sigs[i]);
		const u_char *s = dkim_sig_getselector(sigs[i]);

		seen[r] = true;
		if (i > 0)
			buf_puts(&b, ";\n\t");
		dk_sig_authres(arena, msg->verify, sigs[i], r, why, &b);
		if (d != NULL) {
			char *dom = arena_strdup(arena, (const char *)d);

			for (char *p = dom; *p != '\0'; p++)
				*p = (char)tolower((unsigned char)*p);
			txn_add_dkim(call->txn, &(struct txn_dkim){
				.result = dk_res_names[r],
				.domain = dom,
				.selector = s != NULL ? arena_strdup(arena,
				    (const char *)s) : "",
			});
		}
	}
	v->authres = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	if (seen[DKR_PASS]) {
		v->reason = "dkim pass";
		return POLICY_DONE;
	}
	if (seen[DKR_TEMPERROR]) {
		v->reason = "dkim temperror";
		return dk_act(cfg->on_dnserror,
		    "DKIM key lookup failed, try again later", v);
	}
	if (seen[DKR_FAIL]) {
		v->reason = "dkim fail";
		return dk_act(cfg->on_badsig,
		    "DKIM signature verification failed", v);
	}
	if (seen[DKR_PERMERROR]) {
		v->reason = "dkim permerror";
		return dk_act(cfg->on_nokey, "no usable DKIM key", v);
	}
	v->reason = "dkim no passing signature";
	return POLICY_DONE;
}

/* dk_eom_stage - finish signing or verifying */
static enum policy_status
dk_eom_stage(const struct policy_call *call, struct verdict *v)
{
	const struct dk_config *cfg = call->config;
	struct dk_msg *msg = call->msg;

	if (msg == NULL)
		log_panic("dkim: EOM stage without message state");
	if (!msg->decided) {
		/* no EOH event (a message without a header): decide now */
		enum policy_status st = dk_eoh_stage(call, v);

		if (st != POLICY_DONE)
			return st;
	}
	if (msg->nsign > 0 || (msg->broken != NULL && msg->verify == NULL))
		return dk_sign_finish(cfg, call, msg, v);
	if (msg->verify == NULL)
		return POLICY_DONE;
	if (msg->broken != NULL) {
		log_msg(LOG_WARNING, txn_queue_id(call->txn),
		    "dkim: cannot verify: %s", msg->broken);
		return POLICY_FAILED;
	}
	return dk_verify_finish(cfg, call, msg, v);
}

/* --- init ----------------------------------------------------------------- */

/* dk_where - "FILE:LINE: " of a setting, or "" */
static void
dk_where(const struct policy_init *pi, const char *key, struct buf *err)
{
	const struct conf_entry *e = pi->cf != NULL ?
	    conf_find(pi->cf, pi->section, key) : NULL;

	if (e != NULL)
		buf_printf(err, "%s:%d: ", e->file, e->line);
}

/* dk_setopt - one library option; a failure is a bug or a broken
 * library, not a config problem */
static void
dk_setopt(DKIM_LIB *lib, dkim_opts_t opt, void *value, size_t len)
{
	if (dkim_options(lib, DKIM_OP_SETOPT, opt, value, len) !=
	    DKIM_STAT_OK)
		log_fatal("dkim: libopendkim refused option %d", (int)opt);
}

/* dk_init_keys - the signing keys: tables or key_file */
static void
dk_init_keys(struct policy_init *pi, struct dk_config *cfg,
    struct buf *err)
{
	char *why = NULL;

	if ((cfg->key_table == NULL) != (cfg->signing_table == NULL)) {
		dk_where(pi, cfg->key_table != NULL ? "key_table" :
		    "signing_table", err);
		buf_puts(err, "key_table and signing_table go together\n");
		return;
	}
	if (cfg->key_table != NULL) {
		if (cfg->key_file != NULL) {
			dk_where(pi, "key_file", err);
			buf_puts(err, "key_file and key_table exclude each "
			    "other\n");
		}
		if (!dkim_tables_load(pi->arena, cfg->key_table,
		    cfg->signing_table, &cfg->tables, &why)) {
			buf_puts(err, why);
			if (why[0] != '\0' && why[strlen(why) - 1] != '\n')
				buf_putc(err, '\n');
		}
		free(why);
		return;
	}
	if (cfg->key_file == NULL && cfg->domain == NULL &&
	    cfg->selector == NULL)
		return;
	if (cfg->key_file == NULL || cfg->domain == NULL ||
	    cfg->selector == NULL) {
		dk_where(pi, cfg->key_file != NULL ? "key_file" :
		    cfg->domain != NULL ? "domain" : "selector", err);
		buf_puts(err, "domain, selector and key_file go together\n");
		return;
	}
	if (!dkim_key_load(pi->arena, cfg->key_file, &cfg->key, &why)) {
		dk_where(pi, "key_file", err);
		buf_printf(err, "%s\n", why);
		free(why);
		return;
	}
	cfg->have_key = true;
}

/* dk_init - keys, tables, and the library with our DNS hooks */
static bool
dk_init(struct policy_init *pi, char **error_r)
{
	struct dk_config *cfg = pi->config;
	struct dns *dns = pi->globals != NULL ? pi->globals->dns : NULL;
	struct buf err = { 0 };
	unsigned int flags = DKIM_LIBFLAGS_FIXCRLF | DKIM_LIBFLAGS_BADSIGHANDLES;
	unsigned int bits = (unsigned int)cfg->min_key_bits;
	uint64_t drift;
	char *why = NULL;

	if (dns == NULL && cfg->verify)
		buf_puts(&err, "dkim: no DNS resolver configured\n");
	if (cfg->max_signatures == 0 || cfg->max_signatures > 100) {
		dk_where(pi, "max_signatures", &err);
		buf_puts(&err, "max_signatures: must be from 1 to 100\n");
	}
	if (cfg->min_key_bits < 1024) {
		dk_where(pi, "min_key_bits", &err);
		buf_puts(&err, "min_key_bits: under 1024 is refused "
		    "(RFC 8301)\n");
	}
	dk_init_keys(pi, cfg, &err);
	if (cfg->internal_hosts != NULL &&
	    (cfg->internal = table_open(cfg->internal_hosts, &why)) ==
	    NULL) {
		dk_where(pi, "internal_hosts", &err);
		buf_printf(&err, "internal_hosts: table %s: %s\n",
		    cfg->internal_hosts, why != NULL ? why : "cannot open");
		free(why);
	}
	if (err.len > 0) {
		table_close(&cfg->internal);
		*error_r = buf_steal(&err);
		return false;
	}
	buf_free(&err);
	cfg->signhdrs = dk_hdr_array(pi->arena, &cfg->sign_headers);
	cfg->oversignhdrs = dk_hdr_array(pi->arena, &cfg->oversign_headers);
	if ((cfg->lib = dkim_init(NULL, NULL)) == NULL)
		log_fatal("dkim: cannot initialize libopendkim");
	dk_setopt(cfg->lib, DKIM_OPTS_FLAGS, &flags, sizeof(flags));
	dk_setopt(cfg->lib, DKIM_OPTS_MINKEYBITS, &bits, sizeof(bits));
	if (cfg->signature_ttl > 0) {
		uint64_t ttl = (uint64_t)cfg->signature_ttl;

		dk_setopt(cfg->lib, DKIM_OPTS_SIGNATURETTL, &ttl,
		    sizeof(ttl));
	}
	drift = (uint64_t)cfg->clock_drift;
	dk_setopt(cfg->lib, DKIM_OPTS_CLOCKDRIFT, &drift, sizeof(drift));
	dk_setopt(cfg->lib, DKIM_OPTS_SIGNHDRS, cfg->signhdrs,
	    sizeof(cfg->signhdrs));
	dk_setopt(cfg->lib, DKIM_OPTS_OVERSIGNHDRS, cfg->oversignhdrs,
	    sizeof(cfg->oversignhdrs));
	if (dkim_set_prescreen(cfg->lib, dk_prescreen) != DKIM_STAT_OK)
		log_fatal("dkim: cannot set the prescreen callback");
	dkim_dns_set_query_service(cfg->lib, dns);
	dkim_dns_set_init(cfg->lib, dk_dns_init);
	dkim_dns_set_close(cfg->lib, dk_dns_close);
	dkim_dns_set_query_start(cfg->lib, dk_dns_start);
	dkim_dns_set_query_waitreply(cfg->lib, dk_dns_wait);
	dkim_dns_set_query_cancel(cfg->lib, dk_dns_cancel);
	return true;
}

/* dk_deinit - the library and the internal_hosts table */
static void
dk_deinit(void *config)
{
	struct dk_config *cfg = config;

	if (cfg->lib != NULL)
		dkim_close(cfg->lib);
	cfg->lib = NULL;
	table_close(&cfg->internal);
}

#define DK_OFF(f)	offsetof(struct dk_config, f)

static const struct conf_setting dk_settings[] = {
	{ .name = "verify", .type = CONF_BOOL, .def = "yes",
	  .offset = DK_OFF(verify),
	  .help = "verify the signatures of mail from outside" },
	{ .name = "sign", .type = CONF_BOOL, .def = "yes",
	  .offset = DK_OFF(sign),
	  .help = "sign mail from internal hosts and authenticated clients "
	    "(when keys are configured)" },
	{ .name = "key_table", .type = CONF_STRING, .def = NULL,
	  .offset = DK_OFF(key_table),
	  .help = "OpenDKIM KeyTable (file:PATH)" },
	{ .name = "signing_table", .type = CONF_STRING, .def = NULL,
	  .offset = DK_OFF(signing_table),
	  .help = "OpenDKIM SigningTable (file:PATH or refile:PATH)" },
	{ .name = "domain", .type = CONF_STRING, .def = NULL,
	  .offset = DK_OFF(domain),
	  .help = "the one signing domain (with selector and key_file)" },
	{ .name = "selector", .type = CONF_STRING, .def = NULL,
	  .offset = DK_OFF(selector),
	  .help = "the one selector (with domain and key_file)" },
	{ .name = "key_file", .type = CONF_STRING, .def = NULL,
	  .offset = DK_OFF(key_file),
	  .help = "the one private key (with domain and selector)" },
	{ .name = "internal_hosts", .type = CONF_TABLE, .def = NULL,
	  .offset = DK_OFF(internal_hosts),
	  .help = "clients whose mail is signed; default mynetworks" },
	{ .name = "canonicalization", .type = CONF_ENUM,
	  .def = "relaxed/relaxed", .offset = DK_OFF(canon),
	  .choices = dk_canon_names,
	  .help = "header/body canonicalization of signatures made" },
	{ .name = "sign_headers", .type = CONF_LIST,
	  .def = "From, To, Cc, Subject, Date, Message-ID, Reply-To, "
	    "In-Reply-To, References, MIME-Version, Content-Type, "
	    "Content-Transfer-Encoding, Content-Disposition, Content-ID, "
	    "Content-Description, List-Id, List-Unsubscribe, "
	    "List-Unsubscribe-Post, Sender",
	  .offset = DK_OFF(sign_headers),
	  .help = "header fields signed when present" },
	{ .name = "oversign_headers", .type = CONF_LIST,
	  .def = "From, To, Cc, Subject, Date, Reply-To",
	  .offset = DK_OFF(oversign_headers),
	  .help = "header fields signed once more than present, so none "
	    "can be added" },
	{ .name = "multiple_signatures", .type = CONF_BOOL, .def = "yes",
	  .offset = DK_OFF(multiple_signatures),
	  .help = "make every signature the signing table selects" },
	{ .name = "max_signatures", .type = CONF_UINT, .def = "10",
	  .offset = DK_OFF(max_signatures),
	  .help = "signatures verified per message; the rest are policy" },
	{ .name = "min_key_bits", .type = CONF_UINT, .def = "1024",
	  .offset = DK_OFF(min_key_bits),
	  .help = "smaller RSA keys give policy" },
	{ .name = "signature_ttl", .type = CONF_DURATION, .def = "0",
	  .offset = DK_OFF(signature_ttl),
	  .help = "x= of signatures made: their lifetime; 0 = none" },
	{ .name = "clock_drift", .type = CONF_DURATION, .def = "300s",
	  .offset = DK_OFF(clock_drift),
	  .help = "tolerance for t= in the future and x= in the past" },
	{ .name = "on_badsig", .type = CONF_ENUM, .def = "none",
	  .offset = DK_OFF(on_badsig), .choices = dk_act_names,
	  .help = "action when no signature passes and one failed" },
	{ .name = "on_nokey", .type = CONF_ENUM, .def = "none",
	  .offset = DK_OFF(on_nokey), .choices = dk_act_names,
	  .help = "action when no signature passes and a key is missing" },
	{ .name = "on_dnserror", .type = CONF_ENUM, .def = "failure",
	  .offset = DK_OFF(on_dnserror), .choices = dk_act_names,
	  .help = "action when no signature passes and a key lookup failed "
	    "(failure = the module's on_failure)" },
	{ .name = "length_tag", .type = CONF_ENUM, .def = "policy",
	  .offset = DK_OFF(length_tag), .choices = dk_ltag_names,
	  .help = "passing signatures with l= are reported as policy, or "
	    "accepted" },
	{ .name = "sign_failure", .type = CONF_ENUM, .def = "defer",
	  .offset = DK_OFF(sign_failure), .choices = dk_signfail_names,
	  .help = "a message that cannot be signed is deferred, or sent "
	    "unsigned (logged)" },
	{ .name = NULL },
};

const struct policy_module dkim_module = {
	.name = "dkim",
	.summary = "DKIM signing and verification",
	.settings = dk_settings,
	.config_size = sizeof(struct dk_config),
	.init = dk_init,
	.deinit = dk_deinit,
	.msg_size = sizeof(struct dk_msg),
	.stage = {
		[POLICY_HEADER] = dk_header_stage,
		[POLICY_EOH] = dk_eoh_stage,
		[POLICY_BODY] = dk_body_stage,
		[POLICY_EOM] = dk_eom_stage,
	},
	.flags = POLICY_NEEDS_BODY | POLICY_ADDS_HEADERS |
	    POLICY_NEEDS_LEADSPC,
	.on_failure = POLICY_FAIL_TEMPFAIL,
};
