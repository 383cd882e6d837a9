/*
 * dmarc_store.c - the DMARC report store: day files of escaped,
 * tab-separated lines (see dmarc_store.h for the format and contract)
 *
 * The fields are described once, in dmarc_store_fields, and both the
 * writer and the reader go through that table, so a line the writer
 * produces is exactly what the reader accepts.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "dmarc_store.h"
#include "mem.h"

#define DMARC_STORE_VERSION	"1"
#define DMARC_STORE_FIELDS	19
#define DMARC_STORE_DAY		86400

struct dmarc_store {
	char *dir;
};

/* Allowed words of the enumerated fields. */
static const char *const dmarc_store_policies[] = {
	"none", "quarantine", "reject", NULL,
};
static const char *const dmarc_store_modes[] = { "r", "s", NULL };
static const char *const dmarc_store_aligned[] = { "pass", "fail", NULL };
static const char *const dmarc_store_reasons[] = {
	"", "forwarded", "sampled_out", "trusted_forwarder", "mailing_list",
	"local_policy", "other", NULL,
};
static const char *const dmarc_store_scopes[] = { "mfrom", "helo", NULL };
static const char *const dmarc_store_spf_results[] = {
	"none", "neutral", "pass", "fail", "softfail", "temperror",
	"permerror", NULL,
};
static const char *const dmarc_store_dkim_results[] = {
	"none", "pass", "fail", "policy", "neutral", "temperror",
	"permerror", NULL,
};

enum dmarc_store_kind {
	DMARC_STORE_TEXT,	/* a string (words: one of them) */
	DMARC_STORE_PCT,	/* 0..100 */
	DMARC_STORE_DKIM,	/* the signature list */
};

/* Fields 3 to 19 of a line, in order (1 and 2 are version and time). */
static const struct dmarc_store_field {
	const char *name;
	enum dmarc_store_kind kind;
	size_t offset;			/* of the const char * (TEXT) */
	const char *const *words;	/* NULL: any text */
	bool nonempty;
} dmarc_store_fields[] = {
#define DMARC_STORE_OFF(f)	offsetof(struct dmarc_store_record, f)
	{ "source_ip", DMARC_STORE_TEXT, DMARC_STORE_OFF(source_ip), NULL,
	  true },
	{ "header_from", DMARC_STORE_TEXT, DMARC_STORE_OFF(header_from), NULL,
	  true },
	{ "policy_domain", DMARC_STORE_TEXT, DMARC_STORE_OFF(policy_domain),
	  NULL, true },
	{ "p", DMARC_STORE_TEXT, DMARC_STORE_OFF(p), dmarc_store_policies,
	  true },
	{ "sp", DMARC_STORE_TEXT, DMARC_STORE_OFF(sp), dmarc_store_policies,
	  true },
	{ "pct", DMARC_STORE_PCT, 0, NULL, true },
	{ "adkim", DMARC_STORE_TEXT, DMARC_STORE_OFF(adkim), dmarc_store_modes,
	  true },
	{ "aspf", DMARC_STORE_TEXT, DMARC_STORE_OFF(aspf), dmarc_store_modes,
	  true },
	{ "fo", DMARC_STORE_TEXT, DMARC_STORE_OFF(fo), NULL, true },
	{ "disposition", DMARC_STORE_TEXT, DMARC_STORE_OFF(disposition),
	  dmarc_store_policies, true },
	{ "dkim", DMARC_STORE_TEXT, DMARC_STORE_OFF(dkim_aligned),
	  dmarc_store_aligned, true },
	{ "spf", DMARC_STORE_TEXT, DMARC_STORE_OFF(spf_aligned),
	  dmarc_store_aligned, true },
	{ "reason", DMARC_STORE_TEXT, DMARC_STORE_OFF(reason),
	  dmarc_store_reasons, false },
	{ "spf_domain", DMARC_STORE_TEXT, DMARC_STORE_OFF(spf_domain), NULL,
	  false },
	{ "spf_scope", DMARC_STORE_TEXT, DMARC_STORE_OFF(spf_scope),
	  dmarc_store_scopes, true },
	{ "spf_result", DMARC_STORE_TEXT, DMARC_STORE_OFF(spf_result),
	  dmarc_store_spf_results, true },
	{ "dkim_results", DMARC_STORE_DKIM, 0, NULL, false },
	{ NULL },
#undef DMARC_STORE_OFF
};

/* dmarc_store_text - the string field f of rec */
static const char **
dmarc_store_text(const struct dmarc_store_record *rec,
    const struct dmarc_store_field *f)
{
	return (const char **)((const char *)rec + f->offset);
}

