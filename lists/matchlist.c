/*
 * matchlist.c - mynetworks / relay_domains style lists
 *
 * Items are parsed once at open into a small array: a network, an exact
 * domain, a ".domain" (subdomains only), or an open table; each may be
 * negated. Like Postfix, an item "/path/name" reads more items from that
 * file (comma or white space separated, '#' comments), so a list kept in
 * a file moves over unchanged; such a file is read once, at open.
 *
 * Table items are asked in lookup_addr / lookup_domain order and any value
 * is a match. A table error ends the search with TABLE_ERROR: a list that
 * cannot be read must not quietly stop matching.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "lookup.h"
#include "matchlist.h"
#include "mem.h"

enum matchlist_item_kind {
	ITEM_NETWORK,
	ITEM_DOMAIN,		/* exact name */
	ITEM_SUBDOMAINS,	/* ".example.com": below it, not itself */
	ITEM_TABLE,
};

struct matchlist_item {
	enum matchlist_item_kind kind;
	bool negate;
	struct inet_cidr net;
	const char *domain;	/* lower case; with the dot for SUBDOMAINS */
	struct table *table;
};

struct matchlist {
	enum matchlist_kind kind;
	struct matchlist_item *items;
	size_t n, cap;
};

/* matchlist_close_tables - arena cleanup: tables live as long as the list */
static void
matchlist_close_tables(void *arg)
{
	struct matchlist *ml = arg;
	size_t i;

	for (i = 0; i < ml->n; i++)
		table_close(&ml->items[i].table);
	free(ml->items);
	ml->items = NULL;
	ml->n = 0;
}

/* matchlist_error - one problem line */
static void
matchlist_error(struct buf *errs, const char *fmt, ...)
{
	va_list ap;

	if (errs->len > 0)
		buf_putc(errs, '\n');
	va_start(ap, fmt);
	buf_vprintf(errs, fmt, ap);
	va_end(ap);
}

/* matchlist_push - a new zeroed item */
static struct matchlist_item *
matchlist_push(struct matchlist *ml)
{
	if (ml->n == ml->cap) {
		ml->cap = ml->cap ? ml->cap * 2 : 8;
		ml->items = xrealloc(ml->items, ml->cap * sizeof(*ml->items));
	}
	memset(&ml->items[ml->n], 0, sizeof(ml->items[0]));
	return &ml->items[ml->n++];
}

static void matchlist_item(struct matchlist *, struct arena *, const char *,
    const char *, struct buf *, int);

/* matchlist_file - items listed in a file ("/path" item) */
static void
matchlist_file(struct matchlist *ml, struct arena *arena, const char *path,
    struct buf *errs)
{
	struct conf_list list;
	char *text = NULL;
	size_t cap = 0, i;
	ssize_t n;
	int lineno = 0;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		matchlist_error(errs, "%s: cannot open: %s", path,
		    strerror(errno));
		return;
	}
	while ((n = getline(&text, &cap, fp)) >= 0) {
		const char *p = text + strspn(text, " \t\r\n");
		char *where;

		lineno++;
		if (*p == '#' || *p == '\0')
			continue;
		if (memchr(text, '\0', (size_t)n) != NULL) {
			matchlist_error(errs, "%s:%d: NUL byte in line", path,
			    lineno);
			continue;
		}
		where = arena_printf(arena, "%s:%d", path, lineno);
		conf_split_list(arena, p, &list);
		for (i = 0; i < list.n; i++)
			matchlist_item(ml, arena, list.items[i], where, errs,
			    1);
	}
	if (ferror(fp))
		matchlist_error(errs, "%s: read error: %s", path,
		    strerror(errno));
	fclose(fp);
	free(text);
}

/*
 * matchlist_item - parse one item into ml. where names a file line for
 * items read from a file (NULL for the setting itself); depth stops a
 * file from naming more files.
 */
static void
matchlist_item(struct matchlist *ml, struct arena *arena, const char *text,
    const char *where, struct buf *errs, int depth)
{
	struct matchlist_item *it;
	const char *p = text, *why = NULL;
	bool negate = false;
	char *table_err = NULL;

	while (*p == '!') {
		negate = !negate;
		p++;
	}
	if (*p == '\0') {
		matchlist_error(errs, "%s%sempty list item \"%s\"",
		    where ? where : "", where ? ": " : "", text);
		return;
	}
	if (*p == '/' && !negate) {
		if (depth > 0)
			matchlist_error(errs, "%s: file \"%s\" named inside a "
			    "list file", where, p);
		else
			matchlist_file(ml, arena, p, errs);
		return;
	}
	if (table_type_known(p)) {
		struct table *t = table_open(p, &table_err);

		if (t == NULL) {
			matchlist_error(errs, "%s%s%s", where ? where : "",
			    where ? ": " : "", table_err);
			free(table_err);
			return;
		}
		it = matchlist_push(ml);
		it->kind = ITEM_TABLE;
		it->table = t;
		it->negate = negate;
		return;
	}
	if (ml->kind == MATCHLIST_NETWORKS) {
		struct inet_cidr net;

		if (!inet_cidr_parse(p, &net, &why)) {
			matchlist_error(errs, "%s%sbad network \"%s\": %s",
			    where ? where : "", where ? ": " : "", p, why);
			return;
		}
		it = matchlist_push(ml);
		it->kind = ITEM_NETWORK;
		it->net = net;
		it->negate = negate;
		return;
	}
	if (strchr(p, ':') != NULL || strchr(p, '/') != NULL ||
	    strchr(p, '@') != NULL || (p[0] == '.' && p[1] == '\0')) {
		matchlist_error(errs, "%s%sbad domain \"%s\"%s",
		    where ? where : "", where ? ": " : "", p,
		    strchr(p, ':') ? " (unknown table type?)" : "");
		return;
	}
	it = matchlist_push(ml);
	it->kind = *p == '.' ? ITEM_SUBDOMAINS : ITEM_DOMAIN;
	it->negate = negate;
	{
		char *d = arena_strdup(arena, p);
		size_t len = strlen(d);

		for (char *q = d; *q; q++)
			if (*q >= 'A' && *q <= 'Z')
				*q += 'a' - 'A';
		if (len > 1 && d[len - 1] == '.')
			d[len - 1] = '\0';
		it->domain = d;
	}
}

