/*
 * dkim_tables.c - OpenDKIM's KeyTable and SigningTable (see dkim_tables.h)
 *
 * Both files are read once into the config's arena. Problems are
 * collected with the file and line they belong to and reported together,
 * sorted by file and line, so the admin sees every broken line at once.
 *
 * The KeyTable becomes an array of entries, each with its key already
 * loaded; an index sorted by name finds duplicates and resolves the
 * SigningTable's key names (KeyTable names are case-sensitive, as in
 * OpenDKIM). The SigningTable becomes an array of lines: in file order for
 * refile: (tried in turn), sorted by pattern then file order for file:
 * (looked up by binary search, lines sharing a pattern stay in order).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "dkim_key.h"
#include "dkim_tables.h"
#include "log.h"
#include "mem.h"

/* One KeyTable entry (the key is unset when its line had a problem). */
struct keytable_entry {
	const char *name;
	const char *domain;		/* "%" = the From domain */
	const char *selector;
	struct dkim_key key;
	int lineno;
};

/* One SigningTable line. */
struct signtable_line {
	const char *pattern;		/* folded to lower case */
	const struct keytable_entry *key;
	const char *signer;		/* may hold "%"; NULL if none */
	size_t seq;			/* position in the file */
};

struct dkim_tables {
	bool wildcard;			/* refile: */
	struct signtable_line *lines;
	size_t count;
};

/* How a dataset name starts; the last row is empty. */
struct dataset_type {
	const char *prefix;
	bool wildcard;
	bool for_keys;			/* allowed as KeyTable */
};

static const struct dataset_type dataset_types[] = {
	{
		.prefix = "file:",
		.for_keys = true,
	},
	{
		.prefix = "refile:",
		.wildcard = true,
	},
	{ 0 },
};

/* Which file a problem belongs to: orders the report. */
enum {
	ERR_KEYTABLE,
	ERR_SIGNTABLE,
};

struct load_err {
	int file;
	int lineno;			/* 0: the file as a whole */
	size_t seq;
	char *text;
};

struct load_errs {
	struct load_err *v;
	size_t count, cap;
};

/*
 * Reader for both files, OpenDKIM's syntax plus continuation: '#' starts
 * a comment anywhere on a line (OpenDKIM does the same), blank lines are
 * skipped, a line starting with white space continues the previous one.
 * Each logical line carries the number of its first physical line.
 */
struct reader {
	FILE *fp;
	const char *path;
	int file;
	struct load_errs *errs;
	int lineno;			/* last physical line read */
	char *raw;			/* getline() buffer */
	size_t rawcap;
	struct buf line;		/* the logical line returned */
	struct buf ahead;		/* physical line read one too far */
	int ahead_lineno;
	bool have_ahead;
};

/* errs_add - record a problem; lineno 0 for one without a line */
static void __attribute__((format(printf, 5, 6)))
errs_add(struct load_errs *errs, int file, const char *path, int lineno,
    const char *fmt, ...)
{
	struct buf b = { 0 };
	struct load_err *e;
	va_list ap;

	if (errs->count == errs->cap) {
		errs->cap = errs->cap ? errs->cap * 2 : 8;
		errs->v = xrealloc(errs->v, errs->cap * sizeof(*errs->v));
	}
	if (lineno > 0)
		buf_printf(&b, "%s:%d: ", path, lineno);
	else
		buf_printf(&b, "%s: ", path);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	e = &errs->v[errs->count];
	e->file = file;
	e->lineno = lineno;
	e->seq = errs->count;
	e->text = buf_steal(&b);
	errs->count++;
}

/* errs_order - by file, then line, then the order they were found */
static int
errs_order(const void *a, const void *b)
{
	const struct load_err *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->lineno != y->lineno)
		return x->lineno < y->lineno ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* errs_finish - the report, one problem per line, or NULL if none; the
 * collection is emptied either way */
static char *
errs_finish(struct load_errs *errs)
{
	struct buf b = { 0 };
	size_t i;

	if (errs->count == 0) {
		free(errs->v);
		return NULL;
	}
	qsort(errs->v, errs->count, sizeof(*errs->v), errs_order);
	for (i = 0; i < errs->count; i++) {
		if (i > 0)
			buf_putc(&b, '\n');
		buf_puts(&b, errs->v[i].text);
		free(errs->v[i].text);
	}
	free(errs->v);
	memset(errs, 0, sizeof(*errs));
	return buf_steal(&b);
}

