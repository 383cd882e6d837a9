/*
 * table.h - lookup tables named "type:name", as in Postfix
 *
 * Types (the table in table.c is the only place that names them):
 *	inline:{ key=value, { key = value with spaces }, ... }
 *	static:value			every key is found with value
 *	hash:/path			text file "key value" read into memory
 *	lmdb:/path			/path.lmdb compiled by posternctl
 *	cidr:/path			"net/prefix value" lines, first match
 *	regexp:/path, pcre:/path	"/re/flags value" lines (PCRE2),
 *					first match, $1 substitution,
 *					!/re/ and if /re/ ... endif
 *
 * Text files: '#' comment lines and blank lines are ignored; a line that
 * starts with white space continues the previous one. Keys of hash, lmdb
 * and inline tables are folded to lower case at load and at lookup, so
 * lookups are case-insensitive as in Postfix. regexp/pcre are
 * case-insensitive unless the "i" flag is given (Postfix's toggle).
 *
 * Three answers, never two: TABLE_FOUND, TABLE_NOTFOUND, TABLE_ERROR.
 *
 * Loading: table_open() reads the file now. A missing or unreadable file,
 * or any bad line, is an error whose text names FILE:LINE for each bad line
 * (all of them). At run time table_refresh() reloads a file that changed
 * (mtime, size or inode); if the new content cannot be loaded the table
 * becomes a surrogate answering TABLE_ERROR until the file is fixed (an
 * unreadable table must tempfail, never read as "not listed"), and the
 * problem is logged once per change.
 *
 * Threads: lookups may run from many threads at once, concurrently with
 * table_refresh(); a refresh swaps the contents under a lock.
 */
#ifndef POSTERN_TABLE_H
#define POSTERN_TABLE_H

#include <stdbool.h>

#include "arena.h"

enum table_result {
	TABLE_ERROR = -1,
	TABLE_NOTFOUND = 0,
	TABLE_FOUND = 1,
};

struct table;

/*
 * table_open - open spec ("type:name"). On failure returns NULL and sets
 * *error_r to a malloc'ed text with one "FILE:LINE: problem" line per bad
 * entry (or one line when the file cannot be read or the type is unknown).
 */
struct table *table_open(const char *spec, char **error_r);
/* table_close - release; sets *t NULL. Safe with NULL. */
void table_close(struct table **t);

/*
 * table_lookup - look key up. On TABLE_FOUND *value_r is a copy in arena
 * (with $N substituted for regexp/pcre). On TABLE_ERROR *value_r is left
 * alone and the reason is logged.
 */
enum table_result table_lookup(struct table *t, const char *key,
    struct arena *arena, const char **value_r);

/* table_lookup_line - table_lookup, and on TABLE_FOUND *line_r is the
 * line of the entry that matched in a regexp:/pcre: file (for logs as
 * Postfix's header_checks writes them), 0 for the other types */
enum table_result table_lookup_line(struct table *t, const char *key,
    struct arena *arena, const char **value_r, int *line_r);

/* table_spec - the "type:name" the table was opened with */
const char *table_spec(const struct table *t);
/* table_is_pattern - true for cidr, regexp, pcre, static: such tables get
 * one query with the whole key, never the partial keys of access(5) */
bool table_is_pattern(const struct table *t);

/* table_refresh - reload t if its file changed; false if it is now in the
 * error state */
bool table_refresh(struct table *t);
/* table_refresh_all - table_refresh every open table (on SIGUSR1 and on a
 * timer) */
void table_refresh_all(void);

/* table_type_known - whether "type:" names a table type (for config
 * checks and tools) */
bool table_type_known(const char *spec);

/*
 * table_compile - for posternctl lists compile: read the text source of
 * an lmdb: table (path without .lmdb) and write path.lmdb atomically
 * (temp file + rename). Errors as for table_open.
 */
bool table_compile(const char *path, char **error_r);

#endif
