/*
 * dmarc_tool.c - "posternctl dmarc report": aggregate reports (RFC 7489
 * Appendix C) from the dmarc module's report store (see dmarc_tool.h)
 *
 * Everything is collected before anything is printed, so that a
 * malformed line anywhere in the period leaves stdout empty rather than
 * with half a report. Memory grows with the number of distinct rows,
 * not with the number of records.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "dmarc_store.h"
#include "dmarc_tool.h"
#include "mem.h"

#define DMARC_TOOL_OK		0
#define DMARC_TOOL_NONE		1
#define DMARC_TOOL_ERROR	2
#define DMARC_TOOL_DAY		86400

/* One row: records that agree on everything but their time. */
struct dmarc_tool_row {
	const char *key;
	unsigned long count;
	struct dmarc_store_record rec;	/* copied into the arena */
};

/* One report: a policy domain with one published policy. */
struct dmarc_tool_report {
	const char *key;
	struct dmarc_store_record policy;	/* policy fields only */
	size_t order;				/* first seen */
	struct dmarc_tool_row **rows;		/* first seen first */
	size_t nrows, cap;
	struct dmarc_tool_row **slot;		/* hash of rows by key */
	size_t nslots;
};

struct dmarc_tool_state {
	struct arena *arena;
	const char *domain;		/* -D, lower case, or NULL */
	struct dmarc_tool_report **report;
	size_t nreports, cap;
	unsigned long records;
};

struct dmarc_tool_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static int dmarc_tool_report(int, char **);

static const struct dmarc_tool_cmd dmarc_tool_cmds[] = {
	{
		.name = "report",
		.run = dmarc_tool_report,
		.usage = "report -d STORE_DIR [-f YYYY-MM-DD] [-t YYYY-MM-DD] "
		    "-o ORG_NAME -e ORG_EMAIL [-D POLICY_DOMAIN]",
	},
	{ 0 },
};

/* dmarc_tool_usage - every subcommand's usage; exit status 2 */
static int
dmarc_tool_usage(void)
{
	const struct dmarc_tool_cmd *c;

	fprintf(stderr, "usage:\n");
	for (c = dmarc_tool_cmds; c->name != NULL; c++)
		fprintf(stderr, "\tposternctl dmarc %s\n", c->usage);
	return DMARC_TOOL_ERROR;
}

/* --- collecting ----------------------------------------------------------- */

/* dmarc_tool_hash - FNV-1a of a key */
static uint64_t
dmarc_tool_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* dmarc_tool_key_put - one field of a key, length-prefixed so that no
 * field's bytes can make two different records look alike */
static void
dmarc_tool_key_put(struct buf *b, const char *s)
{
	buf_printf(b, "%zu:%s|", strlen(s), s);
}

/* dmarc_tool_policy_key - what makes records one report */
static void
dmarc_tool_policy_key(struct buf *b, const struct dmarc_store_record *r)
{
	dmarc_tool_key_put(b, r->policy_domain);
	dmarc_tool_key_put(b, r->p);
	dmarc_tool_key_put(b, r->sp);
	buf_printf(b, "%u|", r->pct);
	dmarc_tool_key_put(b, r->adkim);
	dmarc_tool_key_put(b, r->aspf);
	dmarc_tool_key_put(b, r->fo);
}

/* dmarc_tool_row_key - what makes records one row of a report */
static void
dmarc_tool_row_key(struct buf *b, const struct dmarc_store_record *r)
{
	size_t i;

	dmarc_tool_key_put(b, r->source_ip);
	dmarc_tool_key_put(b, r->disposition);
	dmarc_tool_key_put(b, r->dkim_aligned);
	dmarc_tool_key_put(b, r->spf_aligned);
	dmarc_tool_key_put(b, r->reason);
	dmarc_tool_key_put(b, r->header_from);
	dmarc_tool_key_put(b, r->spf_domain);
	dmarc_tool_key_put(b, r->spf_scope);
	dmarc_tool_key_put(b, r->spf_result);
	buf_printf(b, "%zu|", r->ndkim);
	for (i = 0; i < r->ndkim; i++) {
		dmarc_tool_key_put(b, r->dkim[i].domain);
		dmarc_tool_key_put(b, r->dkim[i].selector);
		dmarc_tool_key_put(b, r->dkim[i].result);
	}
}

