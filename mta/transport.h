/*
 * transport.h - where a recipient's mail goes: transport_maps, relayhost
 *
 * Contract: transport_resolve() answers, for one recipient address, how
 * and to where it is delivered, with Postfix's transport(5) semantics:
 * the table is asked for user+ext@domain, user@domain, domain, .parent
 * domains (from the nearest up), then "*"; the first found value is a
 * transport spec. Nothing found: relayhost when it is set, else SMTP to
 * the recipient's domain by MX. A table error is an error (the caller
 * defers), never "not found"; a found value that does not parse is an
 * error too (logged with the key), as Postfix treats a bad transport.
 *
 * Specs (Postfix's syntax, with Postern's transport names):
 *	smtp:[host]:port smtp:[host]	SMTP to host, no MX lookup
 *	smtp:host smtp:host:port	SMTP to host's MX hosts (or its
 *					A/AAAA when it has no MX)
 *	smtp: smtp			SMTP to the recipient domain's MX
 *	lmtp:unix:/path			LMTP on a unix socket
 *	lmtp:[host]:port lmtp:host:port	LMTP over TCP (no MX; port 24)
 *	maildir:/path/%d/%u		Maildir (deliver_maildir.h)
 *	error:text error:5.x.y text	bounce with that text (5.0.0 if no
 *					status is given)
 *	discard discard:text		drop, reporting success
 * host may be a name or an address literal in brackets ([192.0.2.1],
 * [IPv6:2001:db8::1]); ports are 1..65535, default 25 (smtp), 24 (lmtp).
 */
#ifndef POSTERN_TRANSPORT_H
#define POSTERN_TRANSPORT_H

#include <stdbool.h>

#include "arena.h"
#include "table.h"

enum transport_kind {
	TRANSPORT_SMTP,
	TRANSPORT_LMTP,
	TRANSPORT_MAILDIR,
	TRANSPORT_ERROR,
	TRANSPORT_DISCARD,
};

struct transport {
	enum transport_kind kind;
	const char *host;	/* SMTP/LMTP over TCP: name or address,
				   without brackets */
	unsigned port;
	bool mx;		/* look up MX records for host */
	const char *unix_path;	/* LMTP on a unix socket */
	const char *maildir;	/* the maildir template */
	const char *status;	/* error: "5.1.1"; discard: "2.0.0" */
	const char *text;	/* error/discard text */
	const char *nexthop;	/* canonical "KIND:DESTINATION" that
				   groups deliveries (concurrency, reuse):
				   "smtp:[192.0.2.1]:25", "smtp:example.com"
				   (MX), "lmtp:unix:/run/lmtp" */
};

/* transport_parse - one spec; rcpt_domain fills "smtp:" without a
 * destination. false with *why_r (in arena). */
bool transport_parse(const char *spec, const char *rcpt_domain,
    struct arena *arena, struct transport *r, const char **why_r);

struct transport_resolver {
	struct table *maps;	/* NULL: none */
	const char *relayhost;	/* "" or NULL: none; "[host]:port",
				   "host" (MX), "host:port" */
};

/*
 * transport_resolve - the transport of rcpt ("user@domain", domain
 * lower-cased by the caller or not: lookups are case-insensitive).
 * TABLE_FOUND (a table entry or the default) with *r filled,
 * TABLE_ERROR with *why_r; never TABLE_NOTFOUND.
 */
enum table_result transport_resolve(const struct transport_resolver *res,
    const char *rcpt, struct arena *arena, struct transport *r,
    const char **why_r);

#endif
