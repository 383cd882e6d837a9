/*
 * mailaddr.h - envelope addresses (RFC 5321 paths)
 *
 * Grammar (RFC 5321 §4.1.2), which the parser follows:
 *
 *	Reverse-path   = Path / "<>"
 *	Forward-path   = Path
 *	Path           = "<" [ A-d-l ":" ] Mailbox ">"
 *	A-d-l          = At-domain *( "," At-domain )
 *	At-domain      = "@" Domain
 *	Mailbox        = Local-part "@" ( Domain / address-literal )
 *	Local-part     = Dot-string / Quoted-string
 *
 * Milter hands addresses over with or without the angle brackets; both
 * are accepted. The source route (A-d-l) is dropped, as RFC 5321 §C says
 * it should be. The domain is lower-cased and loses one trailing dot. The
 * local part is kept as written (case preserved, quotes removed).
 *
 * Relay safety: what matters for a relay decision is the domain that a
 * downstream MTA would deliver to. The parser flags every form that could
 * make that differ from .domain: '%', '!' or '@' in the local part (quoted
 * or not), several '@', a source route, an address literal. Callers that
 * decide relaying must treat MAILADDR_ROUTING as "not ours" unless the
 * client is trusted (Postfix's allow_untrusted_routing = no).
 */
#ifndef POSTERN_MAILADDR_H
#define POSTERN_MAILADDR_H

#include <stdbool.h>

#include "arena.h"

enum mailaddr_flags {
	MAILADDR_NULL = 1 << 0,		/* "<>" */
	MAILADDR_ROUTING = 1 << 1,	/* %, !, @ in local part, or source
					   route: sender-specified routing */
	MAILADDR_LITERAL = 1 << 2,	/* domain is [address literal] */
	MAILADDR_QUOTED = 1 << 3,	/* local part was a quoted-string */
	MAILADDR_NO_DOMAIN = 1 << 4,	/* no @domain at all (bare "user") */
	MAILADDR_SOURCE_ROUTE = 1 << 5,	/* had an A-d-l, dropped */
};

struct mailaddr {
	const char *local;	/* unquoted local part, case kept; "" for <> */
	const char *domain;	/* lower case, no trailing dot; "" if none;
				   literals keep their brackets "[192.0.2.1]" */
	const char *full;	/* local@domain as parsed ("" for <>) ready
				   for table lookups; local part quoted again
				   if it needs quoting */
	unsigned flags;
};

/*
 * mailaddr_parse - parse text into r (strings in arena). Returns false
 * with a static error text for syntax errors (unbalanced quotes or
 * brackets, empty labels, control bytes, over 256 bytes of path...).
 */
bool mailaddr_parse(struct arena *arena, const char *text,
    struct mailaddr *r, const char **error_r);

/* mailaddr_is_fqdn - domain has a dot and only LDH labels (for
 * reject_non_fqdn_*); literals count as fully qualified */
bool mailaddr_domain_is_fqdn(const char *domain);
/* mailaddr_hostname_valid - RFC 1123 host name syntax (or address literal) */
bool mailaddr_hostname_valid(const char *name);

#endif
