/*
 * relay_guard.c - the mta's own last-resort relay check
 *
 * The order is Postfix's smtpd_relay_restrictions = permit_mynetworks,
 * permit_sasl_authenticated, reject_unauth_destination, except that an
 * authenticated session is asked first: it needs no lookup, so a broken
 * mynetworks table cannot hold up a client that logged in.
 *
 * Three answers: once a lookup has failed, an answer that would have
 * been DENIED becomes ERROR (the failed lookup might have said yes), and
 * an OK from a later check still stands (whatever the failed lookup said,
 * the recipient is allowed).
 *
 * Only the parsed address is looked at: its domain is what the next hop
 * will deliver to, and any sign that it may not be the end (routing in
 * the local part, a source route, an address literal, no domain) makes
 * it "not ours" for a client that is not trusted (Postfix's
 * allow_untrusted_routing = no). "<postmaster>" is the one address
 * without a domain that is always accepted (RFC 5321 §4.1.1.3).
 */
#include "config.h"

#include <strings.h>

#include "log.h"
#include "relay_guard.h"

/* relay_guard_client_trusted - mynetworks says yes (1), no (0) or err */
int
relay_guard_client_trusted(const struct relay_guard *g,
    const struct inet_addr *client, struct arena *arena)
{
	(void)arena;
	if (g == NULL)
		log_panic("relay_guard_client_trusted: NULL guard");
	if (client == NULL || g->mynetworks == NULL)
		return 0;
	switch (matchlist_addr(g->mynetworks, client)) {
	case TABLE_FOUND:
		return 1;
	case TABLE_NOTFOUND:
		return 0;
	case TABLE_ERROR:
		break;
	}
	return -1;
}

/* relay_guard_is_postmaster - the bare "<postmaster>" of RFC 5321 */
static bool
relay_guard_is_postmaster(const struct mailaddr *rcpt)
{
	return (rcpt->flags & MAILADDR_NO_DOMAIN) &&
	    !(rcpt->flags & (MAILADDR_NULL | MAILADDR_ROUTING |
	    MAILADDR_QUOTED)) && strcasecmp(rcpt->local, "postmaster") == 0;
}

/*
 * relay_guard_ours - the recipient's domain is in relay_domains and the
 * address carries no routing of the sender's choice
 */
static enum table_result
relay_guard_ours(const struct relay_guard *g, const struct mailaddr *rcpt)
{
	const unsigned routed = MAILADDR_NULL | MAILADDR_ROUTING |
	    MAILADDR_LITERAL | MAILADDR_NO_DOMAIN | MAILADDR_SOURCE_ROUTE;

	if ((rcpt->flags & routed) || rcpt->domain == NULL ||
	    rcpt->domain[0] == '\0' || g->relay_domains == NULL)
		return TABLE_NOTFOUND;
	return matchlist_domain(g->relay_domains, rcpt->domain);
}

/* relay_guard_check - mynetworks, AUTH or one of our domains */
enum relay_guard_result
relay_guard_check(const struct relay_guard *g,
    const struct inet_addr *client, bool authenticated,
    const struct mailaddr *rcpt, struct arena *arena)
{
	bool failed = false;

	if (g == NULL || rcpt == NULL)
		log_panic("relay_guard_check: NULL argument");
	if (relay_guard_is_postmaster(rcpt) || authenticated)
		return RELAY_GUARD_OK;
	switch (relay_guard_client_trusted(g, client, arena)) {
	case 1:
		return RELAY_GUARD_OK;
	case -1:
		failed = true;
		break;
	}
	switch (relay_guard_ours(g, rcpt)) {
	case TABLE_FOUND:
		return RELAY_GUARD_OK;
	case TABLE_NOTFOUND:
		break;
	case TABLE_ERROR:
		failed = true;
		break;
	}
	return failed ? RELAY_GUARD_ERROR : RELAY_GUARD_DENIED;
}
