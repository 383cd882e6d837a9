/*
 * virtual.c - virtual_alias_maps: rewriting recipients when a message is
 * queued
 *
 * Lookups: virtual(5)'s key order is neither access(5)'s (lookup.h) nor
 * transport(5)'s, so it is done here with table_lookup: user+ext@domain,
 * user@domain (only when the local part has a '+' after its first byte
 * and is not quoted), then "@domain". Pattern tables are asked once with
 * the whole address, as Postfix does (their patterns can match any part
 * of it).
 *
 * Values are split on commas and white space outside double quotes, so
 * that a quoted local part may hold either. Every piece must parse as a
 * mailbox with a domain: the result is queued as it stands, and a bad
 * value must defer the message rather than lose or misroute a copy.
 *
 * Limits: the distinct results count against VIRTUAL_RESULTS_MAX. Because
 * duplicates are dropped, a table whose entries share members (a -> b c,
 * b -> d e, c -> d e, ...) could still make the walk itself grow
 * exponentially with the depth; every address visited therefore counts
 * against VIRTUAL_RESULTS_MAX * VIRTUAL_DEPTH_MAX steps as well.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mailaddr.h"
#include "virtual.h"

#define VIRTUAL_EXT_DELIM	'+'	/* recipient_delimiter */
#define VIRTUAL_STEPS_MAX	(VIRTUAL_RESULTS_MAX * VIRTUAL_DEPTH_MAX)

/* One expansion: the addresses on the current path (ancestors whose
 * entries were found), the results so far, and why it failed. */
struct virtual_walk {
	struct table *maps;
	struct arena *arena;
	const char *rcpt;
	const char *path[VIRTUAL_DEPTH_MAX];
	const char **out;
	size_t n, cap;
	size_t steps;
	const char *why;
};

/* virtual_ask - one key; an error names the table and the key */
static enum table_result
virtual_ask(struct virtual_walk *w, const char *key, const char **value_r,
    const char **key_r)
{
	enum table_result res;

	res = table_lookup(w->maps, key, w->arena, value_r);
	if (res == TABLE_ERROR)
		w->why = arena_printf(w->arena, "%s: lookup error for \"%s\"",
		    table_spec(w->maps), key);
	else if (res == TABLE_FOUND)
		*key_r = key;
	return res;
}

/* virtual_find - virtual(5)'s keys in order for m */
static enum table_result
virtual_find(struct virtual_walk *w, const struct mailaddr *m,
    const char **value_r, const char **key_r)
{
	enum table_result res;
	const char *at, *ext;

	if ((res = virtual_ask(w, m->full, value_r, key_r)) !=
	    TABLE_NOTFOUND || table_is_pattern(w->maps) ||
	    (m->flags & MAILADDR_NO_DOMAIN))
		return res;
	/* full is "local@domain" with the local part quoted if it must be:
	 * a '+' inside quotes is part of the name, not an extension */
	at = strrchr(m->full, '@');
	ext = memchr(m->full, VIRTUAL_EXT_DELIM, (size_t)(at - m->full));
	if (m->full[0] != '"' && ext != NULL && ext > m->full &&
	    (res = virtual_ask(w, arena_printf(w->arena, "%.*s%s",
	    (int)(ext - m->full), m->full, at), value_r, key_r)) !=
	    TABLE_NOTFOUND)
		return res;
	return virtual_ask(w, at, value_r, key_r);
}

/* virtual_add - append addr unless it is there already; false at the
 * limit */
static bool
virtual_add(struct virtual_walk *w, const char *addr)
{
	const char **grown;
	size_t i;

	for (i = 0; i < w->n; i++)
		if (strcasecmp(w->out[i], addr) == 0)
			return true;
	if (w->n == VIRTUAL_RESULTS_MAX) {
		w->why = arena_printf(w->arena, "%s: \"%s\" expands to more "
		    "than %d addresses", table_spec(w->maps), w->rcpt,
		    VIRTUAL_RESULTS_MAX);
		return false;
	}
	if (w->n == w->cap) {
		w->cap = w->cap == 0 ? 8 : w->cap * 2;
		grown = arena_alloc(w->arena, w->cap * sizeof(*grown));
		if (w->n > 0)
			memcpy(grown, w->out, w->n * sizeof(*grown));
		w->out = grown;
	}
	w->out[w->n++] = addr;
	return true;
}

/* virtual_token - the next address in *p (commas and white space apart,
 * not inside quotes); NULL at the end */
static const char *
virtual_token(struct virtual_walk *w, const char **p)
{
	const char *s = *p, *start;
	bool quoted = false;

	s += strspn(s, ", \t\r\n\f\v");
	if (*s == '\0')
		return NULL;
	for (start = s; *s != '\0'; s++) {
		if (quoted && *s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '"')
			quoted = !quoted;
		else if (!quoted && strchr(", \t\r\n\f\v", *s) != NULL)
			break;
	}
	*p = s;
	return arena_strndup(w->arena, start, (size_t)(s - start));
}

