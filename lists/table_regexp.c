/*
 * table_regexp.c - regexp: and pcre: tables, both through PCRE2
 *
 *	/pattern/flags		result		first match wins
 *	!/pattern/flags		result		matches when pattern does not
 *	if /pattern/flags			(or "if !/pattern/"; nestable)
 *	endif
 *
 * Any non-alphanumeric, non-space byte may delimit the pattern, as in
 * Postfix; a backslash escapes the delimiter inside it. The result may use
 * $1..$N, ${N} or $(N) for captured text and $$ for a dollar; a reference
 * to a group that did not take part in the match gives an empty string.
 *
 * Flags are Postfix's: "i" toggles case-insensitive matching, which is on
 * by default. regexp: understands i and m; its "x" (switch to POSIX basic
 * syntax) cannot be offered on PCRE2 and is refused rather than
 * misread. regexp: patterns also get the POSIX reading of "." and "$"
 * (dot matches newline, $ only at the very end). pcre: takes i m s x A E U
 * X (X is accepted and has no effect: PCRE2 is always strict).
 *
 * Matching is bounded (match limit) because keys come from the network; a
 * pattern that hits the limit answers TABLE_ERROR, never "not found".
 */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "table_impl.h"

#define RX_MATCH_LIMIT 1000000

/* One flag letter and the PCRE2 options it toggles. */
struct rx_flag {
	char letter;
	uint32_t options;
	const char *refused;	/* non-NULL: reject with this reason */
};

/* How a dialect differs: default options and the flags it knows. */
struct rx_dialect {
	const char *name;
	uint32_t defaults;
	const struct rx_flag *flags;
};

static const struct rx_flag rx_regexp_flags[] = {
	{ .letter = 'i', .options = PCRE2_CASELESS },
	{ .letter = 'm', .options = PCRE2_MULTILINE | PCRE2_DOTALL },
	{ .letter = 'x', .refused = "POSIX basic regular expressions are not "
	    "supported; write the pattern as an extended one" },
	{ 0 },
};

static const struct rx_flag rx_pcre_flags[] = {
	{ .letter = 'i', .options = PCRE2_CASELESS },
	{ .letter = 'm', .options = PCRE2_MULTILINE },
	{ .letter = 's', .options = PCRE2_DOTALL },
	{ .letter = 'x', .options = PCRE2_EXTENDED },
	{ .letter = 'A', .options = PCRE2_ANCHORED },
	{ .letter = 'E', .options = PCRE2_DOLLAR_ENDONLY },
	{ .letter = 'U', .options = PCRE2_UNGREEDY },
	{ .letter = 'X', .options = 0 },
	{ 0 },
};

static const struct rx_dialect rx_regexp = {
	.name = "regexp",
	.defaults = PCRE2_CASELESS | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY,
	.flags = rx_regexp_flags,
};

static const struct rx_dialect rx_pcre = {
	.name = "pcre",
	.defaults = PCRE2_CASELESS,
	.flags = rx_pcre_flags,
};

enum rx_op {
	RX_OP_MATCH,
	RX_OP_IF,
	RX_OP_ENDIF,
};

struct rx_entry {
	enum rx_op op;
	bool negate;
	pcre2_code *re;
	char *value;		/* RX_OP_MATCH */
	size_t end;		/* RX_OP_IF: index of its endif */
	int lineno;		/* for run-time errors */
};

struct rx_table {
	char *path;
	struct rx_entry *v;
	size_t n, cap;
	uint32_t max_groups;	/* largest capture count, for match data */
	pcre2_match_context *mctx;
};

/* State while reading: the table and its open "if" blocks. */
struct rx_parse {
	const struct rx_dialect *dialect;
	struct rx_table *rt;
	const char *path;
	struct table_errs *errs;
	struct table_nest nest;
};

/* rx_free - release patterns and results */
static void
rx_free(void *content)
{
	struct rx_table *rt = content;
	size_t i;

	for (i = 0; i < rt->n; i++) {
		pcre2_code_free(rt->v[i].re);
		free(rt->v[i].value);
	}
	pcre2_match_context_free(rt->mctx);
	free(rt->path);
	free(rt->v);
	free(rt);
}

