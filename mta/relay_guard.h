/*
 * relay_guard.h - the mta's own last-resort relay check
 *
 * Contract: a recipient may be accepted only when (a) the client is in
 * mynetworks, (b) the session authenticated, or (c) the recipient's
 * domain is in relay_domains and the address carries no sender-specified
 * routing. This holds whatever the milters answer (it runs before them
 * and after every milter edit that adds a recipient), so a missing or
 * misconfigured filterd never makes the mta an open relay.
 *
 * The decision is made on the fully parsed address (lib/mailaddr.h):
 * the percent hack, bang paths, several '@', quoted local parts hiding
 * any of those, source routes, address literals, trailing dots and mixed
 * case all end up either as the real destination domain or flagged as
 * routing (MAILADDR_ROUTING, MAILADDR_LITERAL), and a flagged address is
 * never "ours" for an untrusted client (Postfix: allow_untrusted_routing
 * = no; literals only if relay_domains lists that literal, which it
 * cannot). "<postmaster>" without a domain is always accepted (RFC 5321
 * says it must be).
 *
 * Three answers: a table error in relay_domains or mynetworks is
 * RELAY_GUARD_ERROR (the caller answers 451 4.3.0), never a refusal and
 * never an acceptance.
 */
#ifndef POSTERN_RELAY_GUARD_H
#define POSTERN_RELAY_GUARD_H

#include <stdbool.h>

#include "arena.h"
#include "inet.h"
#include "mailaddr.h"
#include "matchlist.h"

enum relay_guard_result {
	RELAY_GUARD_OK,
	RELAY_GUARD_DENIED,	/* 554 5.7.1 <addr>: Relay access denied */
	RELAY_GUARD_ERROR,
};

struct relay_guard {
	struct matchlist *mynetworks;	/* networks */
	struct matchlist *relay_domains;	/* domains */
};

/* relay_guard_check - may this client have this recipient? client NULL
 * means a unix-socket or unknown client (never in mynetworks) */
enum relay_guard_result relay_guard_check(const struct relay_guard *g,
    const struct inet_addr *client, bool authenticated,
    const struct mailaddr *rcpt, struct arena *arena);

/* relay_guard_client_trusted - client in mynetworks: 1, 0 no, -1 error */
int relay_guard_client_trusted(const struct relay_guard *g,
    const struct inet_addr *client, struct arena *arena);

#endif
