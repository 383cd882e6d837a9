/*
 * authres.h - Authentication-Results header values (RFC 8601)
 *
 * Contract: authres_build() returns the value (without "Name: ") of one
 * header for authserv_id and the method fragments given, in order, or
 * "authserv-id; none" when there are none. Fragments go one per folded
 * line (LF + TAB; the MTA adds CRs). authres_is_ours() tells whether an
 * existing header value claims authserv_id (RFC 8601 §5: such headers
 * from outside must be removed).
 */
#ifndef POSTERN_AUTHRES_H
#define POSTERN_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

const char *authres_build(struct arena *arena, const char *authserv_id,
    const char *const *fragments, size_t n);
bool authres_is_ours(const char *value, const char *authserv_id);
/* authres_value_ok - a fragment value needing no quoting (RFC 2045 token) */
bool authres_token_ok(const char *s);
/* authres_quote - token as is, else a quoted-string with escapes; CR/LF
 * and other controls are dropped */
const char *authres_quote(struct arena *arena, const char *s);

#endif
