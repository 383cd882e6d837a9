/*
 * table_hash.c - in-memory tables: hash: (text file) and inline:{...}
 *
 * Both build the same open-addressing hash map whose strings live in one
 * arena. Keys arrive folded to lower case (table.c folds lookup keys; we
 * fold at load). Duplicate keys keep the first value and are logged, as
 * Postfix's postmap does.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "log.h"
#include "mem.h"
#include "table_impl.h"

struct hash_slot {
	const char *key;
	const char *value;
};

struct hash_map {
	struct arena *arena;	/* keys and values */
	struct hash_slot *slots;
	size_t mask;		/* slot count - 1, a power of two minus 1 */
	size_t count;
};

/* hash_code - FNV-1a; keys are short and this spreads them well enough */
static uint64_t
hash_code(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* hash_map_new - an empty map */
static struct hash_map *
hash_map_new(void)
{
	struct hash_map *m = xcalloc(1, sizeof(*m));

	m->arena = arena_create();
	m->mask = 63;
	m->slots = xcalloc(m->mask + 1, sizeof(*m->slots));
	return m;
}

/* hash_map_free - release map and strings */
static void
hash_map_free(void *content)
{
	struct hash_map *m = content;

	arena_destroy(&m->arena);
	free(m->slots);
	free(m);
}

/* hash_map_slot - the slot holding key, or the empty slot where it goes */
static struct hash_slot *
hash_map_slot(struct hash_slot *slots, size_t mask, const char *key)
{
	size_t i = (size_t)hash_code(key) & mask;

	while (slots[i].key != NULL && strcmp(slots[i].key, key) != 0)
		i = (i + 1) & mask;
	return &slots[i];
}

/* hash_map_grow - double the slots when half full */
static void
hash_map_grow(struct hash_map *m)
{
	size_t nmask = m->mask * 2 + 1, i;
	struct hash_slot *ns = xcalloc(nmask + 1, sizeof(*ns));

	for (i = 0; i <= m->mask; i++)
		if (m->slots[i].key != NULL)
			*hash_map_slot(ns, nmask, m->slots[i].key) =
			    m->slots[i];
	free(m->slots);
	m->slots = ns;
	m->mask = nmask;
}

/* hash_map_add - insert; false (map unchanged) if the key exists */
static bool
hash_map_add(struct hash_map *m, const char *key, const char *value)
{
	struct hash_slot *s;

	if ((m->count + 1) * 2 > m->mask + 1)
		hash_map_grow(m);
	s = hash_map_slot(m->slots, m->mask, key);
	if (s->key != NULL)
		return false;
	s->key = arena_strdup(m->arena, key);
	s->value = arena_strdup(m->arena, value);
	m->count++;
	return true;
}

/* hash_map_lookup - exact match of a folded key */
static enum table_result
hash_map_lookup(void *content, const char *key, struct arena *arena,
    const char **value_r, const char **why_r)
{
	struct hash_map *m = content;
	struct hash_slot *s = hash_map_slot(m->slots, m->mask, key);

	(void)why_r;
	if (s->key == NULL)
		return TABLE_NOTFOUND;
	*value_r = arena_strdup(arena, s->value);
	return TABLE_FOUND;
}

/* hash_file_load - read "key value" lines */
static void *
hash_file_load(const char *path, struct table_errs *errs)
{
	struct table_text tt;
	struct hash_map *m;
	char *line, *key, *value;
	int lineno, before = errs->count;

	if (!table_text_open(&tt, path, errs))
		return NULL;
	m = hash_map_new();
	while ((line = table_text_next(&tt, &lineno)) != NULL) {
		if (!table_text_split(line, &key, &value)) {
			table_errs_line(errs, path, lineno,
			    "expected format: key whitespace value");
			continue;
		}
		table_fold(key);
		if (!hash_map_add(m, key, value))
			log_warn("%s:%d: duplicate entry \"%s\": keeping the "
			    "first one", path, lineno, key);
	}
	if (!table_text_close(&tt) || errs->count > before) {
		hash_map_free(m);
		return NULL;
	}
	return m;
}

const struct table_ops table_type_hash = {
	.load = hash_file_load,
	.lookup = hash_map_lookup,
	.free = hash_map_free,
};

/* inline_space - white space between inline items */
static bool
inline_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* inline_trim - copy [p, end) without surrounding white space */
static char *
inline_trim(const char *p, const char *end)
{
	while (p < end && inline_space(*p))
		p++;
	while (end > p && inline_space(end[-1]))
		end--;
	return xstrndup(p, (size_t)(end - p));
}

/* inline_item - add one "key=value" (braces already removed) */
static void
inline_item(struct hash_map *m, const char *name, const char *p,
    const char *end, struct table_errs *errs)
{
	const char *eq = memchr(p, '=', (size_t)(end - p));
	char *key, *value;

	if (eq == NULL) {
		char *item = inline_trim(p, end);

		table_errs_add(errs, "inline:%s: item \"%s\": expected "
		    "key=value", name, item);
		free(item);
		return;
	}
	key = inline_trim(p, eq);
	value = inline_trim(eq + 1, end);
	if (*key == '\0' || *value == '\0') {
		table_errs_add(errs, "inline:%s: item \"%.*s\": expected "
		    "key=value", name, (int)(end - p), p);
	} else {
		table_fold(key);
		if (!hash_map_add(m, key, value))
			log_warn("inline:%s: duplicate entry \"%s\": keeping "
			    "the first one", name, key);
	}
	free(key);
	free(value);
}

/*
 * inline_load - "{ key=value, { key = text, with commas }, ... }". Items
 * are separated by commas or white space, as in Postfix; braces group an
 * item that contains either.
 */
static void *
inline_load(const char *name, struct table_errs *errs)
{
	const char *p = name, *end = name + strlen(name), *q;
	struct hash_map *m;
	int before = errs->count;

	while (p < end && inline_space(*p))
		p++;
	while (end > p && inline_space(end[-1]))
		end--;
	if (p == end || *p != '{' || end[-1] != '}') {
		table_errs_add(errs, "inline:%s: expected inline:{ key=value, "
		    "... }", name);
		return NULL;
	}
	p++;
	end--;
	m = hash_map_new();
	while (p < end) {
		if (inline_space(*p) || *p == ',') {
			p++;
			continue;
		}
		if (*p == '{') {
			int depth = 1;

			for (q = p + 1; q < end && depth > 0; q++) {
				if (*q == '{')
					depth++;
				else if (*q == '}')
					depth--;
			}
			if (depth != 0) {
				table_errs_add(errs, "inline:%s: missing '}'",
				    name);
				break;
			}
			inline_item(m, name, p + 1, q - 1, errs);
			p = q;
			continue;
		}
		for (q = p; q < end && !inline_space(*q) && *q != ',' &&
		    *q != '{' && *q != '}'; q++)
			;
		if (q < end && (*q == '{' || *q == '}')) {
			table_errs_add(errs, "inline:%s: unexpected '%c'", name,
			    *q);
			break;
		}
		inline_item(m, name, p, q, errs);
		p = q;
	}
	if (errs->count > before) {
		hash_map_free(m);
		return NULL;
	}
	if (m->count == 0) {
		table_errs_add(errs, "inline:%s: empty table", name);
		hash_map_free(m);
		return NULL;
	}
	return m;
}

const struct table_ops table_type_inline = {
	.load = inline_load,
	.lookup = hash_map_lookup,
	.free = hash_map_free,
};
