/*
 * spf.c - Sender Policy Framework checks with libspf2 (module "spf";
 * see spf.h)
 *
 * libspf2 is used only here. Its own resolver cannot be pointed at a
 * server or port, so the module gives it a DNS layer (spf_dns_lookup)
 * that asks lib/dns and turns the answers into libspf2's records.
 *
 * Per-evaluation state: libspf2 passes a lookup only the layer object,
 * which is shared by every thread using the config, and offers no
 * per-request hook. An evaluation runs entirely in the calling thread
 * (SPF_request_query_mailfrom is synchronous), so the evaluation's
 * state (resolver, arena, void lookup count, refusals) is reached
 * through a thread-local pointer set around that call.
 *
 * Hardening (records from DNS are hostile; Debian's libspf2 1.2.10 lacks
 * the fix for CVE-2023-42118, and CVE-2021-20314, CVE-2021-33912 and
 * CVE-2021-33913 were all memory errors in its macro expansion). The DNS
 * layer inspects every TXT answer before libspf2 sees it and ends the
 * evaluation as permerror when:
 *	- an SPF record ("v=spf1") is longer than max_record_length;
 *	- any TXT record (SPF or explanation) holds a macro other than
 *	  %%, %_, %-, %{L}, %{LN} or %{Lr} with L one of the lower-case
 *	  letters s l o d i p h c r t v and N from 1 to 128: upper-case
 *	  letters (URL escaping), explicit delimiters, digit transformers
 *	  of 0 or over 128, and digits combined with r are refused, since
 *	  the expansion code those forms reach is where the bugs were (and
 *	  1.2.10 still gets digits with r wrong: %{l1r} of "user" expands
 *	  to "ser");
 *	- the third void lookup (NXDOMAIN or no data) of one evaluation
 *	  happens (RFC 7208 §4.6.4), which libspf2 does not count.
 * A sender local part over 64 bytes (RFC 5321) is permerror without any
 * lookup, so that no macro expands attacker-sized input.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <spf2/spf.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "arena.h"
#include "buf.h"
#include "hdrval.h"
#include "conf.h"
#include "dns.h"
#include "inet.h"
#include "log.h"
#include "lookup.h"
#include "mailaddr.h"
#include "mem.h"
#include "policy.h"
#include "spf.h"
#include "table.h"

#define SPF_VOID_MAX	2	/* RFC 7208 §4.6.4 */
#define SPF_LOCAL_MAX	64	/* RFC 5321 §4.5.3.1.1 */
#define SPF_DIGITS_MAX	128	/* RFC 7208 §7.3: at least 127 */

/* Results, in the order of the settings and names below. */
enum spf_res {
	SPFR_NONE, SPFR_NEUTRAL, SPFR_PASS, SPFR_FAIL, SPFR_SOFTFAIL,
	SPFR_TEMPERROR, SPFR_PERMERROR, SPFR_COUNT
};

enum spf_action { SPF_ACT_NONE, SPF_ACT_REJECT, SPF_ACT_DEFER };

static const char *const spf_action_names[] = {
	[SPF_ACT_NONE] = "none",
	[SPF_ACT_REJECT] = "reject",
	[SPF_ACT_DEFER] = "defer",
	NULL,
};

/*
 * Per result: its name, the Received-SPF comment ($d = the identity's
 * domain, $i = the client address), the enhanced status code of a
 * rejection (RFC 7372: X.7.23 validation failed, X.7.24 error), and
 * libspf2's value.
 */