/* dmarc_store_word_ok - s is one of words (any s when words is NULL) */
static bool
dmarc_store_word_ok(const char *const *words, const char *s)
{
	if (words == NULL)
		return true;
	for (; *words != NULL; words++)
		if (strcmp(*words, s) == 0)
			return true;
	return false;
}

/* dmarc_store_value_ok - a decoded or given string for field f; static
 * error text or NULL */
static const char *
dmarc_store_value_ok(const struct dmarc_store_field *f, const char *s)
{
	if (s == NULL)
		return "missing";
	if (f->nonempty && *s == '\0')
		return "empty";
	if (!dmarc_store_word_ok(f->words, s))
		return "not an allowed value";
	return NULL;
}

/* --- writing -------------------------------------------------------------- */

/* dmarc_store_needs_escape - bytes written as %XX (see the header) */
static bool
dmarc_store_needs_escape(unsigned char c)
{
	return c < 0x21 || c > 0x7e || c == '%' || c == ',' || c == ';';
}

/* dmarc_store_escape - s into b, escaped */
static void
dmarc_store_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (!dmarc_store_needs_escape(*p)) {
			buf_putc(b, (char)*p);
			continue;
		}
		buf_putc(b, '%');
		buf_putc(b, hex[*p >> 4]);
		buf_putc(b, hex[*p & 15]);
	}
}

/* dmarc_store_put_dkim - the signature list into b; static error text
 * or NULL */
static const char *
dmarc_store_put_dkim(struct buf *b, const struct dmarc_store_record *rec)
{
	const struct dmarc_store_dkim *d;
	size_t i;

	if (rec->ndkim > DMARC_STORE_DKIM_MAX)
		return "too many signatures";
	if (rec->ndkim > 0 && rec->dkim == NULL)
		return "missing";
	for (i = 0; i < rec->ndkim; i++) {
		d = &rec->dkim[i];
		if (d->domain == NULL || *d->domain == '\0')
			return "signature without a domain";
		if (d->selector == NULL)
			return "signature without a selector";
		if (d->result == NULL ||
		    !dmarc_store_word_ok(dmarc_store_dkim_results, d->result))
			return "signature result not an allowed value";
		if (i > 0)
			buf_putc(b, ';');
		dmarc_store_escape(b, d->domain);
		buf_putc(b, ',');
		dmarc_store_escape(b, d->selector);
		buf_putc(b, ',');
		dmarc_store_escape(b, d->result);
	}
	return NULL;
}

/* dmarc_store_line - see dmarc_store.h */
char *
dmarc_store_line(const struct dmarc_store_record *rec, char **error_r)
{
	const struct dmarc_store_field *f;
	struct buf b = { 0 };
	const char *why = NULL;

	buf_printf(&b, "%s\t%lld", DMARC_STORE_VERSION, (long long)rec->time);
	if (rec->time < 0)
		why = "negative";
	for (f = dmarc_store_fields; why == NULL && f->name != NULL; f++) {
		buf_putc(&b, '\t');
		switch (f->kind) {
		case DMARC_STORE_TEXT:
			why = dmarc_store_value_ok(f, *dmarc_store_text(rec,
			    f));
			if (why == NULL)
				dmarc_store_escape(&b, *dmarc_store_text(rec,
				    f));
			break;
		case DMARC_STORE_PCT:
			if (rec->pct > 100)
				why = "over 100";
			buf_printf(&b, "%u", rec->pct);
			break;
		case DMARC_STORE_DKIM:
			why = dmarc_store_put_dkim(&b, rec);
			break;
		}
		if (why != NULL) {
			buf_free(&b);
			*error_r = xasprintf("dmarc store: field %s: %s",
			    f->name, why);
			return NULL;
		}
	}
	if (why != NULL) {
		buf_free(&b);
		*error_r = xasprintf("dmarc store: field time: %s", why);
		return NULL;
	}
	buf_putc(&b, '\n');
	return buf_steal(&b);
}

/* dmarc_store_day_file - see dmarc_store.h */
char *
dmarc_store_day_file(const char *dir, time_t t)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	return xasprintf("%s/%04d-%02d-%02d.log", dir, tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday);
}

/* dmarc_store_open - see dmarc_store.h */
struct dmarc_store *
dmarc_store_open(const char *dir, char **error_r)
{
	struct dmarc_store *store;
	struct stat st;

	if (stat(dir, &st) != 0) {
		*error_r = xasprintf("%s: %s", dir, strerror(errno));
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		*error_r = xasprintf("%s: not a directory", dir);
		return NULL;
	}
	store = xcalloc(1, sizeof(*store));
	store->dir = xstrdup(dir);
	return store;
}

