/*
 * conf.c - the config file parser, driven by settings tables
 *
 * The file is read in one pass into entries (section, key, value, line);
 * settings tables then claim entries and parse their values. Decisions
 * that conf.h leaves open, to be repeated in filterd.conf(5):
 *
 * - Lines end in LF; one CR before the LF is removed. A missing final
 *   newline is fine. A NUL byte, any other control byte except tab, or a
 *   line longer than CONF_LINE_MAX bytes is an error.
 * - Blank lines and comment lines (first non-blank byte '#') are skipped
 *   and do not end a logical line, as in Postfix's main.cf. '#' later in a
 *   line is part of the value: there are no trailing comments.
 * - An indented line is always a continuation, even one that looks like
 *   "name = value"; with nothing open before it, it is an error.
 * - Keys and section names use a-z, 0-9 and _ only.
 * - Values lose surrounding white space. Quotes are not special: they
 *   stay part of the value, so a value cannot keep leading or trailing
 *   white space (none of the settings needs it). A value of exactly ""
 *   is the empty string.
 * - A section may appear more than once; its entries merge, and a key set
 *   twice in one section is an error wherever the two lines are.
 * - After a bad section header every setting up to the next good header is
 *   checked for syntax but dropped, so it cannot land in the wrong section.
 * - Booleans and enum choices ignore case; duration units do not ("M"
 *   could be read as minutes or megabytes). Size units are k, M, G in
 *   either case, 1024 based.
 * - Numbers never use the locale and never take exponents; durations and
 *   doubles take at most 18 significant digits.
 * - An empty CONF_TABLE value means "no table" (NULL), so a default table
 *   can be switched off.
 * - Defaults are not run through the validator (a validator may demand
 *   that the admin sets a value); a default that fails to parse is a bug.
 * - Error messages quote at most 76 bytes of a value, then "...".
 * - conf_dump writes what the parser reads back, except doubles beyond
 *   18 digits or below 1e-4, which only an exponent can show.
 * - conf_finish reports an unknown section once and not each of its
 *   entries; entries of known sections that no table claimed are unknown
 *   settings, so callers should apply the table of every known section,
 *   enabled or not, which also checks the settings of disabled modules.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "log.h"
#include "mem.h"

#define CONF_LINE_MAX	(64 * 1024)	/* bytes per physical line */
#define CONF_CLIP	80		/* value bytes quoted in an error */
#define CONF_DIGITS_MAX	18		/* significant digits in a number */

/* One section of the file, in order of first appearance. */
struct conf_section {
	const char *name;
	int line;		/* first [name] header; 0 for global */
	bool applied;		/* conf_apply was called for it */
};

struct conf_file {
	struct arena *arena;	/* all strings */
	const char *name;
	struct conf_entry *entries;
	size_t n_entries, cap_entries;
	struct conf_section *sections;
	size_t n_sections, cap_sections;
	const char **names;	/* section names, NULL-terminated */
};

/* Where the reader is between lines. */
enum conf_state {
	CONF_ST_NONE,		/* nothing to continue */
	CONF_ST_SETTING,	/* a setting is open: continuation appends */
	CONF_ST_BROKEN,		/* last line was bad: swallow continuations */
};

/* The reader's state while a file is tokenized. */
struct conf_reader {
	struct conf_file *cf;
	struct conf_errors *err;
	enum conf_state state;
	const char *section;	/* NULL after a bad section header */
	char *key;		/* the open setting */
	int key_line;
	struct buf value;
};

/* Per type: parse text into the field, print the field as config text. */
struct conf_type_ops {
	bool (*parse)(const struct conf_setting *s, const char *text,
	    void *field, struct arena *arena, struct buf *why);
	void (*dump)(const struct conf_setting *s, const void *field,
	    struct buf *out);
	/* numeric types: <0, 0, >0 as a is below, at, above b */
	int (*cmp)(const void *a, const void *b);
};

/* room for one parsed value of any numeric type (bounds) */
union conf_number {
	long l;
	unsigned long ul;
	uint64_t u64;
	double d;
};

