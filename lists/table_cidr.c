/*
 * table_cidr.c - cidr: tables, Postfix cidr_table(5) format
 *
 *	192.0.2.0/24		value
 *	2001:db8::/32		value
 *	[2001:db8::1]		value		(brackets optional)
 *	!198.51.100.0/24	value		(matches addresses outside)
 *	if 203.0.113.0/24	(or "if !net"; nestable, ends with endif)
 *	endif
 *
 * Entries are tried in file order; the first match wins. As in Postfix an
 * entry only ever matches keys of its own address family, negated or not,
 * and an "if" of the other family skips its whole block. A key that is not
 * an address is simply not found.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inet.h"
#include "mem.h"
#include "table_impl.h"

enum cidr_op {
	CIDR_OP_MATCH,
	CIDR_OP_IF,
	CIDR_OP_ENDIF,
};

struct cidr_entry {
	enum cidr_op op;
	bool negate;
	struct inet_cidr net;
	char *value;		/* CIDR_OP_MATCH */
	size_t end;		/* CIDR_OP_IF: index of its endif */
};

struct cidr_table {
	struct cidr_entry *v;
	size_t n, cap;
};

/* cidr_free - release the entries */
static void
cidr_free(void *content)
{
	struct cidr_table *ct = content;
	size_t i;

	for (i = 0; i < ct->n; i++)
		free(ct->v[i].value);
	free(ct->v);
	free(ct);
}

/* cidr_add - append an entry, return it */
static struct cidr_entry *
cidr_add(struct cidr_table *ct, enum cidr_op op)
{
	struct cidr_entry *e;

	if (ct->n == ct->cap) {
		ct->cap = ct->cap ? ct->cap * 2 : 32;
		ct->v = xrealloc(ct->v, ct->cap * sizeof(*ct->v));
	}
	e = &ct->v[ct->n++];
	memset(e, 0, sizeof(*e));
	e->op = op;
	return e;
}

/* cidr_hint - for "192.0.2.1/24" suggest the network "192.0.2.0/24", as
 * Postfix does when host bits are set; "" when there is nothing to say */
static void
cidr_hint(const char *text, char *hint, size_t len)
{
	const char *slash = strrchr(text, '/');
	char addr[INET_TEXT_MAX], key[INET_TEXT_MAX + 4], *end;
	struct inet_addr a;
	unsigned long prefix;

	hint[0] = '\0';
	if (slash == NULL || (size_t)(slash - text) >= sizeof(addr))
		return;
	memcpy(addr, text, (size_t)(slash - text));
	addr[slash - text] = '\0';
	prefix = strtoul(slash + 1, &end, 10);
	if (!inet_parse(addr, &a) || *end != '\0' || slash[1] == '\0' ||
	    prefix > (a.family == AF_INET ? 32UL : 128UL))
		return;
	inet_network_key(&a, (unsigned)prefix, key, sizeof(key));
	if (strcmp(key, text) != 0)
		snprintf(hint, len, " (network is %s)", key);
}

/*
 * cidr_pattern - parse "[!]net[/len]" (brackets allowed around the
 * address). Returns false with an error added.
 */
static bool
cidr_pattern(const char *pat, bool *negate_r, struct inet_cidr *net_r,
    const char *path, int lineno, struct table_errs *errs)
{
	const char *p = pat, *why = NULL;
	char *text;
	bool ok;

	*negate_r = false;
	if (*p == '!') {
		*negate_r = true;
		p++;
	}
	if (*p == '[') {
		const char *close = strchr(p, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != '/')) {
			table_errs_line(errs, path, lineno,
			    "bad address pattern \"%s\"", pat);
			return false;
		}
		text = xasprintf("%.*s%s", (int)(close - p - 1), p + 1,
		    close + 1);
	} else {
		text = xstrdup(p);
	}
	ok = *text != '\0' && inet_cidr_parse(text, net_r, &why);
	if (!ok) {
		char hint[INET_TEXT_MAX + 32];

		cidr_hint(text, hint, sizeof(hint));
		table_errs_line(errs, path, lineno,
		    "bad address pattern \"%s\": %s%s", pat,
		    why ? why : "expected network/prefix or address", hint);
	}
	free(text);
	return ok;
}

