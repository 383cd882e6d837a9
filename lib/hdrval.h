/*
 * hdrval.h - untrusted text as values of the header fields we write
 *
 * Contract: what comes from outside (HELO names, addresses, domains of
 * signatures and From fields) goes into Received-SPF and
 * Authentication-Results as it is only when it is an RFC 5322 dot-atom
 * (an address: [dot-atom] "@" dot-atom, RFC 8601 pvalue), otherwise as a
 * quoted-string in which '"' and '\' are escaped and control and non-ASCII
 * bytes become '?'. So no CR, LF or other control byte ever reaches a
 * header, and nothing can end the value early.
 */
#ifndef POSTERN_HDRVAL_H
#define POSTERN_HDRVAL_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* hdrval_dot_atom - s[0..len) is a non-empty RFC 5322 dot-atom */
bool hdrval_dot_atom(const char *s, size_t len);

/* hdrval_quote - s as a quoted-string, always */
void hdrval_quote(struct buf *b, const char *s);

/* hdrval_value - a dot-atom as it is, anything else quoted */
void hdrval_value(struct buf *b, const char *s);

/* hdrval_address - [local]@domain as it is when both parts are dot-atoms
 * (the local part may be empty), anything else quoted */
void hdrval_address(struct buf *b, const char *addr);

#endif
