/*
 * dnsbl.h - DNS block and allow lists (module "dnsbl", RFC 5782)
 *
 * The module asks IP lists (client_sites) about the client address at
 * CONNECT and domain lists (domain_sites) about the client name at
 * CONNECT, the HELO name at HELO and the sender domain at MAIL. All
 * lists of one stage are asked in parallel (dns_query_batch). Each
 * listing adds its site's weight to a running total kept for the
 * connection (CONNECT, the latest HELO) plus the message (MAIL):
 *
 *	total >= threshold		VERDICT_REJECT at the stage where
 *					it is reached
 *	total <= allowlist_threshold	allowlisted (allowlist_threshold
 *	(allowlist_threshold < 0)	< 0 only): no rejection by this
 *					module for the rest of the
 *					connection; VERDICT_DUNNO, never
 *					VERDICT_OK, so that later modules
 *					(virus scanning, access) still run
 *
 * Whatever the action, weight * score_weight of every listing goes into
 * the verdict's score. An answer outside 127.0.0.0/8, a code in
 * 127.255.255.0/24, a DNS error or a timeout is an error for that site,
 * never "not listed": the handler logs it and answers POLICY_FAILED
 * (the core applies on_failure, default: no opinion) unless the sites
 * that did answer decide the outcome whatever the failed ones would have
 * said.
 */
#ifndef POSTERN_DNSBL_H
#define POSTERN_DNSBL_H

#include "policy.h"

extern const struct policy_module dnsbl_module;

#endif