/* dmarc_tool_copy - a record's strings into the arena */
static void
dmarc_tool_copy(struct arena *a, const struct dmarc_store_record *r,
    struct dmarc_store_record *c)
{
	struct dmarc_store_dkim *d = NULL;
	size_t i;

	*c = *r;
#define DMARC_TOOL_DUP(f)	c->f = arena_strdup(a, r->f)
	DMARC_TOOL_DUP(source_ip);
	DMARC_TOOL_DUP(header_from);
	DMARC_TOOL_DUP(policy_domain);
	DMARC_TOOL_DUP(p);
	DMARC_TOOL_DUP(sp);
	DMARC_TOOL_DUP(adkim);
	DMARC_TOOL_DUP(aspf);
	DMARC_TOOL_DUP(fo);
	DMARC_TOOL_DUP(disposition);
	DMARC_TOOL_DUP(dkim_aligned);
	DMARC_TOOL_DUP(spf_aligned);
	DMARC_TOOL_DUP(reason);
	DMARC_TOOL_DUP(spf_domain);
	DMARC_TOOL_DUP(spf_scope);
	DMARC_TOOL_DUP(spf_result);
#undef DMARC_TOOL_DUP
	if (r->ndkim > 0)
		d = arena_alloc(a, r->ndkim * sizeof(*d));
	for (i = 0; i < r->ndkim; i++) {
		d[i].domain = arena_strdup(a, r->dkim[i].domain);
		d[i].selector = arena_strdup(a, r->dkim[i].selector);
		d[i].result = arena_strdup(a, r->dkim[i].result);
	}
	c->dkim = d;
}

/* dmarc_tool_find_report - the report for r's policy, made if new */
static struct dmarc_tool_report *
dmarc_tool_find_report(struct dmarc_tool_state *st,
    const struct dmarc_store_record *r)
{
	struct dmarc_tool_report *rep;
	struct buf key = { 0 };
	size_t i;

	dmarc_tool_policy_key(&key, r);
	for (i = 0; i < st->nreports; i++)
		if (strcmp(st->report[i]->key, buf_cstr(&key)) == 0) {
			buf_free(&key);
			return st->report[i];
		}
	if (st->nreports == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 8;
		st->report = xrealloc(st->report,
		    st->cap * sizeof(*st->report));
	}
	rep = arena_alloc(st->arena, sizeof(*rep));
	rep->key = arena_strdup(st->arena, buf_cstr(&key));
	dmarc_tool_copy(st->arena, r, &rep->policy);
	rep->order = st->nreports;
	st->report[st->nreports++] = rep;
	buf_free(&key);
	return rep;
}

/* dmarc_tool_grow - double the row hash of rep */
static void
dmarc_tool_grow(struct dmarc_tool_report *rep)
{
	size_t n = rep->nslots ? rep->nslots * 2 : 64, i, k;
	struct dmarc_tool_row **slot = xcalloc(n, sizeof(*slot));

	for (i = 0; i < rep->nrows; i++) {
		k = dmarc_tool_hash(rep->rows[i]->key) & (n - 1);
		while (slot[k] != NULL)
			k = (k + 1) & (n - 1);
		slot[k] = rep->rows[i];
	}
	free(rep->slot);
	rep->slot = slot;
	rep->nslots = n;
}

/* dmarc_tool_add - one record counted in its row */
static void
dmarc_tool_add(struct dmarc_tool_state *st, struct dmarc_tool_report *rep,
    const struct dmarc_store_record *r)
{
	struct dmarc_tool_row *row;
	struct buf key = { 0 };
	size_t k;

	dmarc_tool_row_key(&key, r);
	if (2 * (rep->nrows + 1) > rep->nslots)
		dmarc_tool_grow(rep);
	k = dmarc_tool_hash(buf_cstr(&key)) & (rep->nslots - 1);
	for (; rep->slot[k] != NULL; k = (k + 1) & (rep->nslots - 1))
		if (strcmp(rep->slot[k]->key, buf_cstr(&key)) == 0) {
			rep->slot[k]->count++;
			buf_free(&key);
			return;
		}
	row = arena_alloc(st->arena, sizeof(*row));
	row->key = arena_strdup(st->arena, buf_cstr(&key));
	row->count = 1;
	dmarc_tool_copy(st->arena, r, &row->rec);
	rep->slot[k] = row;
	if (rep->nrows == rep->cap) {
		rep->cap = rep->cap ? rep->cap * 2 : 16;
		rep->rows = xrealloc(rep->rows, rep->cap * sizeof(*rep->rows));
	}
	rep->rows[rep->nrows++] = row;
	buf_free(&key);
}

