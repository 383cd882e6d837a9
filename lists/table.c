/*
 * table.c - lookup tables named "type:name": types, reload, surrogate
 *
 * The type table below is the only place that names table types. Each row
 * says how a type behaves (folded keys, pattern semantics, which file to
 * watch); the loaders live in table_hash.c, table_lmdb.c, table_cidr.c and
 * table_regexp.c behind table_impl.h.
 *
 * A table holds an immutable content pointer behind a rwlock: lookups
 * take it shared for the duration of one lookup, table_refresh() builds
 * the replacement outside the lock and swaps it in exclusively. A NULL
 * content is the surrogate state: every lookup answers TABLE_ERROR with
 * the reason kept in why, so a broken file tempfails instead of reading as
 * "not listed". Refreshes of one table are serialized by refresh_lock,
 * which also guards the file stamp.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "table.h"
#include "table_impl.h"

enum {
	TABLE_KIND_FOLD = 1 << 0,	/* keys folded to lower case */
	TABLE_KIND_PATTERN = 1 << 1,	/* one query with the whole key */
	TABLE_KIND_FILE = 1 << 2,	/* name is a file that may change */
};

struct table_kind {
	const char *name;
	const struct table_ops *ops;
	unsigned flags;
	const char *watch_suffix;	/* appended to the name to get the
					   file whose changes mean reload */
};

static const struct table_kind table_kinds[] = {
	{
		.name = "inline",
		.ops = &table_type_inline,
		.flags = TABLE_KIND_FOLD,
	},
	{
		.name = "static",
		.ops = &table_type_static,
		.flags = TABLE_KIND_PATTERN,
	},
	{
		.name = "hash",
		.ops = &table_type_hash,
		.flags = TABLE_KIND_FOLD | TABLE_KIND_FILE,
	},
	{
		/* Postfix's in-memory variant of hash; same format */
		.name = "texthash",
		.ops = &table_type_hash,
		.flags = TABLE_KIND_FOLD | TABLE_KIND_FILE,
	},
	{
		.name = "lmdb",
		.ops = &table_type_lmdb,
		.flags = TABLE_KIND_FOLD | TABLE_KIND_FILE,
		.watch_suffix = ".lmdb",
	},
	{
		.name = "cidr",
		.ops = &table_type_cidr,
		.flags = TABLE_KIND_PATTERN | TABLE_KIND_FILE,
	},
	{
		.name = "regexp",
		.ops = &table_type_regexp,
		.flags = TABLE_KIND_PATTERN | TABLE_KIND_FILE,
	},
	{
		.name = "pcre",
		.ops = &table_type_pcre,
		.flags = TABLE_KIND_PATTERN | TABLE_KIND_FILE,
	},
	{ 0 },
};

/* What we remember about a watched file to notice a change. */
struct table_stamp {
	int err;		/* stat() errno, 0 = exists */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

struct table {
	char *spec;			/* "type:name" as given */
	const char *name;		/* points into spec */
	const struct table_kind *kind;
	char *watch;			/* file to stat, NULL if none */

	pthread_rwlock_t lock;		/* content and why */
	void *content;			/* NULL = surrogate error state */
	char *why;			/* reason while content is NULL */

	pthread_mutex_t refresh_lock;	/* one refresh at a time; stamp */
	struct table_stamp stamp;