/* virtual_parse - text as a mailbox with a domain; NULL or the reason */
static const char *
virtual_parse(struct arena *arena, const char *text, struct mailaddr *m)
{
	const char *why;

	if (!mailaddr_parse(arena, text, m, &why))
		return why;
	if (m->flags & MAILADDR_NULL)
		return "null address";
	if (m->flags & MAILADDR_NO_DOMAIN)
		return "no domain";
	return NULL;
}

static bool virtual_walk(struct virtual_walk *, const struct mailaddr *,
    size_t);

/*
 * virtual_values - walk every address of value, the entry of key found
 * for m at depth (the number of entries found above m)
 */
static bool
virtual_values(struct virtual_walk *w, const struct mailaddr *m,
    const char *key, const char *value, size_t depth)
{
	struct mailaddr child;
	const char *p = value, *tok, *text, *why, *at;
	size_t n = 0;

	if (depth == VIRTUAL_DEPTH_MAX) {
		w->why = arena_printf(w->arena, "%s: \"%s\" nests more than "
		    "%d levels deep (at key \"%s\")", table_spec(w->maps),
		    w->rcpt, VIRTUAL_DEPTH_MAX, key);
		return false;
	}
	w->path[depth] = m->full;
	while ((tok = virtual_token(w, &p)) != NULL) {
		n++;
		text = tok;
		/* "@other.example": the same local part at that domain */
		if (*tok == '@') {
			at = strrchr(m->full, '@');
			text = arena_printf(w->arena, "%.*s%s", at != NULL ?
			    (int)(at - m->full) : (int)strlen(m->full),
			    m->full, tok);
		}
		if ((why = virtual_parse(w->arena, text, &child)) != NULL) {
			w->why = arena_printf(w->arena, "%s: key \"%s\": bad "
			    "address \"%s\" in \"%s\": %s",
			    table_spec(w->maps), key, tok, value, why);
			log_warn("%s", w->why);
			return false;
		}
		if (!virtual_walk(w, &child, depth + 1))
			return false;
	}
	if (n == 0) {
		w->why = arena_printf(w->arena, "%s: key \"%s\": empty value",
		    table_spec(w->maps), key);
		log_warn("%s", w->why);
		return false;
	}
	return true;
}

/* virtual_walk - m at depth: kept when it came back on its own path or
 * has no entry, else replaced by its entry's addresses */
static bool
virtual_walk(struct virtual_walk *w, const struct mailaddr *m, size_t depth)
{
	const char *value, *key;
	size_t i;

	if (++w->steps > VIRTUAL_STEPS_MAX) {
		w->why = arena_printf(w->arena, "%s: \"%s\" takes more than "
		    "%d steps to expand", table_spec(w->maps), w->rcpt,
		    VIRTUAL_STEPS_MAX);
		return false;
	}
	for (i = 0; i < depth; i++)
		if (strcasecmp(w->path[i], m->full) == 0)
			return virtual_add(w, m->full);
	switch (virtual_find(w, m, &value, &key)) {
	case TABLE_NOTFOUND:
		return virtual_add(w, m->full);
	case TABLE_ERROR:
		return false;
	case TABLE_FOUND:
		break;
	}
	return virtual_values(w, m, key, value, depth);
}

/* virtual_expand - the top-level entry decides SAME; the rest walks */
enum virtual_result
virtual_expand(struct table *maps, const char *rcpt, struct arena *arena,
    const char ***out_r, size_t *n_r, const char **why_r)
{
	struct virtual_walk w = { .maps = maps, .arena = arena,
	    .rcpt = rcpt };
	struct mailaddr m;
	const char *value, *key, *why;

	if (maps == NULL || rcpt == NULL || arena == NULL || out_r == NULL ||
	    n_r == NULL || why_r == NULL)
		log_panic("virtual_expand: NULL argument");
	*out_r = NULL;
	*n_r = 0;
	if (!mailaddr_parse(arena, rcpt, &m, &why)) {
		*why_r = arena_printf(arena, "recipient \"%s\": %s", rcpt,
		    why);
		return VIRTUAL_ERROR;
	}
	/* "<>" is nobody's address: nothing to rewrite */
	if (m.flags & MAILADDR_NULL)
		return VIRTUAL_SAME;
	w.steps = 1;
	switch (virtual_find(&w, &m, &value, &key)) {
	case TABLE_NOTFOUND:
		return VIRTUAL_SAME;
	case TABLE_ERROR:
		*why_r = w.why;
		return VIRTUAL_ERROR;
	case TABLE_FOUND:
		break;
	}
	if (!virtual_values(&w, &m, key, value, 0)) {
		*why_r = w.why;
		return VIRTUAL_ERROR;
	}
	*out_r = w.out;
	*n_r = w.n;
	return VIRTUAL_EXPANDED;
}
