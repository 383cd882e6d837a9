/*
 * dmarc.c - DMARC (RFC 7489) with libopendmarc (module "dmarc"; see
 * dmarc.h and filterd.conf(5))
 *
 * libopendmarc is used only here, and only for what it does right: it
 * parses the policy record. Everything around it is done in this file:
 *
 *	- DNS: the record is looked up through lib/dns (the config's
 *	  resolver, with its three answers), never by the library, so a
 *	  DNS error is temperror and never "no policy". Order as in RFC
 *	  7489 §6.6.3: _dmarc.<From domain>, then, when there is no DMARC
 *	  record there, _dmarc.<organizational domain>. Of the TXT records
 *	  at a name only those starting with v=DMARC1 count; several of
 *	  them end policy discovery (no policy, no further lookup).
 *	- Organizational domain and alignment: libopendmarc 1.4.2 gets
 *	  them wrong. Its public suffix lookup (opendmarc_get_tld, used by
 *	  opendmarc_policy_check_alignment and get_policy_to_enforce) makes
 *	  x.co.uk's organizational domain "co.uk", which would align
 *	  evil.co.uk with victim.co.uk; it is case-sensitive and mishandles
 *	  wildcard rules; and its strict mode aligns mail.example.com with
 *	  example.com. So the public suffix list is read here (the
 *	  publicsuffix.org algorithm, ICANN and private sections) and
 *	  alignment (§3.1: strict = same name, relaxed = same
 *	  organizational domain) and the policy choice (p, or sp when the
 *	  record came from the organizational domain, §6.6.3) are decided
 *	  here.
 *	- Hardening: record text is hostile. libopendmarc copies tag values
 *	  into fixed buffers (32 bytes for rf= items, 256 and 512 for
 *	  others) and reads past them when a value fills one exactly, and
 *	  its rf=iodef sets a bit of aspf. Only the tags evaluation needs
 *	  (v, p, sp, adkim, aspf, pct) reach it, each term at most 255
 *	  bytes; a longer or repeated one is permerror. fo= is read here,
 *	  for reports only.
 *
 * pct= (§6.6.4): a failing message that is not sampled gets the next
 * less strict policy (reject -> quarantine -> none), and the report
 * says sampled_out. The local reject_action and quarantine_action then
 * map the policy to what is done; dis= is what was done.
 */
#include "config.h"

#include <sys/stat.h>
#include <opendmarc/dmarc.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "arena.h"
#include "buf.h"
#include "hdrval.h"
#include "conf.h"
#include "dmarc.h"
#include "dmarc_store.h"
#include "dns.h"
#include "log.h"
#include "mem.h"
#include "policy.h"
#include "table.h"

#define DMARC_T_TXT	16
#define DMARC_TERM_MAX	255	/* bytes of one kept record term */
#define DMARC_LABELS	128	/* a valid DNS name has at most 127 */

/* Results, as in Authentication-Results (RFC 7489 §11.2). */
enum dmarc_res {
	DMARC_RES_NONE, DMARC_RES_PASS, DMARC_RES_FAIL, DMARC_RES_TEMPERROR,
	DMARC_RES_PERMERROR,
};

static const char *const dmarc_res_names[] = {
	[DMARC_RES_NONE] = "none",
	[DMARC_RES_PASS] = "pass",
	[DMARC_RES_FAIL] = "fail",
	[DMARC_RES_TEMPERROR] = "temperror",
	[DMARC_RES_PERMERROR] = "permerror",
};

/* Policies and dispositions, weakest first (sampling steps down). */
enum dmarc_disp { DMARC_DISP_NONE, DMARC_DISP_QUARANTINE, DMARC_DISP_REJECT };

static const char *const dmarc_disp_names[] = {
	[DMARC_DISP_NONE] = "none",
	[DMARC_DISP_QUARANTINE] = "quarantine",
	[DMARC_DISP_REJECT] = "reject",
};

/* What the module does; the first three are also dispositions. */
enum dmarc_act {
	DMARC_ACT_NONE = DMARC_DISP_NONE,
	DMARC_ACT_QUARANTINE = DMARC_DISP_QUARANTINE,
	DMARC_ACT_REJECT = DMARC_DISP_REJECT,
	DMARC_ACT_DEFER,
};

static const char *const dmarc_act_names[] = {
	[DMARC_ACT_NONE] = "none",
	[DMARC_ACT_QUARANTINE] = "quarantine",
	[DMARC_ACT_REJECT] = "reject",
	[DMARC_ACT_DEFER] = "defer",
	NULL,
};

/* The public suffix list: rules, "*." rules and "!" rules, each without
 * its prefix, sorted for bsearch. */
struct dmarc_psl {
	const char **rule, **wild, **except;
	size_t nrule, nwild, nexcept;
};

struct dmarc_config {
	int reject_action;
	int quarantine_action;
	int temperror_action;
	int permerror_action;
	int multiple_from_action;
	const char *public_suffix_list;
	const char *report_store;
	/* runtime, filled by init */
	struct dns *dns;
	struct dmarc_psl psl;
	struct dmarc_store *store;
};

/* What the From header fields said, collected at HEADER. */
struct dmarc_msg {
	unsigned nfrom;			/* From fields */
	unsigned naddr;			/* addresses in them */
	const char *bad;		/* why one does not parse (static) */
	const char *domain;		/* the first address's domain:
					   lower case, no final dot */
	bool several;			/* not all in one domain */
};

/* A published policy, as evaluation uses it. */
struct dmarc_policy {
	const char *domain;		/* where it was found */
	bool org;			/* at the organizational domain */
	enum dmarc_disp p, sp;		/* sp: p when absent */
	unsigned pct;
	char adkim, aspf;		/* 'r' or 's' */
	const char *fo;
};

/* One message's evaluation. */
struct dmarc_eval {
	enum dmarc_res res;
	const char *from;		/* From domain, or NULL */
	bool from_ok;			/* a valid DNS domain name */
	const char *problem;		/* for the log and replies */
	bool have_policy;
	struct dmarc_policy pol;
	bool dkim_aligned, spf_aligned;	/* aligned and pass */
	bool id_temperror;		/* an aligned identifier: temperror */
	bool several_from;
	enum dmarc_disp applied;	/* dis= */
	const char *override;		/* report reason, or "" */
	enum dmarc_act action;
};

