/*
 * virtual.h - virtual_alias_maps: rewriting recipients when a message is
 * queued (Postfix virtual(5) semantics)
 *
 * Contract: virtual_expand() replaces one recipient by what the table
 * says, recursively: the table is asked for user+ext@domain,
 * user@domain, then @domain (a catch-all); a value "@other.example"
 * means the same local part at that domain. A value is one or more
 * addresses separated by commas or white space. Each result is expanded
 * again until no entry matches, up to VIRTUAL_DEPTH_MAX levels and
 * VIRTUAL_RESULTS_MAX addresses in all; a loop (an address that comes
 * back to itself on its own path) stops there and keeps that address, as
 * Postfix does ("a@x -> a@x" is allowed and ends the expansion).
 * Duplicates in the result are removed (first one kept, compared
 * case-insensitively).
 *
 * Three answers: VIRTUAL_SAME (no entry: keep the recipient), VIRTUAL_
 * EXPANDED (the list in *out_r, at least one address), VIRTUAL_ERROR (a
 * table error, a bad value, or a limit passed: *why_r says; the caller
 * defers the message, never delivers it unexpanded).
 */
#ifndef POSTERN_VIRTUAL_H
#define POSTERN_VIRTUAL_H

#include <stddef.h>

#include "arena.h"
#include "table.h"

#define VIRTUAL_DEPTH_MAX	20
#define VIRTUAL_RESULTS_MAX	1000

enum virtual_result {
	VIRTUAL_SAME,
	VIRTUAL_EXPANDED,
	VIRTUAL_ERROR,
};

/* virtual_expand - see the contract; addresses without <> */
enum virtual_result virtual_expand(struct table *maps, const char *rcpt,
    struct arena *arena, const char ***out_r, size_t *n_r,
    const char **why_r);

#endif