static const struct spf_result_info {
	const char *name;
	const char *comment;
	const char *xcode;
	SPF_result_t lib;
} spf_results[] = {
	[SPFR_NONE] = { "none",
	    "domain of $d does not designate permitted sender hosts",
	    "7.23", SPF_RESULT_NONE },
	[SPFR_NEUTRAL] = { "neutral",
	    "$i is neither permitted nor denied by domain of $d",
	    "7.23", SPF_RESULT_NEUTRAL },
	[SPFR_PASS] = { "pass",
	    "domain of $d designates $i as permitted sender",
	    "7.23", SPF_RESULT_PASS },
	[SPFR_FAIL] = { "fail",
	    "domain of $d does not designate $i as permitted sender",
	    "7.23", SPF_RESULT_FAIL },
	[SPFR_SOFTFAIL] = { "softfail",
	    "domain of transitioning $d does not designate $i as "
	    "permitted sender", "7.23", SPF_RESULT_SOFTFAIL },
	[SPFR_TEMPERROR] = { "temperror",
	    "error in processing during lookup of domain of $d",
	    "7.24", SPF_RESULT_TEMPERROR },
	[SPFR_PERMERROR] = { "permerror",
	    "permanent error in processing domain of $d",
	    "7.24", SPF_RESULT_PERMERROR },
};

struct spf_config {
	int mailfrom_action[SPFR_COUNT];
	int helo_action[SPFR_COUNT];
	const char *skip_clients;
	bool received_spf;
	unsigned long max_record_length;
	/* runtime, filled by init */
	struct table *skip;
	struct dns *dns;
	const char *hostname;
	SPF_dns_server_t *layer;
	SPF_server_t *server;
};

/* The outcome of checking one identity. */
struct spf_outcome {
	bool done;			/* decided (evaluated or none) */
	bool evaluated;			/* records were consulted */
	enum spf_res result;
	const char *domain;		/* the identity's domain, or NULL */
	const char *problem;		/* static text, or NULL */
};

struct spf_conn {
	struct spf_outcome helo;	/* latest HELO; strings in conn arena */
	const char *helo_name;
};

struct spf_msg {
	struct spf_outcome mailfrom;	/* null sender: the HELO result */
};

/* One evaluation's state, reached by the DNS layer (see the top). */
struct spf_eval {
	struct dns *dns;
	struct arena *arena;
	double deadline;
	size_t max_len;
	int voids;
	bool dns_error;			/* a lookup failed for now */
	bool stop;			/* refused: answer nothing more */
	const char *problem;		/* why it is permerror; static */
};

static __thread struct spf_eval *spf_current;

/* --- hardening ------------------------------------------------------------ */

/* spf_is_record - whether a TXT string is an SPF record (RFC 7208 §4.5) */
static bool
spf_is_record(const char *txt)
{
	return strncasecmp(txt, "v=spf1", 6) == 0 &&
	    (txt[6] == ' ' || txt[6] == '\0');
}

/* spf_macros_safe - whether every macro of txt has an allowed form (see
 * the top of the file) */
static bool
spf_macros_safe(const char *txt)
{
	const char *p = txt;
	unsigned digits;
	int n;

	while ((p = strchr(p, '%')) != NULL) {
		p++;
		if (*p == '%' || *p == '_' || *p == '-') {
			p++;
			continue;
		}
		if (*p++ != '{' || *p == '\0' ||
		    strchr("slodiphcrtv", *p) == NULL)
			return false;
		p++;
		for (digits = 0, n = 0; *p >= '0' && *p <= '9'; p++, n++) {
			digits = digits * 10 + (unsigned)(*p - '0');
			if (n >= 3)
				return false;
		}
		if (n > 0 && (digits == 0 || digits > SPF_DIGITS_MAX))
			return false;
		if (*p == 'r' && n > 0)
			return false;
		if (*p == 'r')
			p++;
		if (*p++ != '}')
			return false;
	}
	return true;
}

/* spf_txt_refusal - why a TXT answer must not reach libspf2 (static
 * text), or NULL */
static const char *
spf_txt_refusal(const struct spf_eval *ev, const char *txt)
{
	if (spf_is_record(txt) && strlen(txt) > ev->max_len)
		return "record too long";
	if (!spf_macros_safe(txt))
		return "refused macro";
	return NULL;
}

/* --- the DNS layer -------------------------------------------------------- */