static unsigned (*dmarc_pick)(void);

/* dmarc_set_sampler - see dmarc.h */
void
dmarc_set_sampler(unsigned (*pick)(void))
{
	dmarc_pick = pick;
}

/* dmarc_sample - 0..99 for pct= */
static unsigned
dmarc_sample(void)
{
	return dmarc_pick != NULL ? dmarc_pick() % 100 :
	    arc4random_uniform(100);
}

/* --- public suffix list --------------------------------------------------- */

/* dmarc_psl_cmp - qsort/bsearch order of rule strings */
static int
dmarc_psl_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* dmarc_psl_has - whether name is among the n sorted rules */
static bool
dmarc_psl_has(const char **rules, size_t n, const char *name)
{
	return n > 0 && bsearch(&name, rules, n, sizeof(*rules),
	    dmarc_psl_cmp) != NULL;
}

/* A list being read: growable arrays of the three kinds. */
struct dmarc_psl_read {
	const char **v[3];
	size_t n[3], cap[3];
};

/* dmarc_psl_push - one rule of kind k (0 plain, 1 wildcard, 2 exception) */
static void
dmarc_psl_push(struct dmarc_psl_read *r, int k, const char *rule)
{
	if (r->n[k] == r->cap[k]) {
		r->cap[k] = r->cap[k] ? r->cap[k] * 2 : 1024;
		r->v[k] = xrealloc(r->v[k], r->cap[k] * sizeof(*r->v[k]));
	}
	r->v[k][r->n[k]++] = rule;
}

/* dmarc_psl_fix - sort kind k and move it into the arena */
static const char **
dmarc_psl_fix(struct arena *arena, struct dmarc_psl_read *r, int k,
    size_t *n_r)
{
	const char **v = NULL;

	*n_r = r->n[k];
	if (r->n[k] > 0) {
		qsort(r->v[k], r->n[k], sizeof(*r->v[k]), dmarc_psl_cmp);
		v = (const char **)arena_memdup(arena, r->v[k],
		    r->n[k] * sizeof(*r->v[k]));
	}
	free(r->v[k]);
	return v;
}

/*
 * dmarc_psl_load - read publicsuffix.org's format: one rule per line,
 * the first white-space delimited word; "//" comments; "*." and "!"
 * prefixes. Rules go into arena, lower-cased. Static error text or NULL
 * (errno text for a file that cannot be opened).
 */
static const char *
dmarc_psl_load(struct arena *arena, const char *path, struct dmarc_psl *psl)
{
	struct dmarc_psl_read r = { 0 };
	const char *why = NULL;
	char *line = NULL, *p, *end;
	struct stat st;
	size_t cap = 0;
	FILE *fp;
	int k;

	if ((fp = fopen(path, "r")) == NULL)
		return strerror(errno);
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(fp);
		return "not a regular file";
	}
	while (getline(&line, &cap, fp) >= 0) {
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		for (end = p; *end != '\0' && !isspace((unsigned char)*end);
		    end++)
			*end = (char)tolower((unsigned char)*end);
		*end = '\0';
		if (*p == '\0' || strncmp(p, "//", 2) == 0)
			continue;
		k = 0;
		if (p[0] == '!') {
			k = 2;
			p++;
		} else if (p[0] == '*' && p[1] == '.') {
			k = 1;
			p += 2;
		}
		if (*p == '\0' || *p == '.' || strchr(p, '*') != NULL)
			continue;	/* no such rules in the list */
		dmarc_psl_push(&r, k, arena_strdup(arena, p));
	}
	if (ferror(fp))
		why = "read error";
	else if (r.n[0] + r.n[1] + r.n[2] == 0)
		why = "no rules in the file";
	free(line);
	fclose(fp);
	psl->rule = dmarc_psl_fix(arena, &r, 0, &psl->nrule);
	psl->wild = dmarc_psl_fix(arena, &r, 1, &psl->nwild);
	psl->except = dmarc_psl_fix(arena, &r, 2, &psl->nexcept);
	return why;
}

/*
 * dmarc_org_domain - the organizational domain of d (a valid DNS name,
 * lower case): its public suffix (the publicsuffix.org algorithm: an
 * exception rule prevails, else the matching rule with most labels, else
 * "*") plus one label (RFC 7489 §3.2). A suffix of d itself, or d when d
 * is a public suffix.
 */
static const char *
dmarc_org_domain(const struct dmarc_psl *psl, const char *d)
{
	const char *label[DMARC_LABELS], *p;
	size_t n = 0, i, best = 1;
	bool exception = false;

	label[n++] = d;
	for (p = d; *p != '\0' && n < DMARC_LABELS; p++)
		if (*p == '.')
			label[n++] = p + 1;
	for (i = 0; i < n && !exception; i++)
		if (dmarc_psl_has(psl->except, psl->nexcept, label[i])) {
			best = n - i - 1;
			exception = true;
		}
	for (i = 0; i < n && !exception; i++) {
		if (n - i > best &&
		    dmarc_psl_has(psl->rule, psl->nrule, label[i]))
			best = n - i;
		if (i > 0 && n - i + 1 > best &&
		    dmarc_psl_has(psl->wild, psl->nwild, label[i]))
			best = n - i + 1;
	}
	return best >= n ? d : label[n - best - 1];
}

/* --- From header ---------------------------------------------------------- */

enum dmarc_tok {
	DMARC_TOK_END, DMARC_TOK_ATOM, DMARC_TOK_QSTR, DMARC_TOK_DLIT,
	DMARC_TOK_CHAR, DMARC_TOK_ERROR,
};

/* The lexer of RFC 5322 §3.2 over one header value: comments and
 * folding white space are skipped; dots belong to atoms (dot-atoms and
 * obs-phrase). */
struct dmarc_lex {
	const char *p;
	enum dmarc_tok type;
	const char *s;			/* token text */
	size_t len;
	char c;				/* DMARC_TOK_CHAR */
	const char *why;		/* DMARC_TOK_ERROR */
};

