/*
 * dnsbl.c - DNS block and allow lists (module "dnsbl"; see dnsbl.h)
 *
 * Site syntax (client_sites, domain_sites), as in Postfix postscreen:
 *
 *	zone[=filter | &mask][*weight]
 *
 * filter is four dot-separated octets, each a number, or [list] where
 * list is ';'-separated numbers or a..b ranges: "127.0.0.[2..11]",
 * "127.0.[0..255].[1;3;5..7]". A code is listed for the site when every
 * octet matches. &mask (decimal or 0x hex, 1..255) lists a code whose
 * last octet has any of the mask's bits set (bit-coded lists). Without
 * either, any code in 127.0.0.0/8 lists (error codes aside). weight is
 * an integer, negative for allowlists; default 1.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "dns.h"
#include "dnsbl.h"
#include "inet.h"
#include "log.h"
#include "mailaddr.h"
#include "mem.h"
#include "policy.h"

#define DNSBL_T_A	1
#define DNSBL_T_TXT	16
#define DNSBL_TXT_MAX	200	/* bytes of list text in a reply */
#define DNSBL_REVERSE_MAX 64	/* inet_reverse_name's buffer */

/* One list of client_sites or domain_sites, parsed at init. */
struct dnsbl_site {
	const char *zone;
	const char *item;		/* as written, for errors */
	bool has_filter;
	uint8_t allow[4][32];		/* bit per value of each octet */
	unsigned mask;			/* 0: none */
	long weight;
};

struct dnsbl_sites {
	struct dnsbl_site *site;
	size_t n;
};

struct dnsbl_config {
	struct conf_list client_sites;
	struct conf_list domain_sites;
	bool check_client_name;
	bool check_helo;
	bool check_sender;
	long threshold;
	long allowlist_threshold;
	unsigned long reply_code;
	const char *reply_text;
	double score_weight;
	/* runtime, filled by init */
	struct dnsbl_sites client, domain;
	struct dns *dns;
};

/* The listing with the highest weight so far; names in the arena of the
 * state that holds it. */
struct dnsbl_top {
	const struct dnsbl_site *site;
	const char *query;		/* the name asked for */
};

struct dnsbl_conn {
	long connect_total;
	long helo_total;		/* the latest HELO only */
	bool decided;			/* rejected or allowlisted */
	struct dnsbl_top top;
};

struct dnsbl_msg {
	long mail_total;
	struct dnsbl_top top;
};

/* The outcome of one stage's queries. */
struct dnsbl_round {
	long listed;			/* sum of listed weights */
	long err_pos, err_neg;		/* weights of sites that failed */
	int errors;
	struct dnsbl_top top;
	struct buf reason;
};

/* --- site parsing -------------------------------------------------------- */

/* dnsbl_number - a decimal 0..255 at *p, advancing; false if none */
static bool
dnsbl_number(const char **p, unsigned *value_r)
{
	unsigned v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned)(*s++ - '0');
		if (v > 255)
			return false;
	}
	*value_r = v;
	*p = s;
	return true;
}

/* dnsbl_set - allow lo..hi in one octet's bitmap */
static void
dnsbl_set(uint8_t *bits, unsigned lo, unsigned hi)
{
	for (unsigned v = lo; v <= hi; v++)
		bits[v / 8] |= (uint8_t)(1u << (v % 8));
}

/* dnsbl_octet - one filter octet at *p: N, or [a;b..c;...]; static
 * error text or NULL */
static const char *
dnsbl_octet(const char **p, uint8_t *bits)
{
	unsigned lo, hi;

	if (**p != '[') {
		if (!dnsbl_number(p, &lo))
			return "octet is not a number from 0 to 255";
		dnsbl_set(bits, lo, lo);
		return NULL;
	}
	(*p)++;
	for (;;) {
		if (!dnsbl_number(p, &lo))
			return "list element is not a number from 0 to 255";
		hi = lo;
		if ((*p)[0] == '.' && (*p)[1] == '.') {
			*p += 2;
			if (!dnsbl_number(p, &hi))
				return "range end is not a number from 0 "
				    "to 255";
			if (hi < lo)
				return "range end is below its start";
		}
		dnsbl_set(bits, lo, hi);
		if (**p == ']') {
			(*p)++;
			return NULL;
		}
		if (**p != ';')
			return "expected ';', '..' or ']' in a list";
		(*p)++;
	}
}

