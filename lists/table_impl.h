/*
 * table_impl.h - private interface between table.c and the table types
 *
 * Only table.c and lists/table_*.c include this. A type is a set of
 * operations on an opaque "content": load builds it from the table name
 * (a file path for file types), lookup answers from it, free releases it.
 * table.c owns everything around that: spec parsing, case folding, the
 * reload and surrogate-error logic, locking and the registry.
 *
 * Contract for load: return the content, or NULL after adding at least one
 * error to errs ("FILE:LINE: problem" for bad lines, all of them). A
 * content is immutable once loaded, so lookups may share it between
 * threads without locks of their own (lmdb keeps its own thread safety).
 *
 * Contract for lookup: key is already folded when the type asked for it.
 * TABLE_FOUND sets *value_r to a string in arena; TABLE_ERROR sets *why_r
 * to a static or arena text for the log.
 */
#ifndef POSTERN_TABLE_IMPL_H
#define POSTERN_TABLE_IMPL_H

#include <stdbool.h>
#include <stdio.h>

#include "arena.h"
#include "buf.h"
#include "table.h"

/* Collected load errors, one per line, no trailing newline. */
struct table_errs {
	struct buf text;
	int count;
};

void table_errs_add(struct table_errs *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void table_errs_line(struct table_errs *errs, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

struct table_ops {
	void *(*load)(const char *name, struct table_errs *errs);
	enum table_result (*lookup)(void *content, const char *key,
	    struct arena *arena, const char **value_r, const char **why_r);
	/* lookup_line - lookup, and on TABLE_FOUND the line number of the
	 * entry in the file (optional: types whose entries are ordered
	 * lines, for logs such as "header_checks: ... line 12") */
	enum table_result (*lookup_line)(void *content, const char *key,
	    struct arena *arena, const char **value_r, const char **why_r,
	    int *line_r);
	void (*free)(void *content);
	/* compile - write the binary form of a text source (lmdb only) */
	bool (*compile)(const char *path, struct table_errs *errs);
};

extern const struct table_ops table_type_inline;
extern const struct table_ops table_type_static;
extern const struct table_ops table_type_hash;
extern const struct table_ops table_type_lmdb;
extern const struct table_ops table_type_cidr;
extern const struct table_ops table_type_regexp;
extern const struct table_ops table_type_pcre;

/*
 * Reader for the text formats: '#' comment lines and blank lines are
 * skipped, a line starting with white space continues the previous one,
 * trailing white space (and CR) is removed. Each logical line carries the
 * number of its first physical line, which is what errors name.
 */
struct table_text {
	FILE *fp;
	const char *path;
	struct table_errs *errs;
	int lineno;		/* last physical line read */
	char *raw;		/* getline() buffer */
	size_t rawcap;
	struct buf line;	/* the logical line being returned */
	struct buf ahead;	/* physical line read one too far */
	int ahead_lineno;
	bool have_ahead;
	bool failed;		/* read error, already reported */
};

bool table_text_open(struct table_text *tt, const char *path,
    struct table_errs *errs);
/* table_text_next - next logical line (valid until the next call) or NULL
 * at the end; *lineno_r is its first physical line */
char *table_text_next(struct table_text *tt, int *lineno_r);
/* table_text_close - false if a read error was reported */
bool table_text_close(struct table_text *tt);

/* table_text_split - split "key whitespace value" in place; false when the
 * value is missing */
bool table_text_split(char *line, char **key_r, char **value_r);
/* table_fold - ASCII lower case in place */
void table_fold(char *s);

/*
 * Nesting for the pattern formats (cidr, regexp, pcre): "if PATTERN" opens
 * a block that a bare "endif" closes. The parser keeps its own entries;
 * this only tracks which "if" entries are still open and reports the
 * nesting errors through errs with path and the line number.
 */
struct table_nest {
	const char *path;
	struct table_errs *errs;
	struct table_nest_if *open;	/* innermost last */
	size_t depth, cap;
};

/* table_nest_keyword - whether line is kw alone or kw + blanks; *rest_r is
 * the text after them */
bool table_nest_keyword(char *line, const char *kw, char **rest_r);
/* table_nest_open - the "if" about to be added as entry index opens */
void table_nest_open(struct table_nest *tn, size_t index, int lineno);
/* table_nest_endif - "endif" followed by rest: true with the entry index of
 * the "if" it closes, false after reporting an error */
bool table_nest_endif(struct table_nest *tn, const char *rest, int lineno,
    size_t *index_r);
/* table_nest_finish - report every "if" left open, release the stack */
void table_nest_finish(struct table_nest *tn);

#endif