/* dmarc_atext - atext (RFC 5322), '.', or UTF-8 (RFC 6532) */
static bool
dmarc_atext(unsigned char c)
{
	return isalnum(c) || c >= 0x80 || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

/* dmarc_lex_error - the lexer stops at an error */
static void
dmarc_lex_error(struct dmarc_lex *lx, const char *why)
{
	lx->type = DMARC_TOK_ERROR;
	lx->why = why;
}

/* dmarc_lex_quoted - from an opening quote or bracket at *p to its
 * closing byte close, with quoted-pairs; false if unterminated */
static bool
dmarc_lex_quoted(const char **pp, char close, char refuse)
{
	const char *p = *pp + 1;

	for (; *p != close; p++) {
		if (*p == '\0' || (refuse != '\0' && *p == refuse))
			return false;
		if (*p == '\\' && *++p == '\0')
			return false;
	}
	*pp = p + 1;
	return true;
}

/* dmarc_lex_next - the next token into lx */
static void
dmarc_lex_next(struct dmarc_lex *lx)
{
	const char *p = lx->p;
	int depth;

	if (lx->type == DMARC_TOK_ERROR)
		return;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			break;
		for (depth = 1, p++; depth > 0; p++) {
			if (*p == '\0') {
				dmarc_lex_error(lx, "unbalanced comment");
				return;
			}
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
		}
	}
	lx->s = p;
	if (*p == '\0')
		lx->type = DMARC_TOK_END;
	else if (*p == '"') {
		if (!dmarc_lex_quoted(&p, '"', '\0')) {
			dmarc_lex_error(lx, "unbalanced quotes");
			return;
		}
		lx->type = DMARC_TOK_QSTR;
	} else if (*p == '[') {
		if (!dmarc_lex_quoted(&p, ']', '[')) {
			dmarc_lex_error(lx, "unbalanced brackets");
			return;
		}
		lx->type = DMARC_TOK_DLIT;
	} else if (dmarc_atext((unsigned char)*p)) {
		while (dmarc_atext((unsigned char)*p))
			p++;
		lx->type = DMARC_TOK_ATOM;
	} else if (strchr("<>@,;:", *p) != NULL) {
		lx->c = *p++;
		lx->type = DMARC_TOK_CHAR;
	} else {
		dmarc_lex_error(lx, "unexpected character");
		return;
	}
	lx->len = (size_t)(p - lx->s);
	lx->p = p;
}

/* dmarc_lex_is - the current token is the special c */
static bool
dmarc_lex_is(const struct dmarc_lex *lx, char c)
{
	return lx->type == DMARC_TOK_CHAR && lx->c == c;
}

/* dmarc_expected - what to report: the lexer's error, else why */
static const char *
dmarc_expected(const struct dmarc_lex *lx, const char *why)
{
	return lx->type == DMARC_TOK_ERROR ? lx->why : why;
}

/* dmarc_from_add - one address's domain (atom or domain literal) into m */
static void
dmarc_from_add(struct dmarc_msg *m, struct arena *arena, const char *s,
    size_t len)
{
	char *d;
	size_t i;

	if (len > 1 && s[len - 1] == '.' && s[0] != '[')
		len--;
	d = arena_strndup(arena, s, len);
	for (i = 0; i < len; i++)
		d[i] = (char)tolower((unsigned char)d[i]);
	m->naddr++;
	if (m->domain == NULL)
		m->domain = d;
	else if (strcmp(m->domain, d) != 0)
		m->several = true;
}

/* dmarc_addr_spec_domain - after '@': the domain; static error or NULL */
static const char *
dmarc_addr_spec_domain(struct dmarc_lex *lx, struct dmarc_msg *m,
    struct arena *arena)
{
	if (lx->type != DMARC_TOK_ATOM && lx->type != DMARC_TOK_DLIT)
		return dmarc_expected(lx, "address without a domain");
	dmarc_from_add(m, arena, lx->s, lx->len);
	dmarc_lex_next(lx);
	return NULL;
}

/* dmarc_words - skip a phrase or local part; the number of words */
static int
dmarc_words(struct dmarc_lex *lx)
{
	int n = 0;

	while (lx->type == DMARC_TOK_ATOM || lx->type == DMARC_TOK_QSTR) {
		n++;
		dmarc_lex_next(lx);
	}
	return n;
}

/*
 * dmarc_parse_address - one mailbox (addr-spec, or [phrase] <[route]
 * addr-spec>) or, outside a group, a group (phrase: [list];); each
 * domain into m. Static error text or NULL.
 */
static const char *
dmarc_parse_address(struct dmarc_lex *lx, struct dmarc_msg *m,
    struct arena *arena, bool in_group)
{
	const char *why;
	int words = dmarc_words(lx);

	if (dmarc_lex_is(lx, '@')) {
		if (words == 0)
			return "address without a local part";
		dmarc_lex_next(lx);
		return dmarc_addr_spec_domain(lx, m, arena);
	}
	if (dmarc_lex_is(lx, '<')) {
		dmarc_lex_next(lx);
		if (dmarc_lex_is(lx, '@')) {	/* obs-route, dropped */
			while (!dmarc_lex_is(lx, ':')) {
				if (lx->type == DMARC_TOK_END ||
				    lx->type == DMARC_TOK_ERROR ||
				    dmarc_lex_is(lx, '>'))
					return dmarc_expected(lx,
					    "bad source route");
				dmarc_lex_next(lx);
			}
			dmarc_lex_next(lx);
		}
		if (dmarc_words(lx) == 0 || !dmarc_lex_is(lx, '@'))
			return dmarc_expected(lx, "bad address in <>");
		dmarc_lex_next(lx);
		if ((why = dmarc_addr_spec_domain(lx, m, arena)) != NULL)
			return why;
		if (!dmarc_lex_is(lx, '>'))
			return dmarc_expected(lx, "expected '>'");
		dmarc_lex_next(lx);
		return NULL;
	}
	if (dmarc_lex_is(lx, ':') && words > 0 && !in_group) {
		dmarc_lex_next(lx);
		for (;;) {
			if (dmarc_lex_is(lx, ';')) {
				dmarc_lex_next(lx);
				return NULL;
			}
			if (dmarc_lex_is(lx, ',')) {
				dmarc_lex_next(lx);
				continue;
			}
			if ((why = dmarc_parse_address(lx, m, arena,
			    true)) != NULL)
				return why;
			if (!dmarc_lex_is(lx, ',') && !dmarc_lex_is(lx, ';'))
				return dmarc_expected(lx,
				    "expected ',' or ';' in a group");
		}
	}
	return dmarc_expected(lx, "expected an address");
}