/* dnsbl_filter - "a.b.c.d" octet patterns into site; static error text
 * or NULL */
static const char *
dnsbl_filter(const char *s, struct dnsbl_site *site)
{
	const char *why;
	int i;

	for (i = 0; i < 4; i++) {
		if (i > 0 && *s++ != '.')
			return "filter needs four octets";
		if ((why = dnsbl_octet(&s, site->allow[i])) != NULL)
			return why;
	}
	if (*s != '\0')
		return "junk after the fourth octet";
	site->has_filter = true;
	return NULL;
}

/* dnsbl_mask - "&0x4" / "&4": 1..255; static error text or NULL */
static const char *
dnsbl_mask(const char *s, struct dnsbl_site *site)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return "mask is not a number";
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || *end != '\0' || v == 0 || v > 255)
		return "mask must be a number from 1 to 255";
	site->mask = (unsigned)v;
	return NULL;
}

/* dnsbl_weight - "*N" (optional sign); static error text or NULL */
static const char *
dnsbl_weight(const char *s, long *weight_r)
{
	const char *digits = s + (*s == '-' || *s == '+');
	char *end;
	long v;

	if (*digits < '0' || *digits > '9')
		return "weight is not an integer";
	errno = 0;
	v = strtol(s, &end, 10);
	/* bounded so that sums of many sites cannot overflow */
	if (errno != 0 || *end != '\0' || v < -100000 || v > 100000)
		return "weight must be an integer from -100000 to 100000";
	*weight_r = v;
	return NULL;
}

/* dnsbl_site_parse - one item into site (strings in arena); static
 * error text or NULL */
static const char *
dnsbl_site_parse(struct arena *arena, const char *item,
    struct dnsbl_site *site)
{
	char *text = arena_strdup(arena, item), *star, *op;
	const char *why;
	size_t len;

	memset(site, 0, sizeof(*site));
	site->item = item;
	site->weight = 1;
	if ((star = strrchr(text, '*')) != NULL) {
		*star = '\0';
		if ((why = dnsbl_weight(star + 1, &site->weight)) != NULL)
			return why;
	}
	if ((op = strpbrk(text, "=&")) != NULL) {
		char kind = *op;

		*op = '\0';
		why = kind == '=' ? dnsbl_filter(op + 1, site) :
		    dnsbl_mask(op + 1, site);
		if (why != NULL)
			return why;
	}
	len = strlen(text);
	if (len > 0 && text[len - 1] == '.')
		text[--len] = '\0';
	/* a query name too long for DNS is "not listed" (dns.h) */
	if (!dns_name_valid(text) || strchr(text, '[') != NULL)
		return "not a DNS zone name";
	site->zone = text;
	return NULL;
}

/* dnsbl_sites - parse a whole setting; errors into err */
static void
dnsbl_sites(struct policy_init *pi, const char *setting,
    const struct conf_list *list, struct dnsbl_sites *sites,
    struct buf *err)
{
	const struct conf_entry *e = pi->cf != NULL ?
	    conf_find(pi->cf, pi->section, setting) : NULL;
	const char *why;
	size_t i;

	sites->site = arena_alloc(pi->arena,
	    (list->n + 1) * sizeof(*sites->site));
	sites->n = 0;
	for (i = 0; i < list->n; i++) {
		why = dnsbl_site_parse(pi->arena, list->items[i],
		    &sites->site[sites->n]);
		if (why == NULL) {
			sites->n++;
			continue;
		}
		if (e != NULL)
			buf_printf(err, "%s:%d: ", e->file, e->line);
		buf_printf(err, "%s: bad item '%s': %s\n", setting,
		    list->items[i], why);
	}
}

/* --- init ----------------------------------------------------------------- */

