/*
 * dkim_tables.h - OpenDKIM's KeyTable and SigningTable, read unchanged
 *
 * Contract: a site moves its OpenDKIM files over as they are. Both tables
 * are named like OpenDKIM's datasets: "file:PATH", "refile:PATH" or a
 * bare PATH (= file:). Files are read once at load (a reload reads them
 * again); lines are "KEY VALUE" separated by whitespace, '#' starts a
 * comment, blank lines are skipped, a line starting with whitespace
 * continues the previous one's value. Every problem is reported as
 * "FILE:LINE: text" and refuses the whole load; all problems are
 * reported, not only the first.
 *
 * KeyTable (file: only): "NAME DOMAIN:SELECTOR:KEY". DOMAIN may be "%"
 * (the From domain at signing time). KEY is a path when it starts with
 * "/", "./" or "../" (relative to the current directory, as OpenDKIM
 * does), otherwise the key itself (PEM on one line is impossible, so in
 * practice base64 DER). Every key is loaded and checked at load time
 * (dkim_key.h), so a bad key stops the start, not a message. A "%" in a
 * key path is refused (OpenDKIM would substitute the domain; keys must
 * be known at load). Duplicate names are an error.
 *
 * SigningTable: "PATTERN KEYNAME[:SIGNER]" (fields of a value are
 * separated by ':', as in every OpenDKIM dataset).
 *	file:	PATTERN is a lookup key, tried for the From address
 *		user@host in OpenDKIM's order: "user@host", "host",
 *		"user@.domain" for each parent domain (host a.b.c: "user@.b.c",
 *		"user@.c"), ".domain" for each parent (".b.c", ".c"),
 *		"user@*", "*". The first key found wins; a key may be
 *		listed on several lines, each adding a signature when
 *		multiple is true (RSA and Ed25519 for one domain), else
 *		only its first line counts.
 *	refile:	PATTERN is a wildcard pattern ('*' matches any run of
 *		characters, everything else literally, without case)
 *		matched against "user@host"; lines are tried in file order.
 *		Every matching line adds a signature when multiple is true,
 *		else only the first.
 * KEYNAME "%" is refused (OpenDKIM allows it only with names made from
 * the domain; say so in the error). KEYNAME must exist in the KeyTable.
 * SIGNER (optional, i= of the signature) may contain "%" for the From
 * domain. Matching ignores case of the address.
 */
#ifndef POSTERN_DKIM_TABLES_H
#define POSTERN_DKIM_TABLES_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "dkim_key.h"

struct dkim_tables;

/* One signature to make, as selected for a From address. */
struct dkim_signer {
	const char *keyname;
	const char *domain;		/* d=, "%" already replaced */
	const char *selector;		/* s= */
	const char *identity;		/* i=, "%" replaced; NULL if none */
	const struct dkim_key *key;
};

/* dkim_tables_load - read both tables into arena (the config's
 * lifetime); false with *error_r (malloc'ed, "FILE:LINE: ..." lines) */
bool dkim_tables_load(struct arena *arena, const char *key_table,
    const char *signing_table, struct dkim_tables **tables_r,
    char **error_r);

/* dkim_tables_select - the signatures for From address local@domain
 * (domain without trailing dot), at most max, in table order; strings in
 * arena; returns how many (0: not signed). multiple = false gives at
 * most one. */
size_t dkim_tables_select(const struct dkim_tables *tables,
    const char *local, const char *domain, bool multiple,
    struct arena *arena, struct dkim_signer *out, size_t max);

#endif