/* dmarc_parse_from - a From value (RFC 5322 mailbox-list; groups, empty
 * list elements and routes tolerated); domains into m. Static error
 * text or NULL. */
static const char *
dmarc_parse_from(const char *value, struct dmarc_msg *m, struct arena *arena)
{
	struct dmarc_lex lx = { .p = value };
	const char *why;

	dmarc_lex_next(&lx);
	for (;;) {
		if (lx.type == DMARC_TOK_END)
			return NULL;
		if (dmarc_lex_is(&lx, ',')) {
			dmarc_lex_next(&lx);
			continue;
		}
		if ((why = dmarc_parse_address(&lx, m, arena, false)) != NULL)
			return why;
		if (lx.type == DMARC_TOK_END)
			return NULL;
		if (!dmarc_lex_is(&lx, ','))
			return dmarc_expected(&lx,
			    "expected ',' between addresses");
	}
}

/* dmarc_domain_ok - a DNS domain name the policy can be looked up for:
 * letters, digits, '-', '_' and '.', valid label lengths */
static bool
dmarc_domain_ok(const char *d)
{
	const char *p;

	if (d == NULL || *d == '\0' || !dns_name_valid(d))
		return false;
	for (p = d; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.')
			return false;
	return true;
}

/* --- policy records ------------------------------------------------------- */

/* dmarc_wsp - skip blanks */
static const char *
dmarc_wsp(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* dmarc_is_record - a TXT string that starts with the v=DMARC1 tag
 * (RFC 7489 §6.4: "v" *WSP "=" *WSP "DMARC1", then ";" or the end) */
static bool
dmarc_is_record(const char *txt)
{
	const char *p = dmarc_wsp(txt);

	if (*p != 'v' && *p != 'V')
		return false;
	p = dmarc_wsp(p + 1);
	if (*p++ != '=')
		return false;
	p = dmarc_wsp(p);
	if (strncmp(p, "DMARC1", 6) != 0)
		return false;
	p = dmarc_wsp(p + 6);
	return *p == ';' || *p == '\0';
}

enum dmarc_lookup {
	DMARC_LOOKUP_FOUND, DMARC_LOOKUP_NONE, DMARC_LOOKUP_SEVERAL,
	DMARC_LOOKUP_ERROR,
};

/* dmarc_fetch - the DMARC record at _dmarc.domain into *record_r
 * (arena); *why_r for an error */
static enum dmarc_lookup
dmarc_fetch(struct dns *dns, struct arena *arena, const char *domain,
    const char **record_r, const char **why_r)
{
	const char *name = arena_printf(arena, "_dmarc.%s", domain), *text;
	struct dns_answer a;
	size_t i, n = 0;

	switch (dns_query(dns, name, DMARC_T_TXT, arena, &a)) {
	case DNS_FOUND:
		break;
	case DNS_NOTFOUND:
		return DMARC_LOOKUP_NONE;
	default:
		*why_r = a.why != NULL ? a.why : "DNS error";
		return DMARC_LOOKUP_ERROR;
	}
	for (i = 0; i < a.n; i++) {
		if (!dns_txt_join(arena, a.data[i], a.len[i], &text)) {
			*why_r = "malformed TXT record";
			return DMARC_LOOKUP_ERROR;
		}
		if (dmarc_is_record(text)) {
			*record_r = text;
			n++;
		}
	}
	return n == 0 ? DMARC_LOOKUP_NONE : n == 1 ? DMARC_LOOKUP_FOUND :
	    DMARC_LOOKUP_SEVERAL;
}

/* The tags that reach libopendmarc (see the top of the file). */
static const char *const dmarc_kept_tags[] = {
	"v", "p", "sp", "adkim", "aspf", "pct", NULL,
};

/* dmarc_fo_ok - fo= is one or more of 0 1 d s, ':' separated */
static bool
dmarc_fo_ok(const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (i % 2 == 0 ? strchr("01ds", v[i]) == NULL || v[i] == '\0' :
		    v[i] != ':')
			return false;
	return len % 2 == 1;
}

/*
 * dmarc_record_filter - the record's terms that evaluation needs, as
 * "tag=value; ..." for libopendmarc, and fo= for reports ("0" when
 * absent or not valid). Static error text or NULL.
 */
static const char *
dmarc_record_filter(struct arena *arena, const char *txt,
    const char **kept_r, const char **fo_r)
{
	const char *term, *end, *eq, *t0, *t1, *v0, *v1;
	bool seen[6] = { false };
	struct buf b = { 0 };
	size_t k;

	*fo_r = "0";
	for (term = txt; *term != '\0'; term = *end != '\0' ? end + 1 : end) {
		end = strchr(term, ';');
		if (end == NULL)
			end = term + strlen(term);
		eq = memchr(term, '=', (size_t)(end - term));
		if (eq == NULL)
			continue;
		t0 = dmarc_wsp(term);
		for (t1 = eq; t1 > t0 && (t1[-1] == ' ' || t1[-1] == '\t');
		    t1--)
			;
		v0 = dmarc_wsp(eq + 1);
		for (v1 = end; v1 > v0 && (v1[-1] == ' ' || v1[-1] == '\t');
		    v1--)
			;
		if ((size_t)(t1 - t0) == 2 && strncasecmp(t0, "fo", 2) == 0) {
			if (dmarc_fo_ok(v0, (size_t)(v1 - v0)))
				*fo_r = arena_strndup(arena, v0,
				    (size_t)(v1 - v0));
			continue;
		}
		for (k = 0; dmarc_kept_tags[k] != NULL; k++)
			if (strlen(dmarc_kept_tags[k]) == (size_t)(t1 - t0) &&
			    strncasecmp(dmarc_kept_tags[k], t0,
			    (size_t)(t1 - t0)) == 0)
				break;
		if (dmarc_kept_tags[k] == NULL)
			continue;
		if (seen[k] || (size_t)(v1 - t0) > DMARC_TERM_MAX ||
		    (strcmp(dmarc_kept_tags[k], "pct") == 0 &&
		    (v1 == v0 || v1 - v0 > 3 ||
		    strspn(v0, "0123456789") < (size_t)(v1 - v0)))) {
			buf_free(&b);
			return seen[k] ? "repeated tag" :
			    (size_t)(v1 - t0) > DMARC_TERM_MAX ?
			    "tag too long" : "bad pct";
		}
		seen[k] = true;
		buf_printf(&b, "%s%s=%.*s", b.len > 0 ? "; " : "",
		    dmarc_kept_tags[k], (int)(v1 - v0), v0);
	}
	*kept_r = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return NULL;
}

/* dmarc_disp_of - libopendmarc's p/sp letter; false if unset */
static bool
dmarc_disp_of(int c, enum dmarc_disp *d_r)
{
	switch (c) {
	case DMARC_RECORD_P_NONE:
		*d_r = DMARC_DISP_NONE;
		return true;
	case DMARC_RECORD_P_QUARANTINE:
		*d_r = DMARC_DISP_QUARANTINE;
		return true;
	case DMARC_RECORD_P_REJECT:
		*d_r = DMARC_DISP_REJECT;
		return true;
	default:
		return false;
	}
}

/*
 * dmarc_policy_parse - the record found at pol->domain for the From
 * domain, parsed by libopendmarc into pol; static error text or NULL
 */
static const char *
dmarc_policy_parse(struct arena *arena, const char *client,
    const char *from, const char *record, struct dmarc_policy *pol)
{
	DMARC_POLICY_T *pctx;
	const char *kept, *why = NULL;
	int st, p = 0, sp = 0, pct = 0, adkim = 0, aspf = 0;

	if ((why = dmarc_record_filter(arena, record, &kept, &pol->fo)) !=
	    NULL)
		return why;
	pctx = opendmarc_policy_connect_init((u_char *)client,
	    strchr(client, ':') != NULL);
	if (pctx == NULL)
		log_fatal("dmarc: out of memory");
	st = opendmarc_policy_store_dmarc(pctx, (u_char *)kept,
	    (u_char *)from, pol->org ? (u_char *)pol->domain : NULL);
	if (st != DMARC_PARSE_OKAY)
		why = opendmarc_policy_status_to_str(st);
	else if (opendmarc_policy_fetch_p(pctx, &p) != DMARC_PARSE_OKAY ||
	    opendmarc_policy_fetch_sp(pctx, &sp) != DMARC_PARSE_OKAY ||
	    opendmarc_policy_fetch_pct(pctx, &pct) != DMARC_PARSE_OKAY ||
	    opendmarc_policy_fetch_adkim(pctx, &adkim) != DMARC_PARSE_OKAY ||
	    opendmarc_policy_fetch_aspf(pctx, &aspf) != DMARC_PARSE_OKAY)
		log_panic("dmarc: libopendmarc lost its context");
	opendmarc_policy_connect_shutdown(pctx);
	if (why != NULL)
		return why;
	if (!dmarc_disp_of(p, &pol->p))
		return "no valid p= tag";
	if (!dmarc_disp_of(sp, &pol->sp))
		pol->sp = pol->p;
	if (pct < 0 || pct > 100)
		return "bad pct";
	pol->pct = (unsigned)pct;
	pol->adkim = adkim == DMARC_RECORD_A_STRICT ? 's' : 'r';
	pol->aspf = aspf == DMARC_RECORD_A_STRICT ? 's' : 'r';
	return NULL;
}

/* --- evaluation ----------------------------------------------------------- */

/* dmarc_lower - s lower-cased without one trailing dot, in arena */
static const char *
dmarc_lower(struct arena *arena, const char *s)
{
	size_t len = strlen(s), i;
	char *d;

	if (len > 1 && s[len - 1] == '.')
		len--;
	d = arena_strndup(arena, s, len);
	for (i = 0; i < len; i++)
		d[i] = (char)tolower((unsigned char)d[i]);
	return d;
}

/* dmarc_aligned - RFC 7489 §3.1: the identifier's domain is the From
 * domain (strict), or has the same organizational domain (relaxed) */
static bool
dmarc_aligned(const struct dmarc_config *cfg, struct arena *arena,
    const char *from, const char *id, char mode)
{
	if (id == NULL)
		return false;
	id = dmarc_lower(arena, id);
	if (strcmp(from, id) == 0)
		return true;
	return mode != 's' && dmarc_domain_ok(id) &&
	    strcmp(dmarc_org_domain(&cfg->psl, from),
	    dmarc_org_domain(&cfg->psl, id)) == 0;
}

/* dmarc_identifiers - which authenticated identifiers align */
static void
dmarc_identifiers(const struct dmarc_config *cfg, struct txn *txn,
    struct arena *arena, struct dmarc_eval *ev)
{
	const struct txn_spf *spf = txn_spf(txn);
	const struct txn_dkim *dkim;
	size_t i, n = txn_dkim_count(txn);

	if (spf != NULL && spf->result != NULL &&
	    dmarc_aligned(cfg, arena, ev->from, spf->domain, ev->pol.aspf)) {
		ev->spf_aligned = strcmp(spf->result, "pass") == 0;
		ev->id_temperror = strcmp(spf->result, "temperror") == 0;
	}
	for (i = 0; i < n; i++) {
		dkim = txn_dkim_at(txn, i);
		if (dkim->result == NULL || !dmarc_aligned(cfg, arena,
		    ev->from, dkim->domain, ev->pol.adkim))
			continue;
		if (strcmp(dkim->result, "pass") == 0)
			ev->dkim_aligned = true;
		else if (strcmp(dkim->result, "temperror") == 0)
			ev->id_temperror = true;
	}
}

/* dmarc_local - what the configured actions make of a policy */
static enum dmarc_act
dmarc_local(const struct dmarc_config *cfg, enum dmarc_disp d)
{
	switch (d) {
	case DMARC_DISP_REJECT:
		return (enum dmarc_act)cfg->reject_action;
	case DMARC_DISP_QUARANTINE:
		return (enum dmarc_act)cfg->quarantine_action;
	default:
		return DMARC_ACT_NONE;
	}
}

/*
 * dmarc_judge - with a policy: pass when an identifier aligns and
 * passed; else fail, with the policy sampled by pct= and mapped by the
 * local actions. A failure that would be enforced while an aligned
 * identifier had a temporary error is temperror instead: the message
 * might pass later, and a p=none domain is never deferred for it.
 */
static void
dmarc_judge(const struct dmarc_config *cfg, struct txn *txn,
    struct arena *arena, struct dmarc_eval *ev)
{
	enum dmarc_disp requested;
	enum dmarc_act act;

	dmarc_identifiers(cfg, txn, arena, ev);
	ev->applied = DMARC_DISP_NONE;
	if (ev->dkim_aligned || ev->spf_aligned) {
		ev->res = DMARC_RES_PASS;
		return;
	}
	ev->res = DMARC_RES_FAIL;
	requested = ev->pol.org ? ev->pol.sp : ev->pol.p;
	if (requested != DMARC_DISP_NONE && dmarc_sample() >= ev->pol.pct) {
		requested = requested == DMARC_DISP_REJECT ?
		    DMARC_DISP_QUARANTINE : DMARC_DISP_NONE;
		ev->override = "sampled_out";
	}
	act = dmarc_local(cfg, requested);
	if (act != DMARC_ACT_NONE && ev->id_temperror) {
		ev->res = DMARC_RES_TEMPERROR;
		ev->problem = "an aligned identifier had a temporary error";
		act = (enum dmarc_act)cfg->temperror_action;
		if (act != DMARC_ACT_DEFER)
			act = DMARC_ACT_NONE;
	}
	ev->action = act;
	if (act == DMARC_ACT_DEFER)
		return;		/* not accepted: nothing applied or reported */
	ev->applied = (enum dmarc_disp)act;
	if (ev->applied != requested && *ev->override == '\0')
		ev->override = "local_policy";
}

/* dmarc_discover - find and parse the policy for ev->from (RFC 7489
 * §6.6.3), then judge; result and problem into ev */
static void
dmarc_discover(const struct dmarc_config *cfg, struct txn *txn,
    struct arena *arena, struct dmarc_eval *ev)
{
	const char *org, *record = NULL, *why = NULL;
	enum dmarc_lookup r;

	ev->pol.domain = ev->from;
	r = dmarc_fetch(cfg->dns, arena, ev->from, &record, &why);
	org = dmarc_org_domain(&cfg->psl, ev->from);
	if (r == DMARC_LOOKUP_NONE && strcmp(org, ev->from) != 0) {
		ev->pol.domain = org;
		ev->pol.org = true;
		r = dmarc_fetch(cfg->dns, arena, org, &record, &why);
	}
	switch (r) {
	case DMARC_LOOKUP_NONE:
		ev->res = DMARC_RES_NONE;
		return;
	case DMARC_LOOKUP_SEVERAL:
		ev->res = DMARC_RES_NONE;
		ev->problem = arena_printf(arena, "several DMARC records at "
		    "_dmarc.%s", ev->pol.domain);
		return;
	case DMARC_LOOKUP_ERROR:
		ev->res = DMARC_RES_TEMPERROR;
		ev->action = (enum dmarc_act)cfg->temperror_action;
		ev->problem = arena_printf(arena, "DNS error at _dmarc.%s: %s",
		    ev->pol.domain, why);
		return;
	case DMARC_LOOKUP_FOUND:
		break;
	}
	if ((why = dmarc_policy_parse(arena, txn_client_addr_text(txn),
	    ev->from, record, &ev->pol)) != NULL) {
		ev->res = DMARC_RES_PERMERROR;
		ev->action = (enum dmarc_act)cfg->permerror_action;
		ev->problem = arena_printf(arena, "bad DMARC record at "
		    "_dmarc.%s: %s", ev->pol.domain, why);
		return;
	}
	ev->have_policy = true;
	dmarc_judge(cfg, txn, arena, ev);
}

/* dmarc_evaluate - the whole evaluation of a message into ev */
static void
dmarc_evaluate(const struct dmarc_config *cfg, struct txn *txn,
    const struct dmarc_msg *m, struct arena *arena, struct dmarc_eval *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->override = "";
	ev->res = DMARC_RES_PERMERROR;
	ev->action = (enum dmarc_act)cfg->permerror_action;
	ev->from = m->domain;
	ev->from_ok = dmarc_domain_ok(m->domain);
	if (m->nfrom == 0)
		ev->problem = "no From header";
	else if (m->bad != NULL)
		ev->problem = arena_printf(arena, "From header does not "
		    "parse: %s", m->bad);
	else if (m->naddr == 0)
		ev->problem = "no address in the From header";
	else if (m->several) {
		ev->problem = "From addresses in several domains";
		ev->several_from = true;
		ev->action = (enum dmarc_act)cfg->multiple_from_action;
	} else if (!ev->from_ok)
		ev->problem = "From domain is not a DNS domain name";
	else
		dmarc_discover(cfg, txn, arena, ev);
	if (m->bad != NULL)
		ev->from = NULL;
}

/* --- output --------------------------------------------------------------- */


/* dmarc_authres - "dmarc=RESULT [(p= sp= dis=)] [header.from=DOMAIN]" */
static const char *
dmarc_authres(struct arena *arena, const struct dmarc_eval *ev)
{
	struct buf b = { 0 };
	const char *out;

	buf_printf(&b, "dmarc=%s", dmarc_res_names[ev->res]);
	if (ev->have_policy)
		buf_printf(&b, " (p=%s sp=%s dis=%s)",
		    dmarc_disp_names[ev->pol.p], dmarc_disp_names[ev->pol.sp],
		    dmarc_disp_names[ev->applied]);
	if (ev->from != NULL) {
		buf_puts(&b, " header.from=");
		hdrval_value(&b, ev->from);
	}
	out = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return out;
}

/* dmarc_reason - the summary log text */
static const char *
dmarc_reason(struct arena *arena, const struct dmarc_eval *ev)
{
	struct buf b = { 0 };
	const char *out;

	buf_printf(&b, "dmarc=%s", dmarc_res_names[ev->res]);
	if (ev->from != NULL && ev->from_ok)
		buf_printf(&b, " from=%s", ev->from);
	if (ev->have_policy)
		buf_printf(&b, " policy=%s %s=%s dis=%s%s%s",
		    ev->pol.domain, ev->pol.org ? "sp" : "p",
		    dmarc_disp_names[ev->pol.org ? ev->pol.sp : ev->pol.p],
		    dmarc_disp_names[ev->applied],
		    *ev->override != '\0' ? " " : "", ev->override);
	if (ev->problem != NULL)
		buf_printf(&b, " (%s)", ev->problem);
	out = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return out;
}

/* dmarc_reply - the text of a rejection, deferral or quarantine */
static const char *
dmarc_reply(struct arena *arena, const struct dmarc_eval *ev)
{
	const char *verb;

	if (ev->several_from)
		return "Messages with From addresses in several domains are "
		    "not accepted";
	if (ev->res == DMARC_RES_PERMERROR)
		return arena_printf(arena, "DMARC check failed: %s",
		    ev->problem);
	if (ev->res == DMARC_RES_TEMPERROR)
		return arena_printf(arena, "Cannot check mail from %s "
		    "against its DMARC policy now; try again later",
		    ev->from);
	verb = ev->action == DMARC_ACT_REJECT ? "refused" : "quarantined";
	if (strcmp(ev->from, ev->pol.domain) == 0)
		return arena_printf(arena, "Unauthenticated mail from %s is "
		    "%s by its DMARC policy", ev->from, verb);
	return arena_printf(arena, "Unauthenticated mail from %s is %s by "
	    "the DMARC policy of %s", ev->from, verb, ev->pol.domain);
}

/* dmarc_verdict - the action into the verdict */
static void
dmarc_verdict(struct arena *arena, const struct dmarc_eval *ev,
    struct verdict *v)
{
	switch (ev->action) {
	case DMARC_ACT_NONE:
		return;
	case DMARC_ACT_QUARANTINE:
		v->action = VERDICT_QUARANTINE;
		break;
	case DMARC_ACT_REJECT:
		v->action = VERDICT_REJECT;
		v->code = "550";
		v->xcode = "5.7.1";
		break;
	case DMARC_ACT_DEFER:
		v->action = VERDICT_DEFER;
		v->code = "451";
		v->xcode = "4.7.1";
		break;
	}
	v->text = dmarc_reply(arena, ev);
}

/* dmarc_spf_result - txn_spf's result as a report word */
static const char *
dmarc_spf_result(const char *r)
{
	static const char *const ok[] = {
		"none", "neutral", "pass", "fail", "softfail", "temperror",
		"permerror", NULL,
	};
	size_t i;

	for (i = 0; r != NULL && ok[i] != NULL; i++)
		if (strcmp(ok[i], r) == 0)
			return ok[i];
	return "none";
}

/* dmarc_dkim_result_ok - a DKIM result a report can carry */
static bool
dmarc_dkim_result_ok(const char *r)
{
	static const char *const ok[] = {
		"none", "pass", "fail", "policy", "neutral", "temperror",
		"permerror", NULL,
	};
	size_t i;

	for (i = 0; r != NULL && ok[i] != NULL; i++)
		if (strcmp(ok[i], r) == 0)
			return true;
	return false;
}

/* dmarc_store_write - one report record for an evaluated message */
static void
dmarc_store_write(const struct dmarc_config *cfg, struct txn *txn,
    const struct dmarc_eval *ev)
{
	const struct txn_spf *spf = txn_spf(txn);
	struct dmarc_store_dkim dk[DMARC_STORE_DKIM_MAX];
	const struct txn_dkim *d;
	size_t i, n = 0;
	char *err = NULL;

	for (i = 0; i < txn_dkim_count(txn) && n < DMARC_STORE_DKIM_MAX;
	    i++) {
		d = txn_dkim_at(txn, i);
		if (d->domain == NULL || *d->domain == '\0' ||
		    !dmarc_dkim_result_ok(d->result))
			continue;
		dk[n++] = (struct dmarc_store_dkim){
			.domain = d->domain,
			.selector = d->selector != NULL ? d->selector : "",
			.result = d->result,
		};
	}
	if (!dmarc_store_append(cfg->store, &(struct dmarc_store_record){
		.time = time(NULL),
		.source_ip = txn_client_addr_text(txn),
		.header_from = ev->from,
		.policy_domain = ev->pol.domain,
		.p = dmarc_disp_names[ev->pol.p],
		.sp = dmarc_disp_names[ev->pol.sp],
		.pct = ev->pol.pct,
		.adkim = ev->pol.adkim == 's' ? "s" : "r",
		.aspf = ev->pol.aspf == 's' ? "s" : "r",
		.fo = ev->pol.fo,
		.disposition = dmarc_disp_names[ev->applied],
		.dkim_aligned = ev->dkim_aligned ? "pass" : "fail",
		.spf_aligned = ev->spf_aligned ? "pass" : "fail",
		.reason = ev->override,
		.spf_domain = spf != NULL && spf->result != NULL &&
		    spf->domain != NULL ? spf->domain : "",
		.spf_scope = spf != NULL && spf->helo ? "helo" : "mfrom",
		.spf_result = dmarc_spf_result(spf != NULL ? spf->result :
		    NULL),
		.ndkim = n,
		.dkim = dk,
	}, &err)) {
		log_msg(LOG_WARNING, txn_queue_id(txn),
		    "dmarc: report store: %s", err);
		free(err);
	}
}

/* --- stages --------------------------------------------------------------- */

/* dmarc_skip - whether the client is exempt; -1 on a lookup error */
static int
dmarc_skip(struct txn *txn)
{
	if (txn_client_addr(txn) == NULL || txn_auth_user(txn) != NULL)
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

/* dmarc_header - HEADER: collect the domains of every From field */
static enum policy_status
dmarc_header(const struct policy_call *call, struct verdict *v)
{
	struct dmarc_msg *m = call->msg;
	const char *name = txn_header_name(call->txn);
	const char *value = txn_header_value(call->txn);

	(void)v;
	if (m == NULL)
		log_panic("dmarc: HEADER stage without message state");
	if (name == NULL || strcasecmp(name, "From") != 0)
		return POLICY_DONE;
	m->nfrom++;
	if (m->bad == NULL)
		m->bad = dmarc_parse_from(value != NULL ? value : "", m,
		    txn_msg_arena(call->txn));
	return POLICY_DONE;
}

/* dmarc_eom - EOM: evaluate, act, report */
static enum policy_status
dmarc_eom(const struct policy_call *call, struct verdict *v)
{
	const struct dmarc_config *cfg = call->config;
	struct txn *txn = call->txn;
	struct arena *arena = txn_msg_arena(txn);
	struct dmarc_eval ev;
	int skip;

	if (call->msg == NULL)
		log_panic("dmarc: EOM stage without message state");
	if ((skip = dmarc_skip(txn)) != 0)
		return skip < 0 ? POLICY_FAILED : POLICY_DONE;
	dmarc_evaluate(cfg, txn, call->msg, arena, &ev);
	v->authres = dmarc_authres(arena, &ev);
	v->reason = dmarc_reason(arena, &ev);
	dmarc_verdict(arena, &ev, v);
	if (ev.have_policy && ev.action != DMARC_ACT_DEFER &&
	    cfg->store != NULL)
		dmarc_store_write(cfg, txn, &ev);
	return POLICY_DONE;
}

/* --- init ----------------------------------------------------------------- */

/* dmarc_where - "FILE:LINE: " of a setting when it was set in the file */
static void
dmarc_where(struct buf *err, const struct policy_init *pi, const char *key)
{
	const struct conf_entry *e = pi->cf != NULL ? conf_find(pi->cf,
	    pi->section, key) : NULL;

	if (e != NULL)
		buf_printf(err, "%s:%d: ", e->file, e->line);
	else
		buf_puts(err, "dmarc: ");
}

/* dmarc_init - the resolver, the public suffix list, the report store */
static bool
dmarc_init(struct policy_init *pi, char **error_r)
{
	struct dmarc_config *cfg = pi->config;
	struct buf err = { 0 };
	const char *why;
	char *serr = NULL;

	cfg->dns = pi->globals != NULL ? pi->globals->dns : NULL;
	if (cfg->dns == NULL)
		buf_puts(&err, "dmarc: no DNS resolver configured\n");
	if (*cfg->public_suffix_list == '\0') {
		dmarc_where(&err, pi, "public_suffix_list");
		buf_puts(&err, "public_suffix_list: must name the public "
		    "suffix list file\n");
	} else if ((why = dmarc_psl_load(pi->arena, cfg->public_suffix_list,
	    &cfg->psl)) != NULL) {
		dmarc_where(&err, pi, "public_suffix_list");
		buf_printf(&err, "public_suffix_list: %s: %s (Debian: "
		    "apt-get install publicsuffix)\n",
		    cfg->public_suffix_list, why);
	}
	if (*cfg->report_store != '\0' &&
	    (cfg->store = dmarc_store_open(cfg->report_store, &serr)) ==
	    NULL) {
		dmarc_where(&err, pi, "report_store");
		buf_printf(&err, "report_store: %s\n", serr);
		free(serr);
	}
	if (err.len > 0) {
		dmarc_store_close(&cfg->store);
		*error_r = buf_steal(&err);
		return false;
	}
	buf_free(&err);
	return true;
}

/* dmarc_deinit - the store handle (the list lives in the config arena) */
static void
dmarc_deinit(void *config)
{
	struct dmarc_config *cfg = config;

	dmarc_store_close(&cfg->store);
}

/* --- settings ------------------------------------------------------------- */

/* dmarc_final_valid - an action for a final answer: no defer */
static bool
dmarc_final_valid(const void *value, const char **error_r)
{
	if (*(const int *)value != DMARC_ACT_DEFER)
		return true;
	*error_r = "must be none, quarantine or reject";
	return false;
}

/* dmarc_temp_valid - temperror is deferred or let through */
static bool
dmarc_temp_valid(const void *value, const char **error_r)
{
	int v = *(const int *)value;

	if (v == DMARC_ACT_DEFER || v == DMARC_ACT_NONE)
		return true;
	*error_r = "must be defer or none";
	return false;
}

#define DMARC_OFF(f)	offsetof(struct dmarc_config, f)

static const struct conf_setting dmarc_settings[] = {
	{ .name = "reject_action", .type = CONF_ENUM, .def = "reject",
	  .offset = DMARC_OFF(reject_action), .choices = dmarc_act_names,
	  .validate = dmarc_final_valid,
	  .help = "what a failing message under p=reject gets" },
	{ .name = "quarantine_action", .type = CONF_ENUM,
	  .def = "quarantine", .offset = DMARC_OFF(quarantine_action),
	  .choices = dmarc_act_names, .validate = dmarc_final_valid,
	  .help = "what a failing message under p=quarantine gets" },
	{ .name = "temperror_action", .type = CONF_ENUM, .def = "defer",
	  .offset = DMARC_OFF(temperror_action), .choices = dmarc_act_names,
	  .validate = dmarc_temp_valid,
	  .help = "on a DNS error (451 4.7.1) or none" },
	{ .name = "permerror_action", .type = CONF_ENUM, .def = "none",
	  .offset = DMARC_OFF(permerror_action), .choices = dmarc_act_names,
	  .validate = dmarc_final_valid,
	  .help = "on a bad record or a From header without one domain" },
	{ .name = "multiple_from_action", .type = CONF_ENUM,
	  .def = "reject", .offset = DMARC_OFF(multiple_from_action),
	  .choices = dmarc_act_names, .validate = dmarc_final_valid,
	  .help = "when the From addresses are in several domains" },
	{ .name = "public_suffix_list", .type = CONF_STRING,
	  .def = "/usr/share/publicsuffix/public_suffix_list.dat",
	  .offset = DMARC_OFF(public_suffix_list),
	  .help = "publicsuffix.org list for organizational domains" },
	{ .name = "report_store", .type = CONF_STRING, .def = "",
	  .offset = DMARC_OFF(report_store),
	  .help = "directory of records for aggregate reports; empty: off" },
	{ .name = NULL },
};

const struct policy_module dmarc_module = {
	.name = "dmarc",
	.summary = "DMARC policy of the From domain from the SPF and DKIM "
	    "results",
	.settings = dmarc_settings,
	.config_size = sizeof(struct dmarc_config),
	.init = dmarc_init,
	.deinit = dmarc_deinit,
	.msg_size = sizeof(struct dmarc_msg),
	.stage = {
		[POLICY_HEADER] = dmarc_header,
		[POLICY_EOM] = dmarc_eom,
	},
	.on_failure = POLICY_FAIL_TEMPFAIL,
};