/* rx_space - separator in a table line */
static bool
rx_space(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * rx_expand - walk a result template. With ov == NULL only check it and
 * report the highest group used (-1 for none) in *max_r; otherwise append
 * the expansion to out. Returns an error text or NULL.
 */
static const char *
rx_expand(const char *tmpl, const char *subject, const PCRE2_SIZE *ov,
    uint32_t groups, struct buf *out, long *max_r)
{
	const char *p = tmpl, *name, *end;
	long n;

	if (max_r != NULL)
		*max_r = -1;
	while (*p) {
		if (*p != '$') {
			if (out != NULL)
				buf_putc(out, *p);
			p++;
			continue;
		}
		p++;
		if (*p == '$') {
			if (out != NULL)
				buf_putc(out, '$');
			p++;
			continue;
		}
		if (*p == '{' || *p == '(') {
			char close = *p == '{' ? '}' : ')';

			name = p + 1;
			if ((end = strchr(name, close)) == NULL)
				return "missing closing brace after $";
			p = end + 1;
		} else {
			name = p;
			for (end = p; *end == '_' || (*end >= '0' &&
			    *end <= '9') || (*end >= 'a' && *end <= 'z') ||
			    (*end >= 'A' && *end <= 'Z'); end++)
				;
			if (end == name) {
				/* a lone '$' stands for itself */
				if (out != NULL)
					buf_putc(out, '$');
				continue;
			}
			p = end;
		}
		if (end == name || end - name > 3 ||
		    strspn(name, "0123456789") < (size_t)(end - name))
			return "non-numeric replacement index after $";
		n = strtol(name, NULL, 10);
		if (max_r != NULL && n > *max_r)
			*max_r = n;
		if (out != NULL && ov != NULL && (uint32_t)n <= groups &&
		    ov[2 * n] != PCRE2_UNSET)
			buf_append(out, subject + ov[2 * n],
			    ov[2 * n + 1] - ov[2 * n]);
	}
	return NULL;
}

/*
 * rx_compile - "[!]/pattern/flags" at *pp into a compiled pattern;
 * *pp moves past the flags. NULL after reporting an error.
 */
static pcre2_code *
rx_compile(struct rx_parse *xp, char **pp, bool *negate_r, int lineno)
{
	const struct rx_flag *f;
	char *p = *pp, *pat, delim;
	uint32_t options = xp->dialect->defaults;
	pcre2_code *re;
	PCRE2_SIZE erroff;
	int errcode;

	*negate_r = false;
	if (*p == '!') {
		*negate_r = true;
		p++;
	}
	delim = *p;
	if (delim == '\0' || rx_space(delim) || delim == '\\' ||
	    (delim >= '0' && delim <= '9') || (delim >= 'a' && delim <= 'z') ||
	    (delim >= 'A' && delim <= 'Z')) {
		table_errs_line(xp->errs, xp->path, lineno,
		    "expected format: /pattern/flags result");
		return NULL;
	}
	pat = ++p;
	while (*p && *p != delim) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		p++;
	}
	if (*p != delim) {
		table_errs_line(xp->errs, xp->path, lineno,
		    "missing closing delimiter '%c'", delim);
		return NULL;
	}
	*p++ = '\0';
	for (; *p && !rx_space(*p); p++) {
		for (f = xp->dialect->flags; f->letter; f++)
			if (f->letter == *p)
				break;
		if (f->letter == '\0' || f->refused) {
			table_errs_line(xp->errs, xp->path, lineno,
			    "%s flag \"%c\"%s%s", f->letter ? "unsupported" :
			    "unknown", *p, f->refused ? ": " : "",
			    f->refused ? f->refused : "");
			return NULL;
		}
		options ^= f->options;
	}
	while (rx_space(*p))
		p++;
	*pp = p;
	re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, options,
	    &errcode, &erroff, NULL);
	if (re == NULL) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(errcode, msg, sizeof(msg));
		table_errs_line(xp->errs, xp->path, lineno,
		    "bad regular expression \"%s\": %s at offset %zu", pat,
		    (char *)msg, (size_t)erroff);
		return NULL;
	}
	/* JIT is only speed; without it (e.g. no exec memory) we still work */
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

/* rx_add - append an entry, return it */
static struct rx_entry *
rx_add(struct rx_table *rt, enum rx_op op, pcre2_code *re, bool negate,
    int lineno)
{
	struct rx_entry *e;
	uint32_t groups = 0;

	if (rt->n == rt->cap) {
		rt->cap = rt->cap ? rt->cap * 2 : 32;
		rt->v = xrealloc(rt->v, rt->cap * sizeof(*rt->v));
	}
	e = &rt->v[rt->n++];
	memset(e, 0, sizeof(*e));
	e->op = op;
	e->re = re;
	e->negate = negate;
	e->lineno = lineno;
	if (re != NULL &&
	    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups) == 0 &&
	    groups > rt->max_groups)
		rt->max_groups = groups;
	return e;
}

/* rx_if - "if [!]/re/flags" opens a block */
static void
rx_if(struct rx_parse *xp, char *rest, int lineno)
{
	pcre2_code *re;
	bool negate;

	if ((re = rx_compile(xp, &rest, &negate, lineno)) == NULL)
		return;
	if (*rest != '\0') {
		table_errs_line(xp->errs, xp->path, lineno,
		    "text after if pattern: \"%s\"", rest);
		pcre2_code_free(re);
		return;
	}
	table_nest_open(&xp->nest, xp->rt->n, lineno);
	rx_add(xp->rt, RX_OP_IF, re, negate, lineno);
}