/* dmarc_tool_collect - the store reader's callback */
static bool
dmarc_tool_collect(const struct dmarc_store_record *r, void *arg)
{
	struct dmarc_tool_state *st = arg;

	if (st->domain != NULL && strcasecmp(r->policy_domain,
	    st->domain) != 0)
		return true;
	st->records++;
	dmarc_tool_add(st, dmarc_tool_find_report(st, r), r);
	return true;
}

/* --- printing ------------------------------------------------------------- */

/* dmarc_tool_utf8 - length of a well-formed UTF-8 sequence at p that XML
 * allows (no surrogates, U+FFFE or U+FFFF), or 0 */
static size_t
dmarc_tool_utf8(const unsigned char *p)
{
	unsigned long cp;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp == 0xfffe || cp == 0xffff)
		return 0;
	return n;
}

/* dmarc_tool_xml - s as XML character data: markup characters as
 * entities, control bytes and anything that is not well-formed UTF-8
 * as '?' */
static void
dmarc_tool_xml(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p != '\0') {
		switch (*p) {
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		case '\'':
			buf_puts(b, "&apos;");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f ||
			    (n = dmarc_tool_utf8(p)) == 0) {
				buf_putc(b, '?');
				break;
			}
			buf_append(b, p, n);
			p += n;
			continue;
		}
		p++;
	}
}

/* dmarc_tool_elem - "<name>text</name>" on its own line */
static void
dmarc_tool_elem(struct buf *b, int indent, const char *name,
    const char *text)
{
	buf_printf(b, "%*s<%s>", indent, "", name);
	dmarc_tool_xml(b, text);
	buf_printf(b, "</%s>\n", name);
}

/* dmarc_tool_row_xml - one <record> */
static void
dmarc_tool_row_xml(struct buf *b, const struct dmarc_tool_row *row)
{
	const struct dmarc_store_record *r = &row->rec;
	char count[32];
	size_t i;

	snprintf(count, sizeof(count), "%lu", row->count);
	buf_puts(b, "  <record>\n    <row>\n");
	dmarc_tool_elem(b, 6, "source_ip", r->source_ip);
	dmarc_tool_elem(b, 6, "count", count);
	buf_puts(b, "      <policy_evaluated>\n");
	dmarc_tool_elem(b, 8, "disposition", r->disposition);
	dmarc_tool_elem(b, 8, "dkim", r->dkim_aligned);
	dmarc_tool_elem(b, 8, "spf", r->spf_aligned);
	if (*r->reason != '\0') {
		buf_puts(b, "        <reason>\n");
		dmarc_tool_elem(b, 10, "type", r->reason);
		buf_puts(b, "        </reason>\n");
	}
	buf_puts(b, "      </policy_evaluated>\n    </row>\n");
	buf_puts(b, "    <identifiers>\n");
	dmarc_tool_elem(b, 6, "header_from", r->header_from);
	buf_puts(b, "    </identifiers>\n    <auth_results>\n");
	for (i = 0; i < r->ndkim; i++) {
		buf_puts(b, "      <dkim>\n");
		dmarc_tool_elem(b, 8, "domain", r->dkim[i].domain);
		if (*r->dkim[i].selector != '\0')
			dmarc_tool_elem(b, 8, "selector", r->dkim[i].selector);
		dmarc_tool_elem(b, 8, "result", r->dkim[i].result);
		buf_puts(b, "      </dkim>\n");
	}
	buf_puts(b, "      <spf>\n");
	dmarc_tool_elem(b, 8, "domain", r->spf_domain);
	dmarc_tool_elem(b, 8, "scope", r->spf_scope);
	dmarc_tool_elem(b, 8, "result", r->spf_result);
	buf_puts(b, "      </spf>\n    </auth_results>\n  </record>\n");
}