	struct table *prev, *next;	/* registry */
};

static pthread_mutex_t table_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct table *table_registry;

/* table_errs_vadd - append one error line */
static void
table_errs_vadd(struct table_errs *errs, const char *fmt, va_list ap)
{
	if (errs->text.len > 0)
		buf_putc(&errs->text, '\n');
	buf_vprintf(&errs->text, fmt, ap);
	errs->count++;
}

/* table_errs_add - record a problem that has no line number */
void
table_errs_add(struct table_errs *errs, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	table_errs_vadd(errs, fmt, ap);
	va_end(ap);
}

/* table_errs_line - record "FILE:LINE: problem" */
void
table_errs_line(struct table_errs *errs, const char *file, int line,
    const char *fmt, ...)
{
	struct buf b = { 0 };
	va_list ap;

	buf_printf(&b, "%s:%d: ", file, line);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	table_errs_add(errs, "%s", buf_cstr(&b));
	buf_free(&b);
}

/* table_fold - ASCII lower case; keys are protocol text, not locale text */
void
table_fold(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

/* table_is_space - white space as the text formats understand it */
static bool
table_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	    c == '\f';
}

/* table_text_open - start reading a text table; false + error if unreadable */
bool
table_text_open(struct table_text *tt, const char *path,
    struct table_errs *errs)
{
	memset(tt, 0, sizeof(*tt));
	tt->path = path;
	tt->errs = errs;
	if ((tt->fp = fopen(path, "r")) == NULL) {
		table_errs_add(errs, "%s: cannot open: %s", path,
		    strerror(errno));
		return false;
	}
	return true;
}

/* table_text_read - one physical line into ahead, trailing space removed */
static bool
table_text_read(struct table_text *tt)
{
	ssize_t n;

	for (;;) {
		errno = 0;
		n = getline(&tt->raw, &tt->rawcap, tt->fp);
		if (n < 0) {
			if (ferror(tt->fp) && !tt->failed) {
				tt->failed = true;
				table_errs_add(tt->errs, "%s: read error: %s",
				    tt->path, strerror(errno ? errno : EIO));
			}
			return false;
		}
		tt->lineno++;
		/* a NUL would silently cut the line short: refuse it */
		if (memchr(tt->raw, '\0', (size_t)n) != NULL) {
			table_errs_line(tt->errs, tt->path, tt->lineno,
			    "NUL byte in line");
			continue;
		}
		while (n > 0 && table_is_space(tt->raw[n - 1]))
			n--;
		buf_reset(&tt->ahead);
		buf_append(&tt->ahead, tt->raw, (size_t)n);
		tt->ahead_lineno = tt->lineno;
		return true;
	}
}

/* table_text_next - assemble the next logical line */
char *
table_text_next(struct table_text *tt, int *lineno_r)
{
	int start = 0;

	buf_reset(&tt->line);
	for (;;) {
		const char *p, *q;

		if (tt->have_ahead)
			tt->have_ahead = false;
		else if (!table_text_read(tt))
			break;
		p = buf_cstr(&tt->ahead);
		for (q = p; table_is_space(*q); q++)
			;
		if (*q == '\0' || *q == '#')
			continue;
		if (q != p) {
			if (tt->line.len > 0) {
				buf_append(&tt->line, p, tt->ahead.len);
				continue;
			}
			/* Postfix's behaviour: warn, then take it as a line */
			log_warn("%s:%d: logical line must not start with "
			    "white space", tt->path, tt->ahead_lineno);
			start = tt->ahead_lineno;
			buf_puts(&tt->line, q);
			continue;
		}
		if (tt->line.len > 0) {
			tt->have_ahead = true;
			break;
		}
		start = tt->ahead_lineno;
		buf_append(&tt->line, p, tt->ahead.len);
	}
	if (tt->line.len == 0)
		return NULL;
	*lineno_r = start;
	return tt->line.data;
}

/* table_text_close - release the reader; false if reading failed */
bool
table_text_close(struct table_text *tt)
{
	bool ok = !tt->failed;

	if (tt->fp != NULL)
		fclose(tt->fp);
	free(tt->raw);
	buf_free(&tt->line);
	buf_free(&tt->ahead);
	memset(tt, 0, sizeof(*tt));
	return ok;
}

/* table_text_split - "key whitespace value": split in place */
bool
table_text_split(char *line, char **key_r, char **value_r)
{
	char *p = line;

	while (*p && !table_is_space(*p))
		p++;
	if (*p == '\0')
		return false;
	*p++ = '\0';
	while (table_is_space(*p))
		p++;
	if (*p == '\0')
		return false;
	*key_r = line;
	*value_r = p;
	return true;
}

/* One open "if": its entry and its line, for "if without matching endif". */
struct table_nest_if {
	size_t index;
	int lineno;
};

/* table_nest_blank - what may follow if/endif: space or tab only */
static bool
table_nest_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* table_nest_keyword - "kw" or "kw ..." in any case, but not "kwx" */
bool
table_nest_keyword(char *line, const char *kw, char **rest_r)
{
	size_t len = strlen(kw);

	if (strncasecmp(line, kw, len) != 0 ||
	    (line[len] != '\0' && !table_nest_blank(line[len])))
		return false;
	for (line += len; table_nest_blank(*line); line++)
		;
	*rest_r = line;
	return true;
}

/* table_nest_open - remember an "if" until its endif */
void
table_nest_open(struct table_nest *tn, size_t index, int lineno)
{
	if (tn->depth == tn->cap) {
		tn->cap = tn->cap ? tn->cap * 2 : 8;
		tn->open = xrealloc(tn->open, tn->cap * sizeof(*tn->open));
	}
	tn->open[tn->depth].index = index;
	tn->open[tn->depth++].lineno = lineno;
}

/* table_nest_endif - close the innermost "if" */
bool
table_nest_endif(struct table_nest *tn, const char *rest, int lineno,
    size_t *index_r)
{
	if (*rest != '\0') {
		table_errs_line(tn->errs, tn->path, lineno,
		    "text after endif: \"%s\"", rest);
		return false;
	}
	if (tn->depth == 0) {
		table_errs_line(tn->errs, tn->path, lineno,
		    "endif without matching if");
		return false;
	}
	*index_r = tn->open[--tn->depth].index;
	return true;
}

/* table_nest_finish - unterminated blocks, outermost first */
void
table_nest_finish(struct table_nest *tn)
{
	size_t i;

	for (i = 0; i < tn->depth; i++)
		table_errs_line(tn->errs, tn->path, tn->open[i].lineno,
		    "if without matching endif");
	free(tn->open);
	tn->open = NULL;
	tn->depth = tn->cap = 0;
}

/* table_static_load - the value is the name, braces optional */
static void *
table_static_load(const char *name, struct table_errs *errs)
{
	const char *p = name, *end = name + strlen(name);

	if (*p == '{') {
		if (end == p || end[-1] != '}') {
			table_errs_add(errs, "static:%s: missing '}'", name);
			return NULL;
		}
		p++;
		end--;
		while (p < end && table_is_space(*p))
			p++;
		while (end > p && table_is_space(end[-1]))
			end--;
	}
	return xstrndup(p, (size_t)(end - p));
}

/* table_static_lookup - every key is found */
static enum table_result
table_static_lookup(void *content, const char *key, struct arena *arena,
    const char **value_r, const char **why_r)
{
	(void)key;
	(void)why_r;
	*value_r = arena_strdup(arena, content);
	return TABLE_FOUND;
}

const struct table_ops table_type_static = {
	.load = table_static_load,
	.lookup = table_static_lookup,
	.free = free,
};

/* table_kind_find - the row for spec's "type:" prefix, or NULL */
static const struct table_kind *
table_kind_find(const char *spec, size_t *typelen_r)
{
	const struct table_kind *k;
	const char *colon = strchr(spec, ':');
	size_t len;

	if (colon == NULL)
		return NULL;
	len = (size_t)(colon - spec);
	for (k = table_kinds; k->name != NULL; k++)
		if (strlen(k->name) == len && strncmp(k->name, spec, len) == 0)
			break;
	if (typelen_r != NULL)
		*typelen_r = len;
	return k->name != NULL ? k : NULL;
}

/* table_type_known - whether spec starts with a known "type:" */
bool
table_type_known(const char *spec)
{
	return spec != NULL && table_kind_find(spec, NULL) != NULL;
}

/* table_stamp_take - what the watched file looks like now */
static void
table_stamp_take(const char *path, struct table_stamp *st)
{
	struct stat sb;

	memset(st, 0, sizeof(*st));
	if (stat(path, &sb) < 0) {
		st->err = errno ? errno : EIO;
		return;
	}
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtim = sb.st_mtim;
	st->ctim = sb.st_ctim;
}

/* table_stamp_same - no visible change between two stamps */
static bool
table_stamp_same(const struct table_stamp *a, const struct table_stamp *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtim.tv_sec == b->mtim.tv_sec &&
	    a->mtim.tv_nsec == b->mtim.tv_nsec &&
	    a->ctim.tv_sec == b->ctim.tv_sec &&
	    a->ctim.tv_nsec == b->ctim.tv_nsec;
}

/* table_open - parse the spec, load the content, register for refresh */
struct table *
table_open(const char *spec, char **error_r)
{
	const struct table_kind *kind;
	struct table_errs errs = { 0 };
	struct table *t;
	size_t typelen;
	void *content;

	if (spec == NULL || strchr(spec, ':') == NULL) {
		*error_r = xasprintf("table \"%s\": expected type:name",
		    spec ? spec : "");
		return NULL;
	}
	if ((kind = table_kind_find(spec, &typelen)) == NULL) {
		*error_r = xasprintf("table \"%s\": unsupported table type "
		    "\"%.*s\"", spec, (int)typelen, spec);
		return NULL;
	}
	if (spec[typelen + 1] == '\0') {
		*error_r = xasprintf("table \"%s\": missing name after "
		    "\"%s:\"", spec, kind->name);
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->spec = xstrdup(spec);
	t->name = t->spec + typelen + 1;
	t->kind = kind;
	if (kind->flags & TABLE_KIND_FILE) {
		t->watch = xasprintf("%s%s", t->name,
		    kind->watch_suffix ? kind->watch_suffix : "");
		/* before loading, so a change during the load is seen later */
		table_stamp_take(t->watch, &t->stamp);
	}
	if ((content = kind->ops->load(t->name, &errs)) == NULL) {
		if (errs.count == 0)
			log_panic("table_open: %s: load failed silently", spec);
		*error_r = buf_steal(&errs.text);
		free(t->watch);
		free(t->spec);
		free(t);
		return NULL;
	}
	buf_free(&errs.text);
	t->content = content;
	if (pthread_rwlock_init(&t->lock, NULL) != 0 ||
	    pthread_mutex_init(&t->refresh_lock, NULL) != 0)
		log_panic("table_open: cannot initialize locks");

	pthread_mutex_lock(&table_registry_lock);
	t->next = table_registry;
	if (table_registry != NULL)
		table_registry->prev = t;
	table_registry = t;
	pthread_mutex_unlock(&table_registry_lock);
	return t;
}

/* table_close - unregister and release everything */
void
table_close(struct table **tp)
{
	struct table *t = *tp;

	if (t == NULL)
		return;
	pthread_mutex_lock(&table_registry_lock);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		table_registry = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	pthread_mutex_unlock(&table_registry_lock);

	if (t->content != NULL)
		t->kind->ops->free(t->content);
	pthread_rwlock_destroy(&t->lock);
	pthread_mutex_destroy(&t->refresh_lock);
	free(t->why);
	free(t->watch);
	free(t->spec);
	free(t);
	*tp = NULL;
}

/* table_lookup - table_lookup_line without the line */
enum table_result
table_lookup(struct table *t, const char *key, struct arena *arena,
    const char **value_r)
{
	int line;

	return table_lookup_line(t, key, arena, value_r, &line);
}

/* table_lookup_line - fold the key if the type wants it, ask the
 * content */
enum table_result
table_lookup_line(struct table *t, const char *key, struct arena *arena,
    const char **value_r, int *line_r)
{
	enum table_result r;
	const char *why = NULL;
	char small[256], *k = NULL;

	if (t == NULL || key == NULL || arena == NULL || value_r == NULL ||
	    line_r == NULL)
		log_panic("table_lookup: NULL argument");
	*line_r = 0;
	if (t->kind->flags & TABLE_KIND_FOLD) {
		size_t len = strlen(key);

		k = len < sizeof(small) ? small : xmalloc(len + 1);
		memcpy(k, key, len + 1);
		table_fold(k);
	}

	pthread_rwlock_rdlock(&t->lock);
	if (t->content == NULL) {
		log_warn("%s: table lookup error: %s", t->spec,
		    t->why ? t->why : "table not loaded");
		r = TABLE_ERROR;
	} else {
		if (t->kind->ops->lookup_line != NULL)
			r = t->kind->ops->lookup_line(t->content, k ? k : key,
			    arena, value_r, &why, line_r);
		else
			r = t->kind->ops->lookup(t->content, k ? k : key,
			    arena, value_r, &why);
		if (r == TABLE_ERROR)
			log_warn("%s: table lookup error for \"%s\": %s",
			    t->spec, key, why ? why : "unknown problem");
	}
	pthread_rwlock_unlock(&t->lock);

	if (k != NULL && k != small)
		free(k);
	return r;
}

/* table_spec - the spec the table was opened with */
const char *
table_spec(const struct table *t)
{
	return t->spec;
}

/* table_is_pattern - pattern tables get one query with the whole key */
bool
table_is_pattern(const struct table *t)
{
	return (t->kind->flags & TABLE_KIND_PATTERN) != 0;
}

/* table_oneline - multi-line error text as one log line, "; " between */
static char *
table_oneline(const char *text)
{
	struct buf b = { 0 };
	const char *p;

	for (p = text; *p; p++) {
		if (*p == '\n')
			buf_puts(&b, "; ");
		else
			buf_putc(&b, *p);
	}
	return buf_steal(&b);
}

/* table_refresh - reload after a visible change; error state on failure */
bool
table_refresh(struct table *t)
{
	struct table_stamp now;
	struct table_errs errs = { 0 };
	void *fresh, *old;
	bool ok, was_ok;

	if (t->watch == NULL)
		return true;
	pthread_mutex_lock(&t->refresh_lock);
	table_stamp_take(t->watch, &now);
	/* content is only written under refresh_lock, so reading it is safe */
	was_ok = t->content != NULL;
	if (table_stamp_same(&now, &t->stamp)) {
		pthread_mutex_unlock(&t->refresh_lock);
		return was_ok;
	}
	t->stamp = now;
	fresh = t->kind->ops->load(t->name, &errs);
	if (fresh == NULL && errs.count == 0)
		log_panic("table_refresh: %s: load failed silently", t->spec);

	pthread_rwlock_wrlock(&t->lock);
	old = t->content;
	t->content = fresh;
	free(t->why);
	t->why = fresh ? NULL : table_oneline(buf_cstr(&errs.text));
	pthread_rwlock_unlock(&t->lock);

	if (old != NULL)
		t->kind->ops->free(old);
	ok = fresh != NULL;
	/* logged once per change of the file, not once per refresh */
	if (!ok)
		log_warn("%s: cannot reload, lookups fail until the file is "
		    "fixed: %s", t->spec, t->why);
	else if (!was_ok)
		log_info("%s: table reloaded, lookups work again", t->spec);
	else
		log_info("%s: table reloaded after a change", t->spec);
	buf_free(&errs.text);
	pthread_mutex_unlock(&t->refresh_lock);
	return ok;
}

/* table_refresh_all - refresh every open table */
void
table_refresh_all(void)
{
	struct table *t;

	pthread_mutex_lock(&table_registry_lock);
	for (t = table_registry; t != NULL; t = t->next)
		(void)table_refresh(t);
	pthread_mutex_unlock(&table_registry_lock);
}

/* table_compile - build the binary form of an lmdb: source */
bool
table_compile(const char *path, char **error_r)
{
	const struct table_kind *k = table_kind_find("lmdb:", NULL);
	struct table_errs errs = { 0 };

	if (k == NULL || k->ops->compile == NULL)
		log_panic("table_compile: no lmdb type");
	if (k->ops->compile(path, &errs)) {
		buf_free(&errs.text);
		return true;
	}
	if (errs.count == 0)
		log_panic("table_compile: %s: failed silently", path);
	*error_r = buf_steal(&errs.text);
	return false;
}