/* dnsbl_init - parse the sites; the resolver is the config's */
static bool
dnsbl_init(struct policy_init *pi, char **error_r)
{
	struct dnsbl_config *cfg = pi->config;
	struct buf err = { 0 };

	/* threshold >= 1 > 0 >= allowlist_threshold: the validators keep
	 * the two ranges apart */
	dnsbl_sites(pi, "client_sites", &cfg->client_sites, &cfg->client,
	    &err);
	dnsbl_sites(pi, "domain_sites", &cfg->domain_sites, &cfg->domain,
	    &err);
	cfg->dns = pi->globals != NULL ? pi->globals->dns : NULL;
	if (cfg->dns == NULL && cfg->client.n + cfg->domain.n > 0)
		buf_puts(&err, "dnsbl: no DNS resolver configured\n");
	if (err.len > 0) {
		*error_r = buf_steal(&err);
		return false;
	}
	buf_free(&err);
	return true;
}

/* --- answers ------------------------------------------------------------- */

/* dnsbl_code_passes - whether a listed code passes the site's filter */
static bool
dnsbl_code_passes(const struct dnsbl_site *site, const unsigned char *a)
{
	int i;

	if (site->mask != 0)
		return (a[3] & site->mask) != 0;
	if (!site->has_filter)
		return true;
	for (i = 0; i < 4; i++)
		if ((site->allow[i][a[i] / 8] & (1u << (a[i] % 8))) == 0)
			return false;
	return true;
}

/*
 * dnsbl_judge - one site's answer: 1 listed (*code_r the first code that
 * passes the filter), 0 not listed, -1 error (*why_r). Every record must
 * be a sane code: one answer outside 127/8 or in 127.255.255.0/24 makes
 * the whole answer untrustworthy.
 */
static int
dnsbl_judge(const struct dnsbl_site *site, const struct dns_answer *a,
    const unsigned char **code_r, const char **why_r)
{
	const unsigned char *hit = NULL;
	size_t i;

	if (a->result == DNS_ERROR) {
		*why_r = a->why != NULL ? a->why : "DNS error";
		return -1;
	}
	if (a->result == DNS_NOTFOUND)
		return 0;
	for (i = 0; i < a->n; i++) {
		const unsigned char *d = a->data[i];

		if (a->len[i] != 4) {
			*why_r = "malformed A record";
			return -1;
		}
		if (d[0] != 127) {
			*why_r = "answer outside 127.0.0.0/8";
			return -1;
		}
		if (d[1] == 255 && d[2] == 255) {
			*why_r = "error code 127.255.255.x from the list";
			return -1;
		}
		if (hit == NULL && dnsbl_code_passes(site, d))
			hit = d;
	}
	if (hit == NULL)
		return 0;
	*code_r = hit;
	return 1;
}

/* --- one stage ------------------------------------------------------------ */

/* What to ask: a name under every site of a list. */
struct dnsbl_ask {
	const struct dnsbl_sites *sites;
	const char *name;		/* reversed address or domain */
	const char *label;		/* reason text: NULL for IP lists */
};

/* dnsbl_query_all - ask every site of every ask in one batch; the
 * outcome into r (strings in arena) */
static void
dnsbl_query_all(const struct dnsbl_config *cfg, const char *qid,
    const struct dnsbl_ask *asks, size_t nasks, struct arena *arena,
    struct dnsbl_round *r)
{
	struct dns_query_item *items;
	const struct dnsbl_site **site;
	const char **label;
	const unsigned char *code;
	const char *why;
	size_t i, k, n = 0;