/* The report's metadata, from the command line. */
struct dmarc_tool_meta {
	const char *org_name;
	const char *email;
	time_t begin, end;		/* inclusive */
};

/* dmarc_tool_report_xml - one whole document */
static void
dmarc_tool_report_xml(struct buf *b, const struct dmarc_tool_meta *meta,
    const struct dmarc_tool_report *rep, const char *report_id)
{
	const struct dmarc_store_record *pol = &rep->policy;
	char num[32];
	size_t i;

	buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<feedback>\n  <version>1.0</version>\n"
	    "  <report_metadata>\n");
	dmarc_tool_elem(b, 4, "org_name", meta->org_name);
	dmarc_tool_elem(b, 4, "email", meta->email);
	dmarc_tool_elem(b, 4, "report_id", report_id);
	buf_puts(b, "    <date_range>\n");
	snprintf(num, sizeof(num), "%lld", (long long)meta->begin);
	dmarc_tool_elem(b, 6, "begin", num);
	snprintf(num, sizeof(num), "%lld", (long long)meta->end);
	dmarc_tool_elem(b, 6, "end", num);
	buf_puts(b, "    </date_range>\n  </report_metadata>\n"
	    "  <policy_published>\n");
	dmarc_tool_elem(b, 4, "domain", pol->policy_domain);
	dmarc_tool_elem(b, 4, "adkim", pol->adkim);
	dmarc_tool_elem(b, 4, "aspf", pol->aspf);
	dmarc_tool_elem(b, 4, "p", pol->p);
	dmarc_tool_elem(b, 4, "sp", pol->sp);
	snprintf(num, sizeof(num), "%u", pol->pct);
	dmarc_tool_elem(b, 4, "pct", num);
	dmarc_tool_elem(b, 4, "fo", pol->fo);
	buf_puts(b, "  </policy_published>\n");
	for (i = 0; i < rep->nrows; i++)
		dmarc_tool_row_xml(b, rep->rows[i]);
	buf_puts(b, "</feedback>\n");
}

/* dmarc_tool_report_cmp - by policy domain, then first seen */
static int
dmarc_tool_report_cmp(const void *a, const void *b)
{
	const struct dmarc_tool_report *x =
	    *(const struct dmarc_tool_report *const *)a;
	const struct dmarc_tool_report *y =
	    *(const struct dmarc_tool_report *const *)b;
	int c = strcmp(x->policy.policy_domain, y->policy.policy_domain);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* dmarc_tool_print - every report, sorted, into b; report ids are
 * BEGIN.END.DOMAIN, with .N when a domain changed its policy within
 * the period */
static void
dmarc_tool_print(struct buf *b, const struct dmarc_tool_meta *meta,
    struct dmarc_tool_state *st)
{
	struct buf id = { 0 };
	size_t i, k;
	bool several;

	qsort(st->report, st->nreports, sizeof(*st->report),
	    dmarc_tool_report_cmp);
	for (i = 0, k = 0; i < st->nreports; i++) {
		const char *d = st->report[i]->policy.policy_domain;

		k = i > 0 && strcmp(st->report[i - 1]->policy.policy_domain,
		    d) == 0 ? k + 1 : 1;
		several = k > 1 || (i + 1 < st->nreports && strcmp(
		    st->report[i + 1]->policy.policy_domain, d) == 0);
		buf_reset(&id);
		buf_printf(&id, "%lld.%lld.%s", (long long)meta->begin,
		    (long long)meta->end, d);
		if (several)
			buf_printf(&id, ".%zu", k);
		dmarc_tool_report_xml(b, meta, st->report[i], buf_cstr(&id));
	}
	buf_free(&id);
}

/* --- the command ---------------------------------------------------------- */

/* dmarc_tool_date - "YYYY-MM-DD" as the start of that UTC day */
static bool
dmarc_tool_date(const char *s, time_t *t_r)
{
	struct tm tm = { 0 }, back;
	time_t t;
	int i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	t = timegm(&tm);
	if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL ||
	    back.tm_year != tm.tm_year || back.tm_mon != atoi(s + 5) - 1 ||
	    back.tm_mday != atoi(s + 8))
		return false;
	*t_r = t;
	return true;
}