/* conf_error - add one "FILE:LINE: text" error */
void
conf_error(struct conf_errors *err, const char *file, int line,
    const char *fmt, ...)
{
	size_t start = err->text.len;
	va_list ap;
	char *p;

	if (file != NULL && line > 0)
		buf_printf(&err->text, "%s:%d: ", file, line);
	else if (file != NULL)
		buf_printf(&err->text, "%s: ", file);
	va_start(ap, fmt);
	buf_vprintf(&err->text, fmt, ap);
	va_end(ap);
	/* one error is one line, whatever a file name or validator says */
	for (p = err->text.data + start; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	buf_putc(&err->text, '\n');
	err->count++;
}

/* conf_error_line - one collected error and where it points */
struct conf_error_line {
	const char *text;
	size_t len;
	size_t file_len;	/* bytes of FILE before ":LINE:" */
	long line;		/* -1 when the text has no FILE:LINE: */
	size_t order;		/* keeps the sort stable */
};

/* conf_error_where - split "FILE:LINE: ..." into file length and line */
static void
conf_error_where(struct conf_error_line *e)
{
	e->line = -1;
	for (size_t i = 0; i + 1 < e->len; i++) {
		char *end;
		long n;

		if (e->text[i] != ':' || e->text[i + 1] < '0' ||
		    e->text[i + 1] > '9')
			continue;
		n = strtol(e->text + i + 1, &end, 10);
		if (*end == ':') {
			e->file_len = i;
			e->line = n;
			return;
		}
	}
}

/* conf_error_cmp - by file, then line; unplaced errors last */
static int
conf_error_cmp(const void *a, const void *b)
{
	const struct conf_error_line *x = a, *y = b;
	int c;

	if ((x->line < 0) != (y->line < 0))
		return x->line < 0 ? 1 : -1;
	if (x->line >= 0) {
		c = strncmp(x->text, y->text, x->file_len < y->file_len ?
		    x->file_len : y->file_len);
		if (c == 0 && x->file_len != y->file_len)
			c = x->file_len < y->file_len ? -1 : 1;
		if (c != 0)
			return c;
		if (x->line != y->line)
			return x->line < y->line ? -1 : 1;
	}
	return x->order < y->order ? -1 : (x->order > y->order);
}

/* conf_errors_sort - put the collected errors in file and line order, so
 * an admin reads them top to bottom whatever pass found them */
void
conf_errors_sort(struct conf_errors *err)
{
	struct conf_error_line *lines;
	size_t n = 0, cap = 16;
	const char *p = buf_cstr(&err->text);
	struct buf out = { 0 };

	lines = xcalloc(cap, sizeof(*lines));
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (n == cap) {
			cap *= 2;
			lines = xrealloc(lines, cap * sizeof(*lines));
		}
		lines[n] = (struct conf_error_line){ .text = p, .len = len,
		    .order = n };
		conf_error_where(&lines[n]);
		n++;
		p += len + (nl != NULL);
	}
	qsort(lines, n, sizeof(*lines), conf_error_cmp);
	for (size_t i = 0; i < n; i++) {
		buf_append(&out, lines[i].text, lines[i].len);
		buf_putc(&out, '\n');
	}
	free(lines);
	buf_free(&err->text);
	err->text = out;
}

/* conf_setting_error - see conf.h */
void
conf_setting_error(struct buf *b, const struct conf_file *cf,
    const char *section, const char *setting, const char *fmt, ...)
{
	const struct conf_entry *e = cf != NULL ?
	    conf_find(cf, section, setting) : NULL;
	int line = cf != NULL ? conf_section_line(cf, section) : 0;
	va_list ap;

	if (e != NULL)
		buf_printf(b, "%s:%d: ", e->file, e->line);
	else if (line > 0)
		buf_printf(b, "%s:%d: ", conf_file_name(cf), line);
	buf_printf(b, "%s: ", setting);
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
	buf_putc(b, '\n');
}

/* conf_errors_free - release the collected text */
void
conf_errors_free(struct conf_errors *err)
{
	buf_free(&err->text);
	err->count = 0;
}

/* conf_clip - a value shortened for quoting in an error message */
static const char *
conf_clip(const char *s, char *out, size_t outlen)
{
	size_t n = strlen(s);

	if (n < outlen)
		return s;
	snprintf(out, outlen, "%.*s...", (int)(outlen - 4), s);
	return out;
}

/* conf_is_blank - space or tab, the only white space in a config line */
static bool
conf_is_blank(int c)
{
	return c == ' ' || c == '\t';
}