/* State while reading: the table and its open "if" blocks. */
struct cidr_parse {
	struct cidr_table *ct;
	const char *path;
	struct table_errs *errs;
	struct table_nest nest;
};

/* cidr_line - one logical line: endif, if, or an entry */
static void
cidr_line(struct cidr_parse *cp, char *line, int lineno)
{
	struct cidr_entry *e;
	struct inet_cidr net;
	bool negate;
	char *rest, *value;
	size_t block;

	if (table_nest_keyword(line, "endif", &rest)) {
		if (table_nest_endif(&cp->nest, rest, lineno, &block)) {
			cp->ct->v[block].end = cp->ct->n;
			cidr_add(cp->ct, CIDR_OP_ENDIF);
		}
		return;
	}
	if (table_nest_keyword(line, "if", &rest)) {
		if (*rest == '\0' || strpbrk(rest, " \t") != NULL) {
			table_errs_line(cp->errs, cp->path, lineno,
			    "expected format: if network/prefix");
			return;
		}
		if (!cidr_pattern(rest, &negate, &net, cp->path, lineno,
		    cp->errs))
			return;
		table_nest_open(&cp->nest, cp->ct->n, lineno);
		e = cidr_add(cp->ct, CIDR_OP_IF);
		e->negate = negate;
		e->net = net;
		return;
	}
	if (!table_text_split(line, &line, &value)) {
		table_errs_line(cp->errs, cp->path, lineno,
		    "expected format: network/prefix whitespace result");
		return;
	}
	if (!cidr_pattern(line, &negate, &net, cp->path, lineno, cp->errs))
		return;
	e = cidr_add(cp->ct, CIDR_OP_MATCH);
	e->negate = negate;
	e->net = net;
	e->value = xstrdup(value);
}

/* cidr_load - read the file; every bad line is reported */
static void *
cidr_load(const char *path, struct table_errs *errs)
{
	struct cidr_parse cp = { .path = path, .errs = errs,
	    .nest = { .path = path, .errs = errs } };
	struct table_text tt;
	int lineno, before = errs->count;
	char *line;

	if (!table_text_open(&tt, path, errs))
		return NULL;
	cp.ct = xcalloc(1, sizeof(*cp.ct));
	while ((line = table_text_next(&tt, &lineno)) != NULL)
		cidr_line(&cp, line, lineno);
	table_nest_finish(&cp.nest);
	if (!table_text_close(&tt) || errs->count > before) {
		cidr_free(cp.ct);
		return NULL;
	}
	return cp.ct;
}

/* cidr_hit - entry condition; other families never match */
static bool
cidr_hit(const struct cidr_entry *e, const struct inet_addr *a)
{
	if (e->net.net.family != a->family)
		return false;
	return inet_cidr_match(&e->net, a) != e->negate;
}

/* cidr_lookup - first match in file order */
static enum table_result
cidr_lookup(void *content, const char *key, struct arena *arena,
    const char **value_r, const char **why_r)
{
	struct cidr_table *ct = content;
	struct inet_addr a;
	size_t i;

	(void)why_r;
	if (!inet_parse(key, &a))
		return TABLE_NOTFOUND;
	for (i = 0; i < ct->n; i++) {
		const struct cidr_entry *e = &ct->v[i];

		switch (e->op) {
		case CIDR_OP_MATCH:
			if (cidr_hit(e, &a)) {
				*value_r = arena_strdup(arena, e->value);
				return TABLE_FOUND;
			}
			break;
		case CIDR_OP_IF:
			if (!cidr_hit(e, &a))
				i = e->end;
			break;
		case CIDR_OP_ENDIF:
			break;
		}
	}
	return TABLE_NOTFOUND;
}

const struct table_ops table_type_cidr = {
	.load = cidr_load,
	.lookup = cidr_lookup,
	.free = cidr_free,
};