	for (i = 0; i < nasks; i++)
		n += asks[i].sites->n;
	if (n == 0)
		return;
	items = xcalloc(n, sizeof(*items));
	site = xcalloc(n, sizeof(*site));
	label = xcalloc(n, sizeof(*label));
	for (n = 0, i = 0; i < nasks; i++)
		for (k = 0; k < asks[i].sites->n; k++, n++) {
			site[n] = &asks[i].sites->site[k];
			label[n] = asks[i].label;
			items[n].name = arena_printf(arena, "%s.%s",
			    asks[i].name, site[n]->zone);
			items[n].rrtype = DNSBL_T_A;
		}
	dns_query_batch(cfg->dns, items, n, arena);
	for (i = 0; i < n; i++) {
		switch (dnsbl_judge(site[i], &items[i].answer, &code, &why)) {
		case -1:
			log_msg(LOG_WARNING, qid, "dnsbl: %s: %s",
			    items[i].name, why);
			r->errors++;
			if (site[i]->weight > 0)
				r->err_pos += site[i]->weight;
			else
				r->err_neg += site[i]->weight;
			break;
		case 1:
			r->listed += site[i]->weight;
			if (r->reason.len > 0)
				buf_putc(&r->reason, ' ');
			buf_printf(&r->reason, "%s%s%s%s=%u.%u.%u.%u(%+ld)",
			    site[i]->zone, label[i] ? "[" : "",
			    label[i] ? label[i] : "", label[i] ? "]" : "",
			    code[0], code[1], code[2], code[3],
			    site[i]->weight);
			if (r->top.site == NULL ||
			    site[i]->weight > r->top.site->weight) {
				r->top.site = site[i];
				r->top.query = items[i].name;
			}
			break;
		default:
			break;
		}
	}
	free(label);
	free(site);
	free(items);
}

/* dnsbl_clean_txt - printable ASCII only, at most DNSBL_TXT_MAX bytes */
static char *
dnsbl_clean_txt(struct arena *arena, const char *txt)
{
	size_t len = strnlen(txt, DNSBL_TXT_MAX), i;
	char *s = arena_strndup(arena, txt, len);

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			s[i] = '?';
	return s;
}

/* dnsbl_txt - the list's TXT for the listed name, sanitized; NULL when
 * there is none, it fails, or the stage is out of time */
static const char *
dnsbl_txt(const struct dnsbl_config *cfg, const struct policy_call *call,
    const char *query, struct arena *arena)
{
	struct dns_answer a;
	const char *text;

	if (call->deadline > 0 && policy_now() >= call->deadline)
		return NULL;
	if (dns_query(cfg->dns, query, DNSBL_T_TXT, arena, &a) != DNS_FOUND ||
	    a.n == 0 || !dns_txt_join(arena, a.data[0], a.len[0], &text) ||
	    *text == '\0')
		return NULL;
	return dnsbl_clean_txt(arena, text);
}

/*
 * dnsbl_reply_text - reply_text with its first "%s" as the client
 * address and its second as the list zone, "%%" as "%"; any other byte
 * is literal (the admin's text is never a printf format). The list's
 * TXT, if any, follows after "; ".
 */
static const char *
dnsbl_reply_text(struct arena *arena, const char *fmt, const char *client,
    const char *zone, const char *txt)
{
	struct buf b = { 0 };
	const char *p;
	char *out;
	int used = 0;

	for (p = fmt; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 's' && used < 2) {
			buf_puts(&b, used++ == 0 ? client : zone);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			buf_putc(&b, '%');
			p++;
		} else
			buf_putc(&b, *p);
	}
	if (txt != NULL) {
		buf_puts(&b, "; ");
		buf_puts(&b, txt);
	}
	out = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return out;
}

/* dnsbl_skip - whether the client is exempt; -1 on a lookup error */
static int
dnsbl_skip(struct txn *txn)
{
	if (txn_auth_user(txn) != NULL)
		return 1;
	switch (txn_in_mynetworks(txn)) {
	case TABLE_FOUND:
		return 1;
	case TABLE_NOTFOUND:
		return 0;
	default:
		return -1;
	}
}

/* dnsbl_domain - a domain worth asking about: not "unknown", not an
 * address literal, without a trailing dot; NULL otherwise */
static const char *
dnsbl_domain(struct arena *arena, const char *name)
{
	size_t len;

	if (name == NULL || *name == '\0' || *name == '[' ||
	    strcmp(name, "unknown") == 0)
		return NULL;
	len = strlen(name);
	if (name[len - 1] == '.')
		return len > 1 ? arena_strndup(arena, name, len - 1) : NULL;
	return name;
}