/* dmarc_tool_lower - a domain lower-cased without one trailing dot */
static char *
dmarc_tool_lower(struct arena *arena, const char *s)
{
	size_t len = strlen(s), i;
	char *d;

	if (len > 1 && s[len - 1] == '.')
		len--;
	d = arena_strndup(arena, s, len);
	for (i = 0; i < len; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char)(d[i] - 'A' + 'a');
	return d;
}

/* dmarc_tool_report - "report": see dmarc_tool.h */
static int
dmarc_tool_report(int argc, char **argv)
{
	struct dmarc_tool_state st = { 0 };
	struct dmarc_tool_meta meta = { 0 };
	struct dmarc_store *store;
	const char *dir = NULL, *from = NULL, *to = NULL;
	time_t today, t_from, t_to;
	struct buf out = { 0 };
	char *err = NULL;
	size_t i;
	int c, ret;

	optind = 1;
	while ((c = getopt(argc, argv, "+d:f:t:o:e:D:")) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'o':
			meta.org_name = optarg;
			break;
		case 'e':
			meta.email = optarg;
			break;
		case 'D':
			st.domain = optarg;
			break;
		default:
			return dmarc_tool_usage();
		}
	}
	if (optind != argc || dir == NULL || meta.org_name == NULL ||
	    *meta.org_name == '\0' || meta.email == NULL ||
	    *meta.email == '\0')
		return dmarc_tool_usage();
	today = time(NULL) / DMARC_TOOL_DAY * DMARC_TOOL_DAY;
	t_from = t_to = today - DMARC_TOOL_DAY;
	if ((from != NULL && !dmarc_tool_date(from, &t_from)) ||
	    (to != NULL && !dmarc_tool_date(to, &t_to))) {
		fprintf(stderr, "posternctl dmarc report: dates are "
		    "YYYY-MM-DD\n");
		return DMARC_TOOL_ERROR;
	}
	if (t_from > t_to) {
		fprintf(stderr, "posternctl dmarc report: -f %s is after "
		    "-t %s\n", from != NULL ? from : "(yesterday)",
		    to != NULL ? to : "(yesterday)");
		return DMARC_TOOL_ERROR;
	}
	meta.begin = t_from;
	meta.end = t_to + DMARC_TOOL_DAY - 1;
	/* a mistyped directory is an error, not a period without records */
	if ((store = dmarc_store_open(dir, &err)) == NULL) {
		fprintf(stderr, "posternctl dmarc report: %s\n", err);
		free(err);
		return DMARC_TOOL_ERROR;
	}
	dmarc_store_close(&store);
	st.arena = arena_create();
	if (st.domain != NULL)
		st.domain = dmarc_tool_lower(st.arena, st.domain);
	if (!dmarc_store_read(dir, t_from, t_to + DMARC_TOOL_DAY,
	    dmarc_tool_collect, &st, &err)) {
		fprintf(stderr, "posternctl dmarc report: %s\n", err);
		free(err);
		ret = DMARC_TOOL_ERROR;
	} else if (st.records == 0) {
		fprintf(stderr, "posternctl dmarc report: no records%s%s\n",
		    st.domain != NULL ? " for " : "",
		    st.domain != NULL ? st.domain : "");
		ret = DMARC_TOOL_NONE;
	} else {
		dmarc_tool_print(&out, &meta, &st);
		ret = fwrite(out.data, 1, out.len, stdout) == out.len &&
		    fflush(stdout) == 0 ? DMARC_TOOL_OK : DMARC_TOOL_ERROR;
		if (ret != DMARC_TOOL_OK)
			fprintf(stderr, "posternctl dmarc report: cannot "
			    "write the report\n");
	}
	for (i = 0; i < st.nreports; i++) {
		free(st.report[i]->rows);
		free(st.report[i]->slot);
	}
	free(st.report);
	buf_free(&out);
	arena_destroy(&st.arena);
	return ret;
}

/* dmarc_tool_main - pick the subcommand */
int
dmarc_tool_main(int argc, char **argv)
{
	const struct dmarc_tool_cmd *c;

	if (argc < 2)
		return dmarc_tool_usage();
	for (c = dmarc_tool_cmds; c->name != NULL; c++)
		if (strcmp(argv[1], c->name) == 0)
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "posternctl dmarc: unknown command '%s'\n", argv[1]);
	return dmarc_tool_usage();
}