/* conf_name_ok - a key or section name: [a-z0-9_]+ */
static bool
conf_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* conf_trim - bounds of s[0..n) without surrounding blanks */
static void
conf_trim(const char **s, size_t *n)
{
	while (*n > 0 && conf_is_blank((*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && conf_is_blank((*s)[*n - 1]))
		(*n)--;
}

/* conf_section_find - the record of a section, or NULL */
static struct conf_section *
conf_section_find(const struct conf_file *cf, const char *name)
{
	size_t i;

	for (i = 0; i < cf->n_sections; i++)
		if (strcmp(cf->sections[i].name, name) == 0)
			return &cf->sections[i];
	return NULL;
}

/* conf_section_add - record a section at its first header */
static const char *
conf_section_add(struct conf_file *cf, const char *name, size_t n, int line)
{
	char *copy = arena_strndup(cf->arena, name, n);
	struct conf_section *sec = conf_section_find(cf, copy);

	if (sec != NULL)
		return sec->name;
	if (cf->n_sections == cf->cap_sections) {
		cf->cap_sections = cf->cap_sections ? 2 * cf->cap_sections : 8;
		cf->sections = xrealloc(cf->sections,
		    cf->cap_sections * sizeof(*cf->sections));
	}
	sec = &cf->sections[cf->n_sections++];
	sec->name = copy;
	sec->line = line;
	sec->applied = false;
	return copy;
}

/* conf_entry_find - the entry of key in section, or NULL */
static struct conf_entry *
conf_entry_find(const struct conf_file *cf, const char *section,
    const char *key)
{
	size_t i;

	for (i = 0; i < cf->n_entries; i++)
		if (strcmp(cf->entries[i].key, key) == 0 &&
		    strcmp(cf->entries[i].section, section) == 0)
			return &cf->entries[i];
	return NULL;
}

/* conf_flush - store the open setting (unless it repeats a key) */
static void
conf_flush(struct conf_reader *rd)
{
	struct conf_file *cf = rd->cf;
	const struct conf_entry *first;
	struct conf_entry *e;

	if (rd->state != CONF_ST_SETTING)
		return;
	rd->state = CONF_ST_NONE;
	if (rd->section == NULL)
		goto done;	/* after a bad header: dropped on purpose */
	first = conf_entry_find(cf, rd->section, rd->key);
	if (first != NULL) {
		conf_error(rd->err, cf->name, rd->key_line,
		    "duplicate setting '%s' (first at %s:%d)", rd->key,
		    first->file, first->line);
		goto done;
	}
	if (cf->n_entries == cf->cap_entries) {
		cf->cap_entries = cf->cap_entries ? 2 * cf->cap_entries : 16;
		cf->entries = xrealloc(cf->entries,
		    cf->cap_entries * sizeof(*cf->entries));
	}
	e = &cf->entries[cf->n_entries++];
	e->section = rd->section;
	e->key = arena_strdup(cf->arena, rd->key);
	/* quotes are not special, except that a value of exactly "" is the
	 * empty string: admins write it for "none", and it must never become
	 * a file named "" */
	e->value = arena_strdup(cf->arena,
	    strcmp(buf_cstr(&rd->value), "\"\"") == 0 ? "" :
	    buf_cstr(&rd->value));
	e->file = cf->name;
	e->line = rd->key_line;
	e->used = false;
done:
	free(rd->key);
	rd->key = NULL;
	buf_reset(&rd->value);
}

/* conf_line_bytes_ok - refuse NUL and control bytes in one line */
static bool
conf_line_bytes_ok(struct conf_reader *rd, int lineno, const char *p,
    size_t n)
{
	size_t i;

	if (n > CONF_LINE_MAX) {
		conf_error(rd->err, rd->cf->name, lineno,
		    "line too long (more than %d bytes)", CONF_LINE_MAX);
		return false;
	}
	if (memchr(p, '\0', n) != NULL) {
		conf_error(rd->err, rd->cf->name, lineno, "NUL byte in line");
		return false;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			conf_error(rd->err, rd->cf->name, lineno,
			    "control character 0x%02x in line", c);
			return false;
		}
	}
	return true;
}

/* conf_header - a "[name]" line (already trimmed) */
static void
conf_header(struct conf_reader *rd, int lineno, const char *p, size_t n)
{
	const char *name = p + 1;
	const char *close = memchr(p, ']', n);
	size_t name_len;
	char clip[CONF_CLIP], *text;

	if (close == p + n - 1) {
		name_len = n - 2;
		conf_trim(&name, &name_len);
		if (conf_name_ok(name, name_len)) {
			rd->section = conf_section_add(rd->cf, name,
			    name_len, lineno);
			rd->state = CONF_ST_NONE;
			return;
		}
	}
	text = xstrndup(p, n);
	conf_error(rd->err, rd->cf->name, lineno,
	    "bad section header '%s': expected [name] with a name of "
	    "a-z, 0-9 and _", conf_clip(text, clip, sizeof(clip)));
	free(text);
	rd->section = NULL;
	rd->state = CONF_ST_BROKEN;
}

/* conf_setting_line - a "name = value" line: opens a setting */
static void
conf_setting_line(struct conf_reader *rd, int lineno, const char *p,
    size_t n)
{
	const char *eq = memchr(p, '=', n);
	const char *key = p, *value;
	size_t key_len, value_len;
	char clip[CONF_CLIP], *text;

	rd->state = CONF_ST_BROKEN;
	if (eq == NULL) {
		conf_error(rd->err, rd->cf->name, lineno,
		    "syntax error: expected 'name = value'");
		return;
	}
	key_len = (size_t)(eq - p);
	conf_trim(&key, &key_len);
	if (key_len == 0) {
		conf_error(rd->err, rd->cf->name, lineno,
		    "missing setting name before '='");
		return;
	}
	if (!conf_name_ok(key, key_len)) {
		text = xstrndup(key, key_len);
		conf_error(rd->err, rd->cf->name, lineno,
		    "bad setting name '%s': use a-z, 0-9 and _",
		    conf_clip(text, clip, sizeof(clip)));
		free(text);
		return;
	}
	value = eq + 1;
	value_len = n - (size_t)(value - p);
	conf_trim(&value, &value_len);
	rd->key = xstrndup(key, key_len);
	rd->key_line = lineno;
	buf_reset(&rd->value);
	buf_append(&rd->value, value, value_len);
	rd->state = CONF_ST_SETTING;
}

/* conf_continuation - an indented line: more of the open value */
static void
conf_continuation(struct conf_reader *rd, int lineno, const char *p,
    size_t n)
{
	conf_trim(&p, &n);
	switch (rd->state) {
	case CONF_ST_SETTING:
		if (rd->value.len > 0)
			buf_putc(&rd->value, ' ');
		buf_append(&rd->value, p, n);
		break;
	case CONF_ST_NONE:
		conf_error(rd->err, rd->cf->name, lineno,
		    "continuation line without a setting before it");
		rd->state = CONF_ST_BROKEN;
		break;
	case CONF_ST_BROKEN:
		break;
	}
}

/* conf_line - one physical line (without its line end) */
static void
conf_line(struct conf_reader *rd, int lineno, const char *p, size_t n)
{
	const char *t = p;
	size_t tn = n;
	bool indented = n > 0 && conf_is_blank(p[0]);

	if (!conf_line_bytes_ok(rd, lineno, p, n)) {
		if (!indented)
			conf_flush(rd);
		else if (rd->state == CONF_ST_SETTING) {
			/* the open value lost a piece: drop all of it */
			free(rd->key);
			rd->key = NULL;
		}
		rd->state = CONF_ST_BROKEN;
		return;
	}
	conf_trim(&t, &tn);
	if (tn == 0 || t[0] == '#')
		return;
	if (indented) {
		conf_continuation(rd, lineno, t, tn);
		return;
	}
	conf_flush(rd);
	if (t[0] == '[')
		conf_header(rd, lineno, t, tn);
	else
		conf_setting_line(rd, lineno, t, tn);
}

/* conf_parse - tokenize text[0..len) into a new conf_file */
static struct conf_file *
conf_parse(const char *name, const char *text, size_t len,
    struct conf_errors *err)
{
	struct conf_file *cf = xcalloc(1, sizeof(*cf));
	struct conf_reader rd = { .cf = cf, .err = err };
	const char *p = text, *end = text + len, *eol;
	size_t n, i;
	int lineno = 0;

	cf->arena = arena_create();
	cf->name = arena_strdup(cf->arena, name);
	rd.section = conf_section_add(cf, "", 0, 0);
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		n = (size_t)(eol - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (lineno < INT_MAX)
			lineno++;
		conf_line(&rd, lineno, p, n);
		p = eol + 1;
	}
	conf_flush(&rd);
	free(rd.key);
	buf_free(&rd.value);
	cf->names = arena_alloc(cf->arena,
	    (cf->n_sections + 1) * sizeof(*cf->names));
	for (i = 0; i < cf->n_sections; i++)
		cf->names[i] = cf->sections[i].name;
	return cf;
}

/* conf_load - read a file and tokenize it */
struct conf_file *
conf_load(const char *path, struct conf_errors *err)
{
	struct conf_file *cf;
	struct buf text = { 0 };
	char chunk[8192];
	size_t got;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		conf_error(err, path, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	while ((got = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&text, chunk, got);
	if (ferror(fp)) {
		conf_error(err, path, 0, "cannot read: %s", strerror(errno));
		fclose(fp);
		buf_free(&text);
		return NULL;
	}
	fclose(fp);
	cf = conf_parse(path, text.data ? text.data : "", text.len, err);
	buf_free(&text);
	return cf;
}

/* conf_load_string - tokenize text held in memory */
struct conf_file *
conf_load_string(const char *name, const char *text, struct conf_errors *err)
{
	return conf_parse(name, text, strlen(text), err);
}

/* conf_file_free - release a loaded file and clear the pointer */
void
conf_file_free(struct conf_file **cfp)
{
	struct conf_file *cf = *cfp;

	if (cf == NULL)
		return;
	free(cf->entries);
	free(cf->sections);
	arena_destroy(&cf->arena);
	free(cf);
	*cfp = NULL;
}

/* conf_sections - the section names in file order, global first */
size_t
conf_sections(const struct conf_file *cf, const char ***names_r)
{
	*names_r = cf->names;
	return cf->n_sections;
}

/* conf_has_section - whether the file has [name] ("" always) */
bool
conf_has_section(const struct conf_file *cf, const char *name)
{
	return conf_section_find(cf, name) != NULL;
}

/* conf_find - the entry of key in section, or NULL */
const struct conf_entry *
conf_find(const struct conf_file *cf, const char *section, const char *key)
{
	return conf_entry_find(cf, section, key);
}

/* conf_section_line - where [name] first appears; 0 if never or global */
int
conf_section_line(const struct conf_file *cf, const char *section)
{
	const struct conf_section *sec = conf_section_find(cf, section);

	return sec ? sec->line : 0;
}

/* conf_file_name - the name given to conf_load or conf_load_string */
const char *
conf_file_name(const struct conf_file *cf)
{
	return cf->name;
}

/*
 * Value parsers. They never use the locale (a daemon's locale must not
 * change what its config means) and refuse anything but the whole text.
 */

/* Boolean words, any case. */
static const struct {
	const char *word;
	bool value;
} conf_bool_words[] = {
	{ .word = "yes", .value = true },
	{ .word = "no", .value = false },
	{ .word = "true", .value = true },
	{ .word = "false", .value = false },
	{ .word = "on", .value = true },
	{ .word = "off", .value = false },
	{ .word = "1", .value = true },
	{ .word = "0", .value = false },
	{ 0 },
};

/* conf_parse_bool - yes/no/true/false/on/off/1/0 */
bool
conf_parse_bool(const char *s, bool *r)
{
	size_t i;

	for (i = 0; conf_bool_words[i].word != NULL; i++)
		if (strcasecmp(s, conf_bool_words[i].word) == 0) {
			*r = conf_bool_words[i].value;
			return true;
		}
	return false;
}

/*
 * conf_decimal - "123" or "1.25" (no sign, no exponent) at s; returns the
 * end or NULL. Digits are gathered as one integer and divided once, so
 * "0.1" gives the same double as the C library would.
 */
static const char *
conf_decimal(const char *s, double *r)
{
	uint64_t mant = 0;
	int digits = 0, frac = 0, sig = 0;
	bool dot = false;
	double v;

	for (;; s++) {
		if (*s == '.' && !dot) {
			dot = true;
			continue;
		}
		if (*s < '0' || *s > '9')
			break;
		digits++;
		if (dot)
			frac++;
		if (mant == 0 && *s == '0')
			continue;	/* leading zeros are not significant */
		if (++sig > CONF_DIGITS_MAX)
			return NULL;
		mant = mant * 10 + (uint64_t)(*s - '0');
	}
	if (digits == 0 || s[-1] == '.')
		return NULL;	/* "5." is a typo, not a number */
	v = (double)mant;
	if (frac > 0)
		v /= pow(10, frac);
	*r = v;
	return s;
}

/* Duration units; the empty unit is seconds. */
static const struct {
	const char *unit;
	double mul, div;
} conf_duration_units[] = {
	{ .unit = "", .mul = 1, .div = 1 },
	{ .unit = "ms", .mul = 1, .div = 1000 },
	{ .unit = "s", .mul = 1, .div = 1 },
	{ .unit = "m", .mul = 60, .div = 1 },
	{ .unit = "h", .mul = 3600, .div = 1 },
	{ .unit = "d", .mul = 86400, .div = 1 },
	{ .unit = "w", .mul = 604800, .div = 1 },
	{ 0 },
};

/* conf_parse_duration - "30", "1.5s", "500ms", "5m", "2h", "1d", "1w" */
bool
conf_parse_duration(const char *s, double *seconds_r)
{
	const char *unit;
	double v;
	size_t i;

	if ((unit = conf_decimal(s, &v)) == NULL)
		return false;
	for (i = 0; conf_duration_units[i].unit != NULL; i++)
		if (strcmp(unit, conf_duration_units[i].unit) == 0) {
			v = v * conf_duration_units[i].mul /
			    conf_duration_units[i].div;
			if (!isfinite(v))
				return false;
			*seconds_r = v;
			return true;
		}
	return false;
}

/* Size units, 1024 based; either case. */
static const struct {
	char unit;
	uint64_t mul;
} conf_size_units[] = {
	{ .unit = 'k', .mul = 1024 },
	{ .unit = 'm', .mul = 1024 * 1024 },
	{ .unit = 'g', .mul = 1024 * 1024 * 1024 },
	{ 0 },
};

/* conf_parse_size - "4096", "512k", "10M", "1G" */
bool
conf_parse_size(const char *s, uint64_t *bytes_r)
{
	uint64_t v = 0, mul = 1;
	const char *p;
	size_t i;

	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return false;
	if (*p != '\0') {
		if (p[1] != '\0')
			return false;
		for (i = 0; conf_size_units[i].unit != 0; i++)
			if ((*p | 0x20) == conf_size_units[i].unit)
				break;
		if (conf_size_units[i].unit == 0)
			return false;
		mul = conf_size_units[i].mul;
	}
	if (v > UINT64_MAX / mul)
		return false;
	*bytes_r = v * mul;
	return true;
}

/* conf_item_end - end of the list item starting at p (braces group) */
static const char *
conf_item_end(const char *p)
{
	int depth = 0;

	for (; *p != '\0'; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && depth > 0)
			depth--;
		else if (depth == 0 && strchr(", \t\r\n", *p) != NULL)
			break;
	}
	return p;
}

/* conf_item_start - skip separators; NULL at the end of the text */
static const char *
conf_item_start(const char *p)
{
	p += strspn(p, ", \t\r\n");
	return *p ? p : NULL;
}

/* conf_split_list - items separated by commas and white space */
void
conf_split_list(struct arena *arena, const char *s, struct conf_list *list_r)
{
	const char *p;
	size_t n = 0;

	for (p = conf_item_start(s); p != NULL;
	    p = conf_item_start(conf_item_end(p)))
		n++;
	list_r->n = n;
	list_r->items = arena_alloc(arena, (n + 1) * sizeof(char *));
	n = 0;
	for (p = conf_item_start(s); p != NULL;
	    p = conf_item_start(conf_item_end(p))) {
		list_r->items[n++] = arena_strndup(arena, p,
		    (size_t)(conf_item_end(p) - p));
	}
	list_r->items[n] = NULL;
}

/* conf_braces_ok - every '{' closed, no '}' without its '{' */
static bool
conf_braces_ok(const char *s)
{
	int depth = 0;

	for (; *s != '\0'; s++) {
		if (*s == '{')
			depth++;
		else if (*s == '}' && --depth < 0)
			return false;
	}
	return depth == 0;
}

/* conf_parse_string - any text */
static bool
conf_parse_string(const struct conf_setting *s, const char *text,
    void *field, struct arena *arena, struct buf *why)
{
	(void)s;
	(void)why;
	*(char **)field = arena_strdup(arena, text);
	return true;
}

/* conf_parse_bool_field - CONF_BOOL */
static bool
conf_parse_bool_field(const struct conf_setting *s, const char *text,
    void *field, struct arena *arena, struct buf *why)
{
	(void)s;
	(void)arena;
	if (conf_parse_bool(text, (bool *)field))
		return true;
	buf_puts(why, "expected yes or no");
	return false;
}

/* conf_parse_int - CONF_INT: decimal with optional sign */
static bool
conf_parse_int(const struct conf_setting *s, const char *text, void *field,
    struct arena *arena, struct buf *why)
{
	const char *d = text + (*text == '-' || *text == '+');
	char *end;
	long v;

	(void)s;
	(void)arena;
	if (*d >= '0' && *d <= '9') {
		errno = 0;
		v = strtol(text, &end, 10);
		if (errno == 0 && *end == '\0') {
			*(long *)field = v;
			return true;
		}
	}
	buf_puts(why, "expected an integer");
	return false;
}

/* conf_parse_uint - CONF_UINT: decimal, or octal with a leading 0 */
static bool
conf_parse_uint(const struct conf_setting *s, const char *text, void *field,
    struct arena *arena, struct buf *why)
{
	unsigned long v;
	char *end;

	(void)s;
	(void)arena;
	if (*text >= '0' && *text <= '9') {
		errno = 0;
		v = strtoul(text, &end, text[0] == '0' ? 8 : 10);
		if (errno == 0 && *end == '\0') {
			*(unsigned long *)field = v;
			return true;
		}
	}
	buf_puts(why, "expected a non-negative integer (leading 0 for octal)");
	return false;
}

/* conf_parse_double - CONF_DOUBLE: "-1.5", "3", or "off" */
static bool
conf_parse_double(const struct conf_setting *s, const char *text,
    void *field, struct arena *arena, struct buf *why)
{
	const char *d = text + (*text == '-' || *text == '+');
	const char *end;
	double v;

	(void)s;
	(void)arena;
	if (strcasecmp(text, "off") == 0) {
		*(double *)field = (double)INFINITY;
		return true;
	}
	if ((end = conf_decimal(d, &v)) != NULL && *end == '\0') {
		*(double *)field = *text == '-' ? -v : v;
		return true;
	}
	buf_puts(why, "expected a number or off");
	return false;
}

/* conf_parse_duration_field - CONF_DURATION */
static bool
conf_parse_duration_field(const struct conf_setting *s, const char *text,
    void *field, struct arena *arena, struct buf *why)
{
	(void)s;
	(void)arena;
	if (conf_parse_duration(text, (double *)field))
		return true;
	buf_puts(why, "expected a duration such as 30s, 5m, 2h, 1d");
	return false;
}

/* conf_parse_size_field - CONF_SIZE */
static bool
conf_parse_size_field(const struct conf_setting *s, const char *text,
    void *field, struct arena *arena, struct buf *why)
{
	(void)s;
	(void)arena;
	if (conf_parse_size(text, (uint64_t *)field))
		return true;
	buf_puts(why, "expected a size such as 512k, 10M, 1G");
	return false;
}

/* conf_parse_list - CONF_LIST */
static bool
conf_parse_list(const struct conf_setting *s, const char *text, void *field,
    struct arena *arena, struct buf *why)
{
	(void)s;
	if (!conf_braces_ok(text)) {
		buf_puts(why, "unbalanced braces");
		return false;
	}
	conf_split_list(arena, text, (struct conf_list *)field);
	return true;
}

/* conf_parse_enum - CONF_ENUM: one of the choices, any case */
static bool
conf_parse_enum(const struct conf_setting *s, const char *text, void *field,
    struct arena *arena, struct buf *why)
{
	int i;

	(void)arena;
	for (i = 0; s->choices[i] != NULL; i++)
		if (strcasecmp(text, s->choices[i]) == 0) {
			*(int *)field = i;
			return true;
		}
	buf_puts(why, "expected one of: ");
	for (i = 0; s->choices[i] != NULL; i++)
		buf_printf(why, "%s%s", i ? ", " : "", s->choices[i]);
	return false;
}

/* conf_parse_table - CONF_TABLE: "type:name" or empty for none */
static bool
conf_parse_table(const struct conf_setting *s, const char *text,
    void *field, struct arena *arena, struct buf *why)
{
	size_t type_len = strspn(text, "abcdefghijklmnopqrstuvwxyz0123456789");

	(void)s;
	if (*text == '\0') {
		*(char **)field = NULL;
		return true;
	}
	if (type_len > 0 && text[type_len] == ':' &&
	    text[type_len + 1] != '\0' && !conf_is_blank(text[type_len + 1])) {
		*(char **)field = arena_strdup(arena, text);
		return true;
	}
	buf_puts(why, "expected a lookup table as type:name, "
	    "such as hash:/etc/postern/access");
	return false;
}

/* conf_dump_string - CONF_STRING and CONF_TABLE as written */
static void
conf_dump_string(const struct conf_setting *s, const void *field,
    struct buf *out)
{
	const char *v = *(char *const *)field;

	(void)s;
	if (v != NULL)
		buf_puts(out, v);
}

/* conf_dump_bool - CONF_BOOL as yes or no */
static void
conf_dump_bool(const struct conf_setting *s, const void *field,
    struct buf *out)
{
	(void)s;
	buf_puts(out, *(const bool *)field ? "yes" : "no");
}

/* conf_dump_int - CONF_INT */
static void
conf_dump_int(const struct conf_setting *s, const void *field,
    struct buf *out)
{
	(void)s;
	buf_printf(out, "%ld", *(const long *)field);
}

/* conf_dump_uint - CONF_UINT; octal when the default is written so */
static void
conf_dump_uint(const struct conf_setting *s, const void *field,
    struct buf *out)
{
	unsigned long v = *(const unsigned long *)field;

	/* a umask reads better as 007 than as 7 */
	if (s->def != NULL && s->def[0] == '0' && s->def[1] != '\0')
		buf_printf(out, "0%lo", v);
	else
		buf_printf(out, "%lu", v);
}

/*
 * conf_put_double - shortest text that reads back as the same double,
 * without an exponent (which the parser refuses) unless the magnitude
 * leaves no other choice
 */
static void
conf_put_double(struct buf *out, double v)
{
	char text[64];
	int prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(text, sizeof(text), "%.*g", prec, v);
		if (strtod(text, NULL) == v && strchr(text, 'e') == NULL) {
			buf_puts(out, text);
			return;
		}
	}
	snprintf(text, sizeof(text), "%.17g", v);
	buf_puts(out, text);
}

/* conf_dump_double - CONF_DOUBLE; INFINITY as "off" */
static void
conf_dump_double(const struct conf_setting *s, const void *field,
    struct buf *out)
{
	double v = *(const double *)field;

	(void)s;
	if (isinf(v) && v > 0)
		buf_puts(out, "off");
	else
		conf_put_double(out, v);
}

/* Units for printing durations, largest first, in milliseconds. */
static const struct {
	const char *unit;
	uint64_t ms;
} conf_dump_units[] = {
	{ .unit = "w", .ms = 604800000 },
	{ .unit = "d", .ms = 86400000 },
	{ .unit = "h", .ms = 3600000 },
	{ .unit = "m", .ms = 60000 },
	{ .unit = "s", .ms = 1000 },
	{ .unit = "ms", .ms = 1 },
	{ 0 },
};

/* conf_dump_duration - CONF_DURATION in the largest exact unit */
static void
conf_dump_duration(const struct conf_setting *s, const void *field,
    struct buf *out)
{
	double v = *(const double *)field, ms = v * 1000, whole;
	uint64_t n;
	size_t i;

	(void)s;
	whole = round(ms);
	if (v >= 0 && whole < 9e15 && fabs(ms - whole) < 1e-6) {
		n = (uint64_t)whole;
		if (n == 0) {
			buf_puts(out, "0s");
			return;
		}
		for (i = 0; conf_dump_units[i].unit != NULL; i++)
			if (n % conf_dump_units[i].ms == 0) {
				buf_printf(out, "%llu%s", (unsigned long long)
				    (n / conf_dump_units[i].ms),
				    conf_dump_units[i].unit);
				return;
			}
	}
	conf_put_double(out, v);
	buf_putc(out, 's');
}

/* conf_dump_size - CONF_SIZE in the largest exact unit */
static void
conf_dump_size(const struct conf_setting *s, const void *field,
    struct buf *out)
{
	static const char units[] = { 'G', 'M', 'k' };
	uint64_t v = *(const uint64_t *)field, mul;
	size_t i;

	(void)s;
	for (i = 0; i < sizeof(units) && v != 0; i++) {
		mul = (uint64_t)1 << (10 * (3 - i));
		if (v % mul == 0) {
			buf_printf(out, "%llu%c", (unsigned long long)(v / mul),
			    units[i]);
			return;
		}
	}
	buf_printf(out, "%llu", (unsigned long long)v);
}

/* conf_dump_list - CONF_LIST joined by ", " */
static void
conf_dump_list(const struct conf_setting *s, const void *field,
    struct buf *out)
{
	const struct conf_list *l = field;
	size_t i;

	(void)s;
	for (i = 0; i < l->n; i++)
		buf_printf(out, "%s%s", i ? ", " : "", l->items[i]);
}

/* conf_dump_enum - CONF_ENUM by name */
static void
conf_dump_enum(const struct conf_setting *s, const void *field,
    struct buf *out)
{
	int v = *(const int *)field, n = 0;

	while (s->choices[n] != NULL)
		n++;
	if (v < 0 || v >= n)
		log_panic("conf_dump: '%s' holds enum index %d", s->name, v);
	buf_puts(out, s->choices[v]);
}

/* conf_cmp_int - CONF_INT order */
static int
conf_cmp_int(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* conf_cmp_uint - CONF_UINT order */
static int
conf_cmp_uint(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return (x > y) - (x < y);
}

/* conf_cmp_double - CONF_DOUBLE and CONF_DURATION order */
static int
conf_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* conf_cmp_size - CONF_SIZE order */
static int
conf_cmp_size(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static const struct conf_type_ops conf_types[] = {
	[CONF_STRING] = { conf_parse_string, conf_dump_string, NULL },
	[CONF_BOOL] = { conf_parse_bool_field, conf_dump_bool, NULL },
	[CONF_INT] = { conf_parse_int, conf_dump_int, conf_cmp_int },
	[CONF_UINT] = { conf_parse_uint, conf_dump_uint, conf_cmp_uint },
	[CONF_DOUBLE] = { conf_parse_double, conf_dump_double,
	    conf_cmp_double },
	[CONF_DURATION] = { conf_parse_duration_field, conf_dump_duration,
	    conf_cmp_double },
	[CONF_SIZE] = { conf_parse_size_field, conf_dump_size, conf_cmp_size },
	[CONF_LIST] = { conf_parse_list, conf_dump_list, NULL },
	[CONF_ENUM] = { conf_parse_enum, conf_dump_enum, NULL },
	[CONF_TABLE] = { conf_parse_table, conf_dump_string, NULL },
};

/* conf_ops - the handlers of a setting's type; a bad type is a bug */
static const struct conf_type_ops *
conf_ops(const struct conf_setting *s)
{
	if ((unsigned)s->type >= sizeof(conf_types) / sizeof(conf_types[0]) ||
	    conf_types[s->type].parse == NULL)
		log_panic("conf: setting '%s' has bad type %d", s->name,
		    (int)s->type);
	return &conf_types[s->type];
}

/* conf_bound - parse bound text (min or max) of s; a bad one is a bug */
static void
conf_bound(const struct conf_setting *s, const char *text,
    union conf_number *n)
{
	struct buf why = { 0 };

	if (conf_ops(s)->cmp == NULL)
		log_panic("conf: setting '%s' has bounds but no order",
		    s->name);
	if (!conf_ops(s)->parse(s, text, n, NULL, &why))
		log_panic("conf: bad bound '%s' for '%s': %s", text, s->name,
		    buf_cstr(&why));
	buf_free(&why);
}

/*
 * conf_in_bounds - whether the parsed value in field is within s's min
 * and max; if not, *why is "must be from MIN to MAX" (or "MIN or more",
 * "MAX or less"), the bounds as written in the table
 */
static bool
conf_in_bounds(const struct conf_setting *s, const void *field,
    struct buf *why)
{
	union conf_number lo, hi;
	bool ok = true;

	if (s->min != NULL) {
		conf_bound(s, s->min, &lo);
		ok = conf_ops(s)->cmp(field, &lo) >= 0;
	}
	if (s->max != NULL) {
		conf_bound(s, s->max, &hi);
		ok = ok && conf_ops(s)->cmp(field, &hi) <= 0;
	}
	if (ok)
		return true;
	if (s->min != NULL && s->max != NULL)
		buf_printf(why, "must be from %s to %s", s->min, s->max);
	else if (s->min != NULL)
		buf_printf(why, "must be %s or more", s->min);
	else
		buf_printf(why, "must be %s or less", s->max);
	return false;
}

/* conf_check_table - a malformed settings table is a bug */
static void
conf_check_table(const struct conf_setting *table)
{
	const struct conf_setting *s, *t;

	for (s = table; s->name != NULL; s++) {
		(void)conf_ops(s);
		if (!conf_name_ok(s->name, strlen(s->name)))
			log_panic("conf: bad setting name '%s'", s->name);
		if (s->type == CONF_ENUM &&
		    (s->choices == NULL || s->choices[0] == NULL))
			log_panic("conf: enum '%s' has no choices", s->name);
		if (s->min != NULL || s->max != NULL) {
			union conf_number n;

			/* parses both, panicking on a bad one */
			if (s->min != NULL)
				conf_bound(s, s->min, &n);
			if (s->max != NULL)
				conf_bound(s, s->max, &n);
		}
		for (t = table; t < s; t++)
			if (strcmp(t->name, s->name) == 0)
				log_panic("conf: setting '%s' twice in a table",
				    s->name);
	}
}

/* conf_apply_entry - parse and validate one entry of the file */
static void
conf_apply_entry(const struct conf_entry *e, const struct conf_setting *s,
    void *obj, struct arena *arena, struct conf_errors *err)
{
	void *field = (char *)obj + s->offset;
	const char *msg = NULL;
	struct buf why = { 0 };
	char clip[CONF_CLIP];

	if (!conf_ops(s)->parse(s, e->value, field, arena, &why) ||
	    !conf_in_bounds(s, field, &why)) {
		conf_error(err, e->file, e->line, "bad value '%s' for '%s': %s",
		    conf_clip(e->value, clip, sizeof(clip)), s->name,
		    buf_cstr(&why));
	} else if (s->validate != NULL && !s->validate(field, &msg)) {
		conf_error(err, e->file, e->line, "bad value '%s' for '%s': %s",
		    conf_clip(e->value, clip, sizeof(clip)), s->name,
		    msg ? msg : "not allowed");
	}
	buf_free(&why);
}

/* conf_apply - defaults, then the section's entries that table names */
int
conf_apply(struct conf_file *cf, const char *section,
    const struct conf_setting *table, void *obj, struct arena *arena,
    struct conf_errors *err)
{
	const struct conf_setting *s;
	struct conf_section *sec;
	struct buf why = { 0 };
	int before;
	size_t i;

	conf_check_table(table);
	for (s = table; s->name != NULL; s++) {
		if (s->def == NULL)
			continue;
		if (!conf_ops(s)->parse(s, s->def, (char *)obj + s->offset,
		    arena, &why) ||
		    !conf_in_bounds(s, (char *)obj + s->offset, &why))
			log_panic("conf: bad default '%s' for '%s': %s",
			    s->def, s->name, buf_cstr(&why));
	}
	buf_free(&why);
	if (cf == NULL)
		return 0;
	if (err == NULL)
		log_panic("conf_apply: no error collector");
	if (section == NULL)
		section = "";
	before = err->count;
	if ((sec = conf_section_find(cf, section)) != NULL)
		sec->applied = true;
	for (i = 0; i < cf->n_entries; i++) {
		struct conf_entry *e = &cf->entries[i];

		if (strcmp(e->section, section) != 0)
			continue;
		for (s = table; s->name != NULL; s++)
			if (strcmp(s->name, e->key) == 0)
				break;
		if (s->name == NULL)
			continue;
		e->used = true;
		conf_apply_entry(e, s, obj, arena, err);
	}
	return err->count - before;
}

/* conf_section_known - applied, global, or named by the caller */
static bool
conf_section_known(const struct conf_section *sec, const char *const *known)
{
	if (sec->applied || sec->name[0] == '\0')
		return true;
	for (; known != NULL && *known != NULL; known++)
		if (strcmp(*known, sec->name) == 0)
			return true;
	return false;
}

/* conf_finish - unknown sections and unclaimed settings, in line order */
int
conf_finish(struct conf_file *cf, const char *const *known,
    struct conf_errors *err)
{
	int before = err->count;
	size_t si = 1, ei = 0;
	bool *bad = xcalloc(cf->n_sections, sizeof(*bad));
	struct conf_section *sec;
	struct conf_entry *e;

	for (si = 1; si < cf->n_sections; si++)
		bad[si] = !conf_section_known(&cf->sections[si], known);
	/* merge headers and entries so errors come in line order */
	si = 1;
	while (si < cf->n_sections || ei < cf->n_entries) {
		if (si < cf->n_sections && (ei == cf->n_entries ||
		    cf->sections[si].line < cf->entries[ei].line)) {
			sec = &cf->sections[si];
			if (bad[si])
				conf_error(err, cf->name, sec->line,
				    "unknown section [%s]", sec->name);
			si++;
			continue;
		}
		e = &cf->entries[ei++];
		if (e->used || bad[conf_section_find(cf, e->section) -
		    cf->sections])
			continue;
		if (e->section[0] == '\0')
			conf_error(err, e->file, e->line,
			    "unknown setting '%s' in global section", e->key);
		else
			conf_error(err, e->file, e->line,
			    "unknown setting '%s' in section [%s]", e->key,
			    e->section);
	}
	free(bad);
	return err->count - before;
}

/* conf_dump - the effective settings of obj in config syntax */
void
conf_dump(FILE *fp, const char *section, const struct conf_setting *table,
    const void *obj)
{
	const struct conf_setting *s;
	struct buf out = { 0 };

	conf_check_table(table);
	if (section != NULL && section[0] != '\0')
		fprintf(fp, "[%s]\n", section);
	for (s = table; s->name != NULL; s++) {
		buf_reset(&out);
		conf_ops(s)->dump(s, (const char *)obj + s->offset, &out);
		if (out.len > 0)
			fprintf(fp, "%s = %s\n", s->name, buf_cstr(&out));
		else
			fprintf(fp, "%s =\n", s->name);
	}
	buf_free(&out);
}