/* spf_rr - an answer without records */
static SPF_dns_rr_t *
spf_rr(SPF_dns_server_t *layer, const char *domain, ns_type type,
    SPF_dns_stat_t herrno)
{
	SPF_dns_rr_t *rr = SPF_dns_rr_new_init(layer, domain, type, 0,
	    herrno);

	if (rr == NULL)
		log_fatal("spf: out of memory");
	return rr;
}

/* spf_rr_put - space for record i of len bytes */
static SPF_dns_rr_data_t *
spf_rr_put(SPF_dns_rr_t *rr, int i, size_t len)
{
	if (SPF_dns_rr_buf_realloc(rr, i, len) != SPF_E_SUCCESS)
		log_fatal("spf: out of memory");
	return rr->rr[i];
}

/* spf_rr_fill - the records of a found answer into rr; false on
 * malformed data, with ev->problem set when a TXT is refused */
static bool
spf_rr_fill(struct spf_eval *ev, const struct dns_answer *a,
    SPF_dns_rr_t *rr)
{
	const char *text;
	unsigned pref;
	size_t i;
	int k = 0;

	for (i = 0; i < a->n; i++, k++) {
		switch (rr->rr_type) {
		case ns_t_a:
			if (a->len[i] != 4)
				return false;
			memcpy(&spf_rr_put(rr, k, 4)->a, a->data[i], 4);
			break;
		case ns_t_aaaa:
			if (a->len[i] != 16)
				return false;
			memcpy(&spf_rr_put(rr, k, 16)->aaaa, a->data[i], 16);
			break;
		case ns_t_txt:
			if (!dns_txt_join(ev->arena, a->data[i], a->len[i],
			    &text))
				return false;
			if ((ev->problem = spf_txt_refusal(ev, text)) != NULL)
				return false;
			strcpy(spf_rr_put(rr, k, strlen(text) + 1)->txt,
			    text);
			break;
		case ns_t_mx:
			if (!dns_mx_decode(ev->arena, a->data[i], a->len[i],
			    &pref, &text))
				return false;
			strcpy(spf_rr_put(rr, k, strlen(text) + 1)->mx, text);
			break;
		case ns_t_ptr:
			if (!dns_name_decode(ev->arena, a->data[i], a->len[i],
			    &text))
				return false;
			strcpy(spf_rr_put(rr, k, strlen(text) + 1)->ptr,
			    text);
			break;
		default:
			log_panic("spf: record type %d", (int)rr->rr_type);
		}
		rr->num_rr = k + 1;
	}
	return true;
}

/*
 * spf_dns_lookup - libspf2's lookup function: one query through lib/dns.
 * A temporary failure is TRY_AGAIN (temperror); a refusal or the void
 * lookup limit also answers TRY_AGAIN, which ends libspf2's evaluation
 * at once, and is reported as permerror from ev->problem.
 */
static SPF_dns_rr_t *
spf_dns_lookup(SPF_dns_server_t *layer, const char *domain, ns_type type,
    int should_cache)
{
	struct spf_eval *ev = spf_current;
	struct dns_answer a;
	SPF_dns_rr_t *rr;

	(void)should_cache;
	if (ev == NULL)
		log_panic("spf: DNS lookup outside an evaluation");
	if (ev->stop)
		return spf_rr(layer, domain, type, TRY_AGAIN);
	switch (type) {
	case ns_t_a: case ns_t_aaaa: case ns_t_txt: case ns_t_mx:
	case ns_t_ptr:
		break;
	default:
		/* the SPF type (99) is obsolete (RFC 7208 §3.1) */
		return spf_rr(layer, domain, type, NO_DATA);
	}
	if (ev->deadline > 0 && policy_now() >= ev->deadline) {
		ev->dns_error = true;
		return spf_rr(layer, domain, type, TRY_AGAIN);
	}
	switch (dns_query(ev->dns, domain, type, ev->arena, &a)) {
	case DNS_FOUND:
		if (a.n > 0)
			break;
		/* FALLTHROUGH */
	case DNS_NOTFOUND:
		if (++ev->voids > SPF_VOID_MAX) {
			ev->problem = "void lookup limit";
			ev->stop = true;
			return spf_rr(layer, domain, type, TRY_AGAIN);
		}
		return spf_rr(layer, domain, type,
		    a.nxdomain ? HOST_NOT_FOUND : NO_DATA);
	default:
		ev->dns_error = true;
		return spf_rr(layer, domain, type, TRY_AGAIN);
	}
	rr = spf_rr(layer, domain, type, NETDB_SUCCESS);
	rr->ttl = a.ttl;
	if (!spf_rr_fill(ev, &a, rr)) {
		SPF_dns_rr_free(rr);
		if (ev->problem != NULL)
			ev->stop = true;
		else
			ev->dns_error = true;
		return spf_rr(layer, domain, type, TRY_AGAIN);
	}
	return rr;
}