/* dnsbl_handle - one stage: ask, add up, decide */
static enum policy_status
dnsbl_handle(const struct policy_call *call, struct verdict *v)
{
	const struct dnsbl_config *cfg = call->config;
	struct dnsbl_conn *conn = call->conn;
	struct dnsbl_msg *msg = call->msg;
	struct txn *txn = call->txn;
	struct arena *arena = call->stage == POLICY_MAIL ?
	    txn_msg_arena(txn) : txn_conn_arena(txn);
	const char *qid = txn_queue_id(txn), *name, *txt;
	const struct inet_addr *addr;
	const struct mailaddr *sender;
	struct dnsbl_ask asks[2];
	struct dnsbl_round r = { 0 };
	struct dnsbl_top top;
	char rev[DNSBL_REVERSE_MAX];
	size_t nasks = 0;
	long total;
	int skip;

	if (conn->decided)
		return POLICY_DONE;
	if ((skip = dnsbl_skip(txn)) != 0)
		return skip < 0 ? POLICY_FAILED : POLICY_DONE;
	switch (call->stage) {
	case POLICY_CONNECT:
		if ((addr = txn_client_addr(txn)) != NULL)
			asks[nasks++] = (struct dnsbl_ask){
				.sites = &cfg->client,
				.name = inet_reverse_name(addr, rev,
				    sizeof(rev)),
			};
		if (cfg->check_client_name && (name = dnsbl_domain(arena,
		    txn_client_name(txn))) != NULL)
			asks[nasks++] = (struct dnsbl_ask){
				.sites = &cfg->domain, .name = name,
				.label = name,
			};
		break;
	case POLICY_HELO:
		if (cfg->check_helo && (name = dnsbl_domain(arena,
		    txn_helo(txn))) != NULL)
			asks[nasks++] = (struct dnsbl_ask){
				.sites = &cfg->domain, .name = name,
				.label = name,
			};
		break;
	case POLICY_MAIL:
		if (msg == NULL)
			log_panic("dnsbl: MAIL stage without message state");
		sender = txn_sender(txn);
		if (cfg->check_sender && sender != NULL &&
		    (name = dnsbl_domain(arena, sender->domain)) != NULL)
			asks[nasks++] = (struct dnsbl_ask){
				.sites = &cfg->domain, .name = name,
				.label = name,
			};
		break;
	default:
		return POLICY_DONE;
	}
	dnsbl_query_all(cfg, qid, asks, nasks, arena, &r);

	/* this stage's weights replace that stage's earlier ones (a second
	 * HELO), then the running total */
	if (call->stage == POLICY_CONNECT)
		conn->connect_total = r.listed;
	else if (call->stage == POLICY_HELO)
		conn->helo_total = r.listed;
	else
		msg->mail_total = r.listed;
	total = conn->connect_total + conn->helo_total +
	    (call->stage == POLICY_MAIL ? msg->mail_total : 0);
	txn_set_dnsbl_weight(txn, total);
	if (r.top.site != NULL) {
		if (call->stage == POLICY_MAIL) {
			if (msg->top.site == NULL ||
			    r.top.site->weight > msg->top.site->weight)
				msg->top = r.top;
		} else if (conn->top.site == NULL ||
		    r.top.site->weight > conn->top.site->weight) {
			conn->top.site = r.top.site;
			conn->top.query = arena_strdup(txn_conn_arena(txn),
			    r.top.query);
		}
	}
	v->score = (double)r.listed * cfg->score_weight;
	if (r.reason.len > 0 || total != 0)
		v->reason = arena_printf(arena, "%s%stotal=%ld",
		    buf_cstr(&r.reason), r.reason.len > 0 ? " " : "", total);
	buf_free(&r.reason);

	/* a decision must hold whatever the failed sites would have said */
	if (total + r.err_neg >= cfg->threshold) {
		top = conn->top;
		if (msg != NULL && msg->top.site != NULL &&
		    (top.site == NULL ||
		    msg->top.site->weight > top.site->weight))
			top = msg->top;
		txt = top.site != NULL ? dnsbl_txt(cfg, call, top.query,
		    arena) : NULL;
		conn->decided = call->stage != POLICY_MAIL;
		v->action = VERDICT_REJECT;
		v->code = arena_printf(arena, "%lu", cfg->reply_code);
		v->xcode = cfg->reply_code < 500 ? "4.7.1" : "5.7.1";
		v->text = dnsbl_reply_text(arena, cfg->reply_text,
		    txn_client_addr_text(txn),
		    top.site != NULL ? top.site->zone : "", txt);
		return POLICY_DONE;
	}
	if (cfg->allowlist_threshold < 0 &&
	    total + r.err_pos <= cfg->allowlist_threshold) {
		conn->decided = call->stage != POLICY_MAIL;
		v->reason = arena_printf(arena, "allowlisted %s",
		    v->reason != NULL ? v->reason : "");
		return POLICY_DONE;
	}
	return r.errors > 0 ? POLICY_FAILED : POLICY_DONE;
}