/* matchlist_open - parse every item; all problems are reported at once */
struct matchlist *
matchlist_open(struct arena *arena, const struct conf_list *items,
    enum matchlist_kind kind, char **error_r)
{
	struct matchlist *ml = arena_alloc(arena, sizeof(*ml));
	struct buf errs = { 0 };
	size_t i;

	ml->kind = kind;
	for (i = 0; items != NULL && i < items->n; i++)
		matchlist_item(ml, arena, items->items[i], NULL, &errs, 0);
	if (errs.len > 0) {
		matchlist_close_tables(ml);
		*error_r = buf_steal(&errs);
		return NULL;
	}
	buf_free(&errs);
	arena_cleanup(arena, matchlist_close_tables, ml);
	return ml;
}

/*
 * matchlist_decided - whether item it answering hit ends the search, with
 * the list's answer in *r_r: the first match decides (a negated item says
 * "no"), and a table error ends it as an error, never as "not found".
 */
static bool
matchlist_decided(const struct matchlist_item *it, enum table_result hit,
    enum table_result *r_r)
{
	switch (hit) {
	case TABLE_NOTFOUND:
		return false;
	case TABLE_FOUND:
		*r_r = it->negate ? TABLE_NOTFOUND : TABLE_FOUND;
		return true;
	case TABLE_ERROR:
		break;
	}
	*r_r = TABLE_ERROR;
	return true;
}

/* matchlist_addr - is addr in the network list */
enum table_result
matchlist_addr(struct matchlist *ml, const struct inet_addr *addr)
{
	struct arena *tmp = NULL;
	enum table_result r = TABLE_NOTFOUND;
	const char *value;
	size_t i;

	if (ml->kind != MATCHLIST_NETWORKS)
		log_panic("matchlist_addr on a domain list");
	if (addr == NULL || (addr->family != AF_INET &&
	    addr->family != AF_INET6))
		return TABLE_NOTFOUND;
	for (i = 0; i < ml->n; i++) {
		const struct matchlist_item *it = &ml->items[i];
		enum table_result hit;

		if (it->kind == ITEM_TABLE) {
			if (tmp == NULL)
				tmp = arena_create();
			hit = lookup_addr(it->table, addr, tmp, &value);
		} else {
			hit = inet_cidr_match(&it->net, addr) ? TABLE_FOUND :
			    TABLE_NOTFOUND;
		}
		if (matchlist_decided(it, hit, &r))
			break;
	}
	arena_destroy(&tmp);
	return r;
}

/* matchlist_domain - is domain (case-insensitive) in the domain list */
enum table_result
matchlist_domain(struct matchlist *ml, const char *domain)
{
	struct arena *tmp = arena_create();
	enum table_result r = TABLE_NOTFOUND;
	const char *value;
	char *name;
	size_t i, len;

	if (ml->kind != MATCHLIST_DOMAINS)
		log_panic("matchlist_domain on a network list");
	if (domain == NULL || *domain == '\0') {
		arena_destroy(&tmp);
		return TABLE_NOTFOUND;
	}
	name = arena_strdup(tmp, domain);
	for (char *q = name; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q += 'a' - 'A';
	len = strlen(name);
	if (len > 1 && name[len - 1] == '.')
		name[--len] = '\0';
	for (i = 0; i < ml->n; i++) {
		const struct matchlist_item *it = &ml->items[i];
		enum table_result hit = TABLE_NOTFOUND;
		size_t dlen;

		switch (it->kind) {
		case ITEM_TABLE:
			hit = lookup_domain(it->table, name, tmp, &value);
			break;
		case ITEM_DOMAIN:
			if (strcmp(name, it->domain) == 0)
				hit = TABLE_FOUND;
			break;
		case ITEM_SUBDOMAINS:
			dlen = strlen(it->domain);
			if (len > dlen &&
			    strcmp(name + len - dlen, it->domain) == 0)
				hit = TABLE_FOUND;
			break;
		case ITEM_NETWORK:
			log_panic("matchlist_domain: network item");
		}
		if (matchlist_decided(it, hit, &r))
			break;
	}
	arena_destroy(&tmp);
	return r;
}