/* dmarc_store_close - see dmarc_store.h */
void
dmarc_store_close(struct dmarc_store **store)
{
	if (*store == NULL)
		return;
	free((*store)->dir);
	free(*store);
	*store = NULL;
}

/* dmarc_store_append - see dmarc_store.h; the single write is what keeps
 * concurrent writers' lines whole */
bool
dmarc_store_append(struct dmarc_store *store,
    const struct dmarc_store_record *rec, char **error_r)
{
	char *line, *path;
	size_t len;
	ssize_t n;
	int fd, err = 0;

	if ((line = dmarc_store_line(rec, error_r)) == NULL)
		return false;
	len = strlen(line);
	path = dmarc_store_day_file(store->dir, rec->time);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		free(path);
		free(line);
		return false;
	}
	do
		n = write(fd, line, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		err = errno;
	if (close(fd) != 0 && err == 0 && n >= 0)
		err = errno;
	if (n >= 0 && (size_t)n != len)
		*error_r = xasprintf("%s: short write (%zd of %zu bytes)",
		    path, n, len);
	else if (err != 0)
		*error_r = xasprintf("%s: %s", path, strerror(err));
	free(path);
	free(line);
	return n >= 0 && (size_t)n == len && err == 0;
}

/* --- reading -------------------------------------------------------------- */

/* dmarc_store_hex - value of an upper-case hex digit, or -1 */
static int
dmarc_store_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * dmarc_store_unescape - len bytes of s decoded into the arena. Raw
 * bytes must be printable ASCII that needs no escaping (the caller has
 * already split on the separators, so none may remain); static error
 * text or NULL.
 */
static const char *
dmarc_store_unescape(struct arena *arena, const char *s, size_t len,
    char **out_r)
{
	char *out = arena_alloc(arena, len + 1), *o = out;
	size_t i;
	int hi, lo;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c != '%') {
			if (dmarc_store_needs_escape(c))
				return c == ',' || c == ';' ?
				    "unescaped separator" :
				    "byte outside printable ASCII";
			*o++ = (char)c;
			continue;
		}
		if (i + 2 >= len)
			return "truncated escape";
		hi = dmarc_store_hex(s[i + 1]);
		lo = dmarc_store_hex(s[i + 2]);
		if (hi < 0 || lo < 0)
			return "bad escape";
		if (hi == 0 && lo == 0)
			return "escaped NUL";
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	*out_r = out;
	return NULL;
}

/* dmarc_store_get_time - decimal seconds; static error text or NULL */
static const char *
dmarc_store_get_time(const char *s, size_t len, time_t *t_r)
{
	long long v = 0;
	size_t i;

	if (len == 0 || len > 18)
		return "bad time";
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return "bad time";
		v = v * 10 + (s[i] - '0');
	}
	*t_r = (time_t)v;
	return NULL;
}

/* dmarc_store_get_pct - 0..100 without leading zeros; static error text
 * or NULL */
static const char *
dmarc_store_get_pct(const char *s, size_t len, unsigned *pct_r)
{
	unsigned v = 0;
	size_t i;

	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return "bad pct";
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return "bad pct";
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 100)
		return "bad pct";
	*pct_r = v;
	return NULL;
}

/* dmarc_store_get_dkim - the signature list; static error text or NULL */
static const char *
dmarc_store_get_dkim(struct arena *arena, const char *s, size_t len,
    struct dmarc_store_record *rec)
{
	struct dmarc_store_dkim *d;
	const char *end = s + len, *item, *item_end, *p, *comma;
	char **part[3];
	const char *why;
	size_t n = 0;
	int k;

	rec->ndkim = 0;
	rec->dkim = NULL;
	if (len == 0)
		return NULL;
	d = arena_alloc(arena, DMARC_STORE_DKIM_MAX * sizeof(*d));
	for (item = s; item <= end; item = item_end + 1) {
		item_end = memchr(item, ';', (size_t)(end - item));
		if (item_end == NULL)
			item_end = end;
		if (n == DMARC_STORE_DKIM_MAX)
			return "too many signatures";
		part[0] = (char **)&d[n].domain;
		part[1] = (char **)&d[n].selector;
		part[2] = (char **)&d[n].result;
		for (p = item, k = 0; k < 3; k++, p = comma + 1) {
			comma = k < 2 ? memchr(p, ',', (size_t)(item_end - p)) :
			    item_end;
			if (comma == NULL)
				return "signature needs domain,selector,result";
			if ((why = dmarc_store_unescape(arena, p,
			    (size_t)(comma - p), part[k])) != NULL)
				return why;
		}
		if (*d[n].domain == '\0')
			return "signature without a domain";
		if (!dmarc_store_word_ok(dmarc_store_dkim_results,
		    d[n].result))
			return "signature result not an allowed value";
		n++;
	}
	rec->ndkim = n;
	rec->dkim = d;
	return NULL;
}