/* --- evaluation ----------------------------------------------------------- */

/* spf_domain_ok - a domain SPF can be checked for: a valid multi-label
 * DNS name of letters, digits, '-' and '_' (anything else is "none",
 * RFC 7208 §4.3; it also keeps the name safe to print) */
static bool
spf_domain_ok(const char *d)
{
	const char *p;

	if (d == NULL || !dns_name_valid(d) || strchr(d, '.') == NULL)
		return false;
	for (p = d; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.')
			return false;
	return true;
}

/* spf_from_lib - libspf2's result (and return code when it left the
 * result unset) as ours */
static enum spf_res
spf_from_lib(SPF_result_t r, SPF_errcode_t err, bool dns_error)
{
	int i;

	for (i = 0; i < SPFR_COUNT; i++)
		if (spf_results[i].lib == r)
			return (enum spf_res)i;
	return dns_error || err == SPF_E_DNS_ERROR ? SPFR_TEMPERROR :
	    SPFR_PERMERROR;
}

/*
 * spf_evaluate - check sender (local@domain; the HELO identity is
 * postmaster@helo) for the client; out->result and out->problem
 */
static void
spf_evaluate(const struct spf_config *cfg, const struct policy_call *call,
    const struct inet_addr *ip, const char *helo, const char *sender,
    struct spf_outcome *out)
{
	struct spf_eval ev = {
		.dns = cfg->dns,
		.deadline = call->deadline,
		.max_len = cfg->max_record_length,
	};
	SPF_request_t *req;
	SPF_response_t *resp = NULL;
	SPF_errcode_t err;
	struct in6_addr a6;
	struct in_addr a4;

	req = SPF_request_new(cfg->server);
	if (req == NULL)
		log_fatal("spf: out of memory");
	if (ip->family == AF_INET) {
		memcpy(&a4, ip->bytes, 4);
		SPF_request_set_ipv4(req, a4);
	} else {
		memcpy(&a6, ip->bytes, 16);
		SPF_request_set_ipv6(req, a6);
	}
	if (helo != NULL)
		SPF_request_set_helo_dom(req, helo);
	if (SPF_request_set_env_from(req, sender) != 0) {
		SPF_request_free(req);
		out->result = SPFR_PERMERROR;
		out->problem = "bad sender";
		return;
	}
	ev.arena = arena_create();
	spf_current = &ev;
	err = SPF_request_query_mailfrom(req, &resp);
	spf_current = NULL;
	out->evaluated = true;
	if (ev.problem != NULL) {
		out->result = SPFR_PERMERROR;
		out->problem = ev.problem;
	} else
		out->result = spf_from_lib(resp != NULL ?
		    SPF_response_result(resp) : SPF_RESULT_INVALID, err,
		    ev.dns_error);
	if (resp != NULL)
		SPF_response_free(resp);
	SPF_request_free(req);
	arena_destroy(&ev.arena);
}

/* spf_check - one identity: domain (copied into arena), sender as given
 * to libspf2 */
static void
spf_check(const struct spf_config *cfg, const struct policy_call *call,
    struct arena *arena, const char *local, const char *domain,
    struct spf_outcome *out)
{
	const struct inet_addr *ip = txn_client_addr(call->txn);
	char *sender;

	memset(out, 0, sizeof(*out));
	out->done = true;
	out->result = SPFR_NONE;
	if (!spf_domain_ok(domain))
		return;
	out->domain = arena_strdup(arena, domain);
	if (strlen(local) > SPF_LOCAL_MAX) {
		out->result = SPFR_PERMERROR;
		out->problem = "local part too long";
		return;
	}
	sender = arena_printf(arena, "%s@%s", *local ? local : "postmaster",
	    domain);
	spf_evaluate(cfg, call, ip, txn_helo(call->txn), sender, out);
}

/* --- output --------------------------------------------------------------- */

/* spf_comment - the result's comment template with $d and $i filled */
static void
spf_comment(struct buf *b, const char *tmpl, const char *domain,
    const char *ip)
{
	for (; *tmpl != '\0'; tmpl++) {
		if (tmpl[0] == '$' && tmpl[1] == 'd')
			buf_puts(b, domain);
		else if (tmpl[0] == '$' && tmpl[1] == 'i')
			buf_puts(b, ip);
		else {
			buf_putc(b, *tmpl);
			continue;
		}
		tmpl++;
	}
}

/*
 * spf_received - queue one Received-SPF header (RFC 7208 §9.1) at the
 * top. Only checked or fixed text goes in unquoted: the domain has
 * passed spf_domain_ok, the receiver is our configured name.
 */
static void
spf_received(const struct spf_config *cfg, const struct policy_call *call,
    const struct spf_outcome *o, const char *identity)
{
	struct txn *txn = call->txn;
	const struct mailaddr *sender = txn_sender(txn);
	const char *ip = txn_client_addr_text(txn), *helo = txn_helo(txn);
	struct buf b = { 0 };

	buf_puts(&b, spf_results[o->result].name);
	if (o->domain != NULL) {
		buf_puts(&b, " (");
		if (cfg->hostname != NULL)
			buf_printf(&b, "%s: ", cfg->hostname);
		spf_comment(&b, spf_results[o->result].comment, o->domain,
		    ip);
		buf_putc(&b, ')');
	}
	buf_printf(&b, " client-ip=%s; envelope-from=", ip);
	hdrval_quote(&b, sender != NULL ? sender->full : "");
	buf_puts(&b, ";");
	if (helo != NULL) {
		buf_puts(&b, " helo=");
		hdrval_value(&b, helo);
		buf_putc(&b, ';');
	}
	if (o->problem != NULL)
		buf_printf(&b, " problem=\"%s\";", o->problem);
	if (cfg->hostname != NULL) {
		buf_puts(&b, " receiver=");
		hdrval_value(&b, cfg->hostname);
		buf_putc(&b, ';');
	}
	buf_printf(&b, " identity=%s;", identity);
	txn_insert_header(txn, 0, "Received-SPF",
	    arena_strdup(txn_msg_arena(txn), buf_cstr(&b)));
	buf_free(&b);
}

/* spf_verdict - the action configured for a result */
static void
spf_verdict(const struct policy_call *call, const int *actions,
    const struct spf_outcome *o, const char *what, struct arena *arena,
    struct verdict *v)
{
	const struct spf_result_info *ri = &spf_results[o->result];
	int action = actions[o->result];

	if (action == SPF_ACT_NONE)
		return;
	v->action = action == SPF_ACT_REJECT ? VERDICT_REJECT :
	    VERDICT_DEFER;
	v->code = action == SPF_ACT_REJECT ? "550" : "451";
	v->xcode = arena_printf(arena, "%c.%s",
	    action == SPF_ACT_REJECT ? '5' : '4', ri->xcode);
	v->text = arena_printf(arena, "SPF %s for %s %s from client %s",
	    ri->name, what, o->domain != NULL ? o->domain : "(invalid)",
	    txn_client_addr_text(call->txn));
}

/* spf_reason - the summary log text */
static const char *
spf_reason(struct arena *arena, const char *identity,
    const struct spf_outcome *o)
{
	return arena_printf(arena, "spf %s=%s%s%s%s", identity,
	    spf_results[o->result].name, o->problem ? " (" : "",
	    o->problem ? o->problem : "", o->problem ? ")" : "");
}

/* --- stages --------------------------------------------------------------- */

/* spf_skip - whether the client is exempt; -1 on a lookup error */
static int
spf_skip(const struct spf_config *cfg, struct txn *txn, struct arena *arena)
{
	const char *value;

	if (txn_client_addr(txn) == NULL || txn_auth_user(txn) != NULL)
		return 1;
	switch (txn_in_mynetworks(txn)) {
	case TABLE_FOUND:
		return 1;
	case TABLE_NOTFOUND:
		break;
	default:
		return -1;
	}
	if (cfg->skip == NULL)
		return 0;
	switch (lookup_client(cfg->skip, txn_client_name(txn),
	    txn_client_addr(txn), arena, &value)) {
	case TABLE_FOUND:
		return 1;
	case TABLE_NOTFOUND:
		return 0;
	default:
		return -1;
	}
}

/* spf_helo_check - the HELO identity into conn (RFC 7208 §2.3); an
 * address literal or a name that is not a domain is "none" */
static void
spf_helo_check(const struct spf_config *cfg, const struct policy_call *call,
    struct spf_conn *conn)
{
	struct arena *arena = txn_conn_arena(call->txn);
	const char *helo = txn_helo(call->txn);

	conn->helo_name = helo != NULL ? arena_strdup(arena, helo) : NULL;
	spf_check(cfg, call, arena, "postmaster", helo, &conn->helo);
}

/* spf_same - two optional strings are equal */
static bool
spf_same(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* spf_helo - HELO: check the HELO identity, act on its result */
static enum policy_status
spf_helo(const struct policy_call *call, struct verdict *v)
{
	const struct spf_config *cfg = call->config;
	struct spf_conn *conn = call->conn;
	struct arena *arena = txn_conn_arena(call->txn);
	int skip;

	memset(&conn->helo, 0, sizeof(conn->helo));
	if ((skip = spf_skip(cfg, call->txn, arena)) != 0)
		return skip < 0 ? POLICY_FAILED : POLICY_DONE;
	spf_helo_check(cfg, call, conn);
	v->reason = spf_reason(arena, "helo", &conn->helo);
	spf_verdict(call, cfg->helo_action, &conn->helo, "HELO name",
	    arena, v);
	return POLICY_DONE;
}

/* spf_mail - MAIL: check the MAIL FROM identity (the HELO identity for
 * the null sender), act on it, leave the results for the message */
static enum policy_status
spf_mail(const struct policy_call *call, struct verdict *v)
{
	const struct spf_config *cfg = call->config;
	struct spf_conn *conn = call->conn;
	struct spf_msg *msg = call->msg;
	struct txn *txn = call->txn;
	struct arena *arena = txn_msg_arena(txn);
	const struct mailaddr *sender = txn_sender(txn);
	struct buf b = { 0 };
	bool null;
	int skip;

	if (msg == NULL)
		log_panic("spf: MAIL stage without message state");
	memset(&msg->mailfrom, 0, sizeof(msg->mailfrom));
	if ((skip = spf_skip(cfg, txn, arena)) != 0)
		return skip < 0 ? POLICY_FAILED : POLICY_DONE;
	if (sender == NULL)
		return POLICY_DONE;	/* unparseable: nothing to check */
	null = sender->full[0] == '\0';
	if (null) {
		/* HELO may not have been checked (no HELO, or the client
		 * was exempt then) */
		if (!conn->helo.done || !spf_same(conn->helo_name,
		    txn_helo(txn)))
			spf_helo_check(cfg, call, conn);
		msg->mailfrom = conn->helo;
	} else
		spf_check(cfg, call, arena, sender->local, sender->domain,
		    &msg->mailfrom);

	txn_set_spf(txn, &(struct txn_spf){
		.result = spf_results[msg->mailfrom.result].name,
		.domain = msg->mailfrom.domain != NULL ?
		    arena_strdup(arena, msg->mailfrom.domain) : NULL,
		.helo = null,
	});
	buf_printf(&b, "spf=%s ", spf_results[msg->mailfrom.result].name);
	if (null) {
		buf_puts(&b, "smtp.helo=");
		hdrval_value(&b, txn_helo(txn) != NULL ? txn_helo(txn) : "");
	} else {
		buf_puts(&b, "smtp.mailfrom=");
		hdrval_address(&b, sender->full);
	}
	v->authres = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	if (cfg->received_spf) {
		if (!null && conn->helo.evaluated)
			spf_received(cfg, call, &conn->helo, "helo");
		spf_received(cfg, call, &msg->mailfrom,
		    null ? "helo" : "mailfrom");
	}
	v->reason = spf_reason(arena, null ? "helo" : "mailfrom",
	    &msg->mailfrom);
	spf_verdict(call, cfg->mailfrom_action, &msg->mailfrom,
	    null ? "HELO name" : "sender domain", arena, v);
	return POLICY_DONE;
}

/* --- init ----------------------------------------------------------------- */

/* spf_log_error - libspf2's fatal messages are its internal assertions */
static void __attribute__((noreturn))
spf_log_error(const char *file, int line, const char *msg)
{
	log_panic("libspf2: %s:%d: %s", file, line, msg);
}

/* spf_log_warning - libspf2's warnings go to the log */
static void
spf_log_warning(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	log_warn("libspf2: %s", msg);
}

/* spf_log_quiet - libspf2's info and debug text (not wanted) */
static void
spf_log_quiet(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	(void)msg;
}

/* spf_init - open skip_clients, make the libspf2 server over our layer */
static bool
spf_init(struct policy_init *pi, char **error_r)
{
	struct spf_config *cfg = pi->config;
	const struct conf_entry *e;
	SPF_response_t *resp = NULL;
	struct buf err = { 0 };
	char *why = NULL;

	SPF_error_handler = spf_log_error;
	SPF_warning_handler = spf_log_warning;
	SPF_info_handler = spf_log_quiet;
	SPF_debug_handler = spf_log_quiet;
	cfg->dns = pi->globals != NULL ? pi->globals->dns : NULL;
	cfg->hostname = pi->globals != NULL ? pi->globals->hostname : NULL;
	if (cfg->dns == NULL)
		buf_puts(&err, "spf: no DNS resolver configured\n");
	if (cfg->skip_clients != NULL &&
	    (cfg->skip = table_open(cfg->skip_clients, &why)) == NULL) {
		e = pi->cf != NULL ? conf_find(pi->cf, pi->section,
		    "skip_clients") : NULL;
		if (e != NULL)
			buf_printf(&err, "%s:%d: ", e->file, e->line);
		buf_printf(&err, "skip_clients: table %s: %s\n",
		    cfg->skip_clients, why != NULL ? why : "cannot open");
		free(why);
	}
	if (err.len > 0) {
		table_close(&cfg->skip);
		*error_r = buf_steal(&err);
		return false;
	}
	buf_free(&err);
	cfg->layer = xcalloc(1, sizeof(*cfg->layer));
	cfg->layer->lookup = spf_dns_lookup;
	cfg->layer->name = "postern";
	cfg->server = SPF_server_new_dns(cfg->layer, 0);
	if (cfg->server == NULL)
		log_fatal("spf: cannot create the libspf2 server");
	if (cfg->hostname != NULL)
		SPF_server_set_rec_dom(cfg->server, cfg->hostname);
	/* the default explanation expands %{S} (URL escaping of the
	 * sender) on every fail; the module never shows explanations, so
	 * a text without macros keeps that code unreached */
	if (SPF_server_set_explanation(cfg->server, "SPF check failed",
	    &resp) != SPF_E_SUCCESS)
		log_fatal("spf: cannot set the explanation");
	if (resp != NULL)
		SPF_response_free(resp);
	return true;
}

/* spf_deinit - the libspf2 server (which leaves our layer alone), the
 * layer and the table */
static void
spf_deinit(void *config)
{
	struct spf_config *cfg = config;

	if (cfg->server != NULL)
		SPF_server_free(cfg->server);
	cfg->server = NULL;
	free(cfg->layer);
	cfg->layer = NULL;
	table_close(&cfg->skip);
}

/* --- settings ------------------------------------------------------------- */

#define SPF_OFF(f)	offsetof(struct spf_config, f)
#define SPF_ACTION(id, r, R, d, h) \
	{ .name = #id "_" #r, .type = CONF_ENUM, .def = d, \
	  .offset = SPF_OFF(id##_action[SPFR_##R]), \
	  .choices = spf_action_names, .help = h }

static const struct conf_setting spf_settings[] = {
	SPF_ACTION(mailfrom, pass, PASS, "none",
	    "action on MAIL FROM pass"),
	SPF_ACTION(mailfrom, fail, FAIL, "reject",
	    "action on MAIL FROM fail"),
	SPF_ACTION(mailfrom, softfail, SOFTFAIL, "none",
	    "action on MAIL FROM softfail"),
	SPF_ACTION(mailfrom, neutral, NEUTRAL, "none",
	    "action on MAIL FROM neutral"),
	SPF_ACTION(mailfrom, none, NONE, "none",
	    "action on MAIL FROM none"),
	SPF_ACTION(mailfrom, temperror, TEMPERROR, "defer",
	    "action on MAIL FROM temperror"),
	SPF_ACTION(mailfrom, permerror, PERMERROR, "none",
	    "action on MAIL FROM permerror"),
	SPF_ACTION(helo, pass, PASS, "none",
	    "action on HELO pass"),
	SPF_ACTION(helo, fail, FAIL, "none",
	    "action on HELO fail"),
	SPF_ACTION(helo, softfail, SOFTFAIL, "none",
	    "action on HELO softfail"),
	SPF_ACTION(helo, neutral, NEUTRAL, "none",
	    "action on HELO neutral"),
	SPF_ACTION(helo, none, NONE, "none",
	    "action on HELO none"),
	SPF_ACTION(helo, temperror, TEMPERROR, "none",
	    "action on HELO temperror"),
	SPF_ACTION(helo, permerror, PERMERROR, "none",
	    "action on HELO permerror"),
	{ .name = "skip_clients", .type = CONF_TABLE, .def = NULL,
	  .offset = SPF_OFF(skip_clients),
	  .help = "clients not checked (client name and address keys)" },
	{ .name = "received_spf", .type = CONF_BOOL, .def = "yes",
	  .offset = SPF_OFF(received_spf),
	  .help = "add a Received-SPF header per identity checked" },
	{ .name = "max_record_length", .type = CONF_UINT, .def = "450",
	  .offset = SPF_OFF(max_record_length),
	  .min = "64", .max = "4096",
	  .help = "longer SPF records are permerror" },
	{ .name = NULL },
};

const struct policy_module spf_module = {
	.name = "spf",
	.summary = "SPF checks of the HELO and MAIL FROM identities",
	.settings = spf_settings,
	.config_size = sizeof(struct spf_config),
	.init = spf_init,
	.deinit = spf_deinit,
	.conn_size = sizeof(struct spf_conn),
	.msg_size = sizeof(struct spf_msg),
	.stage = {
		[POLICY_HELO] = spf_helo,
		[POLICY_MAIL] = spf_mail,
	},
	.flags = POLICY_ADDS_HEADERS,
	.on_failure = POLICY_FAIL_ACCEPT,
};