/* is_space - white space as OpenDKIM's files understand it */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	    c == '\f';
}

/* fold - ASCII lower case: addresses are protocol text, not locale text */
static void
fold(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

/* reader_open - start reading; false after recording why not */
static bool
reader_open(struct reader *rd, const char *path, int file,
    struct load_errs *errs)
{
	memset(rd, 0, sizeof(*rd));
	rd->path = path;
	rd->file = file;
	rd->errs = errs;
	if ((rd->fp = fopen(path, "r")) == NULL) {
		errs_add(errs, file, path, 0, "cannot open: %s",
		    strerror(errno));
		return false;
	}
	return true;
}

/* reader_physical - the next non-empty physical line into ahead, comment
 * and trailing space removed; false at the end or on a read error */
static bool
reader_physical(struct reader *rd)
{
	ssize_t n;
	char *hash;

	for (;;) {
		errno = 0;
		n = getline(&rd->raw, &rd->rawcap, rd->fp);
		if (n < 0) {
			if (ferror(rd->fp))
				errs_add(rd->errs, rd->file, rd->path,
				    rd->lineno, "read error: %s",
				    strerror(errno ? errno : EIO));
			return false;
		}
		rd->lineno++;
		/* a NUL would silently cut the line short: refuse it */
		if (memchr(rd->raw, '\0', (size_t)n) != NULL) {
			errs_add(rd->errs, rd->file, rd->path, rd->lineno,
			    "NUL byte in line");
			continue;
		}
		if ((hash = memchr(rd->raw, '#', (size_t)n)) != NULL)
			n = hash - rd->raw;
		while (n > 0 && is_space(rd->raw[n - 1]))
			n--;
		if (n == 0)
			continue;
		buf_reset(&rd->ahead);
		buf_append(&rd->ahead, rd->raw, (size_t)n);
		rd->ahead_lineno = rd->lineno;
		return true;
	}
}

/* reader_next - the next logical line (valid until the next call), or
 * NULL at the end; *lineno_r is its first physical line */
static char *
reader_next(struct reader *rd, int *lineno_r)
{
	const char *p;

	buf_reset(&rd->line);
	for (;;) {
		if (rd->have_ahead)
			rd->have_ahead = false;
		else if (!reader_physical(rd))
			break;
		p = buf_cstr(&rd->ahead);
		if (rd->line.len > 0) {
			if (!is_space(*p)) {
				rd->have_ahead = true;
				break;
			}
			buf_append(&rd->line, p, rd->ahead.len);
			continue;
		}
		/* an indented first line has nothing to continue: OpenDKIM
		 * takes it as a line of its own, so do we */
		while (is_space(*p))
			p++;
		buf_puts(&rd->line, p);
		*lineno_r = rd->ahead_lineno;
	}
	return rd->line.len > 0 ? rd->line.data : NULL;
}

/* reader_close - release everything */
static void
reader_close(struct reader *rd)
{
	if (rd->fp != NULL)
		fclose(rd->fp);
	free(rd->raw);
	buf_free(&rd->line);
	buf_free(&rd->ahead);
	memset(rd, 0, sizeof(*rd));
}

/* split_first - "key whitespace rest": cut in place; *rest_r is NULL when
 * the line holds only the key */
static char *
split_first(char *line, char **rest_r)
{
	char *p = line;

	while (*p && !is_space(*p))
		p++;
	*rest_r = NULL;
	if (*p != '\0') {
		*p++ = '\0';
		while (is_space(*p))
			p++;
		*rest_r = p;
	}
	return line;
}

/* has_space - does s hold any white space? */
static bool
has_space(const char *s)
{
	for (; *s; s++)
		if (is_space(*s))
			return true;
	return false;
}

/* dataset_parse - the type and path of a table name; false after
 * recording why not */
static bool
dataset_parse(const char *what, const char *name, bool for_keys,
    struct load_errs *errs, int file, const struct dataset_type **type_r,
    const char **path_r)
{
	const struct dataset_type *t;
	const char *p;

	for (t = dataset_types; t->prefix != NULL; t++)
		if (strncmp(name, t->prefix, strlen(t->prefix)) == 0)
			break;
	if (t->prefix != NULL) {
		p = name + strlen(t->prefix);
	} else {
		/* "word:" names one of OpenDKIM's other types (csl:, db:,
		 * dsn:, ldap:, ...); anything else is a bare path */
		for (p = name; (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9'); p++)
			;
		if (p > name && *p == ':') {
			errs_add(errs, file, what, 0, "\"%s\": dataset type "
			    "\"%.*s\" is not supported (use %sa path)", name,
			    (int)(p - name), name,
			    for_keys ? "file: or " : "file:, refile: or ");
			return false;
		}
		t = &dataset_types[0];
		p = name;
	}
	if (for_keys && !t->for_keys) {
		errs_add(errs, file, what, 0, "\"%s\": %s is for the "
		    "SigningTable only (use file: or a path)", name,
		    t->prefix);
		return false;
	}
	if (*p == '\0') {
		errs_add(errs, file, what, 0, "\"%s\": no file named", name);
		return false;
	}
	*type_r = t;
	*path_r = p;
	return true;
}

/* key_is_path - OpenDKIM's rule: a path starts with "/", "./" or "../" */
static bool
key_is_path(const char *key)
{
	return key[0] == '/' || strncmp(key, "./", 2) == 0 ||
	    strncmp(key, "../", 3) == 0;
}

/* keytable_key - load the KEY field of one entry, or record why not */
static void
keytable_key(struct arena *arena, struct reader *rd, int lineno,
    struct keytable_entry *e, char *key)
{
	char *error = NULL, *q;
	const char *p;
	bool ok;

	/* a KEY on a continuation line starts with white space */
	while (is_space(*key))
		key++;
	if (key_is_path(key)) {
		if (strchr(key, '%') != NULL) {
			errs_add(rd->errs, rd->file, rd->path, lineno,
			    "key \"%s\": \"%%\" in key path \"%s\": keys are "
			    "loaded at start, so name one key per domain",
			    e->name, key);
			return;
		}
		ok = dkim_key_load(arena, key, &e->key, &error);
	} else {
		/* text is base64 DER (PEM needs line breaks, which a table
		 * line cannot hold); continuation lines put white space in */
		for (p = q = key; *p; p++)
			if (!is_space(*p))
				*q++ = *p;
		*q = '\0';
		ok = dkim_key_parse(arena, key, strlen(key), &e->key, &error);
	}
	if (!ok) {
		errs_add(rd->errs, rd->file, rd->path, lineno,
		    "key \"%s\": %s", e->name, error);
		free(error);
	}
}

/* keytable_line - one "NAME DOMAIN:SELECTOR:KEY" line into e */
static void
keytable_line(struct arena *arena, struct reader *rd, char *line,
    int lineno, struct keytable_entry *e)
{
	char *value, *domain, *selector, *key;

	e->name = arena_strdup(arena, split_first(line, &value));
	e->lineno = lineno;
	domain = value;
	selector = domain != NULL ? strchr(domain, ':') : NULL;
	key = selector != NULL ? strchr(selector + 1, ':') : NULL;
	if (key == NULL) {
		errs_add(rd->errs, rd->file, rd->path, lineno,
		    "expected \"NAME DOMAIN:SELECTOR:KEY\"");
		return;
	}
	*selector++ = '\0';
	*key++ = '\0';
	if (*domain == '\0' || *selector == '\0' || *key == '\0' ||
	    has_space(domain) || has_space(selector)) {
		errs_add(rd->errs, rd->file, rd->path, lineno,
		    "key \"%s\": expected \"NAME DOMAIN:SELECTOR:KEY\"",
		    e->name);
		return;
	}
	if (strchr(domain, '%') != NULL && strcmp(domain, "%") != 0) {
		errs_add(rd->errs, rd->file, rd->path, lineno,
		    "key \"%s\": DOMAIN \"%s\": \"%%\" must be the whole "
		    "DOMAIN", e->name, domain);
		return;
	}
	e->domain = arena_strdup(arena, domain);
	e->selector = arena_strdup(arena, selector);
	keytable_key(arena, rd, lineno, e, key);
}

/* entry_order - by name, then by line, so the first definition leads */
static int
entry_order(const void *a, const void *b)
{
	const struct keytable_entry *x = *(const struct keytable_entry **)a;
	const struct keytable_entry *y = *(const struct keytable_entry **)b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->lineno < y->lineno ? -1 : x->lineno > y->lineno;
}

/*
 * keytable_load - read the KeyTable; returns the index sorted by name
 * (malloc'ed, entries in arena) with *count_r and the file's *path_r, or
 * NULL when the file could not be read at all. Entries with problems are
 * kept so that the SigningTable does not call their names unknown.
 */
static struct keytable_entry **
keytable_load(struct arena *arena, const char *name, struct load_errs *errs,
    size_t *count_r, const char **path_r)
{
	const struct dataset_type *type;
	struct keytable_entry *entries = NULL, **index;
	struct reader rd;
	size_t count = 0, cap = 0, i, first;
	const char *path;
	char *line;
	int lineno = 0;

	if (!dataset_parse("KeyTable", name, true, errs, ERR_KEYTABLE, &type,
	    &path))
		return NULL;
	if (!reader_open(&rd, path, ERR_KEYTABLE, errs))
		return NULL;
	while ((line = reader_next(&rd, &lineno)) != NULL) {
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			entries = xrealloc(entries, cap * sizeof(*entries));
		}
		memset(&entries[count], 0, sizeof(entries[count]));
		keytable_line(arena, &rd, line, lineno, &entries[count]);
		count++;
	}
	reader_close(&rd);

	/* the entries move to the arena before anything points at them */
	index = xcalloc(count + 1, sizeof(*index));
	if (count > 0) {
		struct keytable_entry *kept = (struct keytable_entry *)
		    arena_memdup(arena, entries, count * sizeof(*entries));

		for (i = 0; i < count; i++)
			index[i] = &kept[i];
	}
	free(entries);
	qsort(index, count, sizeof(*index), entry_order);
	for (i = 1, first = 0; i < count; i++) {
		if (strcmp(index[i]->name, index[first]->name) != 0) {
			first = i;
			continue;
		}
		errs_add(errs, ERR_KEYTABLE, path, index[i]->lineno,
		    "duplicate key name \"%s\" (first at line %d)",
		    index[i]->name, index[first]->lineno);
	}
	*count_r = count;
	*path_r = path;
	return index;
}

/* keytable_find - the first entry named name, or NULL */
static const struct keytable_entry *
keytable_find(struct keytable_entry **index, size_t count, const char *name)
{
	size_t lo = 0, hi = count, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(index[mid]->name, name);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < count && strcmp(index[lo]->name, name) == 0 ?
	    index[lo] : NULL;
}

/*
 * refile_check - is pattern safe to read literally? OpenDKIM turns a
 * refile: pattern into a POSIX regular expression, escaping only '.' and
 * '+' and turning '*' into ".*": any other special character would mean
 * something else there than here, so it is refused rather than guessed.
 */
static bool
refile_check(struct reader *rd, int lineno, const char *pattern)
{
	const char *special = strpbrk(pattern, "^$[](){}|?\\");

	if (special == NULL)
		return true;
	errs_add(rd->errs, rd->file, rd->path, lineno, "pattern \"%s\": '%c' "
	    "is a regular expression character to OpenDKIM; only '*' is a "
	    "wildcard here", pattern, *special);
	return false;
}

/* file_pattern_dead - a '*' that no file: lookup key can hold; only
 * "*" and "user@*" are lookup keys with a star */
static bool
file_pattern_dead(const char *pattern)
{
	const char *star = strchr(pattern, '*');
	size_t len = strlen(pattern);

	if (star == NULL || strcmp(pattern, "*") == 0)
		return false;
	return !(len >= 2 && strcmp(pattern + len - 2, "@*") == 0 &&
	    star == pattern + len - 1);
}

/* signtable_line - one "PATTERN KEYNAME[:SIGNER]" line into l; false
 * after recording why not */
static bool
signtable_line(struct arena *arena, struct reader *rd, char *line,
    int lineno, bool wildcard, const char *keytable_path,
    struct keytable_entry **index, size_t nkeys,
    struct signtable_line *l)
{
	char *pattern, *value, *signer;

	pattern = split_first(line, &value);
	if (value == NULL || has_space(value) || *value == ':') {
		errs_add(rd->errs, rd->file, rd->path, lineno,
		    "expected \"PATTERN KEYNAME[:SIGNER]\"");
		return false;
	}
	if ((signer = strchr(value, ':')) != NULL)
		*signer++ = '\0';
	fold(pattern);
	if (wildcard && !refile_check(rd, lineno, pattern))
		return false;
	if (!wildcard && file_pattern_dead(pattern))
		log_warn("%s:%d: pattern \"%s\" never matches: file: looks "
		    "addresses up whole; refile: has wildcards", rd->path,
		    lineno, pattern);
	if (strcmp(value, "%") == 0) {
		errs_add(rd->errs, rd->file, rd->path, lineno, "key name "
		    "\"%%\" is not supported: OpenDKIM would use the From "
		    "domain as the key name; list each domain with its key "
		    "name instead");
		return false;
	}
	/* without a KeyTable every name would look unknown */
	if (index == NULL)
		return false;
	if ((l->key = keytable_find(index, nkeys, value)) == NULL) {
		errs_add(rd->errs, rd->file, rd->path, lineno,
		    "unknown key name \"%s\" (not in %s)", value,
		    keytable_path);
		return false;
	}
	l->pattern = arena_strdup(arena, pattern);
	l->signer = signer != NULL && *signer != '\0' ?
	    arena_strdup(arena, signer) : NULL;
	return true;
}

/* line_order - by pattern, then file order */
static int
line_order(const void *a, const void *b)
{
	const struct signtable_line *x = a, *y = b;
	int c = strcmp(x->pattern, y->pattern);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* signtable_load - read the SigningTable into tables */
static void
signtable_load(struct arena *arena, const char *name,
    const char *keytable_path, struct keytable_entry **index, size_t nkeys,
    struct load_errs *errs, struct dkim_tables *tables)
{
	const struct dataset_type *type;
	struct signtable_line *lines = NULL;
	struct reader rd;
	size_t count = 0, cap = 0;
	const char *path;
	char *line;
	int lineno = 0;

	if (!dataset_parse("SigningTable", name, false, errs, ERR_SIGNTABLE,
	    &type, &path))
		return;
	if (!reader_open(&rd, path, ERR_SIGNTABLE, errs))
		return;
	tables->wildcard = type->wildcard;
	while ((line = reader_next(&rd, &lineno)) != NULL) {
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			lines = xrealloc(lines, cap * sizeof(*lines));
		}
		memset(&lines[count], 0, sizeof(lines[count]));
		lines[count].seq = count;
		if (signtable_line(arena, &rd, line, lineno, type->wildcard,
		    keytable_path, index, nkeys, &lines[count]))
			count++;
	}
	reader_close(&rd);
	if (!type->wildcard && count > 1)
		qsort(lines, count, sizeof(*lines), line_order);
	if (count > 0)
		tables->lines = (struct signtable_line *)arena_memdup(arena,
		    lines, count * sizeof(*lines));
	tables->count = count;
	free(lines);
}

/* dkim_tables_load - read both tables */
bool
dkim_tables_load(struct arena *arena, const char *key_table,
    const char *signing_table, struct dkim_tables **tables_r,
    char **error_r)
{
	struct load_errs errs = { 0 };
	struct keytable_entry **index;
	struct dkim_tables *tables;
	const char *keytable_path = NULL;
	size_t nkeys = 0;

	if (key_table == NULL || signing_table == NULL)
		log_panic("dkim_tables_load: table name missing");
	tables = arena_alloc(arena, sizeof(*tables));
	index = keytable_load(arena, key_table, &errs, &nkeys,
	    &keytable_path);
	signtable_load(arena, signing_table, keytable_path, index, nkeys,
	    &errs, tables);
	free(index);
	if ((*error_r = errs_finish(&errs)) != NULL)
		return false;
	*tables_r = tables;
	return true;
}

/* wild_match - pattern with '*' against s, both folded, whole string */
static bool
wild_match(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star != NULL) {
			pat = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

/* replace_domain - s with every "%" replaced by domain, in arena */
static const char *
replace_domain(struct arena *arena, const char *s, const char *domain)
{
	struct buf b = { 0 };
	const char *out;

	for (; *s; s++) {
		if (*s == '%')
			buf_puts(&b, domain);
		else
			buf_putc(&b, *s);
	}
	out = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return out;
}

/* signer_fill - the signature one line asks for */
static void
signer_fill(const struct signtable_line *l, const char *domain,
    struct arena *arena, struct dkim_signer *out)
{
	const struct keytable_entry *e = l->key;

	out->keyname = arena_strdup(arena, e->name);
	out->domain = arena_strdup(arena,
	    strcmp(e->domain, "%") == 0 ? domain : e->domain);
	out->selector = arena_strdup(arena, e->selector);
	out->identity = l->signer != NULL ?
	    replace_domain(arena, l->signer, domain) : NULL;
	out->key = &e->key;
}

/* lines_find - the first line whose pattern is key, or count */
static size_t
lines_find(const struct dkim_tables *tables, const char *key)
{
	size_t lo = 0, hi = tables->count, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(tables->lines[mid].pattern, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < tables->count && strcmp(tables->lines[lo].pattern,
	    key) == 0 ? lo : tables->count;
}

/* key_add - append "a" "b" and a NUL to a list of lookup keys */
static void
key_add(struct buf *keys, const char *a, const char *b)
{
	buf_puts(keys, a);
	buf_puts(keys, b);
	buf_putc(keys, '\0');
}

/*
 * lookup_keys - OpenDKIM's file: lookup keys for local@domain, in order,
 * into keys as NUL-terminated strings: user@host, host, user@.parent for
 * each parent, .parent for each parent, user@*, *
 */
static void
lookup_keys(struct buf *keys, const char *local, const char *domain)
{
	char *user = xasprintf("%s@", local);
	const char *dot;

	key_add(keys, user, domain);
	key_add(keys, "", domain);
	for (dot = strchr(domain, '.'); dot != NULL; dot = strchr(dot + 1, '.'))
		key_add(keys, user, dot);
	for (dot = strchr(domain, '.'); dot != NULL; dot = strchr(dot + 1, '.'))
		key_add(keys, "", dot);
	key_add(keys, user, "*");
	key_add(keys, "", "*");
	free(user);
}

/* select_file - the lines of the first lookup key found, in file order */
static size_t
select_file(const struct dkim_tables *tables, const char *local,
    const char *domain, const char *orig_domain, struct arena *arena,
    struct dkim_signer *out, size_t limit)
{
	struct buf keys = { 0 };
	const char *key;
	size_t i = tables->count, n = 0;

	lookup_keys(&keys, local, domain);
	for (key = keys.data; key < keys.data + keys.len;
	    key += strlen(key) + 1)
		if ((i = lines_find(tables, key)) < tables->count)
			break;
	for (; i < tables->count && n < limit &&
	    strcmp(tables->lines[i].pattern, key) == 0; i++)
		signer_fill(&tables->lines[i], orig_domain, arena, &out[n++]);
	buf_free(&keys);
	return n;
}

/* dkim_tables_select - the signatures for local@domain */
size_t
dkim_tables_select(const struct dkim_tables *tables, const char *local,
    const char *domain, bool multiple, struct arena *arena,
    struct dkim_signer *out, size_t max)
{
	char *flocal, *fdomain, *addr;
	size_t limit = multiple ? max : (max > 0 ? 1 : 0), n = 0, i;

	if (tables == NULL || local == NULL || domain == NULL)
		log_panic("dkim_tables_select: missing argument");
	if (limit == 0)
		return 0;
	flocal = xstrdup(local);
	fdomain = xstrdup(domain);
	fold(flocal);
	fold(fdomain);
	if (tables->wildcard) {
		addr = xasprintf("%s@%s", flocal, fdomain);
		for (i = 0; i < tables->count && n < limit; i++)
			if (wild_match(tables->lines[i].pattern, addr))
				signer_fill(&tables->lines[i], domain, arena,
				    &out[n++]);
		free(addr);
	} else {
		n = select_file(tables, flocal, fdomain, domain, arena, out,
		    limit);
	}
	free(flocal);
	free(fdomain);
	return n;
}