/* dmarc_store_parse - one line without its LF into rec (strings in
 * arena); static error text (*field_r names the field) or NULL */
static const char *
dmarc_store_parse(struct arena *arena, const char *line, size_t len,
    struct dmarc_store_record *rec, const char **field_r)
{
	const struct dmarc_store_field *f = dmarc_store_fields;
	const char *start[DMARC_STORE_FIELDS], *p = line, *tab, *why;
	const char *end = line + len;
	size_t flen[DMARC_STORE_FIELDS];
	char *text;
	int n = 0, i;

	if (len == 0)
		return "empty line";
	for (;;) {
		tab = memchr(p, '\t', (size_t)(end - p));
		if (n == DMARC_STORE_FIELDS)
			return "too many fields";
		start[n] = p;
		flen[n++] = (size_t)((tab != NULL ? tab : end) - p);
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	if (n != DMARC_STORE_FIELDS)
		return "too few fields";
	*field_r = "version";
	if (flen[0] != strlen(DMARC_STORE_VERSION) ||
	    memcmp(start[0], DMARC_STORE_VERSION, flen[0]) != 0)
		return "unknown format version";
	*field_r = "time";
	if ((why = dmarc_store_get_time(start[1], flen[1], &rec->time)) !=
	    NULL)
		return why;
	for (i = 2; f->name != NULL; f++, i++) {
		*field_r = f->name;
		switch (f->kind) {
		case DMARC_STORE_TEXT:
			if ((why = dmarc_store_unescape(arena, start[i],
			    flen[i], &text)) != NULL)
				return why;
			if ((why = dmarc_store_value_ok(f, text)) != NULL)
				return why;
			*dmarc_store_text(rec, f) = text;
			break;
		case DMARC_STORE_PCT:
			why = dmarc_store_get_pct(start[i], flen[i],
			    &rec->pct);
			break;
		case DMARC_STORE_DKIM:
			why = dmarc_store_get_dkim(arena, start[i], flen[i],
			    rec);
			break;
		}
		if (why != NULL)
			return why;
	}
	*field_r = NULL;
	return NULL;
}

/*
 * dmarc_store_read_file - one day file; 1 go on, 0 fn asked to stop,
 * -1 error (*error_r)
 */
static int
dmarc_store_read_file(const char *path, time_t from, time_t to,
    dmarc_store_fn fn, void *arg, char **error_r)
{
	struct dmarc_store_record rec;
	struct arena *arena;
	const char *why, *field;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	int ret = 1;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 1;
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	while (ret == 1 && (len = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		if (len == 0 || line[len - 1] != '\n') {
			*error_r = xasprintf("%s:%ld: incomplete last line "
			    "(no newline)", path, lineno);
			ret = -1;
			break;
		}
		line[--len] = '\0';
		memset(&rec, 0, sizeof(rec));
		arena = arena_create();
		field = NULL;
		if ((why = dmarc_store_parse(arena, line, (size_t)len, &rec,
		    &field)) != NULL) {
			*error_r = xasprintf("%s:%ld: %s%s%s", path, lineno,
			    field != NULL ? field : "",
			    field != NULL ? ": " : "", why);
			ret = -1;
		} else if (rec.time >= from && rec.time < to &&
		    !fn(&rec, arg))
			ret = 0;
		arena_destroy(&arena);
	}
	if (ret == 1 && ferror(fp)) {
		*error_r = xasprintf("%s: read error", path);
		ret = -1;
	}
	free(line);
	fclose(fp);
	return ret;
}

/* dmarc_store_floor_day - start of t's UTC day */
static time_t
dmarc_store_floor_day(time_t t)
{
	time_t r = t % DMARC_STORE_DAY;

	return r < 0 ? t - r - DMARC_STORE_DAY : t - r;
}

/* dmarc_store_read - see dmarc_store.h */
bool
dmarc_store_read(const char *dir, time_t from, time_t to,
    dmarc_store_fn fn, void *arg, char **error_r)
{
	time_t day, last;
	char *path;
	int r = 1;

	if (to <= from)
		return true;
	last = dmarc_store_floor_day(to - 1);
	for (day = dmarc_store_floor_day(from); r == 1 && day <= last;
	    day += DMARC_STORE_DAY) {
		path = dmarc_store_day_file(dir, day);
		r = dmarc_store_read_file(path, from, to, fn, arg, error_r);
		free(path);
	}
	return r >= 0;
}