/* --- settings ------------------------------------------------------------- */

#define DNSBL_OFF(f)	offsetof(struct dnsbl_config, f)

static const struct conf_setting dnsbl_settings[] = {
	{ .name = "client_sites", .type = CONF_LIST, .def = "",
	  .offset = DNSBL_OFF(client_sites),
	  .help = "IP lists: zone[=filter|&mask][*weight]" },
	{ .name = "domain_sites", .type = CONF_LIST, .def = "",
	  .offset = DNSBL_OFF(domain_sites),
	  .help = "domain lists (RHSBL): zone[=filter|&mask][*weight]" },
	{ .name = "check_client_name", .type = CONF_BOOL, .def = "yes",
	  .offset = DNSBL_OFF(check_client_name),
	  .help = "ask domain_sites about the verified client name" },
	{ .name = "check_helo", .type = CONF_BOOL, .def = "yes",
	  .offset = DNSBL_OFF(check_helo),
	  .help = "ask domain_sites about the HELO name" },
	{ .name = "check_sender", .type = CONF_BOOL, .def = "yes",
	  .offset = DNSBL_OFF(check_sender),
	  .help = "ask domain_sites about the sender domain" },
	{ .name = "threshold", .type = CONF_INT, .def = "1",
	  .offset = DNSBL_OFF(threshold),
	  .min = "1",
	  .help = "total weight at which the client is rejected" },
	{ .name = "allowlist_threshold", .type = CONF_INT, .def = "0",
	  .offset = DNSBL_OFF(allowlist_threshold),
	  .max = "0",
	  .help = "total weight at or below which the client is exempt "
	  "(negative; 0 = off)" },
	{ .name = "reply_code", .type = CONF_UINT, .def = "554",
	  .offset = DNSBL_OFF(reply_code), .min = "400", .max = "599",
	  .help = "reply code of a rejection" },
	{ .name = "reply_text", .type = CONF_STRING,
	  .def = "Service unavailable; client [%s] blocked using %s",
	  .offset = DNSBL_OFF(reply_text),
	  .help = "reply text: %s = client address, then list zone" },
	{ .name = "score_weight", .type = CONF_DOUBLE, .def = "1",
	  .offset = DNSBL_OFF(score_weight),
	  .help = "score added per unit of listed weight" },
	{ .name = NULL },
};

const struct policy_module dnsbl_module = {
	.name = "dnsbl",
	.summary = "DNS block and allow lists for the client address, "
	    "client name, HELO name and sender domain",
	.settings = dnsbl_settings,
	.config_size = sizeof(struct dnsbl_config),
	.init = dnsbl_init,
	.conn_size = sizeof(struct dnsbl_conn),
	.msg_size = sizeof(struct dnsbl_msg),
	.stage = {
		[POLICY_CONNECT] = dnsbl_handle,
		[POLICY_HELO] = dnsbl_handle,
		[POLICY_MAIL] = dnsbl_handle,
	},
	.on_failure = POLICY_FAIL_ACCEPT,
};
