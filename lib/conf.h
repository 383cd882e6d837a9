/*
 * conf.h - the config file parser, driven by settings tables
 *
 * Syntax (ARCHITECTURE §3):
 *
 *	# comment (a line whose first non-blank byte is '#')
 *	name = value
 *	       continued value (a line starting with white space continues
 *	       the previous value; the pieces are joined with one space)
 *	[section]
 *
 * Lines before the first [section] belong to the global section "".
 *
 * Use:
 *	conf_load() reads a file into entries (syntax errors are collected);
 *	conf_apply() fills one struct from one section through a settings
 *	table: defaults first, then the file's values (unknown keys are left
 *	for conf_finish; bad values and duplicate keys are errors);
 *	conf_finish() reports every entry no table claimed and every section
 *	no caller applied.
 * Every error is "FILE:LINE: message" and all of them are collected, so an
 * admin sees every mistake at once. Values parsed into a struct live in the
 * arena given to conf_apply (the loaded config's lifetime).
 */
#ifndef POSTERN_CONF_H
#define POSTERN_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "arena.h"
#include "buf.h"

/* Value types and the C type stored at the setting's offset. */
enum conf_type {
	CONF_STRING,	/* char *; "" stays "" */
	CONF_BOOL,	/* bool; yes/no/true/false/on/off/1/0 */
	CONF_INT,	/* long; decimal, optional sign */
	CONF_UINT,	/* unsigned long; decimal, octal with leading 0 */
	CONF_DOUBLE,	/* double; "off" stores INFINITY (never reached) */
	CONF_DURATION,	/* double seconds; number with s m h d w (default s),
			   also "ms"; "500ms", "1.5s", "5m" */
	CONF_SIZE,	/* uint64_t bytes; number with k M G (1024 based) */
	CONF_LIST,	/* struct conf_list; comma and/or space separated,
			   a {...} group is one item even with spaces/commas */
	CONF_ENUM,	/* int; index into choices[] */
	CONF_TABLE,	/* char * "type:name"; syntax checked here (type: is
			   present and non-empty); opening is the owner's job */
};

struct conf_list {
	size_t n;
	char **items;	/* n strings, then NULL */
};

/* conf_validator - extra check of a parsed value; false + message = error */
typedef bool (*conf_validator)(const void *value, const char **error_r);

struct conf_setting {
	const char *name;
	enum conf_type type;
	const char *def;		/* default as config text; NULL = none
					   (zero value) */
	size_t offset;			/* offsetof(struct ..., field) */
	const char *const *choices;	/* CONF_ENUM: NULL-terminated names */
	const char *min, *max;		/* numeric types: bounds as config
					   text ("1", "1ms", "2047M"), either
					   optional; a value outside is an
					   error "must be from MIN to MAX" */
	conf_validator validate;	/* optional, after the bounds */
	const char *help;		/* one line for -n and docs */
};

/* One "name = value" of the file. */
struct conf_entry {
	const char *section;	/* "" for global */
	const char *key;
	const char *value;
	const char *file;
	int line;
	bool used;		/* claimed by a settings table */
};

struct conf_file;

/* Errors are collected here, one "FILE:LINE: text\n" per error. */
struct conf_errors {
	struct buf text;
	int count;
};

void conf_error(struct conf_errors *err, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void conf_errors_free(struct conf_errors *err);
/*
 * conf_setting_error - append "FILE:LINE: setting: text\n" to b for a
 * setting of section in cf: the line of the setting when the file has it,
 * else the line of the [section] header, else no location (cf NULL:
 * built-in defaults). For modules' init checks, which find problems
 * after the values were parsed.
 */
struct conf_file;
void conf_setting_error(struct buf *b, const struct conf_file *cf,
    const char *section, const char *setting, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* conf_errors_sort - reorder the lines by FILE then LINE (stable; lines
 * without FILE:LINE: go last) */
void conf_errors_sort(struct conf_errors *err);

/*
 * conf_load - read and tokenize a file. Returns the parsed file (even when
 * there were syntax errors, so later passes can report more) or NULL when
 * it cannot be read at all (one error naming the file). Free with
 * conf_file_free.
 */
struct conf_file *conf_load(const char *path, struct conf_errors *err);
/* conf_load_string - same, from text in memory; name is used in errors */
struct conf_file *conf_load_string(const char *name, const char *text,
    struct conf_errors *err);
void conf_file_free(struct conf_file **cf);

/* conf_sections - the distinct section names in file order ("" first) */
size_t conf_sections(const struct conf_file *cf, const char ***names_r);
/* conf_has_section - whether [name] appears */
bool conf_has_section(const struct conf_file *cf, const char *name);
/* conf_find - the entry for key in section, or NULL */
const struct conf_entry *conf_find(const struct conf_file *cf,
    const char *section, const char *key);
/* conf_section_line - line of the [name] header (0 if none or global) */
int conf_section_line(const struct conf_file *cf, const char *section);
const char *conf_file_name(const struct conf_file *cf);

/*
 * conf_apply - set defaults from the table, then apply the section's
 * entries that the table names (marking them used). Returns the number of
 * errors added. obj must point to a zeroed struct. cf may be NULL (defaults
 * only).
 */
int conf_apply(struct conf_file *cf, const char *section,
    const struct conf_setting *table, void *obj, struct arena *arena,
    struct conf_errors *err);

/* conf_finish - report unused entries ("unknown setting") and unknown
 * sections (those not in known[], a NULL-terminated list). */
int conf_finish(struct conf_file *cf, const char *const *known,
    struct conf_errors *err);

/* conf_dump - print "name = value" for each setting of obj (for -n) */
void conf_dump(FILE *fp, const char *section,
    const struct conf_setting *table, const void *obj);

/* Value parsers, also used by tools and lists; false = bad value. */
bool conf_parse_bool(const char *s, bool *r);
bool conf_parse_duration(const char *s, double *seconds_r);
bool conf_parse_size(const char *s, uint64_t *bytes_r);
/* conf_split_list - split like CONF_LIST into the arena */
void conf_split_list(struct arena *arena, const char *s,
    struct conf_list *list_r);

#endif