/* rx_line - one logical line: endif, if, or an entry */
static void
rx_line(struct rx_parse *xp, char *line, int lineno)
{
	pcre2_code *re;
	const char *why;
	uint32_t groups = 0;
	long max;
	bool negate;
	char *rest;
	size_t block;

	if (table_nest_keyword(line, "endif", &rest)) {
		if (table_nest_endif(&xp->nest, rest, lineno, &block)) {
			xp->rt->v[block].end = xp->rt->n;
			rx_add(xp->rt, RX_OP_ENDIF, NULL, false, lineno);
		}
		return;
	}
	if (table_nest_keyword(line, "if", &rest)) {
		rx_if(xp, rest, lineno);
		return;
	}
	rest = line;
	if ((re = rx_compile(xp, &rest, &negate, lineno)) == NULL)
		return;
	if (*rest == '\0') {
		table_errs_line(xp->errs, xp->path, lineno,
		    "expected format: /pattern/flags result");
		pcre2_code_free(re);
		return;
	}
	(void)pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
	if ((why = rx_expand(rest, NULL, NULL, 0, NULL, &max)) != NULL) {
		table_errs_line(xp->errs, xp->path, lineno, "%s", why);
	} else if (negate && max >= 0) {
		table_errs_line(xp->errs, xp->path, lineno,
		    "$%ld in the result of a negated pattern", max);
	} else if (max > (long)groups) {
		table_errs_line(xp->errs, xp->path, lineno,
		    "out-of-range replacement index $%ld (the pattern has %u "
		    "subexpressions)", max, groups);
	} else {
		rx_add(xp->rt, RX_OP_MATCH, re, negate, lineno)->value =
		    xstrdup(rest);
		return;
	}
	pcre2_code_free(re);
}

/* rx_load - read a regexp: or pcre: file */
static void *
rx_load(const struct rx_dialect *dialect, const char *path,
    struct table_errs *errs)
{
	struct rx_parse xp = { .dialect = dialect, .path = path,
	    .errs = errs, .nest = { .path = path, .errs = errs } };
	struct table_text tt;
	int lineno, before = errs->count;
	char *line;

	if (!table_text_open(&tt, path, errs))
		return NULL;
	xp.rt = xcalloc(1, sizeof(*xp.rt));
	xp.rt->path = xstrdup(path);
	while ((line = table_text_next(&tt, &lineno)) != NULL)
		rx_line(&xp, line, lineno);
	table_nest_finish(&xp.nest);
	if (!table_text_close(&tt) || errs->count > before) {
		rx_free(xp.rt);
		return NULL;
	}
	if ((xp.rt->mctx = pcre2_match_context_create(NULL)) == NULL)
		log_panic("pcre2_match_context_create: out of memory");
	pcre2_set_match_limit(xp.rt->mctx, RX_MATCH_LIMIT);
	return xp.rt;
}

/* rx_regexp_load - POSIX-like defaults, Postfix regexp flags */
static void *
rx_regexp_load(const char *path, struct table_errs *errs)
{
	return rx_load(&rx_regexp, path, errs);
}

/* rx_pcre_load - PCRE syntax and flags */
static void *
rx_pcre_load(const char *path, struct table_errs *errs)
{
	return rx_load(&rx_pcre, path, errs);
}

/* rx_lookup_line - walk the entries; match data is per call for
 * threads */
static enum table_result
rx_lookup_line(void *content, const char *key, struct arena *arena,
    const char **value_r, const char **why_r, int *line_r)
{
	struct rx_table *rt = content;
	pcre2_match_data *md;
	enum table_result r = TABLE_NOTFOUND;
	size_t i, len = strlen(key);

	if ((md = pcre2_match_data_create(rt->max_groups + 1, NULL)) == NULL)
		log_panic("pcre2_match_data_create: out of memory");
	for (i = 0; i < rt->n; i++) {
		const struct rx_entry *e = &rt->v[i];
		int rc;
		bool hit;

		if (e->op == RX_OP_ENDIF)
			continue;
		rc = pcre2_match(e->re, (PCRE2_SPTR)key, len, 0, 0, md,
		    rt->mctx);
		if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
			PCRE2_UCHAR msg[128];

			pcre2_get_error_message(rc, msg, sizeof(msg));
			*why_r = arena_printf(arena, "%s:%d: %s", rt->path,
			    e->lineno, (char *)msg);
			r = TABLE_ERROR;
			break;
		}
		hit = (rc >= 0) != e->negate;
		if (e->op == RX_OP_IF) {
			if (!hit)
				i = e->end;
			continue;
		}
		if (hit) {
			struct buf out = { 0 };

			(void)rx_expand(e->value, key, e->negate ? NULL :
			    pcre2_get_ovector_pointer(md), rt->max_groups,
			    &out, NULL);
			*value_r = arena_strdup(arena, buf_cstr(&out));
			buf_free(&out);
			*line_r = e->lineno;
			r = TABLE_FOUND;
			break;
		}
	}
	pcre2_match_data_free(md);
	return r;
}

/* rx_lookup - rx_lookup_line without the line */
static enum table_result
rx_lookup(void *content, const char *key, struct arena *arena,
    const char **value_r, const char **why_r)
{
	int line;

	return rx_lookup_line(content, key, arena, value_r, why_r, &line);
}

const struct table_ops table_type_regexp = {
	.load = rx_regexp_load,
	.lookup = rx_lookup,
	.lookup_line = rx_lookup_line,
	.free = rx_free,
};

const struct table_ops table_type_pcre = {
	.load = rx_pcre_load,
	.lookup = rx_lookup,
	.lookup_line = rx_lookup_line,
	.free = rx_free,
};
